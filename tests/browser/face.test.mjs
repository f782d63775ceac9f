// Sign-in with the face in headless Chromium: consent before anything is captured, a
// capture in which the citizen blinks when the page asks (at a moment the server chose),
// step-up with the face, refusal of a photograph held to the camera and of another
// person, and withdrawal of the consent, after which the face data is gone.
//
// The citizen in front of the camera is played by a page script that shows a photograph
// and closes its eyes shortly after the page says "Blink now", as a person would; the
// photograph held to the camera is Chromium's own fake camera playing a still video. Both
// are made by `matcher synth-video` from the public-domain photographs of the matcher's
// fixtures (two photographs of one man, one of another).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Idp } from '../../conformance/harness.mjs';

const root = new URL('../..', import.meta.url).pathname;
const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
const MATCHER = join(targetDir, 'debug', 'matcher');
const FIXTURES = join(root, 'matcher', 'tests', 'fixtures');
const REDIRECT = 'https://rp.example/cb';
const PASSWORD = 'a long and correct password';
const SECRET = 'browser-test-secret-0123';
const SUBSTANTIAL = encodeURIComponent('http://eidas.europa.eu/LoA/substantial');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// A capture is analysed on the server; unoptimised test builds take several seconds.
const SLOW = { timeout: 120_000 };

let idp;
let browser;
let work;
const faces = {};

/** Open-eyed and shut-eyed frames of a photograph, 480x640, as data URLs. */
function framesOf(photo, name) {
  const dir = mkdtempSync(join(work, `${name}-`));
  execFileSync(MATCHER, ['synth-video', join(FIXTURES, photo), join(dir, 'v.y4m'), '--frames', '2',
    '--closed', '1', '--width', '480', '--height', '640', '--frames-dir', dir]);
  const url = (f) => `data:image/png;base64,${readFileSync(join(dir, f)).toString('base64')}`;
  return { open: url('0.png'), shut: url('1.png') };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'idp-face-'));
  faces.enrolled = framesOf('obama.png', 'enrolled');
  faces.same = framesOf('obama2.png', 'same');
  faces.other = framesOf('biden.png', 'other');
  const still = join(work, 'still.y4m');
  execFileSync(MATCHER, ['synth-video', join(FIXTURES, 'obama2.png'), still, '--frames', '30',
    '--width', '480', '--height', '640']);
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'portal', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--name', 'Land registry']);
    cli(['user', 'add', '--username', 'olga', '--password-stdin', '--email', 'olga@example.invalid'], PASSWORD);
  }, { host: 'localhost', config: '[biometrics]\nidentify = true\n' });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${still}`],
  });
});

after(async () => {
  await browser?.close();
  await idp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * A context whose camera is `person`: a photograph that blinks 300 ms after the page asks.
 * Without `person`, the camera is Chromium's fake one (a still photograph).
 */
async function newPage(person) {
  const context = await browser.newContext({ locale: 'en-GB' });
  await context.route('https://rp.example/**', (route) => route.fulfill({ status: 200, body: 'relying party' }));
  if (person) {
    await context.addInitScript(({ open, shut }) => {
      const canvas = document.createElement('canvas');
      canvas.width = 480;
      canvas.height = 640;
      const ctx = canvas.getContext('2d');
      const eyes = { open: new Image(), shut: new Image() };
      eyes.open.src = open;
      eyes.shut.src = shut;
      let shutFrom = Infinity;
      let asked = false;
      setInterval(() => {
        const prompt = document.getElementById('face-prompt');
        const blinkNow = prompt && prompt.closest('.blink');
        if (blinkNow && !asked) { asked = true; shutFrom = performance.now() + 300; }
        if (!blinkNow && prompt && prompt.textContent === '') asked = false;
        const t = performance.now();
        const img = t >= shutFrom && t < shutFrom + 200 ? eyes.shut : eyes.open;
        if (img.complete) ctx.drawImage(img, 0, 0, 480, 640);
      }, 20);
      navigator.mediaDevices.getUserMedia = async () => canvas.captureStream(30);
    }, person);
  }
  return context.newPage();
}

async function shot(page, name) {
  await page.screenshot({ path: join(targetDir, 'screenshots', `${name}.png`), fullPage: true });
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await globalThis.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] });
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `accessibility of ${name}`);
}

async function signIn(page) {
  await page.getByLabel('Username').fill('olga');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function codeByEmail(page) {
  const seen = new Set(idp.outbox().map((m) => m.body));
  if ((await page.getByRole('button', { name: 'Send the code' }).count()) === 0) {
    await page.getByRole('link', { name: 'Get a code by e-mail' }).click();
  }
  await page.getByRole('button', { name: 'Send the code' }).click();
  await page.getByLabel('Code from the e-mail').waitFor();
  const mail = idp.outbox().find((m) => m.to === 'olga@example.invalid' && !seen.has(m.body) && /\b\d{6}\b/.test(m.body));
  await page.getByLabel('Code from the e-mail').fill(mail.body.match(/\b(\d{6})\b/)[1]);
  await page.getByRole('button', { name: 'Verify' }).click();
}

function authorizeUrl(extra = '') {
  return `${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1${extra}`;
}

/** Does `action`, which ends at the client's redirect URI, and redeems the code sent there. */
async function idTokenAfter(page, action) {
  const callback = page.waitForRequest(/^https:\/\/rp\.example\/cb/, SLOW);
  await action();
  const code = new URL((await callback).url()).searchParams.get('code');
  assert.ok(code, 'a code for the client');
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`portal:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
  });
  assert.equal(res.status, 200);
  const { id_token: idToken } = await res.json();
  return JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString());
}

