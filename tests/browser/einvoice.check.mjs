// einvoice.check.mjs - incoming e-invoices in Chromium: the administrator
// (who acts for every unit) uploads our own CII test invoice through the
// file field, reads it as a page (parties, lines, VAT, Skonto), confirms
// the factual and arithmetic correctness, and finds it in the filtered
// list; a file that is no invoice is refused at its field.  axe-core on
// every page on the way.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const invoices = join(here, '..', 'einvoice');

export default async function (t) {
  const { base, password, fail, axeCheck, shot, newContext } = t;
  const check = async (page, name) => { await shot(page, name); await axeCheck(page, name); };
  const context = await newContext('de');
  const page = await context.newPage();
  await page.goto(base + '/anmelden');
  await page.fill('#login', 'admin');
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(base + '/verwaltung'), page.click('button[type="submit"]')]);
  await page.click('a[href="/verwaltung/rechnungen"]');
  await check(page, 'einvoice-list');

  // Not an invoice: the error at the field, focusable from the summary.
  await page.setInputFiles('#invoice', join(here, 'lib.mjs'));
  await page.click('form[enctype="multipart/form-data"] button[type="submit"]');
  await page.waitForSelector('.error-summary');
  if (await page.getAttribute('#invoice', 'aria-invalid') !== 'true') {
    fail('einvoice upload: the file field is not marked invalid');
  }
  await check(page, 'einvoice-upload-error');

  await page.setInputFiles('#invoice', join(invoices, 'cii-invoice.xml'));
  await Promise.all([
    page.waitForURL(/\/verwaltung\/rechnungen\/\d+$/),
    page.click('form[enctype="multipart/form-data"] button[type="submit"]'),
  ]);
  await check(page, 'einvoice-invoice');
  const text = await page.textContent('main');
  for (const want of ['Positionen', 'Umsatzsteuer', 'Skonto', '19.11.2026', '428.00']) {
    if (!text.includes(want)) fail(`einvoice page: "${want}" not shown`);
  }
  for (const step of ['Sachlich richtig bestätigen', 'Rechnerisch richtig bestätigen']) {
    await Promise.all([page.waitForLoadState('load'), page.click(`button:has-text("${step}")`)]);
    await page.waitForSelector('h1');
  }
  await check(page, 'einvoice-checked');
  if (!(await page.textContent('main')).includes('rechnerisch richtig')) {
    fail('einvoice: status after the two checks is not "rechnerisch richtig"');
  }
  await page.goto(base + '/verwaltung/rechnungen?status=arithmetically_correct');
  if (!(await page.textContent('main')).includes('Druckerei')) {
    fail('einvoice list: the checked invoice is not in the filtered list');
  }
  await check(page, 'einvoice-list-filtered');
  await context.close();
}
