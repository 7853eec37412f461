// lib.mjs - what every browser check shares: launching Chromium, axe-core,
// the skip-link check, screenshots and the list of failures.
//
// A check file is tests/browser/<name>.check.mjs exporting
//   export default async function (t) { ... }
// where t is { base, password, browser, fail, axeCheck, checkPage, shot,
// newContext }.  `run` starts Kreisel once and calls every check file.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
export const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

export function makeTools(base, password, browser) {
  const failures = [];
  const fail = (what) => { failures.push(what); console.log('FAIL ' + what); };

  // axe is evaluated in the page's main world; contexts bypass CSP for the
  // tests only (the portal's CSP forbids inline scripts, rightly).
  async function axeCheck(page, name) {
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

  const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

  // A page: status, screenshot, axe, and the skip link as first Tab stop.
  async function checkPage(context, path, name, { status = 200 } = {}) {
    const page = await context.newPage();
    const response = await page.goto(base + path);
    if (response.status() !== status) fail(`${name}: status ${response.status()}, want ${status}`);
    await shot(page, name);
    await axeCheck(page, name);
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement.getAttribute('href'));
    if (first !== '#main') fail(`${name}: first tab stop is ${first}, not the skip link`);
    await page.keyboard.press('Enter');
    const focused = await page.evaluate(() => document.activeElement.id);
    if (focused !== 'main') fail(`${name}: skip link does not move focus to main (${focused})`);
    await page.close();
  }

  // A context for a language and width (bypassCSP only so that axe can run).
  const newContext = (lang = 'de', width = 1280) => browser.newContext({
    bypassCSP: true, javaScriptEnabled: true, locale: lang === 'de' ? 'de-DE' : 'en-GB',
    extraHTTPHeaders: { 'Accept-Language': lang }, viewport: { width, height: 800 },
  });

  return { base, password, browser, fail, failures, axeCheck, checkPage, shot, newContext };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
