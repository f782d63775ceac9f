// The frame of the citizen's pages in headless Chromium, on a phone and on a computer: the
// operator's theme, the language switcher and its memory, error pages for people, the
// authenticator app's key and recovery codes on a phone, and the development walkthrough
// from the printed instructions to the tokens.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Idp, png, servedApart } from '../../conformance/harness.mjs';
import { CHROMIUM_FLAGS, PASSWORD, shot, signIn, stepUpByEmail } from './support.mjs';

const REDIRECT = 'https://rp.example/cb';
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const COMPUTER = { viewport: { width: 1280, height: 800 } };

let idp;
let browser;
let logoServer;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'idp-theme-'));
  const logo = join(dir, 'logo.svg');
  writeFileSync(logo, '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="16" r="14" fill="#fff"/></svg>');
  const config = [
    // The service's logo is fetched from loopback here.
    'fetch_private_addresses = true',
    '[theme]',
    'name = "Government Sign-in"',
    'names = { hu = "Kormányzati belépés", ru = "Государственный вход", kk = "Мемлекеттік кіру" }',
    `logo_file = "${logo}"`,
    'colour = "#0b3d91"',
    'help_url = "https://gov.example/help"',
    'privacy_url = "https://gov.example/privacy"',
    'accessibility_url = "https://gov.example/accessibility"',
    '',
  ].join('\n');
  logoServer = await servedApart(png(120, 60, [0, 112, 60]));
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'portal', '--secret', 'pages-test-secret-0123', '--redirect-uri', REDIRECT,
      '--name', 'Land registry', '--policy-uri', 'https://rp.example/privacy', '--tos-uri', 'https://rp.example/terms',
      '--logo-uri', logoServer.url]);
    for (const user of ['iris', 'oleg', 'rita']) {
      cli(['user', 'add', '--username', user, '--password-stdin', '--email', `${user}@example.invalid`], PASSWORD);
    }
  }, { host: 'localhost', config });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  await idp?.stop();
  logoServer?.stop();
});

async function newPage(options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  await context.route('https://rp.example/**', (route) => route.fulfill({ status: 200, body: 'relying party' }));
  return page;
}

function authorizeUrl() {
  return `${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid%20profile&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1`;
}

/** Every button, and every link in the header and footer, is at least 44 px tall. */
async function tapTargets(page) {
  const small = await page.evaluate(() =>
    [...document.querySelectorAll('button, .site-header a, .site-footer a, .button-link')]
      .filter((e) => e.offsetParent !== null)
      .map((e) => [e.textContent.trim(), e.getBoundingClientRect().height])
      .filter(([, h]) => h < 44));
  assert.deepEqual(small, [], 'tap targets of 44 px');
}