function faceRow(page) {
  return page.getByRole('listitem').filter({ hasText: /^Face:/ });
}

test('the face: consent first, enrolment with a blink on cue, step-up, refusals, withdrawal', async () => {
  // Enrolment: a change of sign-in methods, so first the strongest sign-in the account has.
  const page = await newPage(faces.enrolled);
  await page.goto(`${idp.issuer}/account`);
  await signIn(page);
  await faceRow(page).getByRole('link', { name: 'Set up' }).click();
  await page.getByRole('heading', { name: 'Additional verification' }).waitFor();
  await codeByEmail(page);
  await page.getByRole('heading', { name: 'Sign in with your face' }).waitFor();
  assert.equal(await page.locator('video').count(), 0, 'nothing is filmed before the consent');
  await shot(page, 'face-consent');
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
  await page.getByLabel('I agree that a template of my face is kept').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.getByRole('button', { name: 'Start' }).waitFor();
  await shot(page, 'face-capture');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/account\?changed=face$/, SLOW);
  assert.match(await faceRow(page).textContent(), /Active/);
  assert.ok(idp.outbox().some((m) => m.to === 'olga@example.invalid' && /face was set up/.test(m.body)));

  // Step-up to substantial with the face (another photograph of the same man).
  const same = await newPage(faces.same);
  await same.goto(authorizeUrl(`&acr_values=${SUBSTANTIAL}`));
  await signIn(same);
  await same.getByRole('heading', { name: 'Additional verification' }).waitFor();
  await same.getByRole('button', { name: 'Start' }).click();
  const claims = await idTokenAfter(same, () => same.getByRole('button', { name: 'Allow' }).click(SLOW));
  assert.ok(claims.amr.includes('face'), `amr ${claims.amr}`);
  assert.equal(claims.acr, 'http://eidas.europa.eu/LoA/substantial');

  // Without a username (1:N, switched on in this deployment): the face alone signs her in.
  const noName = await newPage(faces.same);
  await noName.goto(authorizeUrl());
  await noName.getByRole('heading', { name: 'Sign in with your face' }).waitFor();
  await shot(noName, 'login-face');
  const alone = await idTokenAfter(noName, () => noName.getByRole('button', { name: 'Start' }).click());
  assert.equal(alone.sub, claims.sub, 'the same citizen');
  assert.deepEqual(alone.amr, ['face']);
  // Another man is nobody here.
  const stranger = await newPage(faces.other);
  await stranger.goto(authorizeUrl());
  await stranger.getByRole('button', { name: 'Start' }).click();
  await stranger.getByRole('alert').filter({ hasText: 'We could not confirm it is you' }).waitFor(SLOW);

  // Another man, blinking on cue, is not her; a photograph held to the camera does not blink.
  const other = await newPage(faces.other);
  await other.goto(authorizeUrl(`&acr_values=${SUBSTANTIAL}&prompt=login`));
  await signIn(other);
  await other.getByRole('heading', { name: 'Additional verification' }).waitFor();
  await other.getByRole('button', { name: 'Start' }).click();
  await other.getByRole('alert').filter({ hasText: 'We could not confirm it is you' }).waitFor(SLOW);
  const photo = await newPage();
  await photo.goto(authorizeUrl(`&acr_values=${SUBSTANTIAL}&prompt=login`));
  await signIn(photo);
  await photo.getByRole('heading', { name: 'Additional verification' }).waitFor();
  await photo.getByRole('button', { name: 'Start' }).click();
  await photo.getByRole('alert').filter({ hasText: 'We did not see you blink' }).waitFor(SLOW);
  await shot(photo, 'face-refused');

  // Withdrawing the consent destroys the template: the face is no longer offered.
  await page.goto(`${idp.issuer}/account`);
  await faceRow(page).getByRole('button', { name: 'Withdraw consent and delete' }).click();
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  assert.match(await faceRow(page).textContent(), /Not set up/);
  const after = await newPage(faces.same);
  await after.goto(authorizeUrl(`&acr_values=${SUBSTANTIAL}&prompt=login`));
  await signIn(after);
  await after.getByRole('heading', { name: 'Additional verification' }).waitFor();
  assert.equal(await after.getByRole('button', { name: 'Start' }).count(), 0);
  assert.equal(await after.getByRole('link', { name: 'Use your face' }).count(), 0);
  // ... and the 1:N index of this instance no longer finds her.
  const gone = await newPage(faces.same);
  await gone.goto(authorizeUrl());
  await gone.getByRole('button', { name: 'Start' }).click();
  await gone.getByRole('alert').filter({ hasText: 'We could not confirm it is you' }).waitFor(SLOW);
});
