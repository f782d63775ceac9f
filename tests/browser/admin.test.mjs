// The Admin UI in headless Chromium against the real binary: an administrator signs in at
// level high (password, a code by e-mail, then a passkey on Chromium's virtual
// authenticator), registers a client (after an error shown next to its field), changes
// its links, sign-out and protocol settings (after a refused link, also on a phone) and
// registers a FAPI 2.0 one, makes an API scope require high, rotates and retires
// signing keys, approves a citizen's registration after looking at the document and
// face, and finds each of these in the audit log; an auditor sees everything and can
// change nothing; a clerk sees only the queue and the service centre, rejects with a
// reason, and at the counter, on a tablet, enrols a citizen's face filmed blinking on
// the server's cue and her voice, and a minor's face only with a guardian's consent,
// after which the citizen steps up with the face; the bearer token stays in memory and
// goes only to the Admin API. Every main page is kept as a screenshot and checked with
// axe-core, also on a phone-sized screen.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Idp, png, servedApart } from '../../conformance/harness.mjs';
import {
  CHROMIUM_FLAGS, FIXTURES, PASSWORD, SLOW, TARGET, framesOf, playPerson, shot, signIn, stepUpByEmail,
} from './support.mjs';

// A checkpoint of the audit chain every second, so that the audit view has one to show.
/** The voice of the citizen enrolled at the counter: a LibriVox reader (pocketsphinx-testdata). */
const READER = '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';

// Clients' logos are fetched from loopback here.
const CONFIG = `audit_checkpoint_seconds = 1
fetch_private_addresses = true

[policy.scopes]
"tax.read" = "low"
`;

let idp;
let browser;
let work;
let live;
/** Where a client's logo is published (another process on loopback). */
let logoServer;
/** Account ids (sub) of the citizens enrolled at the service centre. */
const subs = {};

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'idp-admin-'));
  live = framesOf(work, 'obama.png', 'live');
  logoServer = await servedApart(png(80, 80, [180, 30, 40]));
  idp = await Idp.start((cli) => {
    const add = (user, name) => cli(['user', 'add', '--username', user, '--password-stdin',
      '--email', `${user}@example.invalid`, '--name', name], PASSWORD);
    for (const [user, role] of [['root', 'administrator'], ['audrey', 'auditor'], ['clara', 'clerk'], ['rosa', 'administrator'],
      ['cecil', 'clerk']]) {
      add(user, `${user[0].toUpperCase()}${user.slice(1)} Example`);
      cli(['user', 'grant-role', '--username', user, '--role', role]);
    }
    for (const [user, name] of [['dora', 'Dora Example'], ['maria', 'Maria Kovács'], ['nina', 'Nina Petrova'],
      ['ilona', 'Ilona Szabó'], ['timur', 'Timur Example']]) {
      add(user, name);
    }
    for (const user of ['ilona', 'timur']) subs[user] = JSON.parse(cli(['user', 'show', '--username', user])).sub;
  }, { host: 'localhost', testClock: true, config: CONFIG });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  await idp?.stop();
  logoServer?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

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
    ctx.drawImage(img, 50, 60, 300, Math.round(300 * img.height / img.width));
    ctx.fillStyle = '#46465a';
    for (let line = 0; line < 6; line++) ctx.fillRect(420, 90 + line * 50, 480 - line * 40, 14);
    return canvas.toDataURL('image/jpeg', 0.9);
  }, portrait);
  return { name: 'document.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(url.split(',')[1], 'base64') };
}

/**
 * A citizen registers for face sign-in online: consent, the identity document, a live
 * capture (a photograph that blinks when asked); the registration then waits for a clerk.
 */
async function registerCitizen(user) {
  const context = await browser.newContext({ locale: 'en-GB' });
  await playPerson(context, live);
  const page = await context.newPage();
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, user);
  await page.getByRole('listitem').filter({ hasText: /^Face:/ }).getByRole('link', { name: 'Set up' }).click();
  await stepUpByEmail(idp, page, `${user}@example.invalid`);
  await page.getByLabel('I agree that a template of my face is kept').check();
  await page.getByRole('button', { name: 'Agree and continue' }).click();
  await page.getByLabel('Identity card').check();
  await page.getByLabel('Document number').fill('AB 123456');
  await page.getByLabel('Issuing country').fill('HUN');
  for (const [legend, [d, m, y]] of [['Expiry date', [27, 3, 2031]], ['Date of birth', [4, 8, 1961]]]) {
    const group = page.getByRole('group', { name: legend });
    await group.getByLabel('Day').fill(String(d));
    await group.getByLabel('Month').fill(String(m));
    await group.getByLabel('Year').fill(String(y));
  }
  await page.getByLabel('Photo of the page with your portrait').setInputFiles(await documentPhoto(page, 'obama2.png'));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('Now your face').waitFor(SLOW);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByRole('heading', { name: 'Your registration is being checked' }).waitFor(SLOW);
  await context.close();
}

