// PostgreSQL restarted under load: the provider runs on a PostgreSQL cluster of its own
// (made here with the machine's PostgreSQL programs, so that it can be stopped without
// touching the shared server), which is stopped the hard way (`-m immediate`, as a crash:
// it recovers from its log when it starts again) in the middle of a token load and started
// again a few seconds later. Meanwhile every answer is a token or a 503 with Retry-After,
// never a 500 or a dropped connection (a request waits a second for a connection,
// `db_pool_wait_seconds`, before its 503); afterwards the provider answers again without being
// restarted itself, and every token it handed out is still valid.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Idp, freePort, postForm } from './harness.mjs';

const SECRET = 'restart-test-secret-0123456789';
const basic = `Basic ${Buffer.from(`rp:${SECRET}`).toString('base64')}`;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** A PostgreSQL cluster in a directory of its own, on a port of its own. */
class Cluster {
  static async create() {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
    assert.ok(versions.length > 0, 'PostgreSQL server programs are missing (/usr/lib/postgresql)');
    const c = new Cluster();
    c.bin = `/usr/lib/postgresql/${versions.at(-1)}/bin`;
    c.dir = mkdtempSync(join(tmpdir(), 'idp-pg-'));
    c.port = await freePort();
    // PostgreSQL refuses to run as root: then it runs as the `postgres` account.
    c.asRoot = process.getuid() === 0;
    if (c.asRoot) {
      const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
      chownSync(c.dir, Number(id.stdout), Number(gid.stdout));
    }
    c.run('initdb', ['-D', c.data, '-U', 'postgres', '--auth=trust', '-N']);
    c.start();
    const created = spawnSync('psql', [`postgres://postgres@127.0.0.1:${c.port}/postgres`, '-c', 'CREATE DATABASE idp'], { encoding: 'utf8' });
    assert.equal(created.status, 0, created.stderr);
    return c;
  }

  get data() {
    return join(this.dir, 'data');
  }

  get url() {
    return `postgres://postgres@127.0.0.1:${this.port}/idp`;
  }

  run(program, args) {
    const cmd = this.asRoot ? 'runuser' : join(this.bin, program);
    const full = this.asRoot ? ['-u', 'postgres', '--', join(this.bin, program), ...args] : args;
    const r = spawnSync(cmd, full, { encoding: 'utf8' });
    assert.equal(r.status, 0, `${program}: ${r.stderr}`);
  }

  start() {
    this.run('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'log'), '-w', 'start',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=on`]);
  }

  /** Stops at once, without a checkpoint: what a crash leaves. */
  crash() {
    this.run('pg_ctl', ['-D', this.data, '-w', 'stop', '-m', 'immediate']);
  }

  remove() {
    spawnSync(this.asRoot ? 'runuser' : join(this.bin, 'pg_ctl'),
      [...(this.asRoot ? ['-u', 'postgres', '--', join(this.bin, 'pg_ctl')] : []), '-D', this.data, 'stop', '-m', 'immediate']);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One token request: its status, Retry-After and token, or the network error. */
async function tokenRequest(issuer) {
  const started = Date.now();
  try {
    const answer = await postForm(`${issuer}/token`, basic, 'grant_type=client_credentials&scope=api');
    return { ...answer, started, ended: Date.now() };
  } catch (e) {
    return { status: 0, error: String(e.cause ?? e), started, ended: Date.now() };
  }
}

test('PostgreSQL restarted under load: 503 with Retry-After meanwhile, never a 500, and every token kept', async () => {
  const cluster = await Cluster.create();
  let idp;
  try {
    idp = await Idp.start((cli) => {
      cli(['client', 'add', '--id', 'rp', '--secret', SECRET, '--redirect-uri', 'https://rp.example/cb',
        '--grant', 'client_credentials', '--scope', 'api']);
      // A request waits a second for a connection before it is answered 503.
    }, { config: `database_url = "${cluster.url}"\ndb_pool_wait_seconds = 1\n[policy.scopes]\napi = "low"\n` });

    const answers = [];
    let stop = false;
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const a = await tokenRequest(idp.issuer);
        answers.push(a);
        // A 503 asks the client to wait; the loops come back sooner to see it recover.
        if (a.status !== 200) await sleep(100);
      }
    });
    await sleep(1500);
    const crashedAt = Date.now();
    cluster.crash();
    // The outage proper: from the moment the database is down to the moment it is asked to
    // start (a request that began just before the stop may still have been answered).
    const downAt = Date.now();
    await sleep(3000);
    const startingAt = Date.now();
    cluster.start();
    const restartedAt = Date.now();
    // The provider finds its way back by itself: the loops go on until they have seen
    // tokens again for a second, within 30 s.
    let recovered = null;
    while (Date.now() - restartedAt < 30000) {
      await sleep(250);
      const latest = answers.filter((a) => a.started > Date.now() - 1000);
      const sinceRestart = answers.filter((a) => a.started >= restartedAt);
      if (sinceRestart.length > 0 && latest.length > 0 && latest.every((a) => a.status === 200)) {
        recovered = Date.now();
        break;
      }
    }
    stop = true;
    await Promise.all(loops);

    const byStatus = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    const unexpected = answers.filter((a) => a.status !== 200 && a.status !== 503);
    assert.deepEqual(unexpected.slice(0, 3), [], `only tokens and 503s: ${JSON.stringify(byStatus)}`);
    for (const a of answers.filter((x) => x.status === 503)) {
      assert.ok(Number(a.retryAfter) >= 1, `503 with Retry-After: ${JSON.stringify(a)}`);
      assert.equal(a.body.error, 'temporarily_unavailable');
    }
    const before = answers.filter((a) => a.status === 200 && a.ended < crashedAt);
    const after = answers.filter((a) => a.status === 200 && a.started > restartedAt);
    assert.ok(before.length > 20, `tokens before the crash: ${before.length}`);
    assert.ok(recovered, `tokens again after the restart: ${JSON.stringify(byStatus)}`);
    assert.ok(after.length > 0);
    // The outage was seen: requests sent while the database was down waited for it or
    // were told to come back.
    const during = answers.filter((a) => a.started >= downAt && a.started < startingAt);
    assert.ok(during.length > 0, 'requests were made during the outage');
    assert.ok(during.every((a) => a.status === 503 || a.ended >= startingAt),
      'a request during the outage was answered with a token only once the database was back');
    assert.ok(during.some((a) => a.status === 503), `the outage was answered 503: ${JSON.stringify(byStatus)}`);

    // Every token handed out, before, during and after, is still valid.
    const tokens = answers.filter((a) => a.status === 200).map((a) => a.body.access_token);
    const sample = [...tokens.slice(0, 20), ...tokens.slice(-20)];
    for (const t of sample) {
      const res = await postForm(`${idp.issuer}/introspect`, basic, `token=${encodeURIComponent(t)}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.active, true, 'a token handed out is still valid');
    }
    const ready = await fetch(`${idp.issuer}/health/ready`);
    assert.equal(ready.status, 200);
    console.log(`PostgreSQL restart: ${JSON.stringify(byStatus)}; tokens again ${recovered - restartedAt} ms after the restart`);
  } finally {
    await idp?.stop();
    cluster.remove();
  }
});
