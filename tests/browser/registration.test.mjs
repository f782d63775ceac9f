// Registration for face sign-in with an identity document, as a citizen does it online
// (KAÜ): consent first, then the document (its details and a photo), then a live capture
// compared with the document's portrait; the registration then waits for a clerk, who
// decides through the Admin API with a token from their own sign-in at level high (a
// password and a passkey). Approved, the citizen steps up with their face; rejected, they
// read the clerk's reason; a minor is sent to a service centre.
//
// The document is a card drawn in the page (a canvas with bars for its printed lines and a
// public-domain photograph of the matcher's fixtures as its portrait); the citizen in front
// of the camera is another photograph of the same man that blinks when the page asks.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Idp } from '../../conformance/harness.mjs';
import {
  CHROMIUM_FLAGS, FIXTURES, PASSWORD, SLOW, framesOf, playPerson, shot, signIn, stepUpByEmail,
} from './support.mjs';

const REDIRECT = 'https://rp.example/cb';
const DESK = 'https://desk.example/cb';
const SECRET = 'browser-test-secret-0123';
const HIGH = encodeURIComponent('http://eidas.europa.eu/LoA/high');
const SUBSTANTIAL = encodeURIComponent('http://eidas.europa.eu/LoA/substantial');

let idp;
let browser;
let work;
let live;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'idp-registration-'));
  live = framesOf(work, 'obama.png', 'live');
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'portal', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--name', 'Land registry']);
    // The clerks' desk: a public client for the built-in admin scope.
    cli(['client', 'add', '--id', 'clerk-desk', '--public', '--redirect-uri', DESK,
      '--scope', 'openid', '--scope', 'admin', '--name', 'Clerk desk']);
    for (const user of ['vera', 'wanda', 'clara']) {
      cli(['user', 'add', '--username', user, '--password-stdin', '--email', `${user}@example.invalid`], PASSWORD);
    }
    cli(['user', 'grant-role', '--username', 'clara', '--role', 'clerk']);
  }, { host: 'localhost' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  await idp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function newPage(person) {
  const context = await browser.newContext({ locale: 'en-GB' });
  await context.route('https://rp.example/**', (route) => route.fulfill({ status: 200, body: 'relying party' }));
  await context.route('https://desk.example/**', (route) => route.fulfill({ status: 200, body: 'desk' }));
  if (person) await playPerson(context, person);
  return context.newPage();
}

/** A photo of an identity document whose portrait is `photo`, drawn by the page (JPEG). */
async function documentPhoto(page, photo) {
  const portrait = `data:image/png;base64,${readFileSync(join(FIXTURES, photo)).toString('base64')}`;
  const url = await page.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = 1000;
    canvas.height = 640;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ece4d2';
    ctx.fillRect(0, 0, 1000, 640);
    const h = Math.round(300 * img.height / img.width);
    ctx.drawImage(img, 50, 60, 300, h);
    ctx.fillStyle = '#46465a';
    for (let line = 0; line < 6; line++) ctx.fillRect(420, 90 + line * 50, 480 - line * 40, 14);
    return canvas.toDataURL('image/jpeg', 0.9);
  }, portrait);
  return { name: 'document.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(url.split(',')[1], 'base64') };
}

/** Signs in to the account page and opens the face page after the step-up it needs. */
async function facePage(page, user) {
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, user);
  await page.getByRole('listitem').filter({ hasText: /^Face:/ }).getByRole('link', { name: 'Set up' }).click();
  await stepUpByEmail(idp, page, `${user}@example.invalid`);
  await page.getByRole('heading', { name: 'Sign in with your face' }).waitFor();
}

