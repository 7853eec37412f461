// payments.check.mjs - the payment pages in Chromium, with axe-core:
//   - the public payment page of a demo receivable (amount, reference,
//     IBAN, GiroCode image that loads) in German and English, wide and
//     narrow, and its 404 for a mistyped reference,
//   - the cash office: open items, search, a receivable with its
//     cancellation form (and the form's error state), statements, the
//     unmatched queue and the dunning list, reached with the keyboard,
//   - the statement upload with a file that is no statement (error state).

// The Kassenzeichen of the n-th receivable of this year (ISO 7064 MOD 97-10).
function kassenzeichen(n) {
  const base = `${new Date().getUTCFullYear()}${String(n).padStart(6, '0')}`;
  const check = 98 - Number((BigInt(base) * 100n) % 97n);
  return base + String(check).padStart(2, '0');
}

export default async function (t) {
  const { base, fail, axeCheck, checkPage, shot, newContext } = t;
  const kz = kassenzeichen(1);
  for (const [lang, width] of [['de', 1280], ['en', 1280], ['de', 360]]) {
    const context = await newContext(lang, width);
    await checkPage(context, `/zahlung/${kz}`, `payments-pay-${lang}-${width}`);
    await context.close();
  }
  let context = await newContext('de');
  await checkPage(context, '/zahlung/202600000000', 'payments-pay-unknown', { status: 404 });
  await checkPage(context, '/verwaltung/kasse', 'payments-cash-login-required', { status: 401 });
  const page = await context.newPage();
  await page.goto(`${base}/zahlung/${kz}`);
  const text = await page.textContent('main');
  if (!text.includes('DE02 1203') && !text.includes('DE02120300000000202051'))
    fail('payments-pay: IBAN not shown');
  const loaded = await page.evaluate(() => {
    const img = document.querySelector('main img');
    return img && img.complete && img.naturalWidth > 0;
  });
  if (!loaded) fail('payments-pay: the GiroCode image does not load');
  await page.close();
  await context.close();

  // The cash office, logged in with the keyboard.
  const login = process.env.CASH_LOGIN, password = process.env.CASH_PASSWORD;
  if (!login) { fail('payments: CASH_LOGIN not set by run'); return; }
  context = await newContext('de');
  const p = await context.newPage();
  await p.goto(base + '/anmelden');
  await p.fill('#login', login);
  await p.fill('#password', password);
  await p.focus('#password');
  await Promise.all([
    p.waitForResponse((r) => r.url().endsWith('/anmelden') && r.request().method() === 'POST'),
    p.keyboard.press('Enter'),
  ]);
  await p.waitForLoadState('load');
  for (const [path, name] of [
    ['/verwaltung/kasse', 'payments-cash'],
    ['/verwaltung/kasse?q=Mustermann&alle=1', 'payments-cash-search'],
    ['/verwaltung/kasse?betrag=1.234', 'payments-cash-search-error'],
    ['/verwaltung/kasse/kontoauszug', 'payments-statements'],
    ['/verwaltung/kasse/offene-posten', 'payments-queue'],
    ['/verwaltung/kasse/mahnungen', 'payments-dunning'],
  ]) {
    await checkPage(context, path, name);
  }
  await p.goto(base + '/verwaltung/kasse');
  const href = await p.getAttribute('main table a', 'href');
  if (!href) { fail('payments-cash: no receivable listed'); return; }
  await checkPage(context, href, 'payments-receivable');
  // The cancellation without a reason shows the error summary.
  await p.goto(base + href);
  await Promise.all([
    p.waitForResponse((r) => r.url().endsWith('/storno') && r.request().method() === 'POST'),
    p.click('form[action$="/storno"] button[type="submit"]'),
  ]);
  await p.waitForLoadState('load');
  if (!(await p.isVisible('[role="alert"]'))) fail('payments-receivable: no error for a missing reason');
  await shot(p, 'payments-cancel-error');
  await axeCheck(p, 'payments-cancel-error');
  // A file that is no bank statement: the form again, the error at the field.
  await p.goto(base + '/verwaltung/kasse/kontoauszug');
  await p.setInputFiles('#statement-file', {
    name: 'brief.txt', mimeType: 'text/plain', buffer: Buffer.from('Sehr geehrte Damen und Herren,\n'),
  });
  await Promise.all([
    p.waitForResponse((r) => r.url().endsWith('/kontoauszug') && r.request().method() === 'POST'),
    p.click('form[action$="/kontoauszug"] button[type="submit"]'),
  ]);
  await p.waitForLoadState('load');
  if (!(await p.isVisible('[role="alert"]'))) fail('payments-statements: no error for a wrong file');
  if ((await p.getAttribute('#statement-file', 'aria-invalid')) !== 'true')
    fail('payments-statements: the file field is not marked invalid');
  await shot(p, 'payments-statement-error');
  await axeCheck(p, 'payments-statement-error');
  await context.close();
}