/**
 * A browser of one administrator, with a virtual passkey authenticator; records every
 * request that carried a bearer token and the access tokens the token endpoint issued.
 */
async function adminBrowser({ person, from = browser, ...options } = {}) {
  const context = await from.newContext({ locale: 'en-GB', ...options });
  // The camera of a clerk at the service centre films this person.
  if (person) await playPerson(context, person);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  const bearer = [];
  const issued = [];
  page.on('request', (r) => {
    const auth = r.headers().authorization;
    if (auth) bearer.push({ url: r.url(), auth });
  });
  page.on('response', async (r) => {
    if (r.url() === `${idp.issuer}/token` && r.ok()) {
      const body = await r.json().catch(() => null);
      if (body?.access_token) issued.push(body.access_token);
    }
  });
  page.on('pageerror', (e) => console.error(`page error: ${e.stack || e}`));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`browser: ${m.text()}`);
  });
  return { context, page, bearer, issued };
}

/** Runs a test's steps; on failure keeps a picture of where the page was. */
async function withPicture(page, name, steps) {
  try {
    await steps();
  } catch (e) {
    await page.screenshot({ path: join(TARGET, 'screenshots', `${name}-failed.png`), fullPage: true }).catch(() => {});
    throw e;
  }
}

/**
 * Enrols a passkey on the account page (password, then a code by e-mail: a new factor
 * needs the strongest sign-in the account has), then opens the console, which asks the
 * provider for level high: only the passkey is still missing.
 */
async function signInToConsole(page, username) {
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, username);
  await page.getByLabel('Name of the new key').fill('Laptop');
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
  await stepUpByEmail(idp, page, `${username}@example.invalid`);
  await page.getByLabel('Name of the new key').fill('Laptop');
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click();
  await page.getByRole('listitem').filter({ hasText: 'Laptop' }).waitFor();

  await page.goto(`${idp.issuer}/admin/`);
  await page.waitForURL(/\/interaction\//);
  await page.getByRole('heading', { name: 'Additional verification' }).waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0, 'the password is not asked again');
  await page.getByRole('button', { name: 'Use security key or passkey' }).click();
  // The console is a client like any other: the administrator consents once.
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((u) => u.pathname.startsWith('/admin/') && u.pathname !== '/admin/callback');
}

/** The audit view filtered by one kind of event: the rows' text. */
async function auditRows(page, kind) {
  await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
  await page.getByLabel('Kind of event').selectOption(kind);
  await page.getByRole('button', { name: 'Show events' }).click();
  const table = page.getByRole('table', { name: /^Events/ });
  await table.waitFor();
  return table.locator('tbody tr').allTextContents();
}

let started;

