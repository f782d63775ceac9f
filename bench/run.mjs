// Load benchmark, side by side: the release `idp` (SQLite in a directory on disk, every
// token committed and on disk before it is returned) and node-oidc-provider (its default
// in-memory adapter: nothing written anywhere), started with an equivalent configuration,
// loaded one after the other by the same load generator (wrk) over loopback, in
// several interleaved rounds (the order alternates each round). Prints, per endpoint, the
// median over the rounds of requests per second and of the p50/p99 latencies, and idp's
// throughput as a multiple of the peer's; then the memory of both processes. With
// BENCH_WRITE=1 the same report goes to bench/RESULTS.md. Use `bench/run`, which builds
// what it needs first.
//
// Options (environment): BENCH_ROUNDS (3), BENCH_SECONDS per endpoint and round (5),
// BENCH_CONNECTIONS (32), BENCH_THREADS (wrk's threads, 1), BENCH_WRITE (0),
// BENCH_DATABASE_URL (idp on this PostgreSQL
// database, which must exist and be empty, instead of SQLite), BENCH_ONLY (a regular
// expression: only the endpoints whose names match, no sign-ins, and only the table is
// printed; for a quick look while working, never written), BENCH_INSTANCES (2: a second idp
// process on the same PostgreSQL database, the load split evenly between the two; with
// BENCH_DATABASE_URL only).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const target = process.env.CARGO_TARGET_DIR || join(root, 'target');
process.env.IDP_BIN ||= join(target, 'release', 'idp');
// The data directory on the project's disk, not a RAM-backed /tmp: fsync must be real.
process.env.TMPDIR = join(target, 'bench-tmp');
mkdirSync(process.env.TMPDIR, { recursive: true });
const { Idp, authorizationCode, freePort } = await import('../conformance/harness.mjs');

const SECRET = 'bench-secret-0123456789abcdef';
const REDIRECT = 'https://rp.example/cb';
const PASSWORD = 'bench password of good length';
const rounds = Number(process.env.BENCH_ROUNDS || 3);
const seconds = Number(process.env.BENCH_SECONDS || 5);
const connections = Number(process.env.BENCH_CONNECTIONS || 32);
const threads = Number(process.env.BENCH_THREADS || 1);
const basic = `Basic ${Buffer.from(`bench:${SECRET}`).toString('base64')}`;
const form = 'application/x-www-form-urlencoded';
const tokenHeaders = { authorization: basic, 'content-type': form };
// The client whose access tokens are JWTs (RFC 9068) on both sides.
const jwtHeaders = {
  authorization: `Basic ${Buffer.from(`bench-jwt:${SECRET}`).toString('base64')}`, 'content-type': form,
};

/** Resident and peak resident memory of a process, in MiB. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))[1]);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

async function post(url, body, headers = tokenHeaders) {
  const res = await fetch(url, { method: 'POST', headers, body });
  const json = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Refresh tokens of `n` sign-ins through idp's pages (password, consent, code, token). */
async function idpRefreshTokens(idp, n) {
  const tokens = [];
  for (let i = 0; i < n; i++) {
    const { code, verifier } = await authorizationCode(idp, { clientId: 'bench', redirectUri: REDIRECT }, 'citizen', PASSWORD);
    const t = await post(`${idp.issuer}/token`, new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier,
    }));
    tokens.push(t.refresh_token);
  }
  return tokens;
}

/**
 * wrk over one endpoint (`bench/load.lua` builds the request from `opts` and prints the
 * figures): answers below 400 per second, p50 and p99 in ms (wrk's percentiles, corrected by
 * it for coordinated omission), errors (answers of 400 and above included).
 * With `opts.tokens` each connection follows its own chain of refresh-token rotations.
 */
