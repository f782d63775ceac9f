// What the browser tests share: Chromium's flags, screenshots checked with axe-core, the
// sign-in steps a citizen takes, and the camera pictures of the face tests.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const TARGET = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
export const MATCHER = join(TARGET, 'debug', 'matcher');
export const FIXTURES = join(ROOT, 'matcher', 'tests', 'fixtures');
/** The shared labelled test data beside the repository. */
export const SHARED = join(ROOT, '..', 'shared', 'data');
export const PASSWORD = 'a long and correct password';
/** A capture is analysed on the server; unoptimised test builds take several seconds. */
export const SLOW = { timeout: 180_000 };

/** Headless, sandbox off (root in CI), and none of Chromium's own calls to the network. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Keeps a picture of the page for people to look at (target/screenshots/NAME.png) and
 * checks it with axe-core against WCAG 2.2 A and AA: no violation may remain.
 */
export async function shot(page, name) {
  mkdirSync(join(TARGET, 'screenshots'), { recursive: true });
  await page.screenshot({ path: join(TARGET, 'screenshots', `${name}.png`), fullPage: true });
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await globalThis.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] });
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `accessibility of ${name}`);
}

export async function signIn(page, username, password = PASSWORD) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * Answers a step-up page with the code sent by e-mail to `to`, read from the development
 * outbox of `idp`.
 */
export async function stepUpByEmail(idp, page, to, heading = 'Additional verification') {
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

/**
 * Frames of a photograph (a fixture's name, or a path), 480x640, as data URLs, made by
 * `matcher synth-video` in a new folder under `work`: eyes open, eyes shut, and the head
 * turned 25 degrees to the person's left and to their right (synthetic).
 */
export function framesOf(work, photo, name) {
  const dir = mkdtempSync(join(work, `${name}-`));
  const source = photo.startsWith('/') ? photo : join(FIXTURES, photo);
  execFileSync(MATCHER, ['synth-video', source, join(dir, 'v.y4m'), '--frames', '4',
    '--closed', '1', '--left', '2', '--right', '3', '--width', '480', '--height', '640',
    '--frames-dir', dir]);
  const url = (f) => `data:image/png;base64,${readFileSync(join(dir, f)).toString('base64')}`;
  return { open: url('0.png'), shut: url('1.png'), left: url('2.png'), right: url('3.png') };
}

/**
 * Makes the context's camera a person: a photograph (`framesOf`) that shuts its eyes 300 ms
 * after the page asks for a blink, and turns its head 400 ms after the page asks for a
 * turn, for 600 ms, as a person would. `turns: 'never'` keeps the head still; `'wrong'`
 * turns it the other way.
 */
export async function playPerson(context, person, { turns = 'asked' } = {}) {
  await context.addInitScript(({ person: frames, turns: how }) => {
    const canvas = document.createElement('canvas');
    canvas.width = 480;
    canvas.height = 640;
    const ctx = canvas.getContext('2d');
    const pictures = {};
    for (const [k, src] of Object.entries(frames)) {
      pictures[k] = new Image();
      pictures[k].src = src;
    }
    let shutFrom = Infinity;
    let turnFrom = Infinity;
    let side = 'left';
    let askedBlink = false;
    let askedTurn = false;
    setInterval(() => {
      const prompt = document.getElementById('face-prompt');
      const blinkNow = prompt && prompt.closest('.blink');
      const turnNow = prompt && prompt.closest('.turn-left, .turn-right');
      const t = performance.now();
      if (blinkNow && !askedBlink) { askedBlink = true; shutFrom = t + 300; }
      if (turnNow && !askedTurn) {
        askedTurn = true;
        const asked = turnNow.classList.contains('turn-left') ? 'left' : 'right';
        side = how === 'wrong' ? { left: 'right', right: 'left' }[asked] : asked;
        turnFrom = how === 'never' ? Infinity : t + 400;
      }
      if (!blinkNow && !turnNow && prompt && prompt.textContent === '') {
        askedBlink = false;
        askedTurn = false;
      }
      let img = pictures.open;
      if (t >= shutFrom && t < shutFrom + 200) img = pictures.shut;
      if (t >= turnFrom && t < turnFrom + 600) img = pictures[side];
      if (img.complete) ctx.drawImage(img, 0, 0, 480, 640);
    }, 20);
    // The camera is the person; a microphone (the voice) is Chromium's own.
    const own = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (c) => (c && c.video ? canvas.captureStream(30) : own(c));
  }, { person, turns });
}