test('an administrator signs in at high and administers clients, policy, keys and the queue', SLOW, async () => {
  started = Date.now();
  await registerCitizen('maria');
  const { context, page, bearer, issued } = await adminBrowser();
  await withPicture(page, 'admin-root', async () => {
    await signInToConsole(page, 'root');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    assert.match(await page.title(), /^Overview – Admin console$/);
    // The chart is drawn by Chart.js on a canvas, with the same figures as a table; the
    // sign-in steps just taken are counted.
    await page.locator('canvas[role=img]').waitFor();
    const summary0 = await page.getByText(/^In this period:/).textContent();
    assert.match(summary0, /: [1-9]\d* sign-ins succeeded/, summary0);
    await page.getByText('Show the figures as a table').click();
    assert.ok(await page.getByRole('table', { name: 'Sign-ins over time' }).locator('tbody tr').count() >= 24);
    await shot(page, 'admin-overview');

    // The token is in memory only, and went only to the Admin API.
    assert.equal(issued.length, 1, 'one access token was issued to the console');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    assert.ok(!stored.includes(issued[0]), 'the access token is not in web storage');
    const cookies = await context.cookies();
    assert.ok(!cookies.some((c) => c.value.includes(issued[0])), 'nor in a cookie');
    assert.ok(bearer.length > 0);
    for (const r of bearer) {
      assert.ok(r.url.startsWith(`${idp.issuer}/admin/api/v1/`), `bearer token sent to ${r.url}`);
    }

    // Clients: an invalid redirect URI is refused, and the API's words stand by the field.
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('cell', { name: /admin-console/ }).or(page.getByRole('rowheader', { name: /admin-console/ })).waitFor();
    await shot(page, 'admin-clients');
    await page.getByRole('button', { name: 'Register a client' }).click();
    await page.getByLabel('Client ID').fill('tax-portal');
    await page.getByLabel('Name', { exact: true }).fill('Tax portal');
    await page.getByLabel('Redirect URIs', { exact: true }).fill('http://tax.example.gov/cb');
    await page.getByRole('checkbox', { name: 'tax.read' }).check();
    await page.getByRole('button', { name: 'Register a client' }).click();
    const summary = page.getByRole('alert').filter({ hasText: 'There is a problem' });
    await summary.waitFor();
    await page.waitForFunction(() => document.title.startsWith('Error: '));
    const field = page.getByLabel('Redirect URIs', { exact: true });
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    const message = await page.locator('#client-redirect-uris-error').textContent();
    assert.match(message, /Redirect URIs: .*http/, 'the problem detail is shown next to the field');
    await shot(page, 'admin-client-error');
    await summary.getByRole('link').click();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'client-redirect-uris');
    await field.fill('https://tax.example.gov/cb');
    await page.getByRole('button', { name: 'Register a client' }).click();
    await page.getByRole('heading', { name: 'Client registered' }).waitFor();
    const secret = (await page.locator('#client-secret').textContent()).trim();
    assert.ok(secret.length >= 16, 'the generated secret is shown once');
    await shot(page, 'admin-client-created');
    await page.getByRole('link', { name: 'See the client’s settings' }).click();
    await page.getByRole('heading', { name: /tax-portal/ }).waitFor();
    await shot(page, 'admin-client');

    // Its links for citizens, sign-out and protocol settings are changed on the form: a
    // privacy notice on plain http is refused, the summary's link leading to the field.
    await page.getByRole('button', { name: 'Change settings' }).click();
    await page.getByRole('heading', { name: 'Change tax-portal' }).waitFor();
    await page.getByLabel('Link to the privacy notice').fill('http://example.com/privacy');
    await page.getByLabel('Link to the terms of use').fill('https://tax.example.gov/terms');
    await page.getByLabel('Address of the logo').fill(logoServer.url);
    await page.getByLabel('Every claim of the granted scopes').check();
    await page.getByLabel('Back-channel logout URI').fill('https://tax.example.gov/logout/back');
    await page.getByLabel('Front-channel logout URI').fill('https://tax.example.gov/logout/front');
    await page.getByRole('group', { name: 'Default levels of assurance' }).getByLabel('Substantial').check();
    await page.getByLabel('Pushed authorization requests only').check();
    await page.getByLabel('Request object URIs').fill('https://tax.example.gov/requests/sign-in.jwt');
    await page.getByLabel('Sign in again after').fill('3600');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'There is a problem' });
    await refused.waitFor();
    await page.waitForFunction(() => document.title.startsWith('Error: '));
    const policyField = page.getByLabel('Link to the privacy notice');
    assert.equal(await policyField.getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#client-policy-uri-error').textContent(),
      /Link to the privacy notice: http:\/\/example\.com\/privacy: must be an https address/);
    await shot(page, 'admin-client-edit-error');
    // The same form on a phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no sideways scrolling');
    await shot(page, 'admin-client-edit-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    await refused.getByRole('link', { name: /Link to the privacy notice/ }).click();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'client-policy-uri');
    await policyField.fill('https://tax.example.gov/privacy');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('The client’s settings were changed.').waitFor();
    const row = (key) => page.locator('.govuk-summary-list__row', { hasText: key }).locator('dd');
    assert.equal(await row('Link to the privacy notice').textContent(), 'https://tax.example.gov/privacy');
    assert.equal(await row('Default levels of assurance').textContent(), 'Substantial');
    assert.equal(await row('Pushed authorization requests only').textContent(), 'Yes');
    assert.equal(await row('Sign in again after').textContent(), '1 hour');
    assert.equal(await row('Claims in ID tokens').textContent(), 'Every claim of the granted scopes');
    // The logo as the provider keeps it (fetched when the form was saved).
    const logo = row('Address of the logo').locator('img');
    assert.ok(await logo.evaluate((img) => img.decode().then(() => img.naturalWidth === 80)), 'the kept logo');
    await shot(page, 'admin-client-changed');
    // Stored as the Admin API shows it.
    const clientFromApi = async (id) => {
      const r = await fetch(`${idp.issuer}/admin/api/v1/clients/${id}`, { headers: { authorization: `Bearer ${issued[0]}` } });
      assert.equal(r.status, 200);
      return r.json();
    };
    const saved = await clientFromApi('tax-portal');
    assert.equal(saved.policy_uri, 'https://tax.example.gov/privacy');
    assert.equal(saved.tos_uri, 'https://tax.example.gov/terms');
    assert.equal(saved.logo_uri, logoServer.url);
    assert.equal(saved.id_token_claims, 'scopes');
    assert.equal(saved.backchannel_logout_uri, 'https://tax.example.gov/logout/back');
    assert.equal(saved.frontchannel_logout_uri, 'https://tax.example.gov/logout/front');
    assert.deepEqual(saved.default_acr_values, ['http://eidas.europa.eu/LoA/substantial']);
    assert.equal(saved.require_pushed_authorization_requests, true);
    assert.deepEqual(saved.request_uris, ['https://tax.example.gov/requests/sign-in.jwt']);
    assert.equal(saved.default_max_age, 3600);
    assert.equal(saved.dpop_bound_access_tokens, false);
    assert.equal(saved.profile, null);
    // An emptied address is removed; the rest stays as it was.
    await page.getByRole('button', { name: 'Change settings' }).click();
    await page.getByLabel('Front-channel logout URI').fill('');
    await page.getByLabel('Sign in again after').fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('The client’s settings were changed.').waitFor();
    const cleared = await clientFromApi('tax-portal');
    assert.equal(cleared.frontchannel_logout_uri, null);
    assert.equal(cleared.default_max_age, null);
    assert.equal(cleared.backchannel_logout_uri, 'https://tax.example.gov/logout/back');
    assert.deepEqual(cleared.default_acr_values, ['http://eidas.europa.eu/LoA/substantial']);
    // A FAPI 2.0 client whose keys are published at an address: the profile turns on
    // pushed requests and DPoP.
    await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('button', { name: 'Register a client' }).click();
    await page.getByLabel('Client ID').fill('pension-portal');
    await page.getByLabel('Redirect URIs', { exact: true }).fill('https://pension.example.gov/cb');
    await page.getByLabel('Signed assertion (private_key_jwt)').check();
    await page.getByLabel('Published by the client at an address (jwks_uri)').check();
    await page.getByLabel('Address of the public keys (jwks_uri)').fill('https://pension.example.gov/jwks.json');
    await page.getByRole('radio', { name: 'FAPI 2.0' }).check();
    await page.getByRole('button', { name: 'Register a client' }).click();
    await page.getByRole('heading', { name: 'Client registered' }).waitFor();
    const pension = await clientFromApi('pension-portal');
    assert.equal(pension.auth_method, 'private_key_jwt');
    assert.equal(pension.jwks_uri, 'https://pension.example.gov/jwks.json');
    assert.equal(pension.jwks, null);
    assert.equal(pension.profile, 'fapi2');
    assert.equal(pension.require_pushed_authorization_requests, true);
    assert.equal(pension.dpop_bound_access_tokens, true);

    // Policy: the API scope tax.read now needs level high.
    await page.getByRole('link', { name: 'Policy' }).click();
    await page.getByRole('heading', { name: 'Policy', level: 1 }).waitFor();
    await page.getByRole('row').filter({ hasText: 'tax.read' }).waitFor();
    await shot(page, 'admin-policy');
    await page.getByRole('button', { name: 'Change the policy' }).click();
    await page.getByLabel('Level for tax.read').selectOption('high');
    // A value the API refuses: its words stand next to the input they are about.
    await page.getByLabel('Failed attempts before a lock').fill('11');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('alert').filter({ hasText: 'There is a problem' }).waitFor();
    assert.match(await page.locator('#policy-attempts-error').textContent(), /Failed attempts before a lock: 1 to 10/);
    assert.equal(await page.getByLabel('Failed attempts before a lock').getAttribute('aria-invalid'), 'true');
    await shot(page, 'admin-policy-error');
    await page.getByLabel('Failed attempts before a lock').fill('3');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('The policy was saved.').waitFor();
    // The table shows the stored policy once it has been read back.
    await page.getByRole('row').filter({ hasText: 'tax.read' }).filter({ hasText: 'High' }).waitFor();
    // In force: the discovery document still lists the scope, and a client asking for
    // it now needs a sign-in at high (checked by the provider's own tests).
    const policy = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    assert.ok(policy.scopes_supported.includes('tax.read'));

    // Keys: rotation, confirmed first.
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('heading', { name: 'Signing keys', level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Published keys' }).waitFor();
    const before = await page.getByText('Signing', { exact: true }).count();
    assert.ok(before >= 1);
    await page.getByRole('button', { name: 'Rotate the keys' }).click();
    await page.getByRole('heading', { name: 'Rotate the signing keys?' }).waitFor();
    await page.getByRole('button', { name: 'Rotate the keys' }).click();
    await page.getByText(/New keys are signing/).waitFor();
    const rotated = (await page.getByText(/New keys are signing/).textContent()).match(/signing: (.*)\./)[1].split(', ');
    assert.equal(await page.getByText('Signing', { exact: true }).count(), before, 'as many keys sign as before');
    await shot(page, 'admin-keys');
    // A key rotated out can be withdrawn before its time.
    const retiring = page.getByRole('row').filter({ hasText: 'Published only' }).first();
    const retired = (await retiring.locator('code').textContent()).trim();
    await retiring.getByRole('button', { name: /Retire/ }).click();
    await page.getByRole('heading', { name: `Retire the key ${retired}?` }).waitFor();
    await page.getByRole('button', { name: 'Retire', exact: true }).click();
    await page.getByText(`The key ${retired} was retired.`).waitFor();
    // The list is loaded again after the news: the key leaves it.
    await page.getByRole('row').filter({ hasText: retired }).waitFor({ state: 'detached' });

    // Accounts: search, one account's methods, sessions and roles.
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByLabel('Search accounts').fill('audrey');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'audrey' }).click();
    await page.getByRole('heading', { name: /audrey/ }).waitFor();
    assert.match(await page.getByRole('row').filter({ hasText: 'Roles' }).or(page.locator('.govuk-summary-list__row', { hasText: 'Roles' })).first().textContent(), /Auditor/);
    await shot(page, 'admin-user');
    // Disabling an account is confirmed first, and can be undone.
    await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Accounts' }).click();
    await page.getByLabel('Search accounts').fill('dora');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'dora' }).click();
    await page.getByRole('button', { name: 'Disable account' }).click();
    await page.getByRole('heading', { name: 'Disable dora?' }).waitFor();
    await page.getByRole('button', { name: 'Disable account' }).click();
    await page.getByText(/The account was disabled: 0 sessions ended/).waitFor();
    await page.locator('.govuk-summary-list__row', { hasText: 'Status' }).getByText('Disabled').waitFor();
    await page.getByRole('button', { name: 'Enable account' }).click();
    await page.getByText('The account was enabled.').waitFor();

    // The registration queue: the clerk's view of the document and the live face, then
    // the approval.
    await page.getByRole('link', { name: 'Registrations' }).click();
    await page.getByRole('heading', { name: 'Registrations', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Maria Kovács' }).waitFor();
    await shot(page, 'admin-registrations');
    await page.getByRole('link', { name: 'Maria Kovács' }).click();
    for (const name of ['Identity document of Maria Kovács', 'Live face capture of Maria Kovács']) {
      const img = page.getByRole('img', { name });
      await img.waitFor();
      await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    }
    assert.match(await page.locator('.govuk-summary-list__row', { hasText: 'Face match' }).textContent(), /Matches/);
    await shot(page, 'admin-registration');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('The registration of Maria Kovács was approved.').waitFor();
    await page.getByRole('link', { name: 'Approved' }).click();
    await page.getByRole('link', { name: 'Maria Kovács' }).click();
    await page.locator('.govuk-summary-list__row', { hasText: 'Pictures' }).getByText('Deleted at the decision').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0);

    // Her account: the face is now a sign-in method; the administrator ends her session
    // and resets the face (she is told).
    await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Accounts' }).click();
    await page.getByLabel('Search accounts').fill('maria');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'maria' }).click();
    const sessions = page.getByRole('table', { name: 'Sessions' });
    await sessions.waitFor();
    const open = await sessions.locator('tbody tr').count();
    assert.ok(open >= 1, 'her registration left a session open');
    await sessions.getByRole('button', { name: /End session/ }).first().click();
    await page.getByText('The session was ended.').waitFor();
    // The account is loaded again after the news: one row fewer.
    await page.getByRole('table', { name: 'Sessions' }).locator('tbody tr').nth(open - 1).waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('table', { name: 'Sessions' }).locator('tbody tr').count(), open - 1);
    const face = page.getByRole('table', { name: 'Sign-in methods' }).getByRole('row').filter({ hasText: 'Face' });
    await face.getByRole('button', { name: /Reset/ }).click();
    await page.getByRole('heading', { name: 'Reset Face?' }).waitFor();
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    await page.getByText('Face was reset.').waitFor();
    await page.getByRole('table', { name: 'Sign-in methods' }).getByRole('row').filter({ hasText: 'Face' }).waitFor({ state: 'detached' });
    await shot(page, 'admin-user-maria');

    // Each action is in the audit log, made by this administrator through the API.
    const created = await auditRows(page, 'client.created');
    assert.ok(created.some((r) => /tax-portal/.test(r) && /administrator/.test(r)), created.join('\n'));
    const approvals = await auditRows(page, 'registration.approved');
    assert.ok(approvals.some((r) => /maria/.test(r) && /administrator root/.test(r)), approvals.join('\n'));
    const looks = await auditRows(page, 'registration.evidence-viewed');
    assert.equal(looks.filter((r) => /maria/.test(r)).length, 2, 'each picture seen is on record');
    const policyChanged = await auditRows(page, 'policy.changed');
    assert.ok(policyChanged.some((r) => /administrator root/.test(r)), policyChanged.join('\n'));
    const ended = await auditRows(page, 'session.ended');
    assert.ok(ended.some((r) => /maria/.test(r)), ended.join('\n'));
    const removed = await auditRows(page, 'factor.removed');
    assert.ok(removed.some((r) => /maria/.test(r) && /administrator root/.test(r)), removed.join('\n'));
    const disabled = await auditRows(page, 'user.disabled');
    assert.ok(disabled.some((r) => /dora/.test(r) && /administrator root/.test(r)), disabled.join('\n'));
    const keys = await auditRows(page, 'keys.rotated');
    assert.ok(keys.some((r) => rotated.every((kid) => r.includes(kid))), keys.join('\n'));
    const retirement = await auditRows(page, 'key.retired');
    assert.ok(retirement.some((r) => r.includes(retired)), retirement.join('\n'));
    const checkpoints = page.getByRole('table', { name: 'The newest checkpoints' });
    assert.ok(await checkpoints.locator('tbody tr').count() >= 1, 'a signed checkpoint is listed');
    await shot(page, 'admin-audit');
    await page.getByRole('button', { name: 'Check the hash chain' }).click();
    await page.getByText(/The log is intact: \d+ events and [1-9]\d* signed checkpoints checked/).waitFor();
    // The export is the chain as JSON lines, events and checkpoints.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export these events (NDJSON)' }).click(),
    ]);
    const lines = readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.type === 'event' && l.kind === 'client.created' && l.client_id === 'tax-portal'));
    assert.equal(lines.at(-1).type, 'checkpoint', 'an export ends at a checkpoint');

    // A phone-sized screen: the menu folds behind a button.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
    await shot(page, 'admin-clients-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Every text in Hungarian, Russian and Kazakh too.
    for (const [lang, heading] of [['Magyar', 'Kliensek'], ['Русский', 'Клиенты'], ['Қазақша', 'Клиенттер']]) {
      await page.getByRole('link', { name: lang }).click();
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    }
    assert.equal(await page.locator('html').getAttribute('lang'), 'kk');
    await shot(page, 'admin-clients-kk');
    await page.getByRole('link', { name: 'English' }).click();

  });
  await context.close();
});

