// Several instances, one issuer: two `idp` processes on one PostgreSQL database behind a
// round-robin load balancer that sends every request to the other process than the one
// before. A complete sign-in and token lifecycle driven by openid-client through it (pages,
// CSRF, login transaction, consent, code, tokens, UserInfo, refresh, introspection,
// revocation, logout) works as on one process; a revoked JWT access token is refused by
// the other process within its second; and a rolling restart of both under load (each in
// turn taken out of the balancer, stopped with SIGTERM, started again, put back) loses no
// request.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as client from 'openid-client';
import { Idp, UserAgent, freePort, postgresDatabase } from './harness.mjs';

const REDIRECT = 'https://rp.example/cb';
const SECRET = 'instances-secret-0123456789';
const PASSWORD = 'a long and correct password';
/** Round robin over the backends that are in; counts what each served. */
class Balancer {
  constructor() {
    this.backends = [];
    this.next = 0;
    this.failed = 0;
  }

  add(idp) {
    this.backends.push({ idp, in: true, served: 0, inFlight: 0 });
  }

  async listen() {
    this.port = await freePort();
    this.server = http.createServer((req, res) => {
      const live = this.backends.filter((b) => b.in);
      const b = live[this.next++ % live.length];
      b.inFlight++;
      const up = http.request({
        host: '127.0.0.1', port: b.idp.port, path: req.url, method: req.method, headers: req.headers,
      }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
        answer.on('end', () => { b.inFlight--; b.served++; });
      });
      up.on('error', () => {
        b.inFlight--;
        this.failed++;
        res.writeHead(502).end();
      });
      req.pipe(up);
    });
    await new Promise((ok) => this.server.listen(this.port, '127.0.0.1', ok));
    return `http://127.0.0.1:${this.port}`;
  }

  /** Takes a backend out and waits for what it is answering. */
  async drain(b) {
    b.in = false;
    while (b.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  }
}

const balancer = new Balancer();
let a;
let b;
let issuer;
let database;

before(async () => {
  database = postgresDatabase('idp_instances');
  issuer = await balancer.listen();
  const config = `database_url = "${database.url}"\nattempts_per_minute = 100000\n[policy.scopes]\napi = "low"\n`;
  a = await Idp.startBehind(issuer, (cli) => {
    cli(['client', 'add', '--id', 'rp', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--post-logout-redirect-uri', 'https://rp.example/bye']);
    cli(['client', 'add', '--id', 'api', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--grant', 'client_credentials', '--scope', 'api', '--access-token-format', 'jwt']);
    cli(['user', 'add', '--username', 'maria', '--password-stdin'], `${PASSWORD}\n`);
  }, config);
  b = await a.another();
  balancer.add(a);
  balancer.add(b);
});

after(async () => {
  balancer.server?.close();
  await b?.terminate();
  await a?.stop();
  database?.drop();
});

const apiAuth = `Basic ${Buffer.from(`api:${SECRET}`).toString('base64')}`;
async function post(path, body) {
  const res = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { authorization: apiAuth, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: res.status, body: await res.json().catch(() => ({})) };
}

test('a sign-in and token lifecycle alternating between two processes on one database', async () => {
  const before = balancer.backends.map((x) => x.served);
  const config = await client.discovery(new URL(issuer), 'rp', { client_secret: SECRET }, undefined, {
    execute: [client.allowInsecureRequests],
  });
  client.enableNonRepudiationChecks(config);
  const ua = new UserAgent(issuer);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid profile', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const back = new URL(await ua.signIn(authUrl.href, 'maria', PASSWORD));
  const tokens = await client.authorizationCodeGrant(config, back, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const sub = tokens.claims().sub;
  assert.equal((await client.fetchUserInfo(config, tokens.access_token, sub)).sub, sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, sub);
  // The old refresh token was rotated on one process; the other refuses it.
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (e) => e.error === 'invalid_grant');
  assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false, 'reuse revoked the family');
  const again = await client.refreshTokenGrant(config, refreshed.refresh_token).catch((e) => e);
  assert.equal(again.error, 'invalid_grant');
  // A fresh sign-in (the session is known to both), then revocation on one process is
  // seen by the other at once for opaque tokens.
  const verifier2 = client.randomPKCECodeVerifier();
  const url2 = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier2),
    code_challenge_method: 'S256',
  });
  const back2 = new URL(await ua.signIn(url2.href, 'maria', PASSWORD));
  const t2 = await client.authorizationCodeGrant(config, back2, { pkceCodeVerifier: verifier2, idTokenExpected: true });
  assert.equal((await client.tokenIntrospection(config, t2.access_token)).active, true);
  await client.tokenRevocation(config, t2.refresh_token);
  assert.equal((await client.tokenIntrospection(config, t2.access_token)).active, false);
  // Logout through one process ends the session for both.
  const logout = client.buildEndSessionUrl(config, { id_token_hint: t2.id_token, post_logout_redirect_uri: 'https://rp.example/bye' });
  assert.equal((await ua.request(logout.href)).status, 303);
  const none = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid', prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256',
  });
  const after = new URL((await ua.follow(await ua.request(none.href))).location);
  assert.equal(after.searchParams.get('error'), 'login_required');
  const served = balancer.backends.map((x, i) => x.served - before[i]);
  assert.ok(served.every((n) => n >= 8), `both processes served: ${served}`);
  assert.ok(Math.abs(served[0] - served[1]) <= 1, `every other request: ${served}`);
});

