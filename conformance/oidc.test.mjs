// Conformance checks run by openid-client (OpenID Certified) against a live idp:
// discovery, authorization code flow with PKCE and nonce, ID token validation (signature
// against the JWKS, with non-repudiation checks on), UserInfo, refresh, introspection,
// revocation, RP-initiated logout, the error a relying party sees for prompt=none, pushed
// authorization requests (RFC 9126), JWT access tokens (RFC 9068), DPoP (RFC 9449),
// signed request objects (RFC 9101), dynamic client registration (RFC 7591) and
// client_secret_jwt.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Idp, UserAgent } from './harness.mjs';

const REDIRECT = 'https://rp.example/cb';
const SECRET = 'conformance-secret-0123456789';
const PASSWORD = 'a long and correct password';
/** The secret of `rp-hmac` (client_secret_jwt): at least 32 bytes for HS256. */
const HMAC_SECRET = 'conformance-hmac-secret-0123456789abcdef';

let idp;
let initialAccessToken;
/** The signing key of `rp-fapi` (`--profile fapi2`: private_key_jwt, request objects). */
let fapiKey;

before(async () => {
  fapiKey = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const jwk = { ...(await crypto.subtle.exportKey('jwk', fapiKey.publicKey)), kid: 'fapi-1', alg: 'ES256' };
  const jwksFile = join(mkdtempSync(join(tmpdir(), 'rp-fapi-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'rp-fapi', '--jwks-file', jwksFile, '--redirect-uri', REDIRECT,
      '--profile', 'fapi2']);
    initialAccessToken = cli(['client', 'registration-token', '--uses', '1'])
      .match(/initial_access_token: (\S+)/)[1];
    for (const [id, alg] of [['rp-es256', 'ES256'], ['rp-rs256', 'RS256']]) {
      cli(['client', 'add', '--id', id, '--secret', SECRET, '--redirect-uri', REDIRECT,
        '--post-logout-redirect-uri', 'https://rp.example/bye', '--id-token-alg', alg]);
    }
    cli(['client', 'add', '--id', 'rp-public', '--public', '--redirect-uri', REDIRECT]);
    cli(['client', 'add', '--id', 'rp-hmac', '--secret', HMAC_SECRET, '--secret-jwt',
      '--redirect-uri', REDIRECT]);
    cli(['client', 'add', '--id', 'rp-par', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--require-par', '--access-token-format', 'jwt']);
    cli(['user', 'add', '--username', 'maria', '--password-stdin', '--email', 'maria@example.invalid',
      '--name', 'Maria Kovács'], `${PASSWORD}\n`);
  });
});

after(async () => {
  const code = await idp.stop();
  assert.equal(code, 0, `idp must shut down cleanly on SIGTERM: ${idp.log}`);
});

async function configure(clientId, alg, auth) {
  const metadata = { client_secret: SECRET, id_token_signed_response_alg: alg };
  const config = await client.discovery(new URL(idp.issuer), clientId, metadata, auth, {
    execute: [client.allowInsecureRequests],
  });
  client.enableNonRepudiationChecks(config);
  return config;
}

/** The parameters of a code request (PKCE, nonce, state) and the checks that redeem it. */
async function codeRequest(scope = 'openid profile email') {
  const codeVerifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  return {
    params: {
      redirect_uri: REDIRECT, scope, nonce, state,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
    },
    checks: { pkceCodeVerifier: codeVerifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true },
  };
}

async function signIn(config, ua, extra = {}) {
  const { params, checks } = await codeRequest();
  const url = client.buildAuthorizationUrl(config, { ...params, ...extra });
  const back = await ua.signIn(url.href, 'maria', PASSWORD);
  return client.authorizationCodeGrant(config, new URL(back), checks);
}

test('discovery document is accepted and lists what is implemented', async () => {
  const config = await configure('rp-es256', 'ES256');
  const m = config.serverMetadata();
  assert.equal(m.issuer, idp.issuer);
  assert.deepEqual(m.response_types_supported, ['code']);
  assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  assert.ok(m.id_token_signing_alg_values_supported.includes('RS256'));
  assert.equal(m.authorization_response_iss_parameter_supported, true);
});

for (const [clientId, alg, auth] of [
  ['rp-es256', 'ES256', undefined],
  ['rp-rs256', 'RS256', client.ClientSecretBasic(SECRET)],
]) {
  test(`code flow with PKCE and nonce, ${alg} ID token, UserInfo, refresh, introspection, revocation, logout`, async () => {
    const config = await configure(clientId, alg, auth);
    const ua = new UserAgent(idp.issuer);
    const tokens = await signIn(config, ua);
    const claims = tokens.claims();
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, clientId);
    // The scopes' claims come from UserInfo (OIDC Core 5.4), not in the ID token.
    assert.equal(claims.preferred_username, undefined);
    assert.equal(claims.acr, 'http://eidas.europa.eu/LoA/low');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(typeof claims.auth_time, 'number');
    assert.equal(typeof claims.sid, 'string');

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, 'maria@example.invalid');
    assert.equal(info.name, 'Maria Kovács');
    assert.equal(info.preferred_username, 'maria');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.equal(refreshed.claims().sub, claims.sub);

    const intro = await client.tokenIntrospection(config, refreshed.access_token);
    assert.equal(intro.active, true);
    assert.equal(intro.client_id, clientId);
    assert.equal(intro.acr, 'http://eidas.europa.eu/LoA/low');

    await client.tokenRevocation(config, refreshed.refresh_token);
    assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false);
    await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === 'invalid_grant');

    const logout = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: 'https://rp.example/bye',
      state: 'bye',
    });
    const res = await ua.request(logout.href);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), 'https://rp.example/bye?state=bye');
  });
}