test('an auditor sees every view and can change nothing', async () => {
  const { context, page } = await adminBrowser();
  await withPicture(page, 'admin-auditor', async () => {
    await signInToConsole(page, 'audrey');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    for (const name of ['Clients', 'Accounts', 'Audit log', 'Signing keys', 'Policy']) {
      assert.equal(await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name }).count(), 1, name);
    }
    // The queue is for clerks and administrators.
    assert.equal(await page.getByRole('link', { name: 'Registrations' }).count(), 0);

    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('link', { name: 'demo' }).click();
    await page.getByRole('heading', { name: /demo/ }).waitFor();
    for (const name of ['Change settings', 'Replace the secret', 'Remove client']) {
      assert.equal(await page.getByRole('button', { name }).count() + await page.getByRole('link', { name }).count(), 0, name);
    }
    await shot(page, 'admin-client-auditor');
    await page.getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('table').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Rotate the keys' }).count(), 0);
    await page.getByRole('link', { name: 'Policy' }).click();
    await page.getByRole('heading', { name: 'Policy', level: 1 }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Change the policy' }).count(), 0);
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('link', { name: 'root' }).click();
    await page.getByRole('heading', { name: /root/ }).waitFor();
    for (const name of ['Disable account', 'Remove account', 'Reset', 'End session']) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, name);
    }
    // A change typed in by address is refused by the page, and would be by the API.
    await page.goto(`${idp.issuer}/admin/clients/new`);
    await page.getByRole('heading', { name: 'You cannot see this page' }).waitFor();

    // Signing out ends the provider's session too.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'You have signed out' }).waitFor();
    await shot(page, 'admin-signed-out');
    await page.goto(`${idp.issuer}/account`);
    await page.getByLabel('Password').waitFor();
  });
  await context.close();
});

