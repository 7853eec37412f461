// appointments.check.mjs - the booking steps and the front office in
// Chromium: every step has no axe violation (WCAG 2.x A/AA), starts with
// the skip link, and the whole booking is done by keyboard-free clicking
// on plain links and one form (no JavaScript needed); the staff day view
// and the figures are checked as the administrator.
export default async function (t) {
  const { base, password, fail, axeCheck, checkPage, shot, newContext } = t;
  for (const [lang, width] of [['de', 1280], ['en', 360]]) {
    const context = await newContext(lang, width);
    const suffix = `${lang}-${width}`;
    for (const [path, name, status] of [
      ['/termine', 'appointments-services', 200],
      ['/termine/orte?leistungen=kfz-zulassung', 'appointments-locations', 200],
      ['/termine/tage?ort=zulassungsstelle&leistungen=kfz-zulassung', 'appointments-days', 200],
      ['/termine/orte?leistungen=gibt-es-nicht', 'appointments-unknown', 404],
      ['/termine/meine', 'appointments-mine-login', 401],
    ]) {
      await checkPage(context, path, `${name}-${suffix}`, { status });
    }
    await context.close();
  }

  // Book as a citizen without account: day, time, details, "check mail".
  const context = await newContext('de');
  const page = await context.newPage();
  await page.goto(base + '/termine/tage?ort=zulassungsstelle&leistungen=kfz-zulassung');
  await page.click('ul.link-list a[href*="tag="]');
  await shot(page, 'appointments-times');
  await axeCheck(page, 'appointments-times');
  await page.click('ul.slot-list a');
  await shot(page, 'appointments-details');
  await axeCheck(page, 'appointments-details');
  await page.fill('#name', 'Erika Browser');
  await page.fill('#email', 'erika.browser@example.org');
  await page.click('button[type="submit"].button');
  if (!(await page.isVisible('text=Buchungsnummer'))) fail('appointments: no booking number shown');
  await shot(page, 'appointments-check-mail');
  await axeCheck(page, 'appointments-check-mail');

  // The front office as administrator: day view and figures.
  await page.goto(base + '/anmelden');
  await page.fill('#login', 'admin');
  await page.fill('#password', password);
  await page.keyboard.press('Enter');
  await page.waitForURL(base + '/verwaltung');
  for (const [path, name] of [
    ['/verwaltung/termine', 'appointments-staff'],
    ['/verwaltung/termine/zulassungsstelle', 'appointments-staff-day'],
    ['/verwaltung/termine-statistik', 'appointments-stats'],
  ]) {
    const r = await page.goto(base + path);
    if (r.status() !== 200) fail(`${name}: status ${r.status()}`);
    await shot(page, name);
    await axeCheck(page, name);
  }
  await context.close();
}