test('a reused authorization code is refused and the replay revokes the tokens', async () => {
  const config = await configure('rp-es256', 'ES256');
  const ua = new UserAgent(idp.issuer);
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
  });
  const back = new URL(await ua.signIn(url.href, 'maria', PASSWORD));
  const checks = { pkceCodeVerifier: codeVerifier, idTokenExpected: true };
  const first = await client.authorizationCodeGrant(config, back, checks);
  await assert.rejects(client.authorizationCodeGrant(config, back, checks), (e) => e.error === 'invalid_grant');
  assert.equal((await client.tokenIntrospection(config, first.access_token)).active, false);
});

test('a public client with PKCE', async () => {
  const config = await client.discovery(new URL(idp.issuer), 'rp-public', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  config.clientMetadata().id_token_signed_response_alg = 'ES256';
  const tokens = await signIn(config, new UserAgent(idp.issuer));
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(info.preferred_username, 'maria');
});

test('client_secret_jwt: code, refresh and introspection with HMAC-signed assertions', async () => {
  const config = await client.discovery(new URL(idp.issuer), 'rp-hmac', {},
    client.ClientSecretJwt(HMAC_SECRET), { execute: [client.allowInsecureRequests] });
  assert.ok(config.serverMetadata().token_endpoint_auth_methods_supported.includes('client_secret_jwt'));
  config.clientMetadata().id_token_signed_response_alg = 'ES256';
  const tokens = await signIn(config, new UserAgent(idp.issuer));
  assert.equal(tokens.claims().aud, 'rp-hmac');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const active = await client.tokenIntrospection(config, refreshed.access_token);
  assert.equal(active.active, true);
  // The secret as a password is not this client's method.
  const basic = await client.discovery(new URL(idp.issuer), 'rp-hmac', HMAC_SECRET, undefined,
    { execute: [client.allowInsecureRequests] });
  await assert.rejects(client.refreshTokenGrant(basic, refreshed.refresh_token),
    (e) => e.status === 401);
});

test('prompt=none without a session comes back as login_required', async () => {
  const config = await configure('rp-es256', 'ES256');
  const ua = new UserAgent(idp.issuer);
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid', prompt: 'none', state,
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const back = (await ua.follow(await ua.request(url.href))).location;
  await assert.rejects(
    client.authorizationCodeGrant(config, new URL(back), { expectedState: state }),
    (e) => e.error === 'login_required',
  );
});

test('a pushed authorization request (RFC 9126), required of its client, and a JWT access token', async () => {
  const config = await configure('rp-par', 'ES256');
  const m = config.serverMetadata();
  assert.equal(m.pushed_authorization_request_endpoint, `${idp.issuer}/par`);
  const { params, checks } = await codeRequest('openid profile');
  // Without pushing, this client's request is refused, back at the client.
  const ua = new UserAgent(idp.issuer);
  const plain = client.buildAuthorizationUrl(config, params);
  const refused = new URL((await ua.follow(await ua.request(plain.href))).location);
  assert.equal(refused.searchParams.get('error'), 'invalid_request');
  const url = await client.buildAuthorizationUrlWithPAR(config, params);
  assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  const back = new URL(await ua.signIn(url.href, 'maria', PASSWORD));
  const tokens = await client.authorizationCodeGrant(config, back, checks);
  assert.equal(typeof tokens.claims().sub, 'string');
  // The access token is a JWT (RFC 9068) that UserInfo accepts.
  const [header] = tokens.access_token.split('.').slice(0, 1).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  assert.equal(header.typ, 'at+jwt');
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(info.preferred_username, 'maria');
  // The request_uri was used up.
  const again = await ua.follow(await ua.request(url.href));
  assert.equal(again.status, 400);
  assert.match(again.body, /invalid_request_uri|request_uri/);
});

test('PAR with DPoP (RFC 9449): tokens bound to the client\'s key, the server\'s nonce honoured, UserInfo and refresh with proofs', async () => {
  const config = await configure('rp-par', 'ES256');
  assert.ok(config.serverMetadata().dpop_signing_alg_values_supported.includes('ES256'));
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const { params, checks } = await codeRequest('openid profile');
  const url = await client.buildAuthorizationUrlWithPAR(config, params, { DPoP });
  const ua = new UserAgent(idp.issuer);
  const back = new URL(await ua.signIn(url.href, 'maria', PASSWORD));
  // The first token request meets use_dpop_nonce; the client retries with the nonce.
  const tokens = await client.authorizationCodeGrant(config, back, checks, undefined, { DPoP });
  assert.equal(tokens.token_type, 'dpop');
  const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url'));
  assert.match(claims.cnf.jkt, /^[A-Za-z0-9_-]{43}$/);
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
  assert.equal(info.preferred_username, 'maria');
  // Presented as a bearer token, it is refused.
  await assert.rejects(client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub));
  // Refreshed with the same key, still bound; without it, refused.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  assert.equal(refreshed.token_type, 'dpop');
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token),
    (e) => e.error === 'invalid_grant');
});

