// Every citizen page of a sign-in and of the account, in two languages and on two screens:
// the same tour through the login, its error, the forgotten-password page, consent, the
// account page, a confirmation, a step-up, the authenticator app, the password change and
// its error, contact details, the citizen's data, recovery codes, sign-out and a missing
// page, each screenshotted and checked
// with axe-core (WCAG 2.2 AA), with tap targets of 44 px on the phone. The tour finds its
// way by the pages' structure, not their words, so it runs unchanged in every language.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { Idp } from '../../conformance/harness.mjs';
import { CHROMIUM_FLAGS, PASSWORD, shot } from './support.mjs';

const REDIRECT = 'https://rp.example/cb';
const SCREENS = {
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  computer: { viewport: { width: 1280, height: 800 } },
};
/** The languages toured, with the words the checks look for. */
const LANGUAGES = {
  en: { locale: 'en-GB', error: 'Error' },
  hu: { locale: 'hu-HU', error: 'Hiba' },
};

let idp;
let browser;

before(async () => {
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'portal', '--secret', 'tour-test-secret-0123', '--redirect-uri', REDIRECT,
      '--name', 'Land registry', '--policy-uri', 'https://rp.example/privacy', '--tos-uri', 'https://rp.example/terms']);
    for (const lang of Object.keys(LANGUAGES)) {
      for (const screen of Object.keys(SCREENS)) {
        cli(['user', 'add', '--username', `tour-${lang}-${screen}`, '--password-stdin',
          '--email', `tour-${lang}-${screen}@example.invalid`], PASSWORD);
      }
    }
  }, { host: 'localhost' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
});

after(async () => {
  await browser?.close();
  await idp?.stop();
});

/** On a phone every button and link meant to be tapped is at least 44 px tall. */
async function tapTargets(page, screen) {
  if (screen !== 'phone') return;
  const small = await page.evaluate(() =>
    [...document.querySelectorAll('button, .button-link, .site-header a, .site-footer a, main li > a')]
      .filter((e) => e.offsetParent !== null)
      .map((e) => [e.textContent.trim(), Math.round(e.getBoundingClientRect().height)])
      .filter(([, h]) => h < 44));
  assert.deepEqual(small, [], 'tap targets of 44 px');
}

async function look(page, screen, name) {
  await tapTargets(page, screen);
  await shot(page, name);
}

for (const [lang, words] of Object.entries(LANGUAGES)) {
  for (const [screen, device] of Object.entries(SCREENS)) {
    test(`the citizen's pages in ${lang} on a ${screen}`, async () => {
      const name = (page) => `tour-${lang}-${screen}-${page}`;
      const user = `tour-${lang}-${screen}`;
      const context = await browser.newContext({ ...device, locale: words.locale });
      await context.route('https://rp.example/**', (route) => route.fulfill({ status: 200, body: 'relying party' }));
      const page = await context.newPage();

      await page.goto(`${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid%20profile%20email&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s1`);
      await page.locator('#password').waitFor();
      assert.equal(await page.locator('html').getAttribute('lang'), lang);
      await look(page, screen, name('login'));

      // A wrong password: the error summary links to the field, which is marked invalid.
      await page.locator('#username').fill(user);
      await page.locator('#password').fill('not the password');
      await page.locator('form[action$="/login"] button[type=submit]').click();
      await page.locator('.error-summary a[href="#password"]').waitFor();
      assert.ok((await page.title()).startsWith(`${words.error}: `), await page.title());
      assert.equal(await page.locator('#password').getAttribute('aria-invalid'), 'true');
      await look(page, screen, name('login-error'));

      await page.locator('a[href$="forgot=1"]').click();
      await page.locator('form[action$="/forgot"]').waitFor();
      await look(page, screen, name('forgot'));
      await page.locator('a[href$="factor=password"]').click();

      await page.locator('#username').fill(user);
      await page.locator('#password').fill(PASSWORD);
      await page.locator('form[action$="/login"] button[type=submit]').click();
      await page.locator('button[value=allow]').waitFor();
      await look(page, screen, name('consent'));
      await page.locator('button[value=allow]').click();
      await page.waitForURL(/^https:\/\/rp\.example\/cb/);

      await page.goto(`${idp.issuer}/account`);
      await page.locator('ul.activity').waitFor();
      assert.equal(await page.locator('html').getAttribute('lang'), lang);
      await look(page, screen, name('account'));
      await page.locator('a[href^="/account/confirm?action=withdraw"]').click();
      await page.locator('button.danger').waitFor();
      await look(page, screen, name('confirm'));
      await page.locator('main a[href="/account"]').click();
      await page.locator('ul.activity').waitFor();

      // Changing a sign-in method needs a fresh step-up: a code by e-mail.
      await page.locator('form[action="/account/totp/start"] button').click();
      await page.locator('form[action$="/code"], a[href$="factor=email"]').first().waitFor();
      if (await page.locator('a[href$="factor=email"]').count()) await page.locator('a[href$="factor=email"]').click();
      await look(page, screen, name('step-up'));
      const seen = new Set(idp.outbox().map((m) => m.body));
      await page.locator('form[action$="/code"] button').click();
      await page.locator('#code').waitFor();
      const mail = idp.outbox().find((m) => m.to === `${user}@example.invalid` && !seen.has(m.body) && /\b\d{6}\b/.test(m.body));
      await page.locator('#code').fill(mail.body.match(/\b(\d{6})\b/)[1]);
      await page.locator('form[action$="/factor"] button[type=submit]').click();
      await page.locator('ul.activity').waitFor();
      await page.locator('form[action="/account/totp/start"] button').click();
      await page.locator('#totp-key').waitFor();
      await look(page, screen, name('totp'));

      await page.goto(`${idp.issuer}/account/password`);
      await look(page, screen, name('password'));
      await page.locator('#new-password').fill('quiet river under old bridges');
      await page.locator('#confirm-password').fill('something else entirely');
      await page.locator('form[action="/account/password"] button[type=submit]').click();
      await page.locator('.error-summary a[href="#confirm-password"]').waitFor();
      assert.ok((await page.title()).startsWith(`${words.error}: `), await page.title());
      await look(page, screen, name('password-error'));

      await page.goto(`${idp.issuer}/account/contact?what=email`);
      await look(page, screen, name('contact'));
      await page.goto(`${idp.issuer}/account/data`);
      await look(page, screen, name('data'));
      await page.goto(`${idp.issuer}/account`);
      await page.locator('form[action="/account/recovery"] button').click();
      await page.locator('#codes').waitFor();
      await look(page, screen, name('recovery-codes'));
      await page.locator('a[href="/account?changed=recovery"]').click();
      await page.locator('ul.activity').waitFor();

      await page.goto(`${idp.issuer}/logout`);
      await page.locator('form[action="/logout/confirm"]').waitFor();
      await look(page, screen, name('logout'));
      await page.locator('form[action="/logout/confirm"] button[type=submit]').click();
      await page.locator('main a[href="/account"]').waitFor();
      await look(page, screen, name('signed-out'));

      // A way back to the service from the sign-in: it hears access_denied.
      await page.goto(`${idp.issuer}/authorize?client_id=portal&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s2`);
      await page.locator('form.way-back button').click();
      await page.waitForURL(/^https:\/\/rp\.example\/cb/);
      const back = new URL(page.url());
      assert.equal(back.searchParams.get('error'), 'access_denied');
      assert.equal(back.searchParams.get('state'), 's2');

      const missing = await page.goto(`${idp.issuer}/no/such/page`);
      assert.equal(missing.status(), 404);
      await look(page, screen, name('not-found'));
      await context.close();
    });
  }
}
