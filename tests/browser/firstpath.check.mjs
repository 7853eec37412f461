// firstpath.check.mjs - the first path in Chromium, as the issue's "done
// when" reads: the demo citizen submits the day-care form; a clerk of the
// youth office claims the case, checks it and offers a place; the citizen
// sees each status change in "Meine Anträge" and finds the notice PDF in
// the mailbox; when the clock passes the deadline of a case
// (`kreisel workflow deadlines --at`, the injectable clock of the
// scheduler), it appears escalated in the clerk's inbox.  Pages on the way
// are checked with axe-core.
import { execFileSync } from 'node:child_process';

const id = (s) => `[id="${s}"]`;

const KITA = [
  [['fill', 'child_first_name', 'Lina'], ['fill', 'child_last_name', 'Mustermann'],
   ['fill', 'child_born', '2023-02-01'], ['check', 'needs_support-nein']],
  [['fill', 'start_date', '2026-08-01'], ['check', 'care_type-1'], ['select', 'hours', '35']],
  [['fill', 'parent_name', 'Erika Mustermann'], ['fill', 'address.street', 'Hauptstraße'],
   ['fill', 'address.number', '1'], ['fill', 'address.postcode', '12345'],
   ['fill', 'address.city', 'Musterstadt'], ['fill', 'email', 'erika@example.org']],
];

async function act(page, [what, field, value]) {
  if (what === 'fill') await page.fill(id(field), value);
  else if (what === 'check') await page.check(id(field));
  else if (what === 'select') await page.selectOption(id(field), value);
}

async function login(t, login, password) {
  const context = await t.newContext('de');
  const page = await context.newPage();
  await page.goto(t.base + '/anmelden');
  await page.fill('#login', login);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.press('#password', 'Enter')]);
  return { context, page };
}

// The citizen submits the day-care form; returns the new case's number.
async function submitKita(t, page) {
  const { base, fail } = t;
  await page.goto(`${base}/formulare/kita-platz`);
  await Promise.all([page.waitForNavigation(),
    page.click('form[action="/formulare/kita-platz"] button[type="submit"]')]);
  for (const step of KITA) {
    for (const a of step) await act(page, a);
    await Promise.all([page.waitForNavigation(), page.click('button[value="next"]')]);
  }
  if (!page.url().endsWith('/pruefen')) fail(`firstpath: no summary (${page.url()})`);
  await Promise.all([page.waitForNavigation(),
    page.click('form[action$="/pruefen"] button[type="submit"]')]);
  await page.goto(`${base}/antraege`);
  const text = await page.textContent('main');
  const m = /Vorgang (\d{4}-\d{6}): Anmeldung Kindertagesbetreuung/.exec(text);
  if (!m) fail('firstpath: the new case is not under "Meine Anträge"');
  return m ? m[1] : null;
}

async function clerkDecides(t, page, number, transition, reason) {
  await page.goto(`${t.base}/verwaltung/vorgaenge/${number}`);
  const form = page.locator(`form.transition:has(input[name="transition"][value="${transition}"])`);
  if (reason) await form.locator('textarea').fill(reason);
  await Promise.all([page.waitForNavigation(), form.locator('button').click()]);
}

async function citizenSees(t, page, number, label) {
  await page.goto(`${t.base}/antraege`);
  const text = await page.textContent('main');
  if (!text.includes(number) || !text.includes(label))
    t.fail(`firstpath: the citizen does not see "${label}" for ${number}`);
}

