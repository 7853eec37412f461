// portal.check.mjs - the foundation's pages in Chromium:
//   - axe-core finds no WCAG 2.0/2.1/2.2 A or AA violation,
//   - the first Tab stop is the skip link and it moves focus to <main>,
//   - the login form works with the keyboard alone,
//   - (the pages carry no script at all: the integration tests assert
//     that; JavaScript stays enabled here only so that axe can run),
//   - a screenshot of each page lands in artifacts/ for a human look.
export default async function (t) {
  const { base, password, fail, axeCheck, checkPage, shot, newContext } = t;
  for (const [lang, width] of [['de', 1280], ['en', 1280], ['de', 360]]) {
    const context = await newContext(lang, width);
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
  const context = await newContext('de');
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
  await shot(page, 'login-error');
  await axeCheck(page, 'login-error');
  await page.fill('#password', password);
  await page.focus('#password');
  await page.keyboard.press('Enter');
  await page.waitForURL(base + '/verwaltung');
  await shot(page, 'staff-home');
  await axeCheck(page, 'staff-home');
  await page.click('button[type="submit"]');  // log out
  await page.waitForURL(base + '/');
  if (!(await page.isVisible('a[href="/anmelden"]'))) fail('logout: login link not shown');
  await context.close();
}