test('a clerk sees only the registration queue, and rejects with a reason', SLOW, async () => {
  await registerCitizen('nina');
  const { context, page } = await adminBrowser();
  await withPicture(page, 'admin-clerk', async () => {
    await signInToConsole(page, 'clara');
    await page.getByRole('heading', { name: 'Registrations', level: 1 }).waitFor();
    const menu = page.getByRole('navigation', { name: 'Menu' });
    assert.deepEqual(await menu.getByRole('link').allTextContents(), ['Registrations', 'Service centre']);
    await page.getByRole('link', { name: 'Nina Petrova' }).click();
    await page.getByRole('img', { name: 'Live face capture of Nina Petrova' }).waitFor();
    await page.getByRole('button', { name: 'Reject' }).click();
    // A reason is needed: it is what the citizen is told.
    await page.getByRole('button', { name: 'Reject' }).click();
    const summary = page.getByRole('alert').filter({ hasText: 'There is a problem' });
    await summary.getByRole('link', { name: 'Enter the reason for rejecting' }).waitFor();
    assert.equal(await page.getByLabel('Reason for rejecting').getAttribute('aria-invalid'), 'true');
    await shot(page, 'admin-registration-reject');
    await page.getByLabel('Reason for rejecting').fill('The document photo is blurred');
    await page.getByRole('button', { name: 'Reject' }).click();
    await page.getByText('The registration of Nina Petrova was rejected.').waitFor();
    assert.ok(idp.outbox().some((m) => m.to === 'nina@example.invalid' && /The document photo is blurred/.test(m.body)));
    // Nothing else is open to a clerk.
    await page.goto(`${idp.issuer}/admin/clients`);
    await page.getByRole('heading', { name: 'You cannot see this page' }).waitFor();
  });
  await context.close();
});