async function load(url, opts = {}, conns = connections) {
  const env = {
    ...process.env,
    WRK_METHOD: opts.method || 'GET',
    WRK_BODY: opts.body || '',
    WRK_HEADERS: Object.entries(opts.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n'),
    WRK_THREADS: String(Math.min(threads, conns)),
    WRK_TOKENS: '',
  };
  if (opts.tokens) {
    env.WRK_TOKENS = join(process.env.TMPDIR, `tokens-${process.pid}-${freshFile++}`);
    writeFileSync(env.WRK_TOKENS, `${opts.tokens.join('\n')}\n`);
  }
  // A long timeout: wrk leaves answers slower than it out of the latencies.
  const child = spawn('wrk', ['-t', env.WRK_THREADS, '-c', String(conns), '-d', `${seconds}s`,
    '--timeout', '30s', '-s', join(here, 'load.lua'), url], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const [code] = await once(child, 'exit');
  if (env.WRK_TOKENS) rmSync(env.WRK_TOKENS, { force: true });
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`wrk ${url}: exit ${code}\n${out}`);
  const r = JSON.parse(line);
  return {
    rps: r.answered / (r.duration_us / 1e6),
    p50: Math.round(r.p50_us / 1000),
    p99: Math.round(r.p99_us / 1000),
    errors: r.errors,
  };
}
let freshFile = 0;

/** Connections of a side split over `n` processes: `n` times the share of each. */
const perSide = (n) => Math.ceil(connections / n) * n;

/** `load` of `path` on every process of a side at once, the connections split evenly:
 * requests per second and errors summed, the latencies the slower process's. */
async function loadAll(side, path, opts = {}, tokens = null) {
  const per = Math.ceil(connections / side.bases.length);
  const each = await Promise.all(side.bases.map((base, i) => load(`${base}${path}`,
    tokens ? { ...opts, tokens: tokens.slice(i * per, (i + 1) * per) } : opts, per)));
  return {
    rps: each.reduce((n, r) => n + r.rps, 0),
    p50: Math.max(...each.map((r) => r.p50)),
    p99: Math.max(...each.map((r) => r.p99)),
    errors: each.reduce((n, r) => n + r.errors, 0),
  };
}

/** Refresh-token rotation: each connection follows its own chain of tokens, starting
 * from one of `tokens` (one per connection) and sending the token the last answer returned. */
function rotation(side, tokens) {
  return loadAll(side, side.paths.token, { method: 'POST', headers: tokenHeaders }, tokens);
}

/** Processor time a process has used so far, in seconds (Linux). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Bytes of idp's SQLite database in `dir` (the file and its write-ahead log). */
function databaseBytes(dir) {
  if (process.env.BENCH_DATABASE_URL) return NaN;
  return readdirSync(dir).filter((f) => f.endsWith('.sqlite') || f.endsWith('.sqlite-wal'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** idp's own count of the processor seconds its threads spent in argon2id. */
async function hashSeconds(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(text.match(/^idp_password_hash_cpu_seconds_total (\S+)$/m)[1]);
}

/**
 * Complete sign-ins through idp's pages, `loops` at a time for `seconds`: authorization
 * request, sign-in page, password, consent (remembered after the first), code, token
 * exchange, cookies and all; with the share of idp's processor time spent in argon2id.
 */
async function signIns(idp, loops) {
  const before = { cpu: cpuSeconds(idp.child.pid), hash: await hashSeconds(idp.issuer) };
  const latencies = [];
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: loops }, async () => {
    while (Date.now() < deadline) {
      const t0 = performance.now();
      try {
        const { code, verifier } = await authorizationCode(idp, { clientId: 'bench', redirectUri: REDIRECT }, 'citizen', PASSWORD);
        await post(`${idp.issuer}/token`, new URLSearchParams({
          grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier,
        }));
        latencies.push(performance.now() - t0);
      } catch (e) {
        if (process.env.BENCH_DEBUG) console.error(e);
        errors++;
      }
    }
  }));
  const cpu = cpuSeconds(idp.child.pid) - before.cpu;
  const hash = (await hashSeconds(idp.issuer)) - before.hash;
  latencies.sort((a, b) => a - b);
  const at = (q) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return {
    rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors, cpu: cpu / seconds, share: hash / cpu,
  };
}

const scenarios = {
  discovery: (s) => loadAll(s, '/.well-known/openid-configuration'),
  jwks: (s) => loadAll(s, s.paths.jwks),
  'token: client_credentials': (s) => loadAll(s, s.paths.token, {
    method: 'POST', headers: tokenHeaders, body: 'grant_type=client_credentials&scope=api',
  }),
  'token: refresh rotation': async (s) => rotation(s, await s.refreshTokens(perSide(s.bases.length))),
  introspection: async (s) => {
    // A token issued just now (the peer's adapter forgets older ones under load).
    const { access_token: token } = await post(`${s.base}${s.paths.token}`, 'grant_type=client_credentials&scope=api');
    return loadAll(s, s.paths.introspect, {
      method: 'POST', headers: tokenHeaders, body: `token=${encodeURIComponent(token)}`,
    });
  },
  'token: client_credentials, JWT': (s) => loadAll(s, s.paths.token, {
    method: 'POST', headers: jwtHeaders, body: 'grant_type=client_credentials&scope=api',
  }),
  // The peer answers unsupported_token_type for its JWTs: its side introspects an opaque one.
  'introspection of a JWT (peer: opaque)': async (s) => {
    const headers = s.introspectsJwt ? jwtHeaders : tokenHeaders;
    const { access_token: token } = await post(`${s.base}${s.paths.token}`, 'grant_type=client_credentials&scope=api', headers);
    return loadAll(s, s.paths.introspect, {
      method: 'POST', headers, body: `token=${encodeURIComponent(token)}`,
    });
  },
};

const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null;
for (const name of Object.keys(scenarios)) if (only && !only.test(name)) delete scenarios[name];

// idp: a client like the peer's, a citizen to sign in, the `api` scope at level low.
const idp = await Idp.start((cli) => {
  cli(['client', 'add', '--id', 'bench', '--secret', SECRET, '--redirect-uri', REDIRECT,
    '--grant', 'authorization_code', '--grant', 'refresh_token', '--grant', 'client_credentials',
    '--scope', 'openid', '--scope', 'api']);
  cli(['client', 'add', '--id', 'bench-jwt', '--secret', SECRET, '--redirect-uri', REDIRECT,
    '--grant', 'client_credentials', '--scope', 'api', '--access-token-format', 'jwt']);
  cli(['user', 'add', '--username', 'citizen', '--password-stdin'], `${PASSWORD}\n`);
  // All sign-ins come from 127.0.0.1: the per-address limit of attempts is raised.
}, {
  config: `${process.env.BENCH_DATABASE_URL ? `database_url = "${process.env.BENCH_DATABASE_URL}"\n` : ''}`
    + 'attempts_per_minute = 100000\n[policy.scopes]\napi = "low"\n',
});
// Its first start in development mode also set up the demo client and user (a password
// hashed, its strength checked, zxcvbn's dictionaries loaded for good). A deployed server
// starts on an installation set up beforehand: idle memory is measured after a restart.
const idpFirstStart = memory(idp.child.pid);
await idp.terminate();
await idp.restart();
const instances = Number(process.env.BENCH_INSTANCES || 1);
if (instances > 1 && !process.env.BENCH_DATABASE_URL) throw new Error('BENCH_INSTANCES needs BENCH_DATABASE_URL');
const idpProcesses = [idp];
while (idpProcesses.length < instances) idpProcesses.push(await idp.another());
const idpIdle = memory(idp.child.pid);
const port = await freePort();
const needed = perSide(instances) * rounds;
const peerProc = spawn(process.execPath, [join(here, 'peer.mjs'), String(port), SECRET],
  { stdio: ['pipe', 'pipe', 'inherit'] });
let peerOut = '';
peerProc.stdout.on('data', (d) => (peerOut += d));
/** The next line the peer prints that contains `marker`. */
async function peerLine(marker) {
  for (;;) {
    const at = peerOut.indexOf('\n');
    if (at >= 0) {
      const line = peerOut.slice(0, at);
      peerOut = peerOut.slice(at + 1);
      if (line.includes(marker)) return line;
      continue;
    }
    await once(peerProc.stdout, 'data');
  }
}
await peerLine('ready');
const peerIdle = memory(peerProc.pid);
const idpRefresh = await idpRefreshTokens(idp, needed);

const sides = {
  idp: {
    base: idp.issuer, bases: idpProcesses.map((p) => p.base), pid: idp.child.pid,
    paths: { jwks: '/jwks', token: '/token', introspect: '/introspect' },
    introspectsJwt: true,
    refreshTokens: async (n) => idpRefresh.splice(0, n),
  },
  peer: {
    base: `http://127.0.0.1:${port}`, bases: [`http://127.0.0.1:${port}`], pid: peerProc.pid,
    paths: { jwks: '/jwks', token: '/token', introspect: '/token/introspection' },
    refreshTokens: async (n) => {
      peerProc.stdin.write(`mint ${n}\n`);
      return JSON.parse(await peerLine('refresh_tokens')).refresh_tokens;
    },
  },
};

const results = { idp: {}, peer: {} };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? ['idp', 'peer'] : ['peer', 'idp'];
  for (const [name, run] of Object.entries(scenarios)) {
    for (const side of order) {
      const r = await run(sides[side]);
      (results[side][name] ??= []).push(r);
      process.stderr.write(`round ${round + 1} ${side} ${name}: ${r.rps.toFixed(0)} req/s\n`);
    }
  }
}
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (runs) => ({
  rps: median(runs.map((r) => r.rps)),
  p50: median(runs.map((r) => r.p50)),
  p99: median(runs.map((r) => r.p99)),
  errors: runs.reduce((n, r) => n + r.errors, 0),
});
const rows = Object.keys(scenarios).map((name) => {
  const a = summary(results.idp[name]);
  const b = summary(results.peer[name]);
  return `| ${name} | ${fmt(a.rps)} | ${a.p50} / ${a.p99} | ${a.errors} | ${fmt(b.rps)} | ${b.p50} / ${b.p99} | ${b.errors} | **${(a.rps / b.rps).toFixed(2)}** |`;
});
if (only) {
  console.log(rows.join('\n'));
  peerProc.kill('SIGTERM');
  for (const p of idpProcesses.slice(1)) await p.terminate();
  await idp.stop();
  process.exit(0);
}
const loginLoops = 4;
const logins = [];
// Memory per signed-in session: what the process and the database grow by from the end of
// the first round of sign-ins (argon2id's working memory is allocated by then) to the end.
let afterFirst;
for (let round = 0; round < rounds; round++) {
  const r = await signIns(idp, loginLoops);
  logins.push(r);
  if (round === 0) afterFirst = { rss: memory(idp.child.pid).rss, db: databaseBytes(idp.dataDir) };
  process.stderr.write(`round ${round + 1} idp sign-ins: ${r.rps.toFixed(1)}/s, argon2id ${(100 * r.share).toFixed(0)}% of its processor time\n`);
}
const sessionsAfterFirst = logins.slice(1).reduce((n, r) => n + Math.round(r.rps * seconds), 0);
const perSession = {
  rss: ((memory(idp.child.pid).rss - afterFirst.rss) * 2 ** 20) / sessionsAfterFirst,
  db: (databaseBytes(idp.dataDir) - afterFirst.db) / sessionsAfterFirst,
};
const idpLoaded = memory(idp.child.pid);
const peerLoaded = memory(peerProc.pid);
peerProc.kill('SIGTERM');
for (const p of idpProcesses.slice(1)) await p.terminate();
await idp.stop();