test('a phone in Hungarian: the operator frame, switching to Russian, kept on the account pages', async () => {
  const page = await newPage({ ...PHONE, locale: 'hu-HU' });
  await page.goto(authorizeUrl());
  await page.getByLabel('Jelszó').waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'hu');
  assert.match(await page.title(), / – Kormányzati belépés$/);
  await page.getByRole('banner').getByText('Kormányzati belépés').waitFor();
  const footer = page.getByRole('contentinfo');
  assert.equal(await footer.getByRole('link', { name: 'Súgó' }).getAttribute('href'), 'https://gov.example/help');
  await footer.getByRole('link', { name: 'Akadálymentességi nyilatkozat' }).waitFor();
  // Phones first: the main button fills the width of the form.
  const button = await page.getByRole('button', { name: 'Bejelentkezés', exact: true }).boundingBox();
  const field = await page.getByLabel('Jelszó').boundingBox();
  assert.ok(Math.abs(button.width - field.width) < 2, `button ${button.width}px, field ${field.width}px`);
  await tapTargets(page);
  // The service's logo, served by the provider (fetched when the client was added), beside
  // its name; it loaded, and it says nothing a screen reader would repeat.
  const logo = page.locator('img.client-logo');
  assert.match(await logo.getAttribute('src'), /^\/clients\/portal\/logo$/);
  assert.equal(await logo.getAttribute('alt'), '');
  assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth === 120), 'the logo loaded');
  await shot(page, 'frame-login-phone-hu');

  // The switcher names each language in itself; the choice comes back to the same page.
  const nav = page.getByRole('navigation', { name: 'Nyelv' });
  await nav.getByRole('link', { name: 'Русский' }).click();
  await page.getByLabel('Пароль').waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'ru');
  await page.getByRole('banner').getByText('Государственный вход').waitFor();
  await shot(page, 'frame-login-phone-ru');
  await page.getByLabel('Имя пользователя').fill('iris');
  await page.getByLabel('Пароль').fill(PASSWORD);
  await page.getByRole('button', { name: 'Войти', exact: true }).click();
  await page.getByRole('button', { name: 'Разрешить' }).click();
  await page.waitForURL(/^https:\/\/rp\.example\/cb/);

  // The account page, outside any sign-in, keeps the chosen language.
  await page.goto(`${idp.issuer}/account`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'ru');
  await tapTargets(page);
  await shot(page, 'frame-account-phone-ru');
  // Sessions say where they were signed in and which services they used; consents say
  // in words what the service sees.
  const session = page.locator('li.session').filter({ hasText: 'этот браузер' });
  await session.getByText('Chrome, Linux', { exact: true }).waitFor();
  await session.getByText('IP-адрес: 127.0.0.1').waitFor();
  await session.getByText('Выполнен вход в: Land registry').waitFor();

  // Withdrawing a consent asks first, then says it was done.
  await page.getByRole('link', { name: 'Отозвать (Land registry)' }).click();
  await page.getByRole('heading', { name: 'Отозвать разрешение для сервиса Land registry?' }).waitFor();
  await tapTargets(page);
  await shot(page, 'confirm-withdraw-phone-ru');
  await page.getByRole('link', { name: 'Отмена' }).click();
  await page.getByRole('link', { name: 'Отозвать (Land registry)' }).click();
  await page.getByRole('button', { name: 'Отозвать' }).click();
  await page.getByText('Разрешение отозвано.').waitFor();

  // Ending this browser's own session signs it out, and says so.
  await session.getByRole('link', { name: /^Завершить/ }).click();
  await page.getByText('Вы выйдете из этого браузера.').waitFor();
  await page.getByRole('button', { name: 'Завершить' }).click();
  await page.getByRole('heading', { name: 'Вы вышли из системы' }).waitFor();
  await shot(page, 'signed-out-phone-ru');
  await page.context().close();
});

test('error pages on a computer: plain words, one next step, a reference, details folded', async () => {
  const page = await newPage({ ...COMPUTER, locale: 'en-GB' });
  const res = await page.goto(`${idp.issuer}/no/such/page`);
  assert.equal(res.status(), 404);
  await page.getByRole('heading', { name: 'Page not found', level: 1 }).waitFor();
  const reference = await page.locator('.reference').textContent();
  assert.equal(reference, res.headers()['x-request-id']);
  // The OAuth code is there for the help desk, but folded away.
  assert.equal(await page.getByText('invalid_request: there is no such page').isVisible(), false);
  await shot(page, 'error-not-found-computer-en');
  await page.getByText('Technical details').click();
  assert.equal(await page.getByText('invalid_request: there is no such page').isVisible(), true);

  // Back to a sign-in page after the sign-in ended.
  await page.goto(authorizeUrl());
  const signInPage = page.url();
  await signIn(page, 'oleg');
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/^https:\/\/rp\.example\/cb/);
  await page.goto(signInPage);
  await page.getByRole('heading', { name: 'This sign-in has ended', level: 1 }).waitFor();
  await page.getByText('Go back to the service you came from and sign in again.').waitFor();
  await shot(page, 'error-sign-in-ended-computer-en');

  // Kazakh on a phone.
  const kk = await newPage({ ...PHONE, locale: 'kk-KZ' });
  await kk.goto(`${idp.issuer}/authorize?client_id=nobody`);
  await kk.getByRole('heading', { name: 'Қызметтің сұрауын орындау мүмкін емес', level: 1 }).waitFor();
  await shot(kk, 'error-service-request-phone-kk');
  await page.context().close();
  await kk.context().close();
});

