// The SQLite database's disk fills up under load: the database lives on a small file system
// of its own (a tmpfs mounted here, which needs root), filled up by a ballast file while
// tokens are requested. Requests that cannot be written are answered 503 with Retry-After
// (never a 500), nothing half-written is left behind: every token handed out stays valid,
// the audit chain verifies and SQLite's integrity check passes; once space is freed the
// provider answers again without being restarted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Idp, postForm } from './harness.mjs';

const SECRET = 'disk-full-secret-0123456789';
const basic = `Basic ${Buffer.from(`rp:${SECRET}`).toString('base64')}`;

async function tokenRequest(issuer) {
  try {
    return await postForm(`${issuer}/token`, basic, 'grant_type=client_credentials&scope=api');
  } catch (e) {
    return { status: 0, error: String(e.cause ?? e) };
  }
}

/** SQLite's own check of the database file (Python's sqlite3 module reads it). */
function integrity(file) {
  const r = spawnSync('python3', ['-c',
    'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("pragma integrity_check").fetchone()[0])', file],
  { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('a full disk under the SQLite database: 503 with Retry-After, nothing half-written, and back once space is freed', async (t) => {
  if (process.getuid() !== 0) {
    t.skip('mounting a small file system for the database needs root');
    return;
  }
  const mount = mkdtempSync(join(tmpdir(), 'idp-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount], { encoding: 'utf8' });
  assert.equal(mounted.status, 0, `mount: ${mounted.stderr}`);
  const database = join(mount, 'idp.sqlite');
  const ballast = join(mount, 'ballast');
  let idp;
  try {
    idp = await Idp.start((cli) => {
      cli(['client', 'add', '--id', 'rp', '--secret', SECRET, '--redirect-uri', 'https://rp.example/cb',
        '--grant', 'client_credentials', '--scope', 'api']);
    }, { config: `database_url = "${database}"\n[policy.scopes]\napi = "low"\n` });

    const answers = [];
    const load = async (n) => {
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let i = 0; i < n; i++) answers.push(await tokenRequest(idp.issuer));
      }));
    };
    await load(20);
    assert.ok(answers.every((a) => a.status === 200), 'tokens while there is room');
    // Fill the file system but for a few pages, then ask for more tokens than fit.
    const { bavail, bsize } = statfsSync(mount);
    writeFileSync(ballast, Buffer.alloc(Math.max(0, bavail * bsize - 48 * 1024)));
    const before = answers.length;
    await load(150);
    const full = answers.slice(before);
    const byStatus = {};
    for (const a of full) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    assert.deepEqual(full.filter((a) => a.status !== 200 && a.status !== 503).slice(0, 3), [],
      `only tokens and 503s: ${JSON.stringify(byStatus)}`);
    assert.ok(byStatus[503] > 0, `the full disk was answered 503: ${JSON.stringify(byStatus)}`);
    for (const a of full.filter((x) => x.status === 503)) {
      assert.equal(a.body.error, 'temporarily_unavailable');
      assert.ok(Number(a.retryAfter) >= 1);
    }

    // Space freed: the provider answers again, without a restart.
    rmSync(ballast);
    const after = await tokenRequest(idp.issuer);
    assert.equal(after.status, 200, JSON.stringify(after));

    // Every token handed out is valid; nothing half-written.
    const tokens = answers.filter((a) => a.status === 200).map((a) => a.body.access_token);
    for (const token of [...tokens.slice(0, 10), ...tokens.slice(-30), after.body.access_token]) {
      const res = await postForm(`${idp.issuer}/introspect`, basic, `token=${encodeURIComponent(token)}`);
      assert.equal(res.body.active, true, 'a token handed out is still valid');
    }
    assert.match(Idp.cli(idp.settings, ['audit', 'verify']), /verified|intact|ok/i);
    assert.equal(integrity(database), 'ok');
    console.log(`disk full: ${JSON.stringify(byStatus)}`);
  } finally {
    await idp?.stop();
    spawnSync('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
  }
});