/** Records a document at the counter as the clerk reads it: dates as [day, month, year]. */
async function recordDocument(page, { kind, number, country, expires, born }) {
  await page.getByLabel(kind, { exact: true }).check();
  await page.getByLabel('Document number').fill(number);
  await page.getByLabel('Issuing country').fill(country);
  for (const [legend, [d, m, y]] of [['Expiry date', expires], ['Date of birth', born]]) {
    const group = page.getByRole('group', { name: legend });
    await group.getByLabel('Day').fill(String(d));
    await group.getByLabel('Month').fill(String(m));
    await group.getByLabel('Year').fill(String(y));
  }
  await page.getByRole('button', { name: 'Continue' }).click();
}

/**
 * Films the citizen at the counter: the camera's picture first, then the capture, during
 * which the page shows "Blink now" when the server's cue says so (the person on camera
 * blinks then); ends when the server has enrolled the face.
 */
async function filmFace(page, name) {
  await page.getByRole('heading', { name: 'Film the citizen’s face' }).waitFor();
  await page.getByRole('button', { name: 'Turn on the camera' }).click();
  await page.waitForFunction(() => document.querySelector('#face-capture video')?.videoWidth > 0);
  await shot(page, name);
  await page.getByRole('button', { name: 'Start filming' }).click();
  await page.locator('.app-capture-area.blink').getByText('Blink now').waitFor();
  // A picture only: axe-core's run would hold up the frames being filmed.
  await page.screenshot({ path: join(TARGET, 'screenshots', `${name}-blink.png`) });
  await page.getByRole('heading', { name: 'Also enrol the voice?' }).waitFor(SLOW);
}

