// catalogue.check.mjs - the service catalogue in Chromium:
//   - axe-core finds no WCAG 2.x A/AA violation on home, results (with and
//     without hits, a life situation), a service, the units pages and an
//     unknown service (404), in German and English, 1280 and 360 px wide;
//   - the search works with the keyboard alone: type, Enter, Tab to the
//     first result, Enter opens the service;
//   - the suggestion script fills a datalist while typing (it is loaded
//     from /static, so the real CSP allows it; checked in a context
//     without bypassCSP);
//   - no page scrolls sideways at 360 px (reflow, WCAG 1.4.10).
export default async function (t) {
  const { base, browser, fail, axeCheck, checkPage, shot, newContext } = t;
  const pages = [
    ['/', 'cat-home', 200],
    ['/suche?q=F%C3%BChrerschein', 'cat-results', 200],
    ['/suche?q=xyzzyplugh', 'cat-results-none', 200],
    ['/suche?lebenslage=car', 'cat-situation', 200],
    ['/leistungen/kfz-zulassung', 'cat-service', 200],
    ['/leistungen/wohngeld', 'cat-service-2', 200],
    ['/stellen', 'cat-units', 200],
    ['/stellen/36.1', 'cat-unit', 200],
    ['/leistungen/gibt-es-nicht', 'cat-service-404', 404],
  ];
  for (const [lang, width] of [['de', 1280], ['en', 1280], ['de', 360]]) {
    const context = await newContext(lang, width);
    for (const [path, name, status] of pages) {
      await checkPage(context, path, `${name}-${lang}-${width}`, { status });
    }
    if (width === 360) {
      const page = await context.newPage();
      for (const [path, name] of pages) {
        await page.goto(base + path);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
        if (wide) fail(`${name}-360: the page scrolls sideways at 360 px`);
      }
      await page.close();
    }
    await context.close();
  }

  // The keyboard path: search, first result, service page.
  const context = await newContext('de');
  const page = await context.newPage();
  await page.goto(base + '/');
  await page.focus('#q');
  await page.keyboard.type('Fuehrerschein umtauschen');
  await Promise.all([page.waitForURL(/\/suche\?/), page.keyboard.press('Enter')]);
  await page.focus('#q');
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.closest('.result') !== null);
  }
  if (!reached) fail('keyboard: Tab from the search field does not reach a result');
  await Promise.all([page.waitForURL(/\/leistungen\//), page.keyboard.press('Enter')]);
  if (!page.url().endsWith('/leistungen/fuehrerschein-umtausch')) {
    fail(`keyboard: first result is ${page.url()}, not the licence exchange`);
  }
  await shot(page, 'cat-keyboard-service');
  await context.close();

  // Suggestions under the real CSP (no bypass): the script must run.
  const strict = await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 800 } });
  const p2 = await strict.newPage();
  const violations = [];
  p2.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await p2.goto(base + '/suche?q=');
  await p2.focus('#q');
  await p2.keyboard.type('Wohng', { delay: 30 });
  try {
    await p2.waitForFunction(() => {
      const l = document.getElementById('q-suggestions');
      return l && l.options.length > 0;
    }, null, { timeout: 5000 });
    const first = await p2.evaluate(() => document.getElementById('q-suggestions').options[0].value);
    if (!/Wohngeld/.test(first)) fail(`suggestions: first is "${first}", expected Wohngeld`);
  } catch {
    fail('suggestions: the datalist stays empty while typing');
  }
  await p2.goto(base + '/leistungen/kfz-zulassung');
  const ld = await p2.evaluate(() => JSON.parse(document.querySelector('script[type="application/ld+json"]').textContent)['@type']);
  if (ld !== 'GovernmentService') fail(`JSON-LD: @type ${ld}`);
  if (violations.length) fail('CSP violations: ' + violations.join('; '));
  await strict.close();
}
