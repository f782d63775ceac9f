// Citizen pages in headless Chromium: password + authenticator app, step-up that asks
// only for the missing factor, lockout with its notification, idle session expiry with
// the server's clock moved forward (no sleeping).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { Idp } from '../../conformance/harness.mjs';

const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const REDIRECT = 'https://rp.example/cb';
const PASSWORD = 'a long and correct password';
const SECRET = 'browser-test-secret-0123';

let idp;
let browser;
// How far the server's clock has been moved forward.
let offset = 0;

before(async () => {
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'portal', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--name', 'Land registry']);
    for (const user of ['anna', 'lena', 'petra', 'nora']) {
      cli(['user', 'add', '--username', user, '--password-stdin', '--email', `${user}@example.invalid`], PASSWORD);
    }
  }, { host: 'localhost', testClock: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  await idp?.stop();
});

async function advance(seconds) {
  await idp.advanceClock(seconds);
  offset += seconds;
}

function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 code for the server's current time. */
function totp(key) {
  const step = Math.floor((Date.now() / 1000 + offset) / 30);
  const counter = Buffer.alloc(8);
  counter.writeBigInt64BE(BigInt(step));
  const h = createHmac('sha1', base32Decode(key)).update(counter).digest();
  const o = h[19] & 0xf;
  const bin = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(bin % 1_000_000).padStart(6, '0');
}

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Keeps a picture of the page for people to look at (target/screenshots/NAME.png) and
 * checks it with axe-core against WCAG 2.2 A and AA: no violation may remain.
 */
async function shot(page, name) {
  await page.screenshot({ path: new URL(`../../target/screenshots/${name}.png`, import.meta.url).pathname, fullPage: true });
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await globalThis.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] });
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `accessibility of ${name}`);
}

async function newPage() {
  const context = await browser.newContext({ locale: 'en-GB' });
  const page = await context.newPage();
  // The relying party is not on this machine: answer its callback here.
  await context.route('https://rp.example/**', (route) => route.fulfill({ status: 200, body: 'relying party' }));
  return page;
}

function authorizeUrl(extra = '') {
  return `${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid%20profile&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1${extra}`;
}