test('a clerk enrols faces and a voice at the service centre, a minor only with a guardian', SLOW, async (t) => {
  const began = Date.now();
  // The microphone at the counter plays a reader of Debian's pocketsphinx-testdata.
  const counter = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [...CHROMIUM_FLAGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${READER}`],
  });
  t.after(() => counter.close());
  const tablet = { viewport: { width: 820, height: 1180 }, hasTouch: true };
  const { context, page } = await adminBrowser({ person: live, from: counter, ...tablet });
  await withPicture(page, 'admin-counter', async () => {
    await signInToConsole(page, 'cecil');
    await page.getByRole('heading', { name: 'Registrations', level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Service centre' }).click();
    await page.getByRole('heading', { name: 'Which citizen is at the counter?' }).waitFor();
    await shot(page, 'admin-counter-find');

    // An ID that is nobody's is refused next to the field; the clerk finds the citizen by
    // her exact username (a clerk may not search accounts).
    await page.getByLabel('Username or account ID').fill('0'.repeat(32));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#counter-account-error').getByText('No account has this username or ID').waitFor();
    await page.waitForFunction(() => document.title.startsWith('Error: '));
    assert.equal(await page.getByLabel('Username or account ID').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Username or account ID').fill('ilona');
    await page.getByRole('button', { name: 'Continue' }).click();

    // The consent comes first: nothing is recorded without it.
    await page.getByRole('heading', { name: 'Does the citizen agree?' }).waitFor();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#counter-consent-error').getByText('Tick the box once the citizen has agreed').waitFor();
    await shot(page, 'admin-counter-consent');
    // The citizen reads it in her own language.
    await page.getByRole('link', { name: 'Magyar' }).click();
    await page.getByRole('heading', { name: 'Hozzájárul az ügyfél?' }).waitFor();
    await shot(page, 'admin-counter-consent-hu');
    await page.getByRole('link', { name: 'English' }).click();
    await page.getByLabel('The citizen has read or heard this text and agrees').check();
    await page.getByRole('button', { name: 'Continue' }).click();

    // The document: the server refuses an expired one, next to its expiry date.
    await page.getByRole('heading', { name: 'The citizen’s identity document' }).waitFor();
    const adult = { kind: 'Passport', number: 'HU 1234567', country: 'HUN', expires: [1, 2, 2020], born: [4, 8, 1961] };
    await recordDocument(page, adult);
    await page.locator('#counter-expires-error').getByText('The document has expired').waitFor();
    await shot(page, 'admin-counter-document-error');
    await recordDocument(page, { ...adult, expires: [27, 3, 2031] });

    await filmFace(page, 'admin-counter-face');
    await page.getByText('The face of Ilona Szabó (ilona) was enrolled.').waitFor();
    await shot(page, 'admin-counter-face-done');

    // Her voice too: its own consent, then the digits the server chose, read aloud.
    await page.getByRole('button', { name: 'Enrol the voice' }).click();
    await page.getByRole('heading', { name: 'Record the citizen’s voice' }).waitFor();
    await page.getByRole('button', { name: 'Start recording' }).click();
    await page.locator('#counter-voice-consent-error').getByText('Tick the box once the citizen has agreed').waitFor();
    await shot(page, 'admin-counter-voice');
    await page.getByLabel('The citizen has read or heard this text and agrees').check();
    await page.getByRole('button', { name: 'Start recording' }).click();
    await page.getByText('Recording… the citizen reads the digits now').waitFor();
    assert.match(await page.locator('#voice-phrase').textContent(), /^\d( \d){5}$/);
    // A picture only: axe-core's run would hold up the recording.
    await page.screenshot({ path: join(TARGET, 'screenshots', 'admin-counter-voice-digits.png') });
    await page.getByRole('heading', { name: 'Enrolment finished' }).waitFor(SLOW);
    const summary = await page.locator('.govuk-summary-list').textContent();
    assert.match(summary, /FaceEnrolled now/);
    assert.match(summary, /VoiceEnrolled now/);
    await shot(page, 'admin-counter-done');
    assert.ok(idp.outbox().some((m) => m.to === 'ilona@example.invalid'), 'the citizen is told');

    // A child: the server finds her under age from the document and asks for a guardian.
    await page.getByRole('button', { name: 'Enrol another citizen' }).click();
    await page.getByLabel('Username or account ID').fill(subs.timur);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('The citizen has read or heard this text and agrees').check();
    await page.getByRole('button', { name: 'Continue' }).click();
    const year = new Date().getUTCFullYear();
    await recordDocument(page, { kind: 'Identity card', number: 'KZ0123456', country: 'KAZ', expires: [1, 9, year + 5], born: [1, 3, year - 12] });
    await page.getByRole('heading', { name: 'The parent’s or guardian’s consent' }).waitFor();
    const refusal = page.locator('#counter-guardian-name-error');
    assert.match(await refusal.textContent(), /The citizen is under 18/);
    await page.getByRole('alert').filter({ hasText: 'There is a problem' }).waitFor();
    await shot(page, 'admin-counter-guardian');
    await page.getByLabel('Full name of the parent or guardian').fill('Aigerim Example');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#counter-guardian-relation-error').waitFor();
    await page.getByLabel('Parent', { exact: true }).check();
    await page.getByLabel('Number of their identity document').fill('N12345678');
    await page.getByRole('button', { name: 'Continue' }).click();
    await filmFace(page, 'admin-counter-face-minor');
    await page.getByRole('button', { name: 'Finish' }).click();
    await page.getByRole('heading', { name: 'Enrolment finished' }).waitFor();
    assert.match(await page.locator('.govuk-summary-list').textContent(), /VoiceNot enrolled/);

    // Each enrolment is a registration approved at the service centre: her face and voice,
    // his face.
    await page.getByRole('navigation', { name: 'Menu' }).getByRole('link', { name: 'Registrations' }).click();
    await page.getByRole('link', { name: 'Approved' }).click();
    await page.getByRole('table', { name: /^Approved registrations/ }).waitFor();
    for (const [name, count] of [['Ilona Szabó', 2], ['Timur Example', 1]]) {
      const rows = await page.getByRole('row').filter({ hasText: name }).allTextContents();
      assert.equal(rows.length, count, name);
      assert.ok(rows.every((r) => /Service centre/.test(r)), rows.join('\n'));
    }
  });
  await context.close();

  // The citizen now steps up with the face the clerk enrolled.
  const citizen = await browser.newContext({ locale: 'en-GB' });
  await playPerson(citizen, live);
  const own = await citizen.newPage();
  await withPicture(own, 'admin-counter-citizen', async () => {
    const substantial = encodeURIComponent('http://eidas.europa.eu/LoA/substantial');
    await own.goto(`${idp.issuer}/authorize?client_id=demo&response_type=code&scope=openid`
      + `&redirect_uri=${encodeURIComponent(`${idp.issuer}/dev/callback`)}&state=s1&acr_values=${substantial}`);
    await signIn(own, 'ilona');
    await own.getByRole('heading', { name: 'Additional verification' }).waitFor();
    const useFace = own.getByRole('link', { name: 'Use your face' });
    if (await useFace.count()) await useFace.click();
    await own.getByRole('button', { name: 'Start' }).click();
    await own.getByRole('button', { name: 'Allow' }).waitFor(SLOW);
  });
  await citizen.close();
  t.diagnostic(`the service-centre test took ${Math.round((Date.now() - began) / 1000)} s`);
});

test('an expired token sends the administrator through the provider again', async (t) => {
  const { context, page } = await adminBrowser();
  await withPicture(page, 'admin-expiry', async () => {
    await signInToConsole(page, 'rosa');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    // The overview's own calls finish first, so that none of them meets the expired token.
    await page.waitForLoadState('networkidle');
    // Past the access token's 15 minutes and the session's idle time: the next call is
    // refused and the console asks the provider for a new sign-in. (Should the console
    // already be on its way there, the link is gone; the destination is the same.)
    await idp.advanceClock(16 * 60);
    await page.getByRole('link', { name: 'Signing keys' }).click({ timeout: 5000 }).catch(() => {});
    await page.waitForURL(/\/interaction\//);
    await page.getByLabel('Password').waitFor();
    t.diagnostic(`admin browser tests took ${Math.round((Date.now() - started) / 1000)} s`);
  });
  await context.close();
});

