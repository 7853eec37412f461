// efile.check.mjs - the e-file in Chromium: a clerk creates a file, files a
// PDF and a note at once, finds the file by a word inside the PDF, closes
// it; the records manager sees it on the disposal list of the right year
// (not the year before); with the disposal clock moved on (a second server
// with KREISEL_EFILE_TODAY on the same database), one records manager
// requests the handover to the archive, a second one confirms it, and the
// downloaded package's checksums verify.  A restricted file: the clerk names
// a clerk of another unit on the page of named people (who then sees the
// file) and takes the name off again (404 again).  axe-core on every page.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.KREISEL_BIN || join(here, '../../build/kreisel');
const PASSWORD = 'Aktenplan-Browser-2026';

function pdf(text) {
  const content = `BT /F1 18 Tf 50 700 Td (${text}) Tj ET`;
  const objs = ['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R ' +
    '/Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'];
  let out = '%PDF-1.4\n';
  const offsets = [];
  objs.forEach((o, i) => { offsets.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = out.length;
  out += 'xref\n0 6\n0000000000 65535 f \n' + offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  out += `trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function addUser(login, unit, role) {
  try {
    execFileSync(bin, ['user', 'add', '--login', login, '--name', login, '--unit', unit, '--role', role,
      '--password-stdin'], { input: PASSWORD + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (e) {
    if (!String(e.stderr).includes('exists')) throw e;
  }
}

// A second server on the same database with the disposal clock at today.
function startLater(today) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['serve'], {
      env: { ...process.env, KREISEL_EFILE_TODAY: today, KREISEL_LISTEN: '127.0.0.1:0' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    proc.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/"event":"server_started".*?"port":(\d+)/);
      if (m) resolve({ proc, base: `http://127.0.0.1:${m[1]}` });
    });
    proc.on('exit', () => reject(new Error('second server stopped: ' + log.slice(-500))));
  });
}

async function login(context, base, who) {
  const page = await context.newPage();
  await page.goto(base + '/anmelden');
  await page.fill('#login', who);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('form button[type="submit"]')]);
  return page;
}

