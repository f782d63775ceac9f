// Load benchmark, side by side: the release `idp` (SQLite, durable commits) and
// node-oidc-provider (its default in-memory store) on the same machine, in one run, one
// after the other, with the same load generator (autocannon) and client. Prints requests
// per second and latency percentiles per endpoint, and idp's throughput as a multiple of
// the peer's.
//
//   cargo build --release -p idp && (cd conformance/bench && npm ci) && node conformance/bench/run.mjs
//
// Options (environment): BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
process.env.IDP_BIN ||= join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'release', 'idp');
const { Idp } = await import('../harness.mjs');

const SECRET = 'bench-secret-0123456789abcdef';
const seconds = Number(process.env.BENCH_SECONDS || 10);
const connections = Number(process.env.BENCH_CONNECTIONS || 32);
const basic = `Basic ${Buffer.from(`bench:${SECRET}`).toString('base64')}`;
const form = 'application/x-www-form-urlencoded';

async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  return port;
}

async function token(base, path) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': form },
    body: 'grant_type=client_credentials&scope=api',
  });
  if (!res.ok) throw new Error(`${base}${path}: ${res.status} ${await res.text()}`);
  return (await res.json()).access_token;
}

async function load(url, opts = {}) {
  const r = await autocannon({ url, connections, duration: seconds, ...opts });
  const errors = r.errors + r.timeouts + r.non2xx;
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors };
}

async function scenarios(base, paths) {
  const access = await token(base, paths.token);
  return {
    discovery: await load(`${base}/.well-known/openid-configuration`),
    jwks: await load(`${base}${paths.jwks}`),
    'token (client_credentials)': await load(`${base}${paths.token}`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': form },
      body: 'grant_type=client_credentials&scope=api',
    }),
    introspection: await load(`${base}${paths.introspect}`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': form },
      body: `token=${encodeURIComponent(access)}`,
    }),
  };
}

const idp = await Idp.start((cli) => {
  cli(['client', 'add', '--id', 'bench', '--secret', SECRET, '--redirect-uri', 'https://rp.example/cb',
    '--grant', 'client_credentials', '--scope', 'api']);
}, { config: '[policy.scopes]\napi = "low"\n' });
const ours = await scenarios(idp.issuer, { jwks: '/jwks', token: '/token', introspect: '/introspect' });
await idp.stop();

const port = await freePort();
const peer = spawn(process.execPath, [join(here, 'peer.mjs'), String(port), SECRET], { stdio: ['ignore', 'pipe', 'inherit'] });
await once(peer.stdout, 'data');
const theirs = await scenarios(`http://127.0.0.1:${port}`, { jwks: '/jwks', token: '/token', introspect: '/token/introspection' });
peer.kill('SIGTERM');

console.log(`${connections} connections, ${seconds} s per endpoint; requests/s, latency p50/p99 ms, errors`);
console.log('endpoint                     | idp rps   p50  p99 err | node-oidc-provider rps   p50  p99 err | idp/peer');
for (const name of Object.keys(ours)) {
  const a = ours[name];
  const b = theirs[name];
  const row = (x) => `${x.rps.toFixed(0).padStart(7)} ${String(x.p50).padStart(5)} ${String(x.p99).padStart(4)} ${String(x.errors).padStart(3)}`;
  console.log(`${name.padEnd(28)} | ${row(a)} | ${row(b).padStart(36)} | ${(a.rps / b.rps).toFixed(2)}`);
}
