// driver.mjs - Chromium through the service-account login, as a citizen
// would click it.  Arguments: Kreisel's base URL, the provider's issuer.
// Prints one JSON line with what it saw; exits 1 when a check failed.
// e2e.py starts everything and checks the database afterwards.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USER } from './testdata.mjs';

const [base, issuer] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const callbackPath = '/anmelden/servicekonto/antwort';

const failures = [];
const fail = (what) => { failures.push(what); console.error('FAIL ' + what); };
const expect = (cond, what) => { if (!cond) fail(what); };

async function axeCheck(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => axe.run(document, { // eslint-disable-line no-undef
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    resultTypes: ['violations'],
  }));
  for (const v of result.violations) fail(`${name}: axe ${v.id}: ${v.help}`);
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
// The flow runs under Kreisel's real Content-Security-Policy (it must not
// stop the way to the provider); axe runs in a context that bypasses it
// (axe cannot run under script-src 'self'), on the same URL again.
const newContext = (lang = 'de', bypassCSP = false) => browser.newContext({
  bypassCSP, locale: lang === 'de' ? 'de-DE' : 'en-GB',
  extraHTTPHeaders: { 'Accept-Language': lang },
});

async function axeCheckUrl(url, name, lang = 'de') {
  const ctx = await newContext(lang, true);
  const page = await ctx.newPage();
  await page.goto(url);
  await axeCheck(page, name);
  await ctx.close();
}

// Remember every callback URL and the status Kreisel answered it with.
function watchCallbacks(page) {
  const seen = [];
  page.on('response', (r) => {
    if (r.url().startsWith(base + callbackPath)) seen.push({ url: r.url(), status: r.status() });
  });
  return seen;
}

// At the provider: log in (first time in this browser) and consent.
async function atProvider(page, { consent = true } = {}) {
  await page.waitForURL((u) => u.href.startsWith(issuer + '/interaction/'));
  await page.fill('#login', USER.login);
  await page.fill('#password', USER.password);
  await Promise.all([page.waitForNavigation(), page.click('#do-login')]);
  if (!consent) return;
  await page.waitForSelector('#do-consent');
  await Promise.all([page.waitForNavigation(), page.click('#do-consent')]);
}

const result = {};

// Run one case; an exception (a timeout) fails it, with a screenshot, and
// the next case still runs.
async function scenario(name, fn) {
  try {
    await fn();
  } catch (e) {
    fail(`${name}: ${e.message.split('\n')[0]}`);
    for (const ctx of browser.contexts()) {
      for (const p of ctx.pages()) {
        console.error(`  open page: ${p.url()}`);
        await p.screenshot({ path: join(artifacts, `failed-${name.replace(/ /g, '-')}.png`) })
          .catch(() => {});
      }
      await ctx.close();
    }
  }
}

// 1. From the login page, with the button; back at Kreisel, logged in.
await scenario('first login', async () => {
  const ctx = await newContext('de');
  const page = await ctx.newPage();
  const calls = watchCallbacks(page);
  await page.goto(base + '/anmelden');
  const button = page.getByRole('link', { name: 'Mit dem Servicekonto anmelden' });
  expect(await button.count() === 1, 'login page: no service-account button');
  await axeCheckUrl(base + '/anmelden', 'oidc-login-page');
  await Promise.all([page.waitForNavigation(), button.click()]);
  expect(page.url().startsWith(issuer + '/interaction/'), `button led to ${page.url()}`);
  await atProvider(page);
  await page.waitForURL((u) => u.href === base + '/konto');
  expect(calls.length === 1 && calls[0].status === 303, `callback: ${JSON.stringify(calls)}`);
  const header = await page.textContent('header');
  expect(header.includes('Erika Mustermann'), 'after login the header does not name the user');
  result.first = { url: page.url(), callback: calls[0] };

  // 2. The same callback again (replay): refused.
  const replay = await page.goto(calls[0].url);
  expect(replay.status() === 400, `replayed callback: status ${replay.status()}, want 400`);
  expect((await page.textContent('main')).includes('bereits verwendet'),
    'replayed callback: the page does not explain');
  await axeCheckUrl(calls[0].url, 'oidc-error-replay');
  result.replay = replay.status();
  await ctx.close();
});