test('a JWT access token revoked on one process is refused by the other within a second', async () => {
  const issued = await post('/token', 'grant_type=client_credentials&scope=api');
  assert.equal(issued.status, 200);
  const token = issued.body.access_token;
  assert.equal((await post('/introspect', `token=${token}`)).body.active, true);
  assert.equal((await post('/revoke', `token=${token}`)).status, 200);
  const revokedAt = Date.now();
  // Asked of both processes in turn until both refuse it.
  let inactiveInARow = 0;
  while (inactiveInARow < 2) {
    const active = (await post('/introspect', `token=${token}`)).body.active;
    inactiveInARow = active ? 0 : inactiveInARow + 1;
    assert.ok(Date.now() - revokedAt < 2500, 'both refuse it within the second and a bit');
    if (active) await new Promise((r) => setTimeout(r, 50));
  }
});

test('a client secret rotated with the command line is refused by both processes within a second', async () => {
  // Client authentication reads clients from a cache that follows changes made elsewhere
  // once a second. Each process is asked directly, and only once after the change: every
  // refusal counts towards the client's limit of failed authentications.
  const introspect = (idp, secret) => fetch(`${idp.base}/introspect`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`rp:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'token=unknown',
  }).then((r) => r.status);
  // Both processes have read the client.
  assert.deepEqual([await introspect(a, SECRET), await introspect(b, SECRET)], [200, 200]);
  const fresh = 'rotated-secret-0123456789';
  Idp.cli(a.settings, ['client', 'rotate-secret', '--id', 'rp', '--secret-stdin'], `${fresh}\n`);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual([await introspect(a, SECRET), await introspect(b, SECRET)], [401, 401], 'the old secret is refused');
  assert.deepEqual([await introspect(a, fresh), await introspect(b, fresh)], [200, 200], 'the new one is taken');
});

test('keys rotated with the command line are published and used by both processes within a second', async () => {
  const kids = async (idp) => (await (await fetch(`${idp.base}/jwks`)).json()).keys.map((k) => k.kid).sort();
  const before = await kids(a);
  assert.deepEqual(await kids(b), before);
  Idp.cli(a.settings, ['keys', 'rotate']);
  const rotatedAt = Date.now();
  for (;;) {
    const [ka, kb] = [await kids(a), await kids(b)];
    if (ka.length > before.length && kb.join() === ka.join()) break;
    assert.ok(Date.now() - rotatedAt < 2500, `both publish the new keys within the second and a bit: ${ka} / ${kb}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // A token one process signs with the new key checks on the other.
  const issued = await post('/token', 'grant_type=client_credentials&scope=api');
  const kid = JSON.parse(Buffer.from(issued.body.access_token.split('.')[0], 'base64url')).kid;
  assert.ok(!before.includes(kid), 'signed with the new key');
  assert.equal((await post('/introspect', `token=${issued.body.access_token}`)).body.active, true);
  assert.equal((await post('/introspect', `token=${issued.body.access_token}`)).body.active, true);
});

test('a rolling restart under load loses no request', async () => {
  let stop = false;
  let ok = 0;
  const failures = [];
  const worker = async () => {
    while (!stop) {
      const t = await post('/token', 'grant_type=client_credentials&scope=api').catch((e) => ({ status: String(e) }));
      if (t.status !== 200) { failures.push(t.status); continue; }
      const i = await post('/introspect', `token=${t.body.access_token}`).catch((e) => ({ status: String(e) }));
      if (i.status !== 200 || i.body.active !== true) failures.push(i.status);
      else ok++;
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  for (const backend of balancer.backends) {
    await new Promise((r) => setTimeout(r, 500));
    await balancer.drain(backend);
    assert.equal(await backend.idp.terminate(), 0, 'a clean shutdown');
    await backend.idp.serve();
    backend.in = true;
  }
  await new Promise((r) => setTimeout(r, 500));
  stop = true;
  await Promise.all(workers);
  assert.deepEqual(failures, []);
  assert.equal(balancer.failed, 0);
  assert.ok(ok > 20, `requests answered during the restarts: ${ok}`);
});
