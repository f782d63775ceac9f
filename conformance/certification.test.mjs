// A certification-style run: for each test module of the OpenID Foundation's Basic OP plan
// (oidcc-basic-certification-test-plan, static client, discovered metadata) and Config OP
// plan, a check with the module's name and its expectations, driven by openid-client
// (OpenID Certified) and a browser stand-in. It writes conformance/RESULTS.md.
//
// Results are the suite's: PASSED, WARNING (accepted for certification), SKIPPED (the
// suite skips the module for what this provider advertises), REVIEW (the suite ends the
// module by asking a person to look at a screenshot of a page the provider must show; the
// harness checks what can be checked automatically: the page is shown and nothing is
// redirected), FAILED.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { Idp, UserAgent } from './harness.mjs';

const REDIRECT = 'https://rp.example/cb';
const SECRET = 'certification-secret-0123456789';
const PASSWORD = 'a long and correct password';
const BASIC = 'Basic OP';
const CONFIG = 'Config OP';

let idp;
/** Seconds the provider's clock was moved forward (the client tolerates as much skew). */
let advanced = 0;
const results = [];

before(async () => {
  idp = await Idp.start((cli) => {
    // The suite's static clients: client, client2 (client_secret_basic), and one for
    // client_secret_post.
    for (const id of ['rp-basic', 'rp-basic2', 'rp-post']) {
      cli(['client', 'add', '--id', id, '--secret', SECRET, '--redirect-uri', REDIRECT,
        '--scope', 'openid', '--scope', 'profile', '--scope', 'email', '--scope', 'phone']);
    }
    cli(['user', 'add', '--username', 'maria', '--password-stdin', '--email', 'maria@example.invalid',
      '--email-verified', '--phone', '+36301234567', '--name', 'Maria Kovács'], `${PASSWORD}\n`);
  }, { testClock: true });
});

after(async () => {
  await idp.stop();
  writeFileSync(join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md'), report());
});

/** Registers a check named as the suite's module; `run` returns its result and a note. */
function module(plan, name, run) {
  test(`${plan}: ${name}`, async () => {
    try {
      const outcome = await run();
      results.push({ plan, name, ...outcome });
    } catch (e) {
      results.push({ plan, name, result: 'FAILED', note: String(e.message).split('\n')[0].slice(0, 160) });
      throw e;
    }
  });
}
const passed = (note = '') => ({ result: 'PASSED', note });
const warning = (note) => ({ result: 'WARNING', note });
const skipped = (note) => ({ result: 'SKIPPED', note });
const review = (note) => ({ result: 'REVIEW', note });

async function configure(clientId = 'rp-basic', auth = client.ClientSecretBasic(SECRET)) {
  const config = await client.discovery(new URL(idp.issuer), clientId, { client_secret: SECRET }, auth,
    { execute: [client.allowInsecureRequests] });
  config.clientMetadata().id_token_signed_response_alg = 'ES256';
  config[client.clockSkew] = -advanced;
  client.enableNonRepudiationChecks(config);
  return config;
}

/** An authorization request as the suite makes it: scope openid, state and nonce, no PKCE. */
function request(extra = {}) {
  const state = client.randomState();
  const nonce = client.randomNonce();
  return {
    params: { redirect_uri: REDIRECT, scope: 'openid', state, nonce, ...extra },
    checks: { expectedState: state, expectedNonce: extra.nonce === undefined ? nonce : extra.nonce, idTokenExpected: true },
  };
}

/** Signs in (a fresh browser unless one is given) and redeems the code. */
async function flow(config, extra = {}, ua = new UserAgent(idp.issuer)) {
  const { params, checks } = request(extra);
  const url = client.buildAuthorizationUrl(config, params);
  const back = new URL(await ua.signIn(url.href, 'maria', PASSWORD));
  const tokens = await client.authorizationCodeGrant(config, back, checks);
  return { tokens, back, ua, claims: tokens.claims() };
}

/** Where the provider sends the browser for `url`: a redirect out, or a page it shows. */
async function land(ua, url) {
  return ua.follow(await ua.request(url));
}

async function userinfo(token, init = {}) {
  const res = await fetch(`${idp.issuer}/userinfo`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers || {}) },
  });
  return { status: res.status, type: res.headers.get('content-type') || '', body: await res.json().catch(() => null) };
}

