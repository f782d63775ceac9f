// The FAPI 2.0 Security Profile plan (fapi2-security-profile-final-test-plan) of the
// OpenID Foundation's conformance suite, as certification.test.mjs runs it: plain FAPI,
// OpenID Connect, private_key_jwt client authentication, DPoP sender-constrained tokens,
// unsigned pushed authorization requests, plain responses. Each check has a module's name
// and its expectations; the clients (`--profile fapi2`) are made here with the suite's
// requests written out by hand, since many modules spoil one part of them. The resource
// the suite calls with its tokens is the provider's UserInfo endpoint.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserAgent, hidden, signJws as sign, signingKey } from './harness.mjs';

export const FAPI2 = 'FAPI 2.0 Security Profile';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The module names' common prefix. */
const P = 'fapi2-security-profile-final-';

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
export const random = (n = 16) => randomBytes(n).toString('base64url');
/** The RFC 7638 thumbprint of an EC public JWK. */
function thumbprint(jwk) {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A thumbprint with every byte changed: well formed, of no key. */
function spoiled(jkt) {
  return Buffer.from(Buffer.from(jkt, 'base64url').map((b) => b ^ 0x5a)).toString('base64url');
}

/** A DPoP key of the client's (ES256). */
async function dpopKey() {
  const key = await signingKey('ES256');
  const { alg: _, ...jwk } = key.jwk;
  return { ...key, jwk, jkt: thumbprint(jwk) };
}

export const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** An authorization request as the suite makes it: the parameters, and the PKCE verifier. */
export function request(client, extra = {}) {
  const verifier = random(96);
  const params = clean({
    response_type: 'code', client_id: client.id, redirect_uri: client.redirect, scope: 'openid profile',
    state: random(8), nonce: random(8), code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256', ...extra,
  });
  return { params, verifier };
}

/**
 * Defines the plan's modules with `h`, the certification run: `module(plan, name, run)`,
 * the result kinds, `idp()`, `now()` (the provider's clock, which the run moves),
 * `advance(seconds)`, `verified(jwt)`, `REDIRECT` and `PASSWORD`. Returns `setup(cli)`,
 * which registers the plan's clients before the provider starts, and `keys()`, which
 * makes their keys first.
 */
export function fapi2Plan(h) {
  const { module, passed, warning, skipped, review } = h;
  const clients = {};
  /** The provider's latest DPoP nonce, as the suite keeps it. */
  let asNonce;
  const issuer = () => h.idp().issuer;
  const url = (path) => `${issuer()}${path}`;

  async function keys() {
    const dir = mkdtempSync(join(tmpdir(), 'fapi2-'));
    for (const [id, alg, redirect] of [
      ['fapi-1', 'ES256', h.REDIRECT],
      ['fapi-2', 'ES256', `${h.REDIRECT}?dummy1=lorem&dummy2=ipsum`],
      ['fapi-ps', 'PS256', h.REDIRECT],
    ]) {
      const key = await signingKey(alg, `${id}-key`);
      const file = join(dir, `${id}.json`);
      writeFileSync(file, JSON.stringify({ keys: [key.jwk] }));
      clients[id] = { id, key, redirect, file };
    }
  }

  function setup(cli) {
    for (const c of Object.values(clients)) {
      cli(['client', 'add', '--id', c.id, '--jwks-file', c.file, '--redirect-uri', c.redirect,
        '--profile', 'fapi2', '--scope', 'openid', '--scope', 'profile', '--scope', 'email']);
    }
  }

  /**
   * A request to the provider; with `dpop`, a proof of that key (and the provider's nonce,
   * asked for once as the suite does). `form` may be a function, called for each attempt
   * (a client assertion is used once).
   */
  async function call(path, { method = 'POST', form, headers = {}, dpop, proofWith = {} } = {}) {
    const target = url(path);
    for (let attempt = 0; ; attempt++) {
      const all = { ...headers };
      const body = typeof form === 'function' ? await form() : form;
      if (body) all['content-type'] = 'application/x-www-form-urlencoded';
      if (dpop) all.dpop = await proof(dpop, method, target, { nonce: asNonce, ...proofWith });
      const res = await fetch(target, { method, headers: all, body: body && new URLSearchParams(clean(body)) });
      if (res.headers.get('dpop-nonce')) asNonce = res.headers.get('dpop-nonce');
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (dpop && attempt === 0 && res.status === 400 && json?.error === 'use_dpop_nonce') continue;
      return { status: res.status, body: json, headers: res.headers, type: res.headers.get('content-type') || '' };
    }
  }

  /** A DPoP proof; `header`, `claims` are added, `drop` lists members left out. */
  async function proof(key, htm, htu, { nonce, ath, iat = 0, header = {}, claims = {}, drop = [], signer = key } = {}) {
    const h0 = clean({ typ: 'dpop+jwt', jwk: key.jwk, ...header });
    const c0 = clean({ jti: random(), htm, htu, iat: h.now() + iat, nonce, ath, ...claims });
    for (const d of drop) {
      delete h0[d];
      delete c0[d];
    }
    return sign(signer, h0, c0);
  }

  /** A client assertion of `client`'s, with the suite's claims as `over` changes them. */
  async function assertion(client, over = {}, alg) {
    const now = h.now();
    const claims = clean({
      iss: client.id, sub: client.id, aud: issuer(), jti: random(), iat: now, nbf: now, exp: now + 60, ...over,
    });
    return sign(client.key, { kid: client.key.kid }, claims, alg);
  }

  const authentication = async (client, over, alg) => ({
    client_id: client.id, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(client, over, alg),
  });

  function par(client, params, { dpop, proofWith, assertionWith, method } = {}) {
    return call('/par', { method, form: async () => ({ ...params, ...(await authentication(client, assertionWith)) }), dpop, proofWith });
  }

  function pushed(res) {
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.type, /^application\/json/);
    assert.ok(res.body.expires_in >= 5 && res.body.expires_in < 31536000, 'expires_in');
    return res.body.request_uri;
  }

  /** The front-channel URL with `query`. */
  const front = (query) => `${url('/authorize')}?${new URLSearchParams(clean(query))}`;

  /** Where the browser lands for `target`: `out` (a URL back at the client) or a page. */
  async function land(ua, target) {
    const page = await ua.follow(await ua.request(target));
    return { ...page, out: page.location && new URL(page.location) };
  }

  /** Signs maria in through the pages; the URL the browser is sent back to. */
  async function signIn(target, ua = new UserAgent(issuer())) {
    return new URL(await ua.signIn(target, 'maria', h.PASSWORD));
  }

  /** A successful authorization response (code flow with `iss`, RFC 9207). */
  function authorized(back, sent, client) {
    const q = back.searchParams;
    assert.equal(q.get('error'), null, `error ${q.get('error')}: ${q.get('error_description')}`);
    assert.equal(q.get('iss'), issuer(), 'iss');
    assert.equal(q.get('state'), sent.state ?? null, 'state');
    assert.ok(Buffer.from(q.get('code') || '', 'base64url').length >= 16, 'a code of at least 128 bits');
    if (client.redirect.includes('dummy1')) assert.equal(q.get('dummy1'), 'lorem', "the redirect URI's own query");
    assert.equal(back.hash, '', 'nothing in the fragment');
    return q.get('code');
  }

  function redeem(client, code, verifier, dpop, { redirect = client.redirect, assertionWith, proofWith, omit = [] } = {}) {
    return call('/token', {
      dpop,
      proofWith,
      form: async () => {
        const form = { grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier, ...(await authentication(client, assertionWith)) };
        for (const o of omit) delete form[o];
        return form;
      },
    });
  }

  /** The token response of a successful redemption, its ID token checked as the suite does. */
  async function tokensOf(res, client, sent) {
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const t = res.body;
    assert.ok(t.access_token && Buffer.from(t.access_token, 'base64url').length >= 16, 'access token');
    assert.equal(t.token_type.toLowerCase(), 'dpop', 'token_type');
    assert.ok(t.expires_in > 0 && t.expires_in <= 31536000, 'expires_in');
    const idToken = await h.verified(t.id_token);
    const head = JSON.parse(Buffer.from(t.id_token.split('.')[0], 'base64url'));
    assert.ok(['PS256', 'ES256', 'EdDSA'].includes(head.alg) && head.kid, 'ID token algorithm and kid');
    assert.equal(idToken.iss, issuer());
    assert.ok([idToken.aud].flat().includes(client.id), 'aud');
    assert.equal(idToken.nonce, sent.nonce, 'nonce');
    assert.ok(idToken.sub, 'sub');
    return { ...t, idToken };
  }

  /** The resource call (UserInfo, GET) with a proof of `dpop` for the token. */
  async function resource(token, dpop, { scheme = 'DPoP', headers = {}, proofWith = {}, signer } = {}) {
    const target = url('/userinfo');
    const ath = createHash('sha256').update(token).digest('base64url');
    const all = { authorization: `${scheme} ${token}`, accept: 'application/json', ...headers };
    if (dpop) all.dpop = await proof(dpop, 'GET', target, { ath, signer, ...proofWith });
    const res = await fetch(target, { headers: all });
    return { status: res.status, date: res.headers.get('date'), body: await res.json().catch(() => null) };
  }

  function resourceServed(res) {
    assert.ok([200, 201].includes(res.status), `resource: ${res.status}`);
    assert.ok(Math.abs(Date.parse(res.date) - Date.now()) < 300_000, 'a Date header');
  }

  /**
   * The flow of the plan: PAR (with `parWith` options and `extra` parameters), the browser
   * with only client_id and request_uri, the code redeemed with a DPoP proof, the resource
   * called. Returns what it got.
   */
  async function flow(client = clients['fapi-1'], { extra = {}, parWith = {}, frontWith = {}, dpop, proofWith } = {}) {
    const { params, verifier } = request(client, extra);
    const requestUri = pushed(await par(client, params, parWith));
    const back = await signIn(front({ client_id: client.id, request_uri: requestUri, ...frontWith }));
    const code = authorized(back, params, client);
    const key = dpop ?? parWith.dpop ?? await dpopKey();
    const tokens = await tokensOf(await redeem(client, code, verifier, key, { proofWith }), client, params);
    resourceServed(await resource(tokens.access_token, key, { proofWith }));
    return { params, verifier, requestUri, code, key, tokens, back };
  }

  /** A refusal at the PAR endpoint: 400 and one of `errors`. */
  function parRefused(res, errors) {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.type, /^application\/json/);
    assert.ok(errors.includes(res.body?.error), `error ${res.body?.error}`);
    return passed(`PAR answers ${res.body.error}`);
  }

  /** A refusal at the token endpoint: 400 (401 for invalid_client), JSON, one of `errors`. */
  function tokenRefused(res, errors) {
    const ok = res.status === 400 || (res.status === 401 && res.body?.error === 'invalid_client');
    assert.ok(ok, `status ${res.status}: ${JSON.stringify(res.body)}`);
    assert.match(res.type, /^application\/json/);
    assert.ok(errors.includes(res.body.error), `error ${res.body.error}`);
    assert.match(res.body.error, /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/);
    if (/[\r\n\t]/.test(res.body.error_description || '')) return warning('error_description has CR, LF or TAB');
    return passed(`${res.status} ${res.body.error}`);
  }

  /**
   * What the authorization endpoint did with a request it must refuse: an error back at
   * the client (one of `errors`, the state kept) or an error page the suite asks a person
   * to look at.
   */
  function authRefused(page, errors, state) {
    if (page.out) {
      const q = page.out.searchParams;
      assert.equal(q.get('code'), null, 'no code');
      assert.ok(errors.includes(q.get('error')), `error ${q.get('error')}`);
      if (q.get('state') !== null || state !== undefined) assert.equal(q.get('state'), state ?? null, 'state');
      return passed(`redirected back with ${q.get('error')}`);
    }
    assert.ok(page.status >= 400, `an error page: ${page.status}`);
    return review('an error page is shown and nothing redirected; the suite asks for a screenshot of it');
  }

  const fapi = (name, run, options) => module(FAPI2, `${P}${name}`, run, options);

  // ---- the plan, in its order

  fapi('discovery-end-point-verification', async () => {
    const res = await fetch(url('/.well-known/openid-configuration'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const m = await res.json();
    assert.equal(m.issuer, issuer());
    assert.ok(m.response_types_supported.includes('code'));
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    for (const e of ['pushed_authorization_request_endpoint', 'token_endpoint', 'jwks_uri', 'authorization_endpoint']) {
      assert.ok(m[e]?.startsWith(issuer()), e);
    }
    const strong = (list) => Array.isArray(list) && list.some((a) => ['PS256', 'ES256', 'EdDSA', 'Ed25519'].includes(a));
    assert.ok(strong(m.dpop_signing_alg_values_supported), 'dpop_signing_alg_values_supported');
    assert.ok(strong(m.id_token_signing_alg_values_supported), 'id_token_signing_alg_values_supported');
    assert.ok(m.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
    assert.ok(strong(m.token_endpoint_auth_signing_alg_values_supported), 'token_endpoint_auth_signing_alg_values_supported');
    assert.ok(m.userinfo_signing_alg_values_supported === undefined || strong(m.userinfo_signing_alg_values_supported));
    assert.ok(m.code_challenge_methods_supported.includes('S256'));
    assert.ok(m.require_pushed_authorization_requests === undefined || typeof m.require_pushed_authorization_requests === 'boolean');
    assert.ok(m.grant_types_supported.includes('authorization_code'));
    assert.ok(m.scopes_supported.includes('openid'));
    assert.ok(m.subject_types_supported.some((s) => ['public', 'pairwise'].includes(s)));
    return passed('the loopback issuer here is http; a deployment has https, which the suite also checks');
  });

  fapi('happy-flow', async () => {
    const one = await flow();
    // The access token only in the URL query: refused.
    const query = await fetch(`${url('/userinfo')}?access_token=${encodeURIComponent(one.tokens.access_token)}`);
    assert.ok([400, 401, 414].includes(query.status), `token in the query: ${query.status}`);
    for (const accept of ['application/json; charset=UTF-8', 'application/json, application/*+json, */*']) {
      resourceServed(await resource(one.tokens.access_token, one.key, { headers: { accept, 'x-fapi-customer-ip-address': '2001:db8::1' } }));
    }
    // The second client: a redirect URI with a query of its own, long state and nonce, and
    // its code bound at PAR with dpop_jkt (no proof there).
    const client2 = clients['fapi-2'];
    const key2 = await dpopKey();
    const two = await flow(client2, {
      extra: { state: `${random(93)}-._~`, nonce: `${random(29)}-._~`, dpop_jkt: key2.jkt }, dpop: key2,
    });
    // Client 1's key with client 2's token.
    const crossed = await resource(two.tokens.access_token, one.key);
    assert.ok(crossed.status >= 400 && crossed.status < 500, `another key: ${crossed.status}`);
    const extra = Object.keys(one.tokens.idToken).filter((c) => !['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'sid', 'at_hash', 'c_hash', 'azp', 'jti'].includes(c));
    if (extra.length) return warning(`the ID token has claims that were not requested: ${extra.join(', ')}`);
    return passed();
  });

  fapi('user-rejects-authentication', async () => {
    for (const client of [clients['fapi-1'], clients['fapi-2']]) {
      const { params } = request(client, { state: random(96) });
      const requestUri = pushed(await par(client, params));
      const ua = new UserAgent(issuer());
      const page = await land(ua, front({ client_id: client.id, request_uri: requestUri }));
      // The citizen goes back to the service instead of signing in.
      const action = page.body.match(/action="(\/interaction\/[^"]*\/cancel)"/);
      assert.ok(action, 'a way back to the service');
      const back = await ua.follow(await ua.request(url(action[1]), {
        method: 'POST', body: new URLSearchParams({ csrf: hidden(page.body, 'csrf') }),
      }));
      const q = new URL(back.location).searchParams;
      assert.equal(q.get('error'), 'access_denied');
      assert.equal(q.get('state'), params.state);
      assert.equal(q.get('code'), null);
      if (client.redirect.includes('dummy1')) assert.equal(q.get('dummy1'), 'lorem');
    }
    return passed('access_denied when the citizen goes back to the service');
  });

  fapi('ensure-authorization-request-without-state-success', async () => {
    await flow(undefined, { extra: { state: undefined } });
    return passed();
  });

  fapi('ensure-authorization-request-without-nonce-success', async () => {
    await flow(undefined, { extra: { nonce: undefined } });
    return passed();
  });

  fapi('ensure-authorization-request-with-64-char-nonce-success', async () => {
    await flow(undefined, { extra: { nonce: `${random(45)}-._~` } });
    return passed();
  });

  fapi('ensure-other-scope-order-succeeds', async () => {
    await flow(undefined, { extra: { scope: 'profile openid' } });
    return passed();
  });

  fapi('test-claims-parameter-identity-claims', async () => {
    const m = await (await fetch(url('/.well-known/openid-configuration'))).json();
    assert.equal(m.claims_parameter_supported, true);
    const standard = ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
      'picture', 'website', 'email', 'email_verified', 'gender', 'birthdate', 'zoneinfo', 'locale', 'phone_number',
      'phone_number_verified', 'address', 'updated_at'];
    const asked = m.claims_supported.filter((c) => standard.includes(c));
    const forms = [null, {}, { essential: true }, { [random(4)]: random(4) }, { essential: false }];
    const each = Object.fromEntries(asked.map((c, i) => [c, forms[i % forms.length]]));
    const claims = JSON.stringify({ id_token: each, userinfo: each, [random(4)]: { [random(4)]: null } });
    const client = clients['fapi-1'];
    const { params, verifier } = request(client, { claims });
    const back = await signIn(front({ client_id: client.id, request_uri: pushed(await par(client, params)) }));
    const key = await dpopKey();
    const tokens = await tokensOf(await redeem(client, authorized(back, params, client), verifier, key), client, params);
    const info = await resource(tokens.access_token, key);
    assert.equal(info.status, 200);
    assert.equal(info.body.sub, tokens.idToken.sub);
    const got = new Set([...Object.keys(info.body), ...Object.keys(tokens.idToken)]);
    const missing = asked.filter((c) => !got.has(c));
    if (missing.length) {
      return warning(`claims beyond the consented scopes (openid profile) are not released: ${missing.join(', ')}`);
    }
    return passed();
  });

  fapi('access-token-type-header-case-sensitivity', async () => {
    const { tokens, key } = await flow();
    resourceServed(await resource(tokens.access_token, key, { scheme: 'dpOp' }));
    return passed();
  });

  fapi('check-dpop-proof-nbf-exp', async () => {
    const now = h.now();
    await flow(undefined, { proofWith: { claims: { nbf: now, exp: now + 300 } } });
    return passed();
  });

  for (const [name, iat] of [['ensure-dpopproof-with-iat-10seconds-before-succeeds', -10], ['ensure-dpopproof-with-iat-10seconds-after-succeeds', 8]]) {
    fapi(name, async () => {
      const key = await dpopKey();
      await flow(undefined, { parWith: { dpop: key, proofWith: { iat } }, proofWith: { iat } });
      return passed();
    });
  }

  fapi('ensure-mismatched-dpop-jkt-fails', async () => {
    const client = clients['fapi-1'];
    const key = await dpopKey();
    const { params } = request(client, { dpop_jkt: spoiled(key.jkt) });
    return parRefused(await par(client, params, { dpop: key }), ['invalid_request', 'invalid_dpop_proof']);
  });

  /** A code bound at PAR (`parWith`, `extra`), redeemed with a proof of another key. */
  async function boundCodeWithAnotherKey(parWith, extra) {
    const client = clients['fapi-1'];
    const { params, verifier } = request(client, extra);
    const back = await signIn(front({ client_id: client.id, request_uri: pushed(await par(client, params, parWith)) }));
    const res = await redeem(client, authorized(back, params, client), verifier, await dpopKey());
    return tokenRefused(res, ['invalid_request', 'invalid_grant', 'invalid_dpop_proof']);
  }

  fapi('ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt', async () => boundCodeWithAnotherKey({ dpop: await dpopKey() }, {}));

  fapi('ensure-token-endpoint-fails-with-mismatched-dpop-jkt', async () => {
    const key = await dpopKey();
    return boundCodeWithAnotherKey({}, { dpop_jkt: spoiled(key.jkt) });
  });

  fapi('ensure-dpopproof-at-par-endpoint-binding-success', async () => {
    await flow(undefined, { parWith: { dpop: await dpopKey() } });
    return passed();
  });

  fapi('ensure-dpop-auth-code-binding-success', async () => {
    const key = await dpopKey();
    await flow(undefined, { parWith: { dpop: key }, extra: { dpop_jkt: key.jkt } });
    return passed();
  });

  /** A parameter added in the front channel beside request_uri: ignored or refused. */
  async function addedInFront(name) {
    const client = clients['fapi-1'];
    const { params, verifier } = request(client);
    const requestUri = pushed(await par(client, params));
    const ua = new UserAgent(issuer());
    const page = await land(ua, front({ client_id: client.id, request_uri: requestUri, [name]: random(8) }));
    if (page.out) return authRefused(page, ['invalid_request'], params.state);
    const back = new URL(await ua.complete(page, 'maria', h.PASSWORD));
    const code = authorized(back, params, client);
    await tokensOf(await redeem(client, code, verifier, await dpopKey()), client, params);
    return passed(`the ${name} outside the pushed request is ignored`);
  }

  fapi('ensure-different-nonce-inside-and-outside-request-object', () => addedInFront('nonce'));
  fapi('ensure-different-state-inside-and-outside-request-object', () => addedInFront('state'));

  fapi('ensure-authorization-request-with-long-nonce', async () => {
    await flow(undefined, { extra: { nonce: `${random(285)}-._~` } });
    return passed('a 384-character nonce comes back whole');
  });

  fapi('ensure-authorization-request-with-long-state', async () => {
    await flow(undefined, { extra: { state: `${random(747)}-._~` } });
    return passed('a 1000-character state comes back whole');
  });

  fapi('state-only-outside-request-object-not-used', async () => {
    const client = clients['fapi-1'];
    const { params, verifier } = request(client, { state: undefined });
    const requestUri = pushed(await par(client, params));
    const back = await signIn(front({ client_id: client.id, request_uri: requestUri, state: random(8) }));
    const code = authorized(back, params, client);
    await tokensOf(await redeem(client, code, verifier, await dpopKey()), client, params);
    return passed('the state outside the pushed request is not returned');
  });

  fapi('ensure-request-object-without-redirect-uri-fails', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client, { redirect_uri: undefined });
    return parRefused(await par(client, params), ['invalid_request', 'invalid_request_object']);
  });

  fapi('plain-fapi-tolerate-unregistered-redirect-uri', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client, { redirect_uri: `${h.REDIRECT}/${random(8)}` });
    return parRefused(await par(client, params), ['invalid_request', 'invalid_request_object']);
  });

  fapi('ensure-unsigned-authorization-request-without-using-par-fails', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client);
    return authRefused(await land(new UserAgent(issuer()), front(params)), ['invalid_request'], params.state);
  });

  fapi('ensure-redirect-uri-in-authorization-request', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client, { redirect_uri: undefined });
    return parRefused(await par(client, params), ['invalid_request', 'invalid_request_object']);
  });

  for (const [name, type] of [['ensure-response-type-code-idtoken-fails', 'code id_token'], ['ensure-response-type-token-fails', 'token']]) {
    fapi(name, async () => {
      const client = clients['fapi-1'];
      const { params } = request(client, { response_type: type });
      return parRefused(await par(client, params), ['unsupported_response_type', 'invalid_request', 'unauthorized_client']);
    });
  }

  /** A code of fapi-1's, just issued: what the token requests of the next modules spoil. */
  async function freshCode(client = clients['fapi-1']) {
    const { params, verifier } = request(client);
    const back = await signIn(front({ client_id: client.id, request_uri: pushed(await par(client, params)) }));
    return { code: authorized(back, params, client), verifier, params, client };
  }

  fapi('ensure-client-id-in-token-endpoint', async () => {
    const { code, verifier } = await freshCode();
    // client_id and the assertion name fapi-2; the assertion is signed with fapi-1's key.
    const impostor = { ...clients['fapi-2'], key: clients['fapi-1'].key };
    const res = await redeem(impostor, code, verifier, await dpopKey(), { redirect: clients['fapi-1'].redirect });
    return tokenRefused(res, ['invalid_client', 'invalid_grant']);
  });

  fapi('ensure-holder-of-key-required', async () => {
    const { code, verifier, client } = await freshCode();
    const res = await redeem(client, code, verifier, undefined);
    assert.ok(res.status >= 400 && res.status < 500, `${res.status}`);
    return tokenRefused(res, ['invalid_request', 'invalid_grant', 'invalid_dpop_proof']);
  });

  fapi('ensure-authorization-code-is-bound-to-client', async () => {
    const { code, verifier } = await freshCode();
    const res = await redeem(clients['fapi-2'], code, verifier, await dpopKey(), { redirect: clients['fapi-1'].redirect });
    assert.equal(res.status, 400);
    return tokenRefused(res, ['invalid_grant']);
  });

  fapi('attempt-reuse-authorization-code-after-one-second', async () => {
    const { code, verifier, key, tokens } = await flow();
    await h.advance(1);
    const again = await redeem(clients['fapi-1'], code, verifier, key);
    const outcome = tokenRefused(again, ['invalid_grant']);
    assert.equal(again.status, 400);
    const revoked = await resource(tokens.access_token, key);
    if (revoked.status < 400 || revoked.status >= 500) return warning('the access token of a reused code still works');
    return outcome;
  });

  fapi('ensure-token-endpoint-fails-with-expired-auth-code', async () => {
    const { code, verifier, client } = await freshCode();
    await h.advance(62);
    const res = await redeem(client, code, verifier, await dpopKey());
    assert.equal(res.status, 400);
    return tokenRefused(res, ['invalid_grant']);
  });

  fapi('ensure-signed-client-assertion-with-RS256-fails', async () => {
    // The suite runs this module with a PS256 client key, which here signs RS256.
    const { code, verifier, client } = await freshCode(clients['fapi-ps']);
    const res = await call('/token', {
      dpop: await dpopKey(),
      form: async () => ({
        grant_type: 'authorization_code', code, redirect_uri: client.redirect, code_verifier: verifier,
        ...(await authentication(client, {}, 'RS256')),
      }),
    });
    return tokenRefused(res, ['invalid_client']);
  });

  fapi('ensure-client-assertion-in-token-endpoint', async () => {
    const { code, verifier, client } = await freshCode();
    const res = await redeem(client, code, verifier, await dpopKey(), { omit: ['client_assertion', 'client_assertion_type'] });
    return tokenRefused(res, ['invalid_request', 'invalid_client']);
  });

  for (const [name, change] of [
    ['ensure-client-assertion-with-exp-is-5-minutes-in-past-fails', () => ({ exp: h.now() - 300 })],
    ['ensure-client-assertion-with-wrong-aud-fails', () => ({ aud: 'https://fapidev-rs.authlete.net/api/userinfo' })],
    ['ensure-client-assertion-with-no-sub-fails', () => ({ sub: undefined })],
  ]) {
    fapi(name, async () => {
      const { code, verifier, client } = await freshCode();
      const res = await redeem(client, code, verifier, await dpopKey(), { assertionWith: change() });
      return tokenRefused(res, ['invalid_request', 'invalid_client']);
    });
  }

  fapi('dpop-negative-tests', async () => {
    const { tokens, key } = await flow();
    const token = tokens.access_token;
    const target = url('/userinfo');
    const ath = createHash('sha256').update(token).digest('base64url');
    const other = await dpopKey();
    const fixedJti = random(11);
    /** UserInfo with these DPoP headers (none, one or several) and scheme. */
    const send = async (proofs, { scheme = 'DPoP', name = 'DPoP' } = {}) => {
      const headers = new Headers({ authorization: `${scheme} ${token}` });
      for (const p of proofs) headers.append(name, p);
      return (await fetch(target, { headers })).status;
    };
    const made = (options = {}) => proof(key, 'GET', target, { ath, ...options });
    const cases = [
      ['header name DPOP', 'accept', async () => send([await made()], { name: 'DPOP' })],
      ['two DPoP headers', 'reject', async () => send([await made(), await made()])],
      ['not a JWT', 'reject', async () => send([(await made()).split('.').slice(0, 2).join('.')])],
      ['no typ', 'reject', async () => send([await made({ drop: ['typ'] })])],
      ['no alg', 'reject', async () => {
        const [head, rest, sig] = (await made()).split('.');
        const h2 = JSON.parse(Buffer.from(head, 'base64url'));
        h2.alg2 = h2.alg;
        delete h2.alg;
        return send([`${b64(h2)}.${rest}.${sig}`]);
      }],
      ['no jwk', 'reject', async () => send([await made({ drop: ['jwk'] })])],
      ...['jti', 'htm', 'htu', 'iat', 'ath'].map((c) => [`no ${c}`, 'reject', async () => send([await made({ drop: [c] })])]),
      ['typ dpop+jwt+wrongyousee', 'reject', async () => send([await made({ header: { typ: 'dpop+jwt+wrongyousee' } })])],
      ['alg none', 'reject', async () => {
        const claims = { jti: random(), htm: 'GET', htu: target, iat: h.now(), ath };
        return send([`${b64({ alg: 'none', typ: 'dpop+jwt' })}.${b64(claims)}.`]);
      }],
      ['signature corrupted', 'reject', async () => {
        const [a, b, sig] = (await made()).split('.');
        return send([`${a}.${b}.${Buffer.from(Buffer.from(sig, 'base64url').map((x) => x ^ 0x5a)).toString('base64url')}`]);
      }],
      ['private key in the jwk', 'reject', async () => send([await made({ header: { jwk: await crypto.subtle.exportKey('jwk', key.privateKey) } })])],
      ['htm PUT', 'reject', async () => send([await proof(key, 'PUT', target, { ath })])],
      ['htu with query and fragment', 'accept', async () => send([await proof(key, 'GET', `${target}?allthedoorsonthisspaceshiphavebeen#programmedtohaveacheeryandsunnydisposition`, { ath })])],
      ['htu another URL', 'reject', async () => send([await proof(key, 'GET', `${target}ohnonotagain`, { ath })])],
      ['iat an hour ahead', 'reject', async () => send([await made({ iat: 3600 })])],
      ['iat an hour ago', 'reject', async () => send([await made({ iat: -3600 })])],
      ['a jti, first use', 'accept', async () => send([await made({ claims: { jti: fixedJti } })])],
      ['the jti again', 'reject', async () => send([await made({ claims: { jti: fixedJti } })]), 'warning'],
      ['ath of another token', 'reject', async () => send([await made({ ath: createHash('sha256').update(random()).digest('base64url') })])],
      ['another key', 'reject', async () => send([await proof(other, 'GET', target, { ath })])],
      ['extra header member and claim', 'accept', async () => send([await made({ header: { tx_id: random() }, claims: { tx_id_key: random() } })])],
      ['htu scheme and host upper case', 'accept', async () => send([await proof(key, 'GET', target.replace(/^http:\/\/[^/]+/, (m) => m.toUpperCase()), { ath })]), 'warning'],
      ['no DPoP header', 'reject', async () => send([])],
      ['no DPoP header, Bearer', 'reject', async () => send([], { scheme: 'Bearer' })],
      ['a correct proof', 'accept', async () => send([await made()])],
    ];
    const warnings = [];
    for (const [what, expect, run, severity] of cases) {
      const status = await run();
      const ok = expect === 'accept' ? [200, 201].includes(status) : [400, 401].includes(status);
      if (!ok && severity === 'warning') warnings.push(`${what}: ${status}`);
      else assert.ok(ok, `${what}: ${expect}ed, got ${status}`);
    }
    if (warnings.length) return warning(warnings.join('; '));
    // The suite's case of an explicit default port (:443) does not arise on the loopback
    // issuer's own port.
    return passed(`${cases.length} proofs at the resource`);
  });

  fapi('refresh-token', async () => {
    const m = await (await fetch(url('/.well-known/openid-configuration'))).json();
    assert.ok(m.grant_types_supported.includes('refresh_token'));
    const refresh = async (client, token, { key, auth = true, scope } = {}) => call('/token', {
      dpop: key,
      form: async () => ({ grant_type: 'refresh_token', refresh_token: token, scope, ...(auth ? await authentication(client) : {}) }),
    });
    const refreshed = async (client, token, scope) => {
      await h.advance(1);
      const key = await dpopKey();
      const res = await refresh(client, token, { key, scope });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(res.headers.get('cache-control') || '', /no-store/);
      assert.equal(res.body.token_type.toLowerCase(), 'dpop');
      resourceServed(await resource(res.body.access_token, key));
      return { ...res.body, key };
    };
    const one = await flow();
    const token1 = one.tokens.refresh_token;
    assert.match(token1, /^[\x20-\x7E]+$/);
    const first = await refreshed(clients['fapi-1'], token1, 'openid profile');
    const rotated = first.refresh_token !== undefined && first.refresh_token !== token1;
    if (rotated) {
      // The previous refresh token must still work (FAPI 2.0 5.3.2.1).
      await h.advance(30);
      await refreshed(clients['fapi-1'], token1);
    }
    const noAuth = await refresh(clients['fapi-1'], token1, { key: await dpopKey(), auth: false });
    assert.ok([400, 401].includes(noAuth.status));
    assert.ok(['invalid_request', 'invalid_grant', 'invalid_client'].includes(noAuth.body.error), noAuth.body.error);
    const noProof = await refresh(clients['fapi-1'], token1, {});
    assert.equal(noProof.status, 400);
    assert.ok(['invalid_request', 'invalid_grant', 'invalid_dpop_proof'].includes(noProof.body.error), noProof.body.error);
    const two = await flow(clients['fapi-2']);
    const second = await refreshed(clients['fapi-2'], two.tokens.refresh_token);
    const crossed = await resource(second.access_token, first.key);
    assert.ok(crossed.status >= 400 && crossed.status < 500, `another key: ${crossed.status}`);
    const stolen = await refresh(clients['fapi-1'], two.tokens.refresh_token, { key: first.key });
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    return passed(rotated ? 'rotated; the previous token still works' : 'not rotated; each refresh proves a new DPoP key');
  });

  fapi('par-ensure-reused-request-uri-prior-to-auth-completion-succeeds', async () => {
    const client = clients['fapi-1'];
    const { params, verifier } = request(client);
    const target = front({ client_id: client.id, request_uri: pushed(await par(client, params)) });
    const first = await land(new UserAgent(issuer()), target);
    assert.ok(!first.out && first.body.includes('/login'), 'the sign-in page');
    const ua = new UserAgent(issuer());
    const again = await land(ua, target);
    if (!again.out && again.status === 200) {
      const back = new URL(await ua.complete(again, 'maria', h.PASSWORD));
      await tokensOf(await redeem(client, authorized(back, params, client), verifier, await dpopKey()), client, params);
      return passed();
    }
    if (again.out) assert.equal(again.out.searchParams.get('error'), 'invalid_request_uri');
    else assert.ok(again.status >= 400, `an error page: ${again.status}`);
    return warning('a request_uri serves one visit: the suite warns when it is refused before the citizen has signed in');
  });

  fapi('par-attempt-reuse-request_uri', async () => {
    const { requestUri } = await flow();
    const page = await land(new UserAgent(issuer()), front({ client_id: 'fapi-1', request_uri: requestUri }));
    return authRefused(page, ['invalid_request_uri']);
  });

  fapi('par-attempt-to-use-expired-request_uri', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client);
    const res = await par(client, params);
    const requestUri = pushed(res);
    await h.advance(res.body.expires_in);
    const page = await land(new UserAgent(issuer()), front({ client_id: client.id, request_uri: requestUri }));
    return authRefused(page, ['invalid_request_uri']);
  });

  fapi('par-ensure-jwt-client-assertions-nbf-8-seconds-in-the-future-is-accepted', async () => {
    const ahead = h.now() + 8;
    await flow(undefined, { parWith: { assertionWith: { iat: ahead, nbf: ahead } } });
    return passed();
  });

  fapi('par-ensure-jwt-client-assertions-nbf-over-60-seconds-in-the-future-fails', async () => {
    const client = clients['fapi-1'];
    const now = h.now();
    const res = await par(client, request(client).params, { assertionWith: { iat: now + 62, nbf: now + 62, exp: now + 122 } });
    assert.ok([400, 401].includes(res.status), `${res.status}`);
    assert.ok(['invalid_request', 'invalid_client'].includes(res.body.error), res.body.error);
    return passed(`${res.status} ${res.body.error}`);
  });

  fapi('par-attempt-to-use-request_uri-for-different-client', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client);
    const requestUri = pushed(await par(client, params));
    const page = await land(new UserAgent(issuer()), front({
      client_id: 'fapi-2', request_uri: requestUri, response_type: 'code', scope: params.scope, redirect_uri: params.redirect_uri,
    }));
    return authRefused(page, ['invalid_request', 'invalid_request_object', 'invalid_request_uri']);
  });

  fapi('par-authorization-request-containing-request_uri-form-param', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client, { request_uri: 'urn:fdc:authlete.com:E2ooXxELkEFSKR90ymYV-BbwAvCC2TozHfSb_mMCw2s' });
    return parRefused(await par(client, params), ['invalid_request', 'invalid_request_object', 'request_uri_not_supported']);
  });

  fapi('par-attempt-invalid-http-method', async () => {
    const client = clients['fapi-1'];
    const res = await par(client, request(client).params, { method: 'PUT' });
    assert.ok(res.status >= 400, `${res.status}`);
    return passed(`${res.status}`);
  });

  fapi('par-ensure-pkce-required', async () => {
    const client = clients['fapi-1'];
    const { params } = request(client, { code_challenge: undefined, code_challenge_method: undefined });
    return parRefused(await par(client, params), ['invalid_request']);
  });

  fapi('ensure-pkce-code-verifier-required', async () => {
    const { code, verifier, client } = await freshCode();
    const res = await redeem(client, code, verifier, await dpopKey(), { omit: ['code_verifier'] });
    assert.equal(res.status, 400);
    return tokenRefused(res, ['invalid_grant']);
  });

  fapi('incorrect-pkce-code-verifier-rejected', async () => {
    const { code, client } = await freshCode();
    const res = await redeem(client, code, random(96), await dpopKey());
    assert.equal(res.status, 400);
    return tokenRefused(res, ['invalid_grant']);
  });

  fapi('par-plain-pkce-rejected', async () => {
    const client = clients['fapi-1'];
    const verifier = random(96);
    const { params } = request(client, { code_challenge: verifier, code_challenge_method: 'plain' });
    return parRefused(await par(client, params), ['invalid_request']);
  });

  fapi('par-without-duplicate-parameters', async () => {
    await flow();
    return passed('the browser carries only client_id and request_uri');
  });

  for (const [name, aud] of [
    ['par-test-array-as-audience-fails', () => [issuer(), url('/token')]],
    ['par-test-par-endpoint-url-as-audience-fails', () => url('/par')],
    ['par-test-token-endpoint-url-as-audience-fails', () => url('/token')],
  ]) {
    fapi(name, async () => {
      const client = clients['fapi-1'];
      const res = await par(client, request(client).params, { assertionWith: { aud: aud() } });
      assert.ok([400, 401].includes(res.status), `${res.status}`);
      assert.ok(['invalid_request', 'invalid_client'].includes(res.body.error), res.body.error);
      return passed(`${res.status} ${res.body.error}`);
    });
  }

  return { keys, setup };
}
