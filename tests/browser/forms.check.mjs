// forms.check.mjs - the five demo forms of the form server in Chromium:
// each is started, every step page is filled with the keyboard-reachable
// controls and checked with axe-core (WCAG 2.2 AA), the summary is checked,
// the form is submitted and the receipt PDF downloaded.  One form is saved
// half-way and resumed through its link in a fresh browser context.  The
// pages carry no script, so this is the no-JavaScript flow; JavaScript is
// enabled only so that axe can run.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const id = (s) => `[id="${s}"]`;

// A tiny valid PDF for the plan upload.
function tinyPdf() {
  const dir = mkdtempSync(join(tmpdir(), 'kr-forms-'));
  const path = join(dir, 'lageplan.pdf');
  writeFileSync(path, '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n' +
    '2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
    '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n' +
    'trailer<</Root 1 0 R>>\n%%EOF\n');
  return path;
}

const address = (p, city) => [
  ['fill', `${p}.street`, 'Hauptstraße'], ['fill', `${p}.number`, '1'],
  ['fill', `${p}.postcode`, '12345'], ['fill', `${p}.city`, city]];

// Per form: the pages in order; each page is a list of actions.  A page
// that reveals a question after sending is listed twice.
const FORMS = {
  'kita-platz': [
    [['fill', 'child_first_name', 'Mia'], ['fill', 'child_last_name', 'Muster'],
     ['fill', 'child_born', '2022-03-01'], ['check', 'needs_support-nein']],
    [['fill', 'start_date', '2025-08-01'], ['check', 'care_type-1'], ['select', 'hours', '35']],
    [['fill', 'parent_name', 'Anna Muster'], ...address('address', 'Musterstadt'),
     ['fill', 'email', 'anna@example.org']],
  ],
  'schule-schuelerbefoerderung': [
    [['fill', 'pupil_name', 'Ben Muster'], ['fill', 'pupil_born', '2010-05-05'],
     ...address('home', 'Musterdorf')],
    [['select', 'school', 'gym-musterdorf'], ['fill', 'grade', '11'], ['fill', 'distance_km', '8']],
    [['fill', 'ticket_start', '2025-08-01'], ['fill', 'months', '10'],
     ['fill', 'iban', 'DE89 3704 0044 0532 0130 00']],
  ],
  'kfz-wunschkennzeichen': [
    [['select', 'district', 'MU'], ['fill', 'letters', 'AB'], ['fill', 'digits', '123'],
     ['check', 'electric-nein']],
    [['check', 'vehicle'], ['check', 'registered'], ['fill', 'keeper', 'Anna Muster'],
     ['fill', 'email', 'anna@example.org']],
    [['fill', 'current_plate', 'MU-XY 9']],
  ],
  'fischerei-fischereischein': [
    [['fill', 'name', 'Anna Muster'], ['fill', 'born', '1990-01-01'],
     ...address('address', 'Musterstadt')],
    [['check', 'licence-2'], ['fill', 'tax_years', '1']],
    [['check', 'exam_passed']],
    [['fill', 'exam_date', '2010-06-01'], ['fill', 'exam_place', 'Kreisanglerverband']],
  ],
  'bau-baugenehmigung': [
    [['fill', 'client_name', 'Anna Muster'], ...address('client_address', 'Musterstadt'),
     ['fill', 'client_email', 'anna@example.org'], ['fill', 'architect', 'B. Plan']],
    [...address('plot_address', 'Musterdorf'), ['fill', 'gemarkung', 'Musterdorf'],
     ['fill', 'flur', '3'], ['fill', 'flurstueck', '12/4'], ['check', 'monument-nein']],
    [['select', 'project', 'efh'], ['fill', 'floors', '2'], ['fill', 'height_m', '6'],
     ['fill', 'build_cost', '350000'], ['fill', 'description', 'Einfamilienhaus mit Satteldach']],
    [['upload', 'plans', 'pdf'], ['check', 'statics_later-nein']],
  ],
};

async function act(page, [what, field, value]) {
  if (what === 'fill') await page.fill(id(field), value);
  else if (what === 'check') await page.check(id(field));
  else if (what === 'select') await page.selectOption(id(field), value);
  else if (what === 'upload') await page.setInputFiles(id(field), tinyPdf());
}

export default async function (t) {
  const { base, fail, axeCheck, shot, newContext } = t;
  const context = await newContext('de');
  for (const [form, pages] of Object.entries(FORMS)) {
    const page = await context.newPage();
    await page.goto(`${base}/formulare/${form}`);
    await axeCheck(page, `forms-${form}-start`);
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    for (let i = 0; i < pages.length; i++) {
      await axeCheck(page, `forms-${form}-step${i + 1}`);
      for (const a of pages[i]) await act(page, a);
      await Promise.all([page.waitForNavigation(), page.click('button[value="next"]')]);
      if (await page.isVisible('.error-summary')) {
        await shot(page, `forms-${form}-error${i + 1}`);
        await axeCheck(page, `forms-${form}-error${i + 1}`);
        fail(`${form}: step ${i + 1}: ` + (await page.textContent('.error-summary')).trim());
        break;
      }
    }
    if (!page.url().endsWith('/pruefen')) {
      fail(`${form}: did not reach the summary (${page.url()})`);
      await page.close();
      continue;
    }
    await shot(page, `forms-${form}-summary`);
    await axeCheck(page, `forms-${form}-summary`);
    await Promise.all([page.waitForNavigation(), page.click('form button[type="submit"]')]);
    const number = await page.textContent('#submission-number').catch(() => null);
    if (!number || !/^F-\d{4}-\d{6}-\d$/.test(number)) fail(`${form}: no submission number`);
    await axeCheck(page, `forms-${form}-done`);
    const href = await page.getAttribute('a.button', 'href');
    const pdf = await context.request.get(base + href);
    if (pdf.status() !== 200 || !(await pdf.body()).subarray(0, 4).equals(Buffer.from('%PDF')))
      fail(`${form}: receipt not a PDF`);
    await page.close();
  }

  // Save half-way, resume with the link in another browser.
  const page = await context.newPage();
  await page.goto(`${base}/formulare/kita-platz`);
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  await page.fill(id('child_first_name'), 'Lea');
  await Promise.all([page.waitForNavigation(), page.click('button[value="save"]')]);
  await axeCheck(page, 'forms-saved');
  const link = await page.textContent('#resume-link');
  const other = await newContext('en');
  const p2 = await other.newPage();
  await p2.goto(link.replace(/^https?:\/\/[^/]+/, base));
  if ((await p2.inputValue(id('child_first_name'))) !== 'Lea') fail('forms: resume lost the answer');
  await axeCheck(p2, 'forms-resumed-en');
  await other.close();
  await context.close();
}