async function scopeModule(scope) {
  const config = await configure();
  const supported = config.serverMetadata().scopes_supported;
  const missing = scope.split(' ').filter((s) => !supported.includes(s));
  if (missing.length) return skipped(`scopes_supported lacks ${missing.join(', ')}`);
  const { tokens, claims } = await flow(config, { scope });
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const expected = { profile: 'name', email: 'email', phone: 'phone_number' };
  for (const s of scope.split(' ')) {
    if (expected[s]) assert.ok(info[expected[s]] !== undefined, `${s}: ${JSON.stringify(info)}`);
  }
  assert.equal(info.name === undefined, !scope.includes('profile'), 'name only with profile');
  if (scope.includes('email') && claims.email !== undefined) {
    return warning('the e-mail address is in the ID token as well as UserInfo (OIDC Core 5.4 puts scope claims in UserInfo when an access token is issued)');
  }
  return passed(`UserInfo releases ${scope.split(' ').filter((s) => expected[s]).map((s) => expected[s]).join(', ')}`);
}

// ---- Basic OP, in the plan's order (oidcc-idtoken-signature, oidcc-idtoken-unsigned and
// oidcc-request-uri-unsigned-... run only with a dynamically registered client).

module(BASIC, 'oidcc-server', async () => {
  const config = await configure();
  const jwks = await (await fetch(config.serverMetadata().jwks_uri)).json();
  const kids = jwks.keys.map((k) => k.kid);
  assert.ok(kids.every(Boolean), 'every key has a kid');
  assert.equal(new Set(kids).size, kids.length, 'kids are distinct');
  assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported.includes('client_secret_basic'));
  const { tokens, back, claims } = await flow(config);
  assert.ok(back.searchParams.get('code').length >= 22, 'code length');
  assert.equal(back.searchParams.get('iss'), idp.issuer);
  assert.ok(tokens.access_token && typeof tokens.expires_in === 'number');
  for (const c of ['iss', 'aud', 'exp', 'iat', 'auth_time', 'sub', 'nonce']) assert.ok(claims[c] !== undefined, c);
  assert.equal(claims.name, undefined, 'no claim that was not requested');
  const info = await userinfo(tokens.access_token);
  assert.equal(info.status, 200);
  return passed();
});

module(BASIC, 'oidcc-response-type-missing', async () => {
  const config = await configure();
  const { params } = request();
  const url = client.buildAuthorizationUrl(config, params);
  url.searchParams.delete('response_type');
  const page = await land(new UserAgent(idp.issuer), url.href);
  if (page.location) {
    const back = new URL(page.location);
    assert.ok(['invalid_request', 'unsupported_response_type'].includes(back.searchParams.get('error')));
    assert.equal(back.searchParams.get('state'), params.state);
    assert.equal(back.searchParams.get('code'), null);
    return passed(`redirected back with ${back.searchParams.get('error')}`);
  }
  assert.ok(page.status >= 400, `an error page: ${page.status}`);
  return review('error page shown (the suite asks for a screenshot)');
});

for (const [name, how] of [
  ['oidcc-userinfo-get', 'GET'],
  ['oidcc-userinfo-post-header', 'POST header'],
  ['oidcc-userinfo-post-body', 'POST body'],
]) {
  module(BASIC, name, async () => {
    const { tokens, claims } = await flow(await configure());
    const token = tokens.access_token;
    const res = how === 'GET'
      ? await userinfo(token)
      : how === 'POST header'
        ? await userinfo(token, { method: 'POST' })
        : await fetch(`${idp.issuer}/userinfo`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ access_token: token }),
        }).then(async (r) => ({ status: r.status, type: r.headers.get('content-type') || '', body: await r.json() }));
    assert.equal(res.status, 200);
    assert.match(res.type, /^application\/json/);
    assert.equal(res.body.sub, claims.sub);
    return passed();
  });
}

module(BASIC, 'oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
  const config = await configure();
  const { params } = request();
  delete params.nonce;
  const url = client.buildAuthorizationUrl(config, params);
  const back = new URL(await new UserAgent(idp.issuer).signIn(url.href, 'maria', PASSWORD));
  assert.ok(back.searchParams.get('code'));
  assert.equal(back.searchParams.get('state'), params.state);
  return passed();
});