async function signIn(page, username) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Waits for the redirect to the client and redeems the code; returns the ID token claims. */
async function backAtClient(page) {
  await page.waitForURL(/^https:\/\/rp\.example\/cb/);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('state'), 's1');
  const code = url.searchParams.get('code');
  assert.ok(code, `a code in ${url}`);
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`portal:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
  });
  assert.equal(res.status, 200);
  const { id_token: idToken } = await res.json();
  return JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
}

/**
 * Answers a step-up page with the code sent by e-mail to `to`, read from the development
 * outbox: a change of sign-in methods needs the strongest sign-in the account has, and a
 * password with an e-mail address on file reaches "substantial".
 */
async function stepUpByEmail(page, to, heading = 'Additional verification') {
  await page.getByRole('heading', { name: heading }).waitFor();
  const seen = new Set(idp.outbox().map((m) => m.body));
  if ((await page.getByRole('button', { name: 'Send the code' }).count()) === 0) {
    await page.getByRole('link', { name: 'Get a code by e-mail' }).click();
  }
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.getByLabel('Code from the e-mail').waitFor();
  const mail = idp.outbox().find((m) => m.to === to && !seen.has(m.body) && /\b\d{6}\b/.test(m.body));
  assert.ok(mail, 'a code was sent by e-mail');
  await page.getByLabel('Code from the e-mail').fill(mail.body.match(/\b(\d{6})\b/)[1]);
  await page.getByRole('button', { name: 'Verify' }).click();
}

let annaKey;

test('enrolling an authenticator app, then password + code sign-in', async () => {
  const page = await newPage();
  await page.goto(`${idp.issuer}/account`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await signIn(page, 'anna');
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByRole('button', { name: 'Set up' }).click();
  // The password alone may not add a factor.
  await stepUpByEmail(page, 'anna@example.invalid');
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByRole('button', { name: 'Set up' }).click();
  await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  annaKey = (await page.locator('#totp-key').textContent()).replace(/\s/g, '');
  await page.getByLabel('6-digit code from your authenticator app').fill(totp(annaKey));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByText('Authenticator app: Active').waitFor();
  const notices = idp.outbox().filter((m) => m.to === 'anna@example.invalid' && /changed/.test(m.subject));
  assert.equal(notices.length, 1, 'the citizen is told of the new factor');
  assert.match(notices[0].body, /authenticator app was set up/);

  // A fresh browser signs in to the portal at "substantial": password, then the code.
  await advance(30);
  const other = await newPage();
  await other.goto(authorizeUrl('&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fsubstantial'));
  await signIn(other, 'anna');
  await other.getByLabel('6-digit code from your authenticator app').fill(totp(annaKey));
  await other.getByRole('button', { name: 'Verify' }).click();
  await other.getByRole('button', { name: 'Allow' }).click();
  const claims = await backAtClient(other);
  assert.equal(claims.acr, 'http://eidas.europa.eu/LoA/substantial');
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
});

test('step-up from low to substantial asks only for the missing factor', async () => {
  const page = await newPage();
  await page.goto(authorizeUrl());
  await signIn(page, 'anna');
  // Consent was given in the previous test and is remembered: straight back.
  await backAtClient(page);

  await advance(30);
  await page.goto(authorizeUrl('&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fsubstantial'));
  await page.getByRole('heading', { name: 'Additional verification' }).waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0, 'the password is not asked again');
  await page.getByLabel('6-digit code from your authenticator app').fill(totp(annaKey));
  await page.getByRole('button', { name: 'Verify' }).click();
  await backAtClient(page);
});

test('three wrong passwords lock the password and notify the citizen', async () => {
  const page = await newPage();
  await page.goto(authorizeUrl());
  for (let i = 0; i < 3; i++) {
    await page.getByLabel('Username').fill('lena');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor();
  }
  assert.match(await page.getByRole('alert').textContent(), /try again after/);
  await signIn(page, 'lena');
  assert.match(await page.getByRole('alert').textContent(), /try again after/, 'the right password waits too');
  // The moment is written in the reader's time zone by the page's script, not in UTC.
  const until = page.getByRole('alert').locator('time');
  assert.match(await until.getAttribute('datetime'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.doesNotMatch(await until.textContent(), /UTC/);
  await shot(page, 'login-locked');
  const mail = idp.outbox().filter((m) => m.to === 'lena@example.invalid');
  assert.equal(mail.length, 1);
  assert.match(mail[0].subject, /locked/);
  // A code by e-mail unlocks the password at once, and the citizen is told.
  await page.getByRole('link', { name: 'Get a code by e-mail' }).click();
  await page.getByRole('heading', { name: 'Unlock your password' }).waitFor();
  await shot(page, 'unlock');
  await page.getByRole('link', { name: 'Back to sign in' }).click();
  await page.getByRole('link', { name: 'Get a code by e-mail' }).click();
  await stepUpByEmail(page, 'lena@example.invalid', 'Unlock your password');
  await page.getByRole('status').filter({ hasText: 'Your password is unlocked' }).waitFor();
  assert.ok(idp.outbox().some((m) => m.to === 'lena@example.invalid' && /unlocked/.test(m.subject)));
  await signIn(page, 'lena');
  await page.getByRole('button', { name: 'Allow' }).click();
  await backAtClient(page);
});

test('an idle session ends after 15 minutes', async () => {
  const page = await newPage();
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, 'anna');
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await advance(14 * 60);
  await page.goto(`${idp.issuer}/account`);
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await advance(16 * 60);
  await page.goto(`${idp.issuer}/account`);
  await page.getByLabel('Password').waitFor();
});

test('passkey registration, step-up from low to high with only the passkey, removal', async () => {
  const page = await newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, 'petra');
  await page.getByLabel('Name of the new key').fill('Laptop');
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
  // The password alone may not add a factor: a code by e-mail first, then add the key.
  await stepUpByEmail(page, 'petra@example.invalid');
  await page.getByLabel('Name of the new key').fill('Laptop');
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
  await page.getByRole('listitem').filter({ hasText: 'Laptop' }).waitFor();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1, 'the authenticator holds the new credential');

  // Signed in with a password and an e-mail code (substantial); the portal asks for high:
  // only the passkey is asked.
  await page.goto(authorizeUrl('&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fhigh'));
  await page.getByRole('heading', { name: 'Additional verification' }).waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0, 'the password is not asked again');
  await page.getByRole('button', { name: 'Use security key or passkey' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  const claims = await backAtClient(page);
  assert.equal(claims.acr, 'http://eidas.europa.eu/LoA/high');
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'hwk', 'mfa']);

  // The passkey is discoverable: in another browser holding it, a sign-in needs neither
  // username nor password.
  assert.equal(credentials[0].isResidentCredential, true, 'a discoverable passkey');
  // Copied as it is now: a copy with an older signature counter is refused as a clone.
  const [current] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const fresh = await newPage();
  const freshCdp = await fresh.context().newCDPSession(fresh);
  await freshCdp.send('WebAuthn.enable');
  const other = await freshCdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await freshCdp.send('WebAuthn.addCredential', { authenticatorId: other.authenticatorId, credential: current });
  await fresh.goto(authorizeUrl('&prompt=consent'));
  await shot(fresh, 'login-with-passkey');
  await fresh.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await fresh.getByRole('button', { name: 'Allow' }).click();
  const passkeyOnly = await backAtClient(fresh);
  assert.deepEqual(passkeyOnly.amr, ['hwk']);
  await fresh.context().close();

  // The key can be removed by its owner.
  await page.goto(`${idp.issuer}/account`);
  await page.getByRole('listitem').filter({ hasText: 'Laptop' }).getByRole('link', { name: 'Remove' }).click();
  await page.getByRole('heading', { name: 'Remove the security key or passkey “Laptop”?' }).waitFor();
  await shot(page, 'confirm-remove-passkey');
  await page.getByRole('button', { name: 'Remove' }).click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByText('The security key or passkey was removed.').waitFor();
  assert.equal(await page.getByRole('listitem').filter({ hasText: 'Laptop' }).count(), 0);
});

test('changing the password: a fresh step-up, a linked error summary, other sessions end', async () => {
  const elsewhere = await newPage();
  await elsewhere.goto(`${idp.issuer}/account`);
  await signIn(elsewhere, 'petra');
  await elsewhere.getByRole('heading', { name: 'Your account' }).waitFor();
  const page = await newPage();
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, 'petra');
  await page.getByRole('link', { name: 'Change password' }).click();
  // The password alone may not change the password.
  await stepUpByEmail(page, 'petra@example.invalid');
  await page.getByRole('heading', { name: 'Change your password' }).waitFor();
  await shot(page, 'password');
  await page.getByLabel('New password', { exact: true }).fill('password1');
  await page.getByLabel('Type the new password again').fill('password1');
  await page.getByRole('button', { name: 'Change password' }).click();
  const summary = page.getByRole('alert');
  await summary.getByRole('heading', { name: 'There is a problem' }).waitFor();
  assert.match(await page.title(), /^Error: /);
  assert.equal(await page.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), 'true');
  await shot(page, 'password-error');
  await summary.getByRole('link').click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'new-password');
  const NEW = 'tulip lantern orbit seven';
  await page.getByLabel('New password', { exact: true }).fill(NEW);
  await page.getByLabel('Type the new password again').fill(NEW);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('status').filter({ hasText: 'Your password has been changed' }).waitFor();
  assert.ok(idp.outbox().some((m) => m.to === 'petra@example.invalid' && /your password was changed/.test(m.body)));
  // The other browser's session has ended; the new password signs in, the old one not.
  await elsewhere.goto(`${idp.issuer}/account`);
  await signIn(elsewhere, 'petra');
  await elsewhere.getByRole('alert').filter({ hasText: 'incorrect' }).waitFor();
  await elsewhere.getByLabel('Password').fill(NEW);
  await elsewhere.getByRole('button', { name: 'Sign in', exact: true }).click();
  await elsewhere.getByRole('heading', { name: 'Your account' }).waitFor();
});

test('changing the e-mail address and the name: step-up, a code to the new address, the old one told', async () => {
  const page = await newPage();
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, 'nora');
  await page.getByRole('link', { name: 'Change (E-mail address)' }).click();
  await stepUpByEmail(page, 'nora@example.invalid');
  await page.getByRole('heading', { name: 'Change your e-mail address' }).waitFor();
  await page.getByLabel('New e-mail address').fill('not-an-email');
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
  await shot(page, 'contact-error');
  await page.getByLabel('New e-mail address').fill('nora@new.example');
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.getByText('We sent a code to nora@new.example').waitFor();
  const mail = idp.outbox().find((m) => m.to === 'nora@new.example');
  assert.ok(mail, 'the code goes to the new address');
  assert.ok(!idp.outbox().some((m) => m.to === 'nora@example.invalid' && /changed/.test(m.subject)), 'nothing changed yet');
  await page.getByLabel('Code').fill(mail.body.match(/\b(\d{6})\b/)[1]);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('status').filter({ hasText: 'Your contact details have been changed' }).waitFor();
  assert.match(await page.getByRole('listitem').filter({ hasText: 'E-mail address:' }).textContent(), /nora@new\.example/);
  assert.ok(idp.outbox().some((m) => m.to === 'nora@example.invalid' && /changed/.test(m.subject)), 'the old address is told');

  // Her name, corrected: confirmed by a code to her own (now new) address.
  await page.getByRole('link', { name: 'Change (Name)' }).click();
  await page.getByRole('heading', { name: 'Correct your name' }).waitFor();
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.getByRole('link', { name: 'Enter your name, at most 200 characters.' }).waitFor();
  assert.equal(await page.getByLabel('Your full name').getAttribute('aria-invalid'), 'true');
  await shot(page, 'name-error');
  await page.getByLabel('Your full name').fill('Nóra Kovács');
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.getByText('We sent a code to nora@new.example').waitFor();
  await page.getByRole('heading', { name: 'Correct your name' }).waitFor();
  const nameMail = idp.outbox().filter((m) => m.to === 'nora@new.example' && /name/.test(m.subject)).pop();
  assert.ok(nameMail, 'the code goes to her address');
  await page.getByLabel('Code').fill(nameMail.body.match(/\b(\d{6})\b/)[1]);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('status').filter({ hasText: 'Your name has been corrected' }).waitFor();
  assert.match(await page.getByRole('listitem').filter({ hasText: 'Name:' }).textContent(), /Nóra Kovács/);
  await shot(page, 'account');

  // Signing out asks first, naming her, and the last page leads back to her account.
  await page.goto(`${idp.issuer}/logout?client_id=portal`);
  await page.getByText('You are signed in as Nóra Kovács.').waitFor();
  await page.getByText('The sign-out was requested by').waitFor();
  await shot(page, 'logout');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('status').filter({ hasText: 'You have been signed out.' }).waitFor();
  await shot(page, 'logout-done');
  await page.getByRole('link', { name: 'Go to your account' }).click();
  await page.getByLabel('Password').waitFor();
});

test('pages follow the browser language', async () => {
  const context = await browser.newContext({ locale: 'hu-HU' });
  const page = await context.newPage();
  await page.goto(authorizeUrl());
  assert.equal(await page.locator('html').getAttribute('lang'), 'hu');
  await page.getByLabel('Jelszó').waitFor();
  await context.close();
  const kazakh = await browser.newContext({ locale: 'kk-KZ' });
  const kk = await kazakh.newPage();
  await kk.goto(authorizeUrl());
  assert.equal(await kk.locator('html').getAttribute('lang'), 'kk');
  await kk.getByLabel('Құпиясөз').waitFor();
  await kazakh.close();
});