export default async function (t) {
  const { base, fail, axeCheck, shot, newContext } = t;
  const check = async (page, name) => { await shot(page, name); await axeCheck(page, name); };
  const suffix = String(Date.now()).slice(-6);
  const clerkLogin = `k.efile${suffix}`, rm1 = `r.one${suffix}`, rm2 = `r.two${suffix}`;
  addUser(clerkLogin, '36.1', 'clerk');
  addUser(rm1, '10', 'records_manager');
  addUser(rm2, '10', 'records_manager');
  const otherLogin = `w.efile${suffix}`;
  addUser(otherLogin, '50.1', 'clerk');

  // The clerk: file list, new file under 81.30.
  const clerk = await newContext('de');
  let page = await login(clerk, base, clerkLogin);
  await page.goto(base + '/verwaltung/akten');
  await check(page, 'efile-files');
  const option = await page.locator('#plan_item option', { hasText: '81.30 ' }).first().getAttribute('value');
  await page.selectOption('#plan_item', option);
  await page.fill('#title', 'Verkehrsanordnung Browserstraße');
  await Promise.all([page.waitForNavigation(), page.click('form[method="post"][action="/verwaltung/akten"] button')]);
  const fileUrl = page.url();
  const reference = (await page.locator('h1 small').textContent()).trim();
  await check(page, 'efile-file-new');

  // Several files at once.
  await page.fill('#new_transaction', 'Anordnung');
  await page.setInputFiles('#files', [
    { name: 'anordnung.pdf', mimeType: 'application/pdf', buffer: pdf('Absperrung der Kreuzung am Donnerstag') },
    { name: 'vermerk.txt', mimeType: 'text/plain', buffer: Buffer.from('Rücksprache mit der Polizei') },
  ]);
  await Promise.all([page.waitForNavigation(), page.click('form[enctype="multipart/form-data"] button')]);
  if (!(await page.content()).includes('anordnung.pdf')) fail('efile: uploaded PDF not listed');
  await check(page, 'efile-file-uploaded');

  // Find it by a word inside the PDF (the text is extracted in the background).
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.goto(base + '/verwaltung/akten?volltext=' + encodeURIComponent('Kreuzungen Donnerstag'));
    found = (await page.locator('ol.results a').count()) > 0;
    if (!found) await page.waitForTimeout(300);
  }
  if (!found) fail('efile: the word inside the PDF was not found');
  await check(page, 'efile-search');

  // Close the file.
  await page.goto(fileUrl);
  await Promise.all([page.waitForNavigation(), page.click('form[action$="/schliessen"] button')]);
  const status = await page.locator('#status').textContent();
  if (!status.includes('geschlossen')) fail(`efile: file not closed (${status})`);
  const disposal = (await page.locator('#disposal-date').textContent()).trim();
  const dueYear = Number(disposal.slice(-4));
  await check(page, 'efile-file-closed');

  // A restricted file and its named people.
  await page.goto(base + '/verwaltung/akten');
  await page.selectOption('#plan_item', option);
  await page.fill('#title', 'Personalakte Browser');
  await page.check('#restricted');
  await Promise.all([page.waitForNavigation(), page.click('form[method="post"][action="/verwaltung/akten"] button')]);
  const secretUrl = page.url();
  await Promise.all([page.waitForNavigation(), page.click('#named-link')]);
  await check(page, 'efile-named');
  const namedUrl = page.url();
  // One letter is refused (the field says minlength, the server checks too).
  const refused = await page.goto(namedUrl + '?person=x');
  if (refused.status() !== 422) fail(`efile: a one-letter lookup gives ${refused.status()}`);
  if (!(await page.locator('.error-summary').count())) fail('efile: a one-letter lookup is not refused');
  await check(page, 'efile-named-error');
  await page.fill('#person', otherLogin);
  await Promise.all([page.waitForNavigation(), page.click('form[role="search"] button')]);
  await check(page, 'efile-named-found');
  await Promise.all([page.waitForNavigation(),
    page.locator('li', { hasText: otherLogin }).locator('button').click()]);
  if (!(await page.locator('li', { hasText: otherLogin }).locator('button', { hasText: 'entziehen' }).count())) {
    fail('efile: the named person is not listed');
  }
  await check(page, 'efile-named-granted');
  const other = await newContext('de');
  const otherPage = await login(other, base, otherLogin);
  let seen = await otherPage.goto(secretUrl);
  if (seen.status() !== 200) fail(`efile: the named person gets ${seen.status()} on the file`);
  await Promise.all([page.waitForNavigation(),
    page.locator('li', { hasText: otherLogin }).locator('button').click()]);
  seen = await otherPage.goto(secretUrl);
  if (seen.status() !== 404) fail(`efile: after revoking the person gets ${seen.status()}`);
  await other.close();
  await clerk.close();

  // The records manager: on the list of its year, not of the year before.
  const records = await newContext('de');
  page = await login(records, base, rm1);
  await page.goto(`${base}/verwaltung/aussonderung?jahr=${dueYear - 1}`);
  if ((await page.content()).includes(reference)) fail('efile: file on the disposal list too early');
  await page.goto(`${base}/verwaltung/aussonderung?jahr=${dueYear}`);
  if (!(await page.content()).includes(reference)) fail('efile: file missing on the disposal list');
  await check(page, 'efile-disposal');
  await records.close();

  // The clock moves on: request, four eyes, package.
  const later = await startLater(`${dueYear}-01-02`);
  try {
    const one = await newContext('de');
    page = await login(one, later.base, rm1);
    await page.goto(`${later.base}/verwaltung/aussonderung?jahr=${dueYear}`);
    const item = page.locator('li', { hasText: reference });
    await item.locator('select').selectOption('archive');
    await item.locator('input[name="legal_basis"]').fill('§ 7 Landesarchivgesetz');
    await Promise.all([page.waitForNavigation(), item.locator('button').click()]);
    if ((await page.locator('li', { hasText: reference }).locator('button').count()) !== 0) {
      fail('efile: the requester may confirm their own request');
    }
    await check(page, 'efile-disposal-requested');
    await one.close();
    const two = await newContext('de');
    page = await login(two, later.base, rm2);
    await page.goto(`${later.base}/verwaltung/aussonderung?jahr=${dueYear}`);
    await Promise.all([page.waitForNavigation(),
      page.locator('li', { hasText: reference }).locator('button').click()]);
    const fileId = fileUrl.split('/').pop();
    const response = await two.request.get(`${later.base}/verwaltung/akten/${fileId}/paket`);
    if (response.status() !== 200) fail(`efile: package download ${response.status()}`);
    const dir = mkdtempSync(join(tmpdir(), 'efile-'));
    writeFileSync(join(dir, 'paket.zip'), await response.body());
    const verified = execFileSync('python3', ['-c', `
import hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
lines = z.read("checksums.sha256").decode().splitlines()
assert len(lines) == len(z.namelist()) - 1, "entries without checksum"
for line in lines:
    digest, name = line.split("  ", 1)
    assert hashlib.sha256(z.read(name)).hexdigest() == digest, name
print(len(lines))`, join(dir, 'paket.zip')]).toString().trim();
    if (verified !== '3') fail(`efile: package checksums: ${verified}`);
    await two.close();
  } catch (e) {
    fail('efile: disposal: ' + e.message);
  } finally {
    later.proc.kill('SIGTERM');
  }
}