export default async function (t) {
  const { base, fail, axeCheck, shot } = t;
  const env = process.env;
  if (!env.CITIZEN_PASSWORD || !env.KITA_PASSWORD || !env.KREISEL_BIN) {
    fail('firstpath: run sets CITIZEN_PASSWORD, KITA_PASSWORD and KREISEL_BIN');
    return;
  }
  const citizen = await login(t, env.CITIZEN_LOGIN, env.CITIZEN_PASSWORD);
  const number = await submitKita(t, citizen.page);
  if (!number) return;
  await citizenSees(t, citizen.page, number, 'Eingegangen');

  // The clerk claims, checks and offers a place with a note for the notice.
  const clerk = await login(t, env.KITA_LOGIN, env.KITA_PASSWORD);
  await clerk.page.goto(`${base}/verwaltung/vorgaenge/${number}`);
  await Promise.all([clerk.page.waitForNavigation(),
    clerk.page.click('form[action$="/zuweisen"] button')]);
  if (!(await clerk.page.textContent('.facts')).includes('Kai Kita'))
    fail('firstpath: the claim did not assign the case to the clerk');
  await clerkDecides(t, clerk.page, number, 'check');
  await citizenSees(t, citizen.page, number, 'In Bearbeitung');
  await clerkDecides(t, clerk.page, number, 'offer_place', 'Kita Sonnenschein, Gruppe Igel');
  await shot(clerk.page, 'firstpath-case-decided');
  await axeCheck(clerk.page, 'firstpath-case-decided');
  const efile = await clerk.page.getAttribute('a[href^="/verwaltung/akten/"]', 'href');
  if (!efile) fail('firstpath: the case page does not link its e-file');
  else {
    await clerk.page.goto(base + efile);
    const files = await clerk.page.textContent('main');
    if (!files.includes('Eingangsbestätigung') || !files.includes('Bescheid über einen Platz'))
      fail('firstpath: the e-file lacks the receipt or the notice');
    await shot(clerk.page, 'firstpath-efile');
  }

  // The citizen: new status, timeline, and the notice in the mailbox.
  await citizenSees(t, citizen.page, number, 'Platz angeboten');
  await citizenSees(t, citizen.page, number, 'Bescheid zugestellt');
  await shot(citizen.page, 'firstpath-antraege');
  await axeCheck(citizen.page, 'firstpath-antraege');
  await citizen.page.goto(`${base}/postfach`);
  const message = citizen.page.locator(`a:has-text("${number}: Platzangebot")`);
  if ((await message.count()) !== 1) fail('firstpath: the notice is not in the mailbox');
  else {
    await Promise.all([citizen.page.waitForNavigation(), message.click()]);
    await shot(citizen.page, 'firstpath-mailbox-notice');
    await axeCheck(citizen.page, 'firstpath-mailbox-notice');
    const href = await citizen.page.getAttribute('a[href*="/datei/"]', 'href');
    const pdf = href ? await citizen.context.request.get(base + href) : null;
    if (!pdf || pdf.status() !== 200 ||
        !(await pdf.body()).subarray(0, 4).equals(Buffer.from('%PDF')))
      fail('firstpath: the notice attachment is not a PDF');
  }

  // The clock passes the deadline of a fresh case: escalated in the inbox.
  const late = await submitKita(t, citizen.page);
  const at = String(Math.floor(Date.now() / 1000) + 30 * 86400);
  execFileSync(env.KREISEL_BIN, ['workflow', 'deadlines', '--at', at], { stdio: 'ignore' });
  await clerk.page.goto(`${base}/verwaltung/vorgaenge`);
  const row = clerk.page.locator(`tr:has(a[href="/verwaltung/vorgaenge/${late}"])`);
  if ((await row.count()) !== 1 || !(await row.textContent()).includes('eskaliert'))
    fail(`firstpath: case ${late} is not shown escalated after its deadline`);
  await shot(clerk.page, 'firstpath-escalated');
  await axeCheck(clerk.page, 'firstpath-escalated');
  // Paper intake: the clerk records a letter; the page passes axe.
  await clerk.page.goto(`${base}/verwaltung/vorgaenge/neu`);
  await axeCheck(clerk.page, 'firstpath-paper-intake');
  await clerk.page.fill('#name', 'Paula Papier');
  await clerk.page.fill('#email', 'paula@example.org');
  await clerk.page.fill('#note', 'Krippenplatz ab August, Brief vom Montag');
  await Promise.all([clerk.page.waitForNavigation(), clerk.page.click('form[action$="/neu"] button')]);
  if (!/^\d{4}-\d{6}$/.test((await clerk.page.textContent('#new-number').catch(() => '')) || ''))
    fail('firstpath: paper intake did not open a case');
  await shot(clerk.page, 'firstpath-paper-intake-done');
  await axeCheck(clerk.page, 'firstpath-paper-intake-done');
  await citizen.context.close();
  await clerk.context.close();
}