async function fillDocument(page, { born }) {
  await page.getByLabel('Identity card').check();
  await page.getByLabel('Document number').fill('AB 123456');
  await page.getByLabel('Issuing country').fill('HUN');
  const date = async (legend, [d, m, y]) => {
    const group = page.getByRole('group', { name: legend });
    await group.getByLabel('Day').fill(String(d));
    await group.getByLabel('Month').fill(String(m));
    await group.getByLabel('Year').fill(String(y));
  };
  await date('Expiry date', [27, 3, 2031]);
  await date('Date of birth', born);
  await page.getByLabel('Photo of the page with your portrait').setInputFiles(await documentPhoto(page, 'obama2.png'));
}

/** Consent, the document, the live capture: the registration then waits for a clerk. */
async function register(page, user) {
  await facePage(page, user);
  await page.getByLabel('I agree that a template of my face is kept').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.getByRole('heading', { name: 'Your identity document' }).waitFor();
  await fillDocument(page, { born: [4, 8, 1961] });
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('Now your face').waitFor(SLOW);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('heading', { name: 'Your registration is being checked' }).waitFor(SLOW);
}

/**
 * The clerk's access token: a sign-in to the clerks' desk at level high (the password, a
 * code by e-mail to add a passkey, then the passkey), and the code redeemed with PKCE.
 */
async function clerkToken() {
  const page = await newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, 'clara');
  await page.getByLabel('Name of the new key').fill('Desk key');
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
  await stepUpByEmail(idp, page, 'clara@example.invalid');
  await page.getByLabel('Name of the new key').fill('Desk key');
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
  await page.getByRole('listitem').filter({ hasText: 'Desk key' }).waitFor();

  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  await page.goto(`${idp.issuer}/authorize?client_id=clerk-desk&response_type=code&scope=openid%20admin`
    + `&redirect_uri=${encodeURIComponent(DESK)}&state=d1&code_challenge=${challenge}`
    + `&code_challenge_method=S256&acr_values=${HIGH}`);
  await page.getByRole('heading', { name: 'Additional verification' }).waitFor();
  await page.getByRole('button', { name: 'Use security key or passkey' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/^https:\/\/desk\.example\/cb/);
  const code = new URL(page.url()).searchParams.get('code');
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: DESK, client_id: 'clerk-desk',
      code_verifier: verifier,
    }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).access_token;
}