const version = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout.trim();
const peerVersion = JSON.parse(readFileSync(join(here, 'node_modules/oidc-provider/package.json'), 'utf8')).version;
const wrkVersion = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.match(/wrk (\S+)/)?.[1];
const mib = (m) => `${m.rss.toFixed(0)} MiB`;
const report = `# Benchmark results

Written by \`bench/run\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. Machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}; the load generator shares the cores with the server under load.

- ${version(process.env.IDP_BIN, ['--version'])}, release build, ${process.env.BENCH_DATABASE_URL ? `PostgreSQL ${version('psql', ['--version']).match(/\d+\.\d+/)?.[0]} on the same machine (every commit durable before the answer)${instances > 1 ? `, ${instances} idp processes on that one database with the load split evenly between them (a row sums them; its latencies are the slower process's)` : ''}` : 'SQLite in a directory on disk (WAL, every commit on disk before the answer, many commits sharing one fsync)'}, ES256 signing, opaque access and refresh tokens in the database; the client \`bench-jwt\` takes JWT access tokens (RFC 9068: nothing written to issue one, nothing read to introspect one).
- node-oidc-provider ${peerVersion} on Node.js ${process.version}, its default in-memory adapter (nothing is written to disk; it keeps only the 1,000 newest artifacts of each kind), ES256 signing, opaque tokens, refresh tokens rotated on every use as idp does; \`bench-jwt\` gets JWT access tokens through its resource-indicators feature (it refuses to introspect them, so its introspection row is of an opaque token). Its refresh tokens are minted through its own models; idp's come from complete sign-ins through its pages.
- wrk ${wrkVersion}, ${threads} thread${threads > 1 ? 's' : ''} (refresh-token rotation: each connection follows its own chain of tokens, \`bench/load.lua\`): ${connections} keep-alive connections over loopback, ${seconds} s per endpoint and side, ${rounds} rounds, the order of the two sides alternating each round; figures are the medians over the rounds (requests per second: answers below 400; latencies: wrk's percentiles, which it corrects for coordinated omission; errors: their sum, answers of 400 and above included).

| endpoint | idp req/s | idp p50 / p99 ms | idp errors | peer req/s | peer p50 / p99 ms | peer errors | idp / peer |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Complete sign-ins through idp's pages (authorization request, sign-in page, password, remembered consent, code, token exchange, cookies and all; the one citizen's argon2id hash at its default cost), ${loginLoops} at a time, ${seconds} s per round, medians over ${rounds} rounds: **${median(logins.map((r) => r.rps)).toFixed(1)} sign-ins/s**, p50 / p99 ${median(logins.map((r) => r.p50))} / ${median(logins.map((r) => r.p99))} ms, ${logins.reduce((n, r) => n + r.errors, 0)} errors; idp used ${median(logins.map((r) => r.cpu)).toFixed(2)} processors, of which argon2id **${(100 * median(logins.map((r) => r.share))).toFixed(0)}%** (idp's own count of the processor time its threads spent hashing, \`idp_password_hash_cpu_seconds_total\`, over the process's). node-oidc-provider has no password sign-in of its own to compare with. Each sign-in leaves a session signed in: over the ${fmt(sessionsAfterFirst)} sign-ins after the first round, idp's resident memory grew by ${fmt(perSession.rss)} bytes per session (sessions live in the database, not in the process) and ${Number.isNaN(perSession.db) ? 'the database (PostgreSQL: not measured here)' : `its SQLite database by ${fmt(perSession.db)} bytes per sign-in, everything included (session, login transaction, code, grant, tokens, audit entries)`}.

Memory (resident): idp ${mib(idpIdle)} idle after start (${mib(idpFirstStart)} on its first start in development mode, which also creates the demo client and user), ${mib(idpLoaded)} after the load (peak ${idpLoaded.peak.toFixed(0)} MiB), biometric models not loaded; node-oidc-provider ${mib(peerIdle)} idle, ${mib(peerLoaded)} after the load (peak ${peerLoaded.peak.toFixed(0)} MiB).
`;
console.log(report);
if (process.env.BENCH_WRITE === '1') {
  const file = join(here, 'RESULTS.md');
  let rest = '';
  try {
    // Keep the hand-written analysis below the generated part.
    const old = readFileSync(file, 'utf8');
    const at = old.indexOf('\n## Where the time goes');
    if (at >= 0) rest = old.slice(at);
  } catch {
    // first run
  }
  writeFileSync(file, report + rest);
}
