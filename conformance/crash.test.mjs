// Crash safety of the commit path: the server is killed with SIGKILL in the middle of a
// token load (client_credentials from sixteen clients at once, while codes are redeemed
// and refresh tokens rotated), then started again on the same data. Every token a client
// received before the kill is still valid, no code or refresh token that was used can be
// used again, and the audit log's chain still verifies. On SQLite and on PostgreSQL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Idp, authorizationCode, postForm, postgresDatabase } from './harness.mjs';

const REDIRECT = 'https://rp.example/cb';
const SECRET = 'crash-test-secret-0123456789';
const PASSWORD = 'a long and correct password';
const basic = `Basic ${Buffer.from(`rp:${SECRET}`).toString('base64')}`;
let idp;

/** A server on SQLite (`database` none) or on this PostgreSQL database. */
function start(database) {
  const url = database ? `database_url = "${database.url}"\n` : '';
  return Idp.start((cli) => {
    cli(['client', 'add', '--id', 'rp', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--grant', 'authorization_code', '--grant', 'refresh_token', '--grant', 'client_credentials',
      '--scope', 'openid', '--scope', 'api']);
    cli(['user', 'add', '--username', 'maria', '--password-stdin'], `${PASSWORD}\n`);
  }, { config: `${url}[policy.scopes]\napi = "low"\n` });
}

const token = (form) => postForm(`${idp.issuer}/token`, basic, new URLSearchParams(form));

const code = () => authorizationCode(idp, { clientId: 'rp', redirectUri: REDIRECT }, 'maria', PASSWORD);

const redeem = (c) => token({ grant_type: 'authorization_code', code: c.code, redirect_uri: REDIRECT, code_verifier: c.verifier });

for (const backend of ['sqlite', 'postgres']) {
  test(`tokens received before a SIGKILL stay valid, and nothing used can be used again (${backend})`, async (t) => {
    const database = backend === 'postgres' ? postgresDatabase('idp_crash') : null;
    idp = await start(database);
    try {
      await killedUnderLoad(t);
    } finally {
      await idp.stop();
      database?.drop();
    }
  });
}

async function killedUnderLoad(t) {
  // Codes and refresh tokens to use during the load.
  const codes = [];
  for (let i = 0; i < 6; i++) codes.push(await code());
  const first = await redeem(codes.shift());
  assert.equal(first.status, 200);
  let refresh = first.body.refresh_token;

  const received = [];
  const usedCodes = [];
  const usedRefresh = [];
  let stop = false;
  const machine = async () => {
    while (!stop) {
      try {
        const r = await token({ grant_type: 'client_credentials', scope: 'api' });
        if (r.status === 200) received.push(r.body.access_token);
      } catch {
        return; // the server is gone
      }
    }
  };
  const citizen = async () => {
    while (!stop) {
      try {
        const c = codes.shift();
        if (c) {
          const r = await redeem(c);
          usedCodes.push(c);
          if (r.status === 200) received.push(r.body.access_token);
        }
        const before = refresh;
        const r = await token({ grant_type: 'refresh_token', refresh_token: refresh });
        usedRefresh.push(before);
        if (r.status === 200) {
          received.push(r.body.access_token);
          refresh = r.body.refresh_token;
        }
      } catch {
        return;
      }
    }
  };
  const load = [...Array.from({ length: 16 }, machine), citizen()];
  await new Promise((r) => setTimeout(r, 1500));
  await idp.kill();
  stop = true;
  await Promise.all(load);
  assert.ok(received.length > 50, `tokens received before the kill: ${received.length}`);
  assert.ok(usedCodes.length > 0 && usedRefresh.length > 0);

  t.diagnostic(`before the kill: ${received.length} tokens received, ${usedCodes.length} codes and ${usedRefresh.length} refresh tokens used`);
  await idp.restart();
  // Every token received is still valid.
  let inactive = 0;
  for (const t of received) {
    const res = await postForm(`${idp.issuer}/introspect`, basic, new URLSearchParams({ token: t }));
    if (res.body.active !== true) inactive++;
  }
  assert.equal(inactive, 0, `${inactive} of ${received.length} tokens lost`);
  // No code and no rotated refresh token is usable again.
  for (const c of usedCodes) assert.equal((await redeem(c)).status, 400, 'a used code is refused');
  for (const r of usedRefresh) {
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: r })).status, 400, 'a used refresh token is refused');
  }
  // The audit log survived whole.
  const verified = Idp.cli(idp.settings, ['audit', 'verify']);
  assert.match(verified, /intact|verified|ok/i, verified);
}