async function api(token, method, path, body) {
  const res = await fetch(`${idp.issuer}/admin/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const type = res.headers.get('content-type') || '';
  return { status: res.status, type, body: type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer()) };
}

test('online registration: document, live face, a clerk approves; rejected with a reason; a minor is sent to a service centre', { timeout: 600_000 }, async () => {
  const page = await newPage(live);
  await facePage(page, 'vera');
  await page.getByText('a photo of your identity document and one picture from the camera').waitFor();
  await shot(page, 'registration-consent');
  await page.getByLabel('I agree that a template of my face is kept').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.getByRole('heading', { name: 'Your identity document' }).waitFor();
  await shot(page, 'registration-document');

  // Nothing given: every field is named in the error summary, linked to it.
  await page.getByRole('button', { name: 'Continue' }).click();
  const summary = page.getByRole('alert').filter({ hasText: 'There is a problem' });
  await summary.waitFor();
  for (const message of ['Select which document it is', 'Enter the document number',
    "Enter the issuing country's code", 'Enter the expiry date', 'Enter your date of birth']) {
    await summary.getByRole('link', { name: message }).waitFor();
  }
  assert.match(await page.title(), /^Error: /);
  await shot(page, 'registration-document-errors');
  await summary.getByRole('link', { name: 'Enter the document number' }).click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'number');

  // A minor registers at a service centre, with a parent or guardian.
  const year = new Date().getUTCFullYear();
  await fillDocument(page, { born: [1, 1, year - 15] });
  await page.getByRole('button', { name: 'Continue' }).click(SLOW);
  await page.getByRole('alert').getByRole('link', { name: /You are under 18/ }).waitFor(SLOW);
  // A machine-readable zone with a wrong check digit is caught.
  await page.getByText('Type the machine-readable zone instead').click();
  await page.getByLabel('Machine-readable zone').fill(
    'P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C46UTO7408122F3204153ZE184226B<<<<<16');
  await page.getByLabel('Photo of the page with your portrait').setInputFiles(await documentPhoto(page, 'obama2.png'));
  await page.getByRole('button', { name: 'Continue' }).click(SLOW);
  await page.getByRole('alert').getByRole('link', { name: /does not match its check digit/ }).waitFor(SLOW);

  // The document as it is, then the live face.
  await page.getByLabel('Machine-readable zone').fill('');
  await fillDocument(page, { born: [4, 8, 1961] });
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('Now your face').waitFor(SLOW);
  await shot(page, 'registration-capture');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('heading', { name: 'Your registration is being checked' }).waitFor(SLOW);
  await shot(page, 'registration-pending');
  assert.ok(idp.outbox().some((m) => m.to === 'vera@example.invalid' && /received your registration/.test(m.subject)));

  // Not a sign-in factor yet.
  const early = await newPage(live);
  await early.goto(`${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1&acr_values=${SUBSTANTIAL}`);
  await signIn(early, 'vera');
  await early.getByRole('heading', { name: 'Additional verification' }).waitFor();
  assert.equal(await early.getByRole('link', { name: 'Use your face' }).count(), 0);

  // The clerk looks and approves.
  const token = await clerkToken();
  const queue = await api(token, 'GET', '/registrations?state=pending');
  assert.equal(queue.status, 200);
  assert.equal(queue.body.items.length, 1);
  const r = queue.body.items[0];
  assert.equal(r.username, 'vera');
  assert.equal(r.document.number, 'AB123456');
  assert.ok(r.match_score >= r.match_threshold, `score ${r.match_score}`);
  for (const which of ['document', 'face']) {
    const img = await api(token, 'GET', `/registrations/${r.id}/images/${which}`);
    assert.equal(img.status, 200);
    assert.equal(img.type, 'image/jpeg');
  }
  const approved = await api(token, 'POST', `/registrations/${r.id}/approve`);
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.equal(approved.body.state, 'approved');
  assert.equal((await api(token, 'GET', `/registrations/${r.id}/images/face`)).status, 404, 'the pictures are gone');
  // A clerk works the queue, nothing else.
  assert.equal((await api(token, 'GET', '/clients')).status, 403);

  // Now her face is a factor: a step-up with it.
  await early.goto(`${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1&acr_values=${SUBSTANTIAL}&prompt=login`);
  await signIn(early, 'vera');
  await early.getByRole('heading', { name: 'Additional verification' }).waitFor();
  const useFace = early.getByRole('link', { name: 'Use your face' });
  if (await useFace.count()) await useFace.click();
  await early.getByRole('button', { name: 'Start' }).click();
  await early.getByRole('button', { name: 'Allow' }).waitFor(SLOW);
  await page.goto(`${idp.issuer}/account/face`);
  await page.getByText('Sign-in with your face is on.').waitFor();

  // Another citizen's registration is rejected; she reads why on her face page.
  const other = await newPage(live);
  await register(other, 'wanda');
  const waiting = await api(token, 'GET', '/registrations?state=pending');
  const id = waiting.body.items[0].id;
  const noReason = await api(token, 'POST', `/registrations/${id}/reject`, { reason: '' });
  assert.equal(noReason.status, 400);
  assert.equal(noReason.body.field, 'reason');
  const rejected = await api(token, 'POST', `/registrations/${id}/reject`,
    { reason: 'The document photo is blurred' });
  assert.equal(rejected.status, 200);
  await other.goto(`${idp.issuer}/account/face`);
  await other.getByText('The clerk wrote: “The document photo is blurred”').waitFor();
  await shot(other, 'registration-rejected');
  assert.ok(idp.outbox().some((m) => m.to === 'wanda@example.invalid' && /The document photo is blurred/.test(m.body)));
});