// 3. A second login in a fresh browser finds the same account; zurueck.
await scenario('second login', async () => {
  const ctx = await newContext('en');
  const page = await ctx.newPage();
  const calls = watchCallbacks(page);
  await page.goto(base + '/anmelden/servicekonto?zurueck=/impressum');
  await atProvider(page);
  await page.waitForURL((u) => u.href === base + '/impressum');
  expect(calls.length === 1 && calls[0].status === 303, `second callback: ${JSON.stringify(calls)}`);
  expect((await page.textContent('header')).includes('Erika Mustermann'), 'second login: not logged in');
  result.second = { url: page.url() };
  // A foreign return path is not followed.
  await ctx.clearCookies();
  await page.goto(base + '/anmelden/servicekonto?zurueck=//evil.example/x');
  await page.waitForURL((u) => u.href.startsWith(issuer));
  await atProvider(page, { consent: true });
  await page.waitForURL((u) => u.href.startsWith(base));
  expect(page.url() === base + '/konto', `foreign zurueck led to ${page.url()}`);
  await ctx.close();
});

// 4. A tampered state: refused, nobody logged in.
await scenario('tampered state', async () => {
  const ctx = await newContext('de');
  const page = await ctx.newPage();
  // Redirects are not routed one by one, so the consent form's POST is:
  // the browser context's request API (same cookies) follows the
  // provider's redirects up to the callback URL, whose state is then
  // changed in one character before the browser gets to see it.
  let tampered = false;
  await page.route(`${issuer}/interaction/*/confirm`, async (route) => {
    let res = await route.fetch({ maxRedirects: 0 });
    let location = res.headers().location;
    while (location && !location.startsWith(base)) {
      res = await ctx.request.get(new URL(location, issuer).href, { maxRedirects: 0 });
      location = res.headers().location;
    }
    const u = new URL(location);
    const s = u.searchParams.get('state');
    u.searchParams.set('state', (s[0] === 'A' ? 'B' : 'A') + s.slice(1));
    tampered = true;
    return route.fulfill({ status: 303, headers: { location: u.href } });
  });
  const calls = watchCallbacks(page);
  await page.goto(base + '/anmelden/servicekonto');
  await atProvider(page);
  await page.waitForURL((u) => u.href.startsWith(base + callbackPath));
  await page.waitForLoadState();
  const status = calls.length ? calls[calls.length - 1].status : 0;
  expect(tampered, 'tampered state: the callback was not intercepted');
  expect(status === 400, `tampered state: status ${status}, want 400`);
  expect(!(await page.textContent('header')).includes('Erika'), 'tampered state: logged in');
  result.tampered = status;
  await ctx.close();
});

// 5. The citizen cancels at the provider: a polite page, in English too.
await scenario('cancelled', async () => {
  const ctx = await newContext('en');
  const page = await ctx.newPage();
  const calls = watchCallbacks(page);
  await page.goto(base + '/anmelden/servicekonto');
  await page.waitForURL((u) => u.href.startsWith(issuer + '/interaction/'));
  await Promise.all([page.waitForNavigation(), page.click('#do-abort')]);
  await page.waitForURL((u) => u.href.startsWith(base + callbackPath));
  const status = calls.length ? calls[calls.length - 1].status : 0;
  expect(status === 403, `cancelled: status ${status}, want 403`);
  expect((await page.textContent('main')).includes('You cancelled the login'),
    'cancelled: the page does not say so');
  await axeCheckUrl(page.url(), 'oidc-error-cancelled', 'en');
  result.cancelled = status;
  await ctx.close();
});

await browser.close();
result.failures = failures;
console.log(JSON.stringify(result));
process.exit(failures.length ? 1 : 0);
