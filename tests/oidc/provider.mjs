// provider.mjs - a real OpenID Connect provider for Kreisel's end-to-end
// test: the certified npm package oidc-provider, on a free loopback port,
// over plain http (oidc-provider allows http issuers and http redirect URIs
// for code-flow web clients; TLS is not what this test is about).
//
// It has one client (Kreisel), one test user and acr values like a state's
// service account, and its own small login and consent pages (the package's
// devInteractions cannot set acr).  It prints one line
//   {"issuer": "http://127.0.0.1:PORT"}
// on stdout when it listens.
//
// Environment: REDIRECT_URI (Kreisel's callback, required), CLIENT_SECRET,
// AUTH_METHOD (client_secret_basic | client_secret_post), ID_TOKEN_ALG
// (RS256 | ES256 | PS256).
import http from 'node:http';
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';
import { USER, ACR_EID, ACR_BASIC } from './testdata.mjs';

const SUBJECT = 'bundid-pseudonym-4711';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>${esc(title)}</title>` +
    `</head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

async function keys() {
  const out = [];
  for (const [alg, kid] of [['RS256', 'test-rsa'], ['ES256', 'test-ec'], ['PS256', 'test-ps']]) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    out.push({ ...(await exportJWK(privateKey)), kid, alg, use: 'sig' });
  }
  return out;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (d) => { body += d; if (body.length > 10000) reject(new Error('too large')); });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function loginPage(uid, failed) {
  return page('Servicekonto (Test): Anmeldung', `
    ${failed ? '<p role="alert">Benutzername oder Passwort falsch.</p>' : ''}
    <form method="post" action="/interaction/${esc(uid)}/login">
      <label for="login">Benutzername</label> <input id="login" name="login" autocomplete="off">
      <label for="password">Passwort</label> <input id="password" name="password" type="password">
      <button type="submit" id="do-login">Anmelden</button>
    </form>
    <form method="post" action="/interaction/${esc(uid)}/abort">
      <button type="submit" id="do-abort">Abbrechen</button>
    </form>`);
}

function consentPage(uid, client, scopes) {
  return page('Servicekonto (Test): Zustimmung', `
    <p>${esc(client)} möchte auf folgende Daten zugreifen: ${esc(scopes)}</p>
    <form method="post" action="/interaction/${esc(uid)}/confirm">
      <button type="submit" id="do-consent">Zustimmen</button>
    </form>
    <form method="post" action="/interaction/${esc(uid)}/abort">
      <button type="submit" id="do-deny">Ablehnen</button>
    </form>`);
}

async function consent(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt: { details: missing }, params, session: { accountId } } = details;
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } },
    { mergeWithLastSubmission: true });
}

// The login and consent pages; everything else is oidc-provider's.
async function interaction(provider, req, res) {
  const m = req.url.match(/^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/);
  if (!m) { res.writeHead(404); res.end(); return; }
  const [, uid, action] = m;
  const send = (html) => { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end(html); };
  if (req.method === 'GET') {
    const { prompt, params } = await provider.interactionDetails(req, res);
    if (prompt.name === 'login') return send(loginPage(uid, false));
    return send(consentPage(uid, params.client_id, params.scope));
  }
  const form = await readForm(req);
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction' },
    { mergeWithLastSubmission: false });
  }
  if (action === 'login') {
    if (form.get('login') !== USER.login || form.get('password') !== USER.password) {
      return send(loginPage(uid, true));
    }
    return provider.interactionFinished(req, res, {
      login: { accountId: SUBJECT, acr: ACR_EID, amr: ['pwd', 'hwk'] } },
    { mergeWithLastSubmission: false });
  }
  return consent(provider, req, res);
}

async function main() {
  const redirect = process.env.REDIRECT_URI;
  if (!redirect) throw new Error('REDIRECT_URI is required');
  let handler = null;
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'kreisel',
      client_secret: process.env.CLIENT_SECRET || 'kreisel-test-secret',
      redirect_uris: [redirect],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: process.env.AUTH_METHOD || 'client_secret_basic',
      id_token_signed_response_alg: process.env.ID_TOKEN_ALG || 'RS256',
    }],
    // Public clients only need PKCE by default; Kreisel must always send it.
    pkce: { required: () => true },
    acrValues: [ACR_EID, ACR_BASIC],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    // The default (true) keeps scope claims out of the ID token when an
    // access token is issued: Kreisel then reads them from userinfo.
    conformIdTokenClaims: true,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    cookies: { keys: ['kreisel-oidc-test-cookie-key'] },
    jwks: { keys: await keys() },
    findAccount: async (ctx, id) => (id !== SUBJECT ? undefined : {
      accountId: id,
      claims: async () => ({
        sub: id, name: 'Erika Mustermann', given_name: 'Erika', family_name: 'Mustermann',
        email: 'erika.mustermann@example.org', email_verified: true,
      }),
    }),
  });
  const callback = provider.callback();
  handler = (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((e) => {
        res.writeHead(500); res.end(String(e));
      });
    } else {
      callback(req, res);
    }
  };
  process.stdout.write(JSON.stringify({ issuer }) + '\n');
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => { console.error(e); process.exit(1); });
