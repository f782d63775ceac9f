// The voice in headless Chromium: consent before anything is recorded, enrolment from
// digits read aloud, a step-up with the voice (only ever in addition to another factor),
// a sign-in with the face alone (1:N) raised to "substantial" by the voice where the
// deployment's policy allows face + voice, and another speaker refused.
//
// The microphone is Chromium's fake one playing a real recording: a LibriVox reader of
// Debian's pocketsphinx-testdata for the citizen, a CMU speaker's recording of the same
// package for another person. The fake microphone plays the same file for enrolment and
// sign-in: a replay, which this factor cannot tell (no recogniser checks the digits; see
// matcher/EVALUATION.md), one more reason it never stands alone.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Idp } from '../../conformance/harness.mjs';
import { CHROMIUM_FLAGS, SLOW, framesOf, playPerson, shot, signIn, stepUpByEmail } from './support.mjs';

const TESTDATA = '/usr/share/pocketsphinx/test/data';
const READER = join(TESTDATA, 'librivox', 'sense_and_sensibility_01_austen_64kb-0870.wav');
const REDIRECT = 'https://rp.example/cb';
const SECRET = 'browser-test-secret-0123';
const SUBSTANTIAL = encodeURIComponent('http://eidas.europa.eu/LoA/substantial');

let idp;
let work;
let citizen;
let stranger;
let face;

/** A 16 kHz mono 16-bit WAV file of a headerless recording. */
function wavOf(raw, out) {
  const data = readFileSync(raw);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(16000, 24); h.writeUInt32LE(32000, 28); h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(data.length, 40);
  writeFileSync(out, Buffer.concat([h, data]));
  return out;
}

function launch(audio) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [...CHROMIUM_FLAGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${audio}`],
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'idp-voice-'));
  face = framesOf(work, 'obama.png', 'face');
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'portal', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--name', 'Land registry']);
    cli(['user', 'add', '--username', 'olga', '--password-stdin', '--email', 'olga@example.invalid'],
      'a long and correct password');
  }, {
    host: 'localhost',
    config: [
      '[biometrics]', 'identify = true', 'enrolment = "self"',
      '[policy]',
      'substantial = [["face", "voice"], ["password", "voice"], ["password", "email"], ["password", "totp"]]',
    ].join('\n'),
  });
  citizen = await launch(READER);
  stranger = await launch(wavOf(join(TESTDATA, 'numbers.raw'), join(work, 'numbers.wav')));
});

after(async () => {
  await citizen?.close();
  await stranger?.close();
  await idp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function newPage(browser) {
  const context = await browser.newContext({ locale: 'en-GB' });
  await context.route('https://rp.example/**', (route) => route.fulfill({ status: 200, body: 'relying party' }));
  await playPerson(context, face);
  return context.newPage();
}

function authorizeUrl(extra = '') {
  return `${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1${extra}`;
}

async function idTokenAfter(page, action) {
  const callback = page.waitForRequest(/^https:\/\/rp\.example\/cb/, SLOW);
  await action();
  const code = new URL((await callback).url()).searchParams.get('code');
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`portal:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
  });
  assert.equal(res.status, 200);
  const { id_token: idToken } = await res.json();
  return JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
}

function row(page, name) {
  return page.getByRole('listitem').filter({ hasText: new RegExp(`^${name}:`) });
}

test('the voice: consent, enrolment, step-up with it, face + voice, another speaker refused', { timeout: 600_000 }, async () => {
  const page = await newPage(citizen);
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, 'olga');
  await row(page, 'Voice').getByRole('link', { name: 'Set up' }).click();
  await stepUpByEmail(idp, page, 'olga@example.invalid');
  await page.getByRole('heading', { name: 'Your voice as an extra check' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Start' }).count(), 0, 'nothing is recorded before the consent');
  await shot(page, 'voice-consent');
  await page.getByLabel('I agree that a template of my voice is kept').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByText(/^\d( \d){5}$/).waitFor();
  await shot(page, 'voice-recording');
  await page.waitForURL(/\/account\?changed=voice$/, SLOW);
  assert.match(await row(page, 'Voice').textContent(), /Active/);

  // Password + voice reaches substantial.
  const stepUp = await newPage(citizen);
  await stepUp.goto(authorizeUrl(`&acr_values=${SUBSTANTIAL}`));
  await signIn(stepUp, 'olga');
  await stepUp.getByRole('heading', { name: 'Additional verification' }).waitFor();
  const useVoice = stepUp.getByRole('link', { name: 'Use your voice' });
  if (await useVoice.count()) await useVoice.click();
  await stepUp.getByRole('button', { name: 'Start' }).click();
  const claims = await idTokenAfter(stepUp, () => stepUp.getByRole('button', { name: 'Allow' }).click(SLOW));
  assert.deepEqual(claims.amr, ['pwd', 'vbm', 'mfa']);
  assert.equal(claims.acr, 'http://eidas.europa.eu/LoA/substantial');

  // Another speaker is not her.
  const other = await newPage(stranger);
  await other.goto(authorizeUrl(`&acr_values=${SUBSTANTIAL}`));
  await signIn(other, 'olga');
  await other.getByRole('heading', { name: 'Additional verification' }).waitFor();
  const otherVoice = other.getByRole('link', { name: 'Use your voice' });
  if (await otherVoice.count()) await otherVoice.click();
  await other.getByRole('button', { name: 'Start' }).click();
  await other.getByRole('alert').filter({ hasText: 'We could not confirm it is your voice' }).waitFor(SLOW);
  await shot(other, 'voice-refused');

  // The face, enrolled too, signs her in alone (1:N); the voice then raises it to
  // substantial, as this deployment's policy allows.
  await page.goto(`${idp.issuer}/account/face`);
  await page.getByLabel('I agree that a template of my face is kept').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/account\?changed=face$/, SLOW);
  const both = await newPage(citizen);
  await both.goto(authorizeUrl(`&acr_values=${SUBSTANTIAL}`));
  await both.getByRole('heading', { name: 'Sign in with your face' }).waitFor();
  await both.getByRole('button', { name: 'Start' }).click();
  await both.getByRole('heading', { name: 'Additional verification' }).waitFor(SLOW);
  const bothVoice = both.getByRole('link', { name: 'Use your voice' });
  if (await bothVoice.count()) await bothVoice.click();
  // Consent to the portal was given at the first sign-in: straight back to it.
  const biometric = await idTokenAfter(both, () => both.getByRole('button', { name: 'Start' }).click());
  assert.deepEqual(biometric.amr, ['face', 'vbm', 'mfa']);
  assert.equal(biometric.acr, 'http://eidas.europa.eu/LoA/substantial');
  assert.equal(biometric.sub, claims.sub);
});
