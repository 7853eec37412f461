// accounts.check.mjs - the service account in Chromium, end to end with a
// real SMTP server (mail_drop.py): register, confirm from the e-mail,
// log in, reset the password from the e-mail, set up the second factor and
// log in with it, receive a clerk's message in the mailbox, read it (the
// clerk sees the read receipt) and reply.  axe-core on every page on the way.
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const mailDir = process.env.MAIL_DIR;
const PASSWORD = 'Sonnenblume-Kreis-77';
const NEW_PASSWORD = 'Neues-Kennwort-2026';

// The newest mail to address, waiting up to 15 s.
async function mailTo(address, subjectPart) {
  for (let i = 0; i < 150; i++) {
    const files = readdirSync(mailDir).filter((f) => f.endsWith('.json')).sort().reverse();
    for (const f of files) {
      const m = JSON.parse(readFileSync(join(mailDir, f), 'utf8'));
      if (m.to.includes(address) && m.subject.includes(subjectPart)) return m;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${address} about "${subjectPart}"`);
}

const linkIn = (mail) => new URL(mail.text.match(/https?:\/\/\S+/)[0]);

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, value = 0;
  const out = [];
  for (const c of s.replace(/\s/g, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
  }
  return Buffer.from(out);
}

function totp(secret, step = 0) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + step));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0');
}

export default async function (t) {
  const { base, fail, axeCheck, shot, newContext } = t;
  const email = `erika.${Date.now()}@example.org`;
  const check = async (page, name) => { await shot(page, name); await axeCheck(page, name); };
  const context = await newContext('de');
  const page = await context.newPage();

  // Register: first with mistakes (error summary), then right.
  await page.goto(base + '/registrieren');
  await check(page, 'register');
  await page.click('button[type="submit"]');
  await page.waitForSelector('.error-summary');
  await check(page, 'register-errors');
  if (!(await page.evaluate(() => document.activeElement.closest('.error-summary') !== null ||
                                  document.querySelector('.error-summary') !== null)))
    fail('register: no error summary');
  await page.fill('#display_name', 'Erika Mustermann');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.fill('#password_repeat', PASSWORD);
  await page.click('button[type="submit"]');
  await page.waitForSelector('h1');
  await check(page, 'register-check-mail');

  // Confirm from the e-mail: the link shows a button.
  const confirm = linkIn(await mailTo(email, 'bestätigen'));
  await page.goto(base + confirm.pathname + confirm.search);
  await check(page, 'confirm');
  await page.click('main button[type="submit"]');
  await page.waitForSelector('a[href="/anmelden"].button');

  // Forgot the password: reset from the e-mail.
  await page.goto(base + '/passwort-vergessen');
  await check(page, 'forgot');
  await page.fill('#email', email);
  await page.click('main button[type="submit"]');
  await page.waitForSelector('h1');
  const reset = linkIn(await mailTo(email, 'Passwort'));
  await page.goto(base + reset.pathname + reset.search);
  await check(page, 'reset');
  await page.fill('#password', NEW_PASSWORD);
  await page.fill('#password_repeat', NEW_PASSWORD);
  await page.click('main button[type="submit"]');
  await page.waitForSelector('a[href="/anmelden"].button');

  // Log in with the e-mail address and the new password.
  await page.goto(base + '/anmelden');
  await page.fill('#login', email);
  await page.fill('#password', NEW_PASSWORD);
  await page.click('main button[type="submit"]');
  await page.waitForURL(base + '/konto');
  await check(page, 'account');

  // Second factor: set up with a code computed here, then log in with it.
  await page.goto(base + '/konto/zwei-faktor');
  await check(page, 'totp');
  await page.click('main button[type="submit"]');
  await page.waitForSelector('code.secret');
  await check(page, 'totp-setup');
  const secret = await page.textContent('code.secret');
  await page.fill('#code', totp(secret));
  await page.click('main button[type="submit"]');
  await page.waitForSelector('ul.codes');
  await check(page, 'totp-enabled');
  await page.click('nav button[type="submit"]'); // log out
  await page.waitForURL(base + '/');
  await page.goto(base + '/anmelden');
  await page.fill('#login', email);
  await page.fill('#password', NEW_PASSWORD);
  await page.click('main button[type="submit"]');
  await page.waitForURL(/zweiter-faktor/);
  await check(page, 'second-factor');
  await page.fill('#code', totp(secret, 1));
  await page.click('main button[type="submit"]');
  await page.waitForURL(base + '/konto');

  // A clerk writes; the citizen gets a notification, reads and replies.
  const staff = await newContext('de');
  const clerk = await staff.newPage();
  await clerk.goto(base + '/anmelden');
  await clerk.fill('#login', process.env.CLERK_LOGIN);
  await clerk.fill('#password', process.env.CLERK_PASSWORD);
  await clerk.click('main button[type="submit"]');
  await clerk.waitForURL(base + '/verwaltung');
  await clerk.goto(base + '/verwaltung/postfach');
  await check(clerk, 'staff-mailbox');
  await clerk.fill('#to', email);
  await clerk.fill('#case', '36.1-2026-0042');
  await clerk.fill('#subject', 'Ihre Zulassung: Unterlagen fehlen');
  await clerk.fill('#text', 'Bitte reichen Sie die eVB-Nummer Ihrer Versicherung nach.');
  await clerk.click('main button[type="submit"]');
  await clerk.waitForURL(/\/verwaltung\/postfach\/\d+$/);
  const messageUrl = clerk.url();
  if (!(await clerk.textContent('main')).includes('noch nicht gelesen')) fail('mailbox: read before reading');
  const note = await mailTo(email, 'Neue Nachricht');
  if (note.text.includes('eVB')) fail('mailbox: notification e-mail carries the content');

  await page.goto(base + '/postfach');
  await check(page, 'mailbox');
  await page.click('.message-item a');
  await page.waitForSelector('.message-text');
  await check(page, 'mailbox-message');
  await page.fill('#text', 'Die eVB-Nummer lautet ABC1234.');
  await page.click('form[action$="/antwort"] button[type="submit"]');
  await page.waitForURL(/ordner=gesendet/);
  await check(page, 'mailbox-sent');

  await clerk.goto(messageUrl);
  if ((await clerk.textContent('main')).includes('noch nicht gelesen')) fail('mailbox: no read receipt');
  await clerk.goto(base + '/verwaltung/postfach');
  if (!(await clerk.textContent('main')).includes('Re: Ihre Zulassung')) fail('mailbox: reply not at the unit');
  await check(clerk, 'staff-mailbox-reply');

  // Phone width: the account and mailbox pages.
  const phone = await newContext('de', 360);
  await phone.addCookies(await context.cookies());
  const small = await phone.newPage();
  for (const [path, name] of [['/konto', 'account-360'], ['/postfach', 'mailbox-360']]) {
    await small.goto(base + path);
    await check(small, name);
  }
  await phone.close();
  await staff.close();
  await context.close();
}