test('the authenticator app and recovery codes on a phone', async () => {
  const page = await newPage({ ...PHONE, locale: 'en-GB' });
  await page.goto(`${idp.issuer}/account`);
  await signIn(page, 'iris');
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByRole('button', { name: 'Set up' }).click();
  await stepUpByEmail(idp, page, 'iris@example.invalid');
  await page.getByRole('heading', { name: 'Your account' }).waitFor();
  await page.getByRole('button', { name: 'Set up' }).click();
  // A phone opens the app from a link; the key is in groups of four.
  const open = page.getByRole('link', { name: 'Open in an authenticator app on this phone' });
  assert.match(await open.getAttribute('href'), /^otpauth:\/\/totp\/.+secret=[A-Z2-7]+/);
  assert.equal(await open.isVisible(), true);
  const key = await page.locator('#totp-key').textContent();
  assert.match(key, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/);
  await page.getByRole('button', { name: 'Copy the key' }).waitFor();
  await tapTargets(page);
  await shot(page, 'totp-setup-phone-en');

  await page.goto(`${idp.issuer}/account`);
  await page.getByRole('button', { name: 'New recovery codes' }).click();
  await page.getByRole('heading', { name: 'Recovery codes' }).waitFor();
  const codes = await page.locator('#codes code').allTextContents();
  assert.equal(codes.length, 10);
  const download = page.getByRole('link', { name: 'Download the codes' });
  assert.equal(await download.getAttribute('download'), 'recovery-codes.txt');
  const file = decodeURIComponent((await download.getAttribute('href')).replace(/^data:text\/plain;charset=utf-8,/, ''));
  for (const c of codes) assert.ok(file.includes(c), 'each code is in the file');
  await page.getByRole('button', { name: 'Print the codes' }).waitFor();
  await tapTargets(page);
  await shot(page, 'recovery-codes-phone-en');
  await page.getByRole('link', { name: 'I have saved these codes' }).click();
  await page.getByText('Your new recovery codes are ready to use.').waitFor();
  await page.context().close();

  // On a computer there is no app to open.
  const computer = await newPage({ ...COMPUTER, locale: 'en-GB' });
  await computer.goto(`${idp.issuer}/account`);
  await signIn(computer, 'oleg');
  await computer.getByRole('button', { name: 'Set up' }).click();
  await stepUpByEmail(idp, computer, 'oleg@example.invalid');
  await computer.getByRole('button', { name: 'Set up' }).click();
  await computer.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  assert.equal(await computer.getByRole('link', { name: 'Open in an authenticator app on this phone' }).isVisible(), false);
  await shot(computer, 'totp-setup-computer-en');
  await computer.context().close();
});

test('a forgotten password: proved by a code by e-mail, a new one chosen, signed in with it', async () => {
  const page = await newPage({ ...PHONE, locale: 'en-GB' });
  await page.goto(authorizeUrl());
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
  await shot(page, 'forgot-phone-en');
  // An account without any other way in is told where to go instead.
  await page.getByLabel('Username').fill('nobody-here');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByText('This account cannot be recovered online').waitFor();
  await page.getByLabel('Username').fill('rita');
  await page.getByRole('button', { name: 'Continue' }).click();
  await stepUpByEmail(idp, page, 'rita@example.invalid', 'Reset your password');
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  // A guessable password is refused with the GOV.UK error pattern.
  await page.getByLabel('New password', { exact: true }).fill('password1');
  await page.getByLabel('Type the new password again').fill('password1');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByRole('heading', { name: 'There is a problem' }).waitFor();
  assert.match(await page.title(), /^Error: /);
  assert.equal(await page.getByLabel('New password', { exact: true }).getAttribute('aria-invalid'), 'true');
  await shot(page, 'reset-refused-phone-en');
  const fresh = 'quiet river under old bridges';
  await page.getByLabel('New password', { exact: true }).fill(fresh);
  await page.getByLabel('Type the new password again').fill(fresh);
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByText('Your new password is set. Sign in with it.').waitFor();
  assert.ok(idp.outbox().some((m) => m.to === 'rita@example.invalid' && /password was changed/.test(m.body)),
    'the citizen is told');
  await page.getByLabel('Password', { exact: true }).fill(fresh);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(/^https:\/\/rp\.example\/cb/);
  await page.context().close();
});

test('the development walkthrough ends on a page that exchanges the code', async () => {
  const printed = idp.log;
  const secret = printed.match(/client_secret: (\S+)/)[1];
  const password = printed.match(/user: +demo \/ (\S+)/)[1];
  const url = printed.match(/^ +(http\S+\/authorize\?\S+)$/m)[1];
  assert.ok(url.startsWith(idp.issuer), url);
  const page = await newPage({ ...COMPUTER, locale: 'en-GB' });
  await page.goto(url);
  await signIn(page, 'demo', password);
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.getByRole('heading', { name: 'Development callback' }).waitFor();
  assert.ok(page.url().startsWith(`${idp.issuer}/dev/callback?code=`), page.url());
  await page.getByLabel('Client secret').fill(secret);
  await page.getByRole('button', { name: 'Exchange the code' }).click();
  await page.getByRole('heading', { name: 'ID token claims' }).waitFor();
  await page.getByRole('heading', { name: 'UserInfo (HTTP 200)' }).waitFor();
  const shown = await page.locator('#result').textContent();
  assert.match(shown, /"nonce": "n-0S6"/);
  assert.match(shown, /"name": "Demo Citizen"/);
  await shot(page, 'dev-callback');
  await page.context().close();
});
