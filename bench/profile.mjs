// Where the token endpoint's time goes, as instruction counts (valgrind's callgrind counts
// instructions, which stay the same on a noisy shared machine, unlike seconds). Starts the
// release `idp` under callgrind with instrumentation off, switches it on once the server is
// ready, sends PROFILE_REQUESTS (default 500) requests of PROFILE_SCENARIO one after the
// other, switches it off, and prints the functions with the largest inclusive counts per
// request. Scenarios: client_credentials (the default; opaque tokens, stored),
// client_credentials_jwt (RFC 9068 access tokens, nothing stored), introspect (of an opaque
// token), introspect_jwt (of a JWT access token), refresh (refresh-token rotation, each
// request with the token the last one returned, after a sign-in through idp's pages). Use
// `bench/profile`, which builds first.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const target = process.env.CARGO_TARGET_DIR || join(root, 'target');
const work = join(target, 'bench-tmp');
mkdirSync(work, { recursive: true });
process.env.TMPDIR = work;
const out = join(work, 'callgrind.out');
// The server, and the commands that set it up, under callgrind.
const wrapper = join(work, 'idp-callgrind.sh');
writeFileSync(wrapper, `#!/bin/sh
case "$*" in
  *serve*) exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=${out} ${join(target, 'release', 'idp')} "$@" ;;
  *) exec ${join(target, 'release', 'idp')} "$@" ;;
esac
`);
chmodSync(wrapper, 0o755);
process.env.IDP_BIN = wrapper;
const { Idp, authorizationCode } = await import('../conformance/harness.mjs');

const SECRET = 'bench-secret-0123456789abcdef';
const REDIRECT = 'https://rp.example/cb';
const PASSWORD = 'bench password of good length';
const requests = Number(process.env.PROFILE_REQUESTS || 500);
const scenario = process.env.PROFILE_SCENARIO || 'client_credentials';
const jwt = scenario.endsWith('_jwt');
const basic = `Basic ${Buffer.from(`bench:${SECRET}`).toString('base64')}`;

const idp = await Idp.start((cli) => {
  cli(['client', 'add', '--id', 'bench', '--secret', SECRET, '--redirect-uri', REDIRECT,
    '--grant', 'client_credentials', '--grant', 'authorization_code', '--grant', 'refresh_token',
    '--scope', 'openid', '--scope', 'api', '--access-token-format', jwt ? 'jwt' : 'opaque']);
  cli(['user', 'add', '--username', 'citizen', '--password-stdin'], `${PASSWORD}\n`);
}, { config: '[policy.scopes]\napi = "low"\n' });
const post = (path, body) => fetch(`${idp.issuer}${path}`, {
  method: 'POST',
  headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
  body,
});
const issue = () => post('/token', 'grant_type=client_credentials&scope=api');
let token = issue;
if (scenario === 'refresh') {
  const { code, verifier } = await authorizationCode(idp, { clientId: 'bench', redirectUri: REDIRECT }, 'citizen', PASSWORD);
  let { refresh_token: current } = await (await post('/token', new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier,
  }).toString())).json();
  token = async () => {
    const res = await post('/token', `grant_type=refresh_token&refresh_token=${encodeURIComponent(current)}`);
    const body = await res.clone().json();
    current = body.refresh_token || current;
    return res;
  };
} else if (scenario.startsWith('introspect')) {
  const { access_token: t } = await (await issue()).json();
  token = () => post('/introspect', `token=${encodeURIComponent(t)}`);
}
// Warm up (first-use initialisation is not what a request costs).
for (let i = 0; i < 20; i++) await (await token()).text();
const control = (on) => {
  const r = spawnSync('callgrind_control', ['-i', on, String(idp.child.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`callgrind_control: ${r.stderr}`);
};
control('on');
for (let i = 0; i < requests; i++) {
  const res = await token();
  if (res.status !== 200) throw new Error(`${scenario}: ${res.status}`);
  await res.text();
}
control('off');
await idp.stop();

const annotate = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], {
  encoding: 'utf8', maxBuffer: 1 << 28,
});
const lines = annotate.stdout.split('\n');
const total = Number((lines.find((l) => / PROGRAM TOTALS/.test(l)) || '0').trim().split(/\s+/)[0].replace(/,/g, ''));
console.log(`${requests} ${scenario} requests: ${(total / requests / 1000).toFixed(0)} k instructions per request (all threads)\n`);
console.log('inclusive instructions per request, largest first:');
for (const l of lines) {
  const m = l.match(/^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S.*)$/);
  if (!m) continue;
  const per = Number(m[1].replace(/,/g, '')) / requests;
  if (per < total / requests / 100) continue;
  console.log(`${(per / 1000).toFixed(1).padStart(9)} k ${m[2].padStart(6)}%  ${m[3].slice(0, 140)}`);
}