test('dynamic client registration (RFC 7591) with an initial access token, then a sign-in', async () => {
  const config = await client.dynamicClientRegistration(new URL(idp.issuer), {
    client_name: 'Registered RP',
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }, undefined, { initialAccessToken, execute: [client.allowInsecureRequests] });
  client.enableNonRepudiationChecks(config);
  const m = config.clientMetadata();
  assert.match(m.client_id, /^dyn-/);
  assert.ok(m.client_secret && m.registration_access_token && m.registration_client_uri);
  const tokens = await signIn(config, new UserAgent(idp.issuer));
  assert.equal(tokens.claims().aud, m.client_id);
  const [header] = tokens.id_token.split('.').slice(0, 1).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  assert.equal(header.alg, 'RS256');
  // The initial access token was good for one registration.
  await assert.rejects(client.dynamicClientRegistration(new URL(idp.issuer), { redirect_uris: [REDIRECT] },
    undefined, { initialAccessToken, execute: [client.allowInsecureRequests] }));
});

test('a FAPI 2.0 client: a signed request object (RFC 9101) pushed with PAR, private_key_jwt and DPoP required', async () => {
  const config = await client.discovery(new URL(idp.issuer), 'rp-fapi', {},
    client.PrivateKeyJwt({ key: fapiKey.privateKey, kid: 'fapi-1' }), { execute: [client.allowInsecureRequests] });
  assert.ok(config.serverMetadata().request_object_signing_alg_values_supported.includes('ES256'));
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const signer = { key: fapiKey.privateKey, kid: 'fapi-1' };
  // Signed as a request object, pushed, signed in: the code redeemed with a proof.
  const pushed = async (params) => client.buildAuthorizationUrlWithPAR(config,
    (await client.buildAuthorizationUrlWithJAR(config, params, signer)).searchParams, { DPoP });
  const { params, checks } = await codeRequest('openid profile');
  const url = await pushed(params);
  const back = new URL(await new UserAgent(idp.issuer).signIn(url.href, 'maria', PASSWORD));
  const tokens = await client.authorizationCodeGrant(config, back, checks, undefined, { DPoP });
  assert.equal(tokens.token_type, 'dpop');
  assert.equal(tokens.claims().aud, 'rp-fapi');
  // The same client without a proof gets nothing.
  const second = await codeRequest('openid');
  const code = new URL(await new UserAgent(idp.issuer).signIn((await pushed(second.params)).href, 'maria', PASSWORD));
  await assert.rejects(client.authorizationCodeGrant(config, code, second.checks),
    (e) => e.error === 'invalid_dpop_proof');
});
