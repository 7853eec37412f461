// a11y.mjs - every public page and the staff pages in Chromium:
//   - axe-core finds no WCAG 2.0/2.1/2.2 A or AA violation,
//   - the first Tab stop is the skip link and it moves focus to <main>,
//   - the login form works with the keyboard alone,
//   - (the pages carry no script at all: the integration tests assert
//     that; JavaScript stays enabled here only so that axe can run),
//   - a screenshot of each page lands in artifacts/ for a human look.
//
// usage: node a11y.mjs BASE_URL ADMIN_PASSWORD
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [base, password] = process.argv.slice(2);
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const failures = [];
const fail = (what) => { failures.push(what); console.log('FAIL ' + what); };

async function axeCheck(page, name) {
  // axe is evaluated in the page's main world; the context bypasses CSP for
  // this test only (the portal's CSP forbids inline scripts, rightly).
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    return await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
      resultTypes: ['violations'],
    });
  });
  for (const v of result.violations) {
    fail(`${name}: ${v.id} (${v.impact}) ${v.help}: ` +
         v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', '));
  }
  return result.violations.length;
}

async function checkPage(context, path, name, { status = 200 } = {}) {
  const page = await context.newPage();
  const response = await page.goto(base + path);
  if (response.status() !== status) fail(`${name}: status ${response.status()}, want ${status}`);
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  await axeCheck(page, name);
  // Keyboard: the first Tab reaches the skip link, Enter moves to main.
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement.getAttribute('href'));
  if (first !== '#main') fail(`${name}: first tab stop is ${first}, not the skip link`);
  await page.keyboard.press('Enter');
  const focused = await page.evaluate(() => document.activeElement.id);
  if (focused !== 'main') fail(`${name}: skip link does not move focus to main (${focused})`);
  await page.close();
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  for (const [lang, width] of [['de', 1280], ['en', 1280], ['de', 360]]) {
    const context = await browser.newContext({
      bypassCSP: true, javaScriptEnabled: true, locale: lang === 'de' ? 'de-DE' : 'en-GB',
      extraHTTPHeaders: { 'Accept-Language': lang }, viewport: { width, height: 800 },
    });
    const suffix = `${lang}-${width}`;
    for (const [path, name, status] of [
      ['/', 'home', 200], ['/impressum', 'imprint', 200], ['/datenschutz', 'privacy', 200],
      ['/barrierefreiheit', 'accessibility', 200], ['/anmelden', 'login', 200],
      ['/gibt-es-nicht', 'not-found', 404], ['/verwaltung', 'login-required', 401],
    ]) {
      await checkPage(context, path, `${name}-${suffix}`, { status });
    }
    await context.close();
  }

  // The login with the keyboard only, then the staff page and logout.
  const context = await browser.newContext({ bypassCSP: true, extraHTTPHeaders: { 'Accept-Language': 'de' } });
  const page = await context.newPage();
  await page.goto(base + '/anmelden');
  await page.focus('#login');
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  await page.keyboard.type('falsches-passwort');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/anmelden') && r.request().method() === 'POST'),
    page.keyboard.press('Enter'),
  ]);
  try {
    await page.waitForSelector('[role="alert"]', { timeout: 5000 });
  } catch {
    fail('login: no error shown for a wrong password');
  }
  await page.screenshot({ path: join(artifacts, 'login-error.png'), fullPage: true });
  await axeCheck(page, 'login-error');
  await page.fill('#password', password);
  await page.focus('#password');
  await page.keyboard.press('Enter');
  await page.waitForURL(base + '/verwaltung');
  await page.screenshot({ path: join(artifacts, 'staff-home.png'), fullPage: true });
  await axeCheck(page, 'staff-home');
  await page.click('button[type="submit"]');  // log out
  await page.waitForURL(base + '/');
  if (!(await page.isVisible('a[href="/anmelden"]'))) fail('logout: login link not shown');
  await browser.close();

  if (failures.length) {
    console.log(`\n${failures.length} accessibility/keyboard problems`);
    process.exit(1);
  }
  console.log('browser checks passed; screenshots in tests/browser/artifacts/');
}

main().catch((e) => { console.error(e); process.exit(1); });
