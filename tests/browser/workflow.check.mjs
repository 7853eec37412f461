// workflow.check.mjs - case processing pages in Chromium: the inbox, a
// case page, the figures (as the demo admin, who sees every unit) and the
// anonymous status lookup pass axe-core (WCAG 2.2 AA), and the inbox
// filter works with the keyboard alone.
export default async function (t) {
  const { base, password, fail, axeCheck, checkPage, shot, newContext } = t;
  const anon = await newContext('de');
  await checkPage(anon, '/antragsstatus', 'workflow-status-form', { status: 200 });
  await anon.close();

  for (const [lang, width] of [['de', 1280], ['en', 360]]) {
    const context = await newContext(lang, width);
    const page = await context.newPage();
    await page.goto(base + '/anmelden');
    await page.fill('#login', 'admin');
    await page.fill('#password', password);
    await page.focus('#password');
    await page.keyboard.press('Enter');
    await page.waitForURL(base + '/verwaltung');
    await page.goto(base + '/verwaltung/vorgaenge');
    await shot(page, `workflow-inbox-${lang}-${width}`);
    await axeCheck(page, `workflow-inbox-${lang}-${width}`);
    const link = await page.$('a[href^="/verwaltung/vorgaenge/20"]');
    if (!link) fail('workflow: the demo cases are not in the inbox');
    else {
      await link.click();
      await page.waitForSelector('h1');
      await shot(page, `workflow-case-${lang}-${width}`);
      await axeCheck(page, `workflow-case-${lang}-${width}`);
    }
    await page.goto(base + '/verwaltung/vorgaenge/kennzahlen');
    await axeCheck(page, `workflow-metrics-${lang}-${width}`);
    // The filter with the keyboard: choose "overdue only" and submit.
    await page.goto(base + '/verwaltung/vorgaenge');
    await page.focus('#ueberfaellig');
    await page.keyboard.press('Space');
    await page.focus('#ueberfaellig');
    await page.keyboard.press('Enter');
    await page.waitForURL(/ueberfaellig=1/);
    await context.close();
  }
}