module(BASIC, 'oidcc-scope-profile', () => scopeModule('openid profile'));
module(BASIC, 'oidcc-scope-email', () => scopeModule('openid email'));
module(BASIC, 'oidcc-scope-address', () => scopeModule('openid address'));
module(BASIC, 'oidcc-scope-phone', () => scopeModule('openid phone'));
module(BASIC, 'oidcc-scope-all', () => scopeModule('openid email phone address profile'));

module(BASIC, 'oidcc-alternate-happy-flow', async () => {
  const config = await configure();
  const state = client.randomState();
  const nonce = client.randomNonce();
  // The scope in reverse order and the parameters in another order.
  const url = new URL(config.serverMetadata().authorization_endpoint);
  url.search = new URLSearchParams({
    nonce, state, scope: 'email openid', redirect_uri: REDIRECT, client_id: 'rp-basic', response_type: 'code',
  });
  const back = new URL(await new UserAgent(idp.issuer).signIn(url.href, 'maria', PASSWORD));
  const tokens = await client.authorizationCodeGrant(config, back, { expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(info.email, 'maria@example.invalid');
  return passed();
});

for (const display of ['page', 'popup']) {
  module(BASIC, `oidcc-display-${display}`, async () => {
    await flow(await configure(), { display });
    return passed();
  });
}

module(BASIC, 'oidcc-prompt-login', async () => {
  const config = await configure();
  const first = await flow(config);
  await advance(2);
  const { params, checks } = request({ prompt: 'login' });
  const url = client.buildAuthorizationUrl(await configure(), params);
  const page = await land(first.ua, url.href);
  assert.ok(!page.location && page.body.includes('/login'), 'the sign-in page is shown again');
  const back = new URL(await first.ua.signIn(url.href, 'maria', PASSWORD));
  const second = (await client.authorizationCodeGrant(await configure(), back, checks)).claims();
  assert.ok(second.auth_time > first.claims.auth_time, 'auth_time is later');
  return review('the sign-in page is shown again and auth_time is later; the suite asks for a screenshot of the page');
});

module(BASIC, 'oidcc-prompt-none-not-logged-in', async () => {
  const state = 'x'.repeat(128);
  const url = client.buildAuthorizationUrl(await configure(), { ...request().params, state, prompt: 'none' });
  const page = await land(new UserAgent(idp.issuer), url.href);
  const back = new URL(page.location);
  assert.ok(['login_required', 'interaction_required', 'account_selection_required', 'consent_required']
    .includes(back.searchParams.get('error')));
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('code'), null);
  return passed(back.searchParams.get('error'));
});

/** A second, silent request in the same browser; returns its ID token's claims. */
async function silently(ua, extra) {
  const config = await configure();
  const { params, checks } = request(extra);
  const url = client.buildAuthorizationUrl(config, params);
  const page = await land(ua, url.href);
  assert.ok(page.location, `no interaction: ${page.status}`);
  return (await client.authorizationCodeGrant(config, new URL(page.location), checks)).claims();
}

module(BASIC, 'oidcc-prompt-none-logged-in', async () => {
  const first = await flow(await configure());
  const second = await silently(first.ua, { prompt: 'none' });
  assert.equal(second.sub, first.claims.sub);
  assert.equal(second.auth_time, first.claims.auth_time);
  return passed();
});

module(BASIC, 'oidcc-max-age-1', async () => {
  const first = await flow(await configure());
  await advance(2);
  const config = await configure();
  const { params, checks } = request({ max_age: '1' });
  const url = client.buildAuthorizationUrl(config, params);
  const page = await land(first.ua, url.href);
  assert.ok(!page.location && page.body.includes('/login'), 'the sign-in page is shown again');
  const back = new URL(await first.ua.signIn(url.href, 'maria', PASSWORD));
  const second = (await client.authorizationCodeGrant(config, back, { ...checks, maxAge: 1 })).claims();
  assert.ok(second.auth_time > first.claims.auth_time, 'auth_time is later');
  return review('the sign-in page is shown again and auth_time is later; the suite asks for a screenshot of the page');
});

module(BASIC, 'oidcc-max-age-10000', async () => {
  const first = await flow(await configure(), { max_age: '15000' });
  assert.equal(typeof first.claims.auth_time, 'number');
  const second = await silently(first.ua, { max_age: '10000' });
  assert.equal(second.auth_time, first.claims.auth_time);
  assert.equal(second.sub, first.claims.sub);
  return passed();
});

module(BASIC, 'oidcc-ensure-request-with-unknown-parameter-succeeds', async () => {
  await flow(await configure(), { extra: 'foobar' });
  return passed();
});

module(BASIC, 'oidcc-id-token-hint', async () => {
  const first = await flow(await configure());
  const second = await silently(first.ua, { prompt: 'none', id_token_hint: first.tokens.id_token });
  assert.equal(second.sub, first.claims.sub);
  return passed();
});

module(BASIC, 'oidcc-login-hint', async () => {
  await flow(await configure(), { login_hint: `buffy@${new URL(idp.issuer).hostname}` });
  return passed();
});

module(BASIC, 'oidcc-ui-locales', async () => {
  await flow(await configure(), { ui_locales: 'se' });
  return passed();
});

module(BASIC, 'oidcc-claims-locales', async () => {
  await flow(await configure(), { claims_locales: 'se' });
  return passed();
});

module(BASIC, 'oidcc-ensure-request-with-acr-values-succeeds', async () => {
  const config = await configure();
  const values = config.serverMetadata().acr_values_supported;
  const { claims } = await flow(config, { acr_values: values.join(' ') });
  assert.ok(values.includes(claims.acr), `acr ${claims.acr}`);
  return passed(`acr ${claims.acr}`);
});

/** Redeems `back`'s code again with rp-basic's credentials; the raw answer. */
async function redeemAgain(back) {
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`rp-basic:${SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: back.searchParams.get('code'), redirect_uri: REDIRECT }),
  });
  return { status: res.status, body: await res.json() };
}

module(BASIC, 'oidcc-codereuse', async () => {
  const { back } = await flow(await configure());
  const again = await redeemAgain(back);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant');
  return passed();
});

module(BASIC, 'oidcc-codereuse-30seconds', async () => {
  const { back, tokens } = await flow(await configure());
  await advance(30);
  const again = await redeemAgain(back);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant');
  const info = await userinfo(tokens.access_token);
  assert.equal(info.status, 401, 'the tokens of a replayed code are revoked');
  return passed();
});

module(BASIC, 'oidcc-ensure-registered-redirect-uri', async () => {
  const config = await configure();
  const { params } = request({ redirect_uri: `${REDIRECT}${client.randomState()}` });
  const page = await land(new UserAgent(idp.issuer), client.buildAuthorizationUrl(config, params).href);
  assert.equal(page.location, undefined, 'no redirect to an unregistered URI, nor back');
  assert.ok(page.status >= 400, `an error page: ${page.status}`);
  return review('an error page is shown and nothing redirected; the suite asks for a screenshot of it');
});

module(BASIC, 'oidcc-ensure-post-request-succeeds', async () => {
  const config = await configure();
  const { params, checks } = request();
  const ua = new UserAgent(idp.issuer);
  const body = new URLSearchParams({ client_id: 'rp-basic', response_type: 'code', ...params });
  const page = await ua.follow(await ua.request(config.serverMetadata().authorization_endpoint, { method: 'POST', body }));
  const back = await ua.complete(page, 'maria', PASSWORD);
  await client.authorizationCodeGrant(config, new URL(back), checks);
  return passed();
});

module(BASIC, 'oidcc-server-client-secret-post', async () => {
  const config = await configure('rp-post', client.ClientSecretPost(SECRET));
  assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported.includes('client_secret_post'));
  await flow(config);
  return passed();
});

/** The suite skips request objects signed with `none` when the provider does not list it. */
function unsignedObjectsAdvertised() {
  return configure().then((c) => {
    const algs = c.serverMetadata().request_object_signing_alg_values_supported;
    return algs === undefined || algs.includes('none');
  });
}

module(BASIC, 'oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported', async () => {
  assert.equal(await unsignedObjectsAdvertised(), false);
  return skipped('request_object_signing_alg_values_supported lacks none: unsigned request objects are refused');
});

module(BASIC, 'oidcc-claims-essential', async () => {
  const config = await configure();
  const claims = JSON.stringify({ userinfo: { name: { essential: true } } });
  const { tokens } = await flow(config, { claims });
  assert.equal(tokens.claims().name, undefined, 'not in the ID token');
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  if (info.name === undefined) {
    return warning('name is released only with the profile scope the citizen consented to, not by the claims parameter alone');
  }
  return passed();
});

module(BASIC, 'oidcc-ensure-request-object-with-redirect-uri', async () => {
  assert.equal(await unsignedObjectsAdvertised(), false);
  return skipped('request_object_signing_alg_values_supported lacks none');
});

module(BASIC, 'oidcc-refresh-token', async () => {
  const config = await configure();
  const { tokens, claims } = await flow(config);
  assert.ok(tokens.refresh_token, 'a refresh token');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal(refreshed.token_type.toLowerCase(), 'bearer');
  assert.equal(typeof refreshed.expires_in, 'number');
  const again = refreshed.claims();
  for (const c of ['iss', 'sub', 'aud', 'auth_time']) assert.deepEqual(again[c], claims[c], c);
  // client2's refresh token with client1's credentials.
  const other = await flow(await configure('rp-basic2'));
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`rp-basic:${SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: other.tokens.refresh_token }),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, 'invalid_grant');
  return passed();
});

module(BASIC, 'oidcc-ensure-request-with-valid-pkce-succeeds', async () => {
  const config = await configure();
  const verifier = client.randomPKCECodeVerifier();
  const { params, checks } = request({ code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const back = new URL(await new UserAgent(idp.issuer).signIn(client.buildAuthorizationUrl(config, params).href, 'maria', PASSWORD));
  await client.authorizationCodeGrant(config, back, { ...checks, pkceCodeVerifier: verifier });
  return passed();
});

// ---- Config OP

module(CONFIG, 'oidcc-discovery-endpoint-verification', async () => {
  const url = `${idp.issuer}/.well-known/openid-configuration`;
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const m = await res.json();
  assert.equal(m.issuer, url.replace('/.well-known/openid-configuration', ''));
  assert.ok(m.response_types_supported.includes('code'));
  assert.ok(m.subject_types_supported.some((s) => ['public', 'pairwise'].includes(s)));
  assert.ok(m.id_token_signing_alg_values_supported.includes('RS256'));
  for (const e of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'registration_endpoint']) {
    assert.ok(new URL(m[e]).href.startsWith(idp.issuer), e);
  }
  const jwks = await (await fetch(m.jwks_uri)).json();
  assert.ok(jwks.keys.length > 0);
  assert.ok(m.request_object_signing_alg_values_supported.includes('RS256'));
  assert.ok(Array.isArray(m.claims_supported) && m.claims_supported.length > 0);
  assert.ok(m.grant_types_supported.length > 0);
  assert.ok(m.scopes_supported.includes('openid'));
  assert.ok(Array.isArray(m.code_challenge_methods_supported));
  for (const l of m.ui_locales_supported || []) assert.match(l, /^[a-z]{2}(-[A-Z]{2})?$/);
  return passed('the issuer here is the http loopback development issuer: the suite also requires https, which a deployment has');
});

async function advance(seconds) {
  await idp.advanceClock(seconds);
  advanced += seconds;
}

function report() {
  const lines = [
    '# Conformance: certification-style results',
    '',
    'Written by `node --test conformance/certification.test.mjs` (part of `tests/run`): each',
    "row is a check named as a test module of the OpenID Foundation's conformance suite, with",
    "that module's expectations, run against the real `idp` binary by openid-client (OpenID",
    'Certified) and a browser stand-in. Results are those the suite gives: PASSED; WARNING and',
    'SKIPPED (both accepted for certification); REVIEW, where the suite ends the module by',
    'asking a person to look at a screenshot of a page the provider must show (the harness',
    'checks that the page is shown and that nothing is redirected); FAILED.',
    '',
    'Basic OP runs as the suite runs it with a static client and discovered metadata (code',
    'flow, `client_secret_basic`; `client_secret_post` for its module); the three modules it',
    'runs only with a dynamically registered client are in the Dynamic OP plan, which, like the',
    'Form Post, logout and FAPI 2.0 plans, is not in this harness yet.',
    '',
  ];
  for (const plan of [BASIC, CONFIG]) {
    const rows = results.filter((r) => r.plan === plan);
    const count = (r) => rows.filter((x) => x.result === r).length;
    lines.push(`## ${plan}`, '');
    lines.push(`${rows.length} modules: ${['PASSED', 'WARNING', 'SKIPPED', 'REVIEW', 'FAILED']
      .map((r) => `${count(r)} ${r}`).join(', ')}.`, '');
    lines.push('| module | result | note |', '| --- | --- | --- |');
    for (const r of rows) lines.push(`| \`${r.name}\` | ${r.result} | ${r.note || ''} |`);
    lines.push('');
  }
  return lines.join('\n');
}
