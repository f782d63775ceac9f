// Starts a real `idp` binary on a free loopback port with a fresh data directory, set up
// through its own CLI, and provides a cookie-keeping user agent that signs in through the
// login pages the way a person's browser would (forms and redirects, no JavaScript).

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { crc32, deflateSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const targetDir = process.env.CARGO_TARGET_DIR || join(root, 'target');
export const IDP_BIN = process.env.IDP_BIN || join(targetDir, 'debug', 'idp');

/**
 * A new, empty PostgreSQL database on the test server (IDP_TEST_DATABASE_URL, else the
 * local one): its URL, and `drop()` for afterwards.
 */
export function postgresDatabase(prefix) {
  const base = process.env.IDP_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const psql = (sql) => {
    const r = spawnSync('psql', [base, '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  };
  psql(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => psql(`DROP DATABASE IF EXISTS ${name}`) };
}

/**
 * A form POST with an Authorization header: its status, Retry-After and JSON body (`{}`
 * when there is none). A failed connection throws.
 */
export async function postForm(url, authorization, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json().catch(() => ({})) };
}

/** The WebCrypto parameters of the JWS algorithms the harness signs and verifies with. */
export const JWS_ALGORITHMS = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), saltLength: 32 },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
};

const b64json = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * A relying party's signing key: the private CryptoKey, its algorithm, and its public JWK
 * (with `kid` and `alg`, and the `use` given).
 */
export async function signingKey(alg, kid, use) {
  const pair = await crypto.subtle.generateKey(JWS_ALGORITHMS[alg], true, ['sign', 'verify']);
  const { key_ops: _, ext: __, ...jwk } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  return { privateKey: pair.privateKey, alg, kid, jwk: { ...jwk, alg, ...(kid ? { kid } : {}), ...(use ? { use } : {}) } };
}

/**
 * A compact JWS of `claims` with `header`, signed by `key` (`signingKey`) with its algorithm
 * unless `alg` names another (an RSA key signing RS256 instead of PS256).
 */
export async function signJws(key, header, claims, alg = key.alg) {
  let { privateKey } = key;
  if (alg !== key.alg) {
    const { alg: _, key_ops: __, ...jwk } = await crypto.subtle.exportKey('jwk', key.privateKey);
    privateKey = await crypto.subtle.importKey('jwk', jwk, JWS_ALGORITHMS[alg], false, ['sign']);
  }
  const input = `${b64json({ alg, ...header })}.${b64json(claims)}`;
  const signature = await crypto.subtle.sign(JWS_ALGORITHMS[alg], privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/** A PNG image of one colour (a relying party's logo). */
export function png(width, height, rgb = [0, 90, 160]) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array(width).fill(rgb).flat())]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(Array(height).fill(row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Serves `bytes` on loopback from another process, so that an `idp` command (run
 * synchronously, which stops this process's event loop) can fetch them: their URL, and
 * `stop()`.
 */
export async function servedApart(bytes) {
  const port = await freePort();
  const code = "require('http').createServer((q, r) => r.end(Buffer.from(process.env.BODY, 'base64')))"
    + ".listen(Number(process.env.PORT), '127.0.0.1')";
  const child = spawn(process.execPath, ['-e', code], {
    stdio: 'ignore', env: { ...process.env, BODY: bytes.toString('base64'), PORT: String(port) },
  });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return { url, stop: () => child.kill() };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error('the document server did not start');
}

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export class Idp {
  /** `port`: where it listens, when not on the issuer's port (behind a proxy). */
  constructor(dataDir, issuer, settings, env, port) {
    this.dataDir = dataDir;
    this.settings = settings;
    this.issuer = issuer;
    this.env = env;
    this.port = port ?? Number(new URL(issuer).port);
    this.base = `http://127.0.0.1:${this.port}`;
    this.child = null;
    this.log = '';
  }

  /**
   * `start` with the issuer at `issuer` while the process listens on a port of its own (a
   * load balancer in front answers for the issuer); `another()` adds a second process on
   * the same settings and database.
   */
  static async startBehind(issuer, setup, config) {
    const dataDir = mkdtempSync(join(tmpdir(), 'idp-test-'));
    const file = join(dataDir, 'idp.toml');
    writeFileSync(file, config);
    const settings = ['--data-dir', dataDir, '--config', file];
    Idp.cli(settings, ['migrate']);
    setup((args, input) => Idp.cli(settings, args, input));
    const idp = new Idp(dataDir, issuer, settings, { ...process.env, RUST_LOG: 'warn' }, await freePort());
    await idp.serve();
    return idp;
  }

  /** Another process of the same installation (settings, key file, database). */
  async another() {
    const idp = new Idp(this.dataDir, this.issuer, this.settings, this.env, await freePort());
    await idp.serve();
    return idp;
  }

  /** Runs an `idp` command with these settings (`--data-dir DIR`, maybe `--config FILE`). */
  static cli(settings, args, input) {
    const r = spawnSync(IDP_BIN, [...settings, ...args], { input, encoding: 'utf8' });
    if (r.status !== 0) {
      throw new Error(`idp ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    }
    return r.stdout;
  }

  /**
   * `setup(cli)` registers clients and users before the server starts. `host` is the
   * issuer's host name (WebAuthn needs a domain such as `localhost`, not an address);
   * `testClock` enables the development-only clock endpoint; `config` is the text of a
   * settings file (TOML) that the commands and the server read.
   */
  static async start(setup, { host = '127.0.0.1', testClock = false, config } = {}) {
    const dataDir = mkdtempSync(join(tmpdir(), 'idp-test-'));
    const settings = ['--data-dir', dataDir];
    if (config !== undefined) {
      const file = join(dataDir, 'idp.toml');
      writeFileSync(file, config);
      settings.push('--config', file);
    }
    // Administrative commands refuse an installation that does not exist yet.
    Idp.cli(settings, ['migrate']);
    setup((args, input) => Idp.cli(settings, args, input));
    const port = await freePort();
    const issuer = `http://${host}:${port}`;
    const env = { ...process.env, RUST_LOG: 'warn' };
    if (testClock) env.IDP_TEST_CLOCK = '1';
    const idp = new Idp(dataDir, issuer, settings, env);
    await idp.serve();
    return idp;
  }

  /** Starts `idp serve` on the issuer's port and waits until it is ready. */
  async serve() {
    const child = spawn(
      IDP_BIN,
      [...this.settings, 'serve', '--dev', '--listen', `127.0.0.1:${this.port}`, '--issuer', this.issuer],
      { stdio: ['ignore', 'pipe', 'pipe'], env: this.env },
    );
    this.child = child;
    child.stdout.on('data', (d) => (this.log += d));
    child.stderr.on('data', (d) => (this.log += d));
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`idp exited: ${this.log}`);
      try {
        if ((await fetch(`${this.base}/health/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`idp did not become ready: ${this.log}`);
  }

  /** Kills the server at once (SIGKILL: no shutdown, nothing flushed by it). */
  async kill() {
    const done = new Promise((ok) => this.child.on('exit', ok));
    this.child.kill('SIGKILL');
    await done;
  }

  /** Starts the server again on the same data, port and settings. */
  restart() {
    return this.serve();
  }

  /** Moves the server's clock forward (needs `testClock`). */
  async advanceClock(seconds) {
    const r = await fetch(`${this.issuer}/_test/clock?advance=${seconds}`, { method: 'POST' });
    if (!r.ok) throw new Error(`clock: ${r.status}`);
  }

  /** Messages the development sender wrote to the outbox. */
  outbox() {
    const dir = join(this.dataDir, 'outbox');
    if (!existsSync(dir)) return [];
    return readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  }

  /** `terminate`, then removes the data directory. */
  async stop() {
    const code = await this.terminate();
    rmSync(this.dataDir, { recursive: true, force: true });
    return code;
  }

  /** Stops the process with SIGTERM (graceful shutdown), keeping its data; its exit code. */
  async terminate() {
    const done = new Promise((ok) => this.child.on('exit', (code, signal) => ok(code ?? signal)));
    this.child.kill('SIGTERM');
    return done;
  }
}

/**
 * Signs `username` in through the pages for `clientId` (authorization code flow with PKCE)
 * and returns the code and its verifier.
 */
export async function authorizationCode(idp, { clientId, redirectUri, scope = 'openid' }, username, password) {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${idp.issuer}/authorize`);
  url.search = new URLSearchParams({
    client_id: clientId, response_type: 'code', scope, redirect_uri: redirectUri, state: 's', nonce: 'n',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  const back = await new UserAgent(idp.issuer).signIn(url.href, username, password);
  return { code: new URL(back).searchParams.get('code'), verifier };
}

/** A browser stand-in: keeps cookies, follows redirects inside the provider, fills forms. */
export class UserAgent {
  constructor(base) {
    this.base = base;
    this.cookies = new Map();
  }

  async request(url, init = {}) {
    const headers = new Headers(init.headers || {});
    if (this.cookies.size) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /**
   * Follows redirects within the provider; returns the final page (`status`, `body`), the
   * outbound `location`, or for a page whose form the browser posts at once to the client
   * (response mode `form_post`) what it posts, as `posted`.
   */
  async follow(res) {
    for (let i = 0; i < 10; i++) {
      const loc = res.headers.get('location');
      if (!loc) {
        const page = { status: res.status, body: await res.text() };
        const posted = FormPost.from(page.body, this.base);
        return posted ? { ...page, posted } : page;
      }
      const abs = new URL(loc, this.base).href;
      if (!abs.startsWith(this.base)) return { status: res.status, location: abs };
      res = await this.request(abs);
    }
    throw new Error('redirect loop');
  }

  /** Signs in (and consents) until the provider sends the browser back to the client. */
  async signIn(authorizationUrl, username, password) {
    return this.complete(await this.follow(await this.request(authorizationUrl)), username, password);
  }

  /**
   * `signIn` from a page the provider has shown (`follow`'s answer): the URL the browser
   * is sent back to, or the `FormPost` it posts there.
   */
  async complete(page, username, password) {
    for (let step = 0; step < 4; step++) {
      if (page.location) return page.location;
      if (page.posted) return page.posted;
      if (page.status !== 200) throw new Error(`unexpected page ${page.status}: ${page.body}`);
      const action = new URL(attr(page.body, 'action'), this.base).href;
      const form = new URLSearchParams({ csrf: hidden(page.body, 'csrf') });
      if (action.endsWith('/login')) {
        form.set('username', username);
        form.set('password', password);
      } else if (action.endsWith('/consent')) {
        form.set('decision', 'allow');
      } else if (action.endsWith('/select')) {
        form.set('choice', 'continue');
      }
      page = await this.follow(await this.request(action, { method: 'POST', body: form }));
    }
    throw new Error(`sign-in did not finish: ${page.body}`);
  }
}

/** A response posted to the client by the browser (OAuth 2.0 Form Post Response Mode). */
export class FormPost {
  constructor(action, params) {
    this.action = action;
    this.params = params;
  }

  /** The form of a page that posts itself to a page outside the provider, if it has one. */
  static from(html, base) {
    const form = html.match(/<form method="post" action="([^"]*)" id="form-post">([\s\S]*?)<\/form>/);
    if (!form) return undefined;
    const action = new URL(unescape(form[1]), base).href;
    if (action.startsWith(base)) return undefined;
    const params = new URLSearchParams();
    for (const [, name, value] of form[2].matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
      params.append(unescape(name), unescape(value));
    }
    return new FormPost(action, params);
  }

  /** The request the browser makes, as a relying party receives it. */
  request() {
    return new Request(this.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: this.params,
    });
  }
}

function attr(html, name) {
  const m = html.match(new RegExp(`${name}="([^"]*)"`));
  if (!m) throw new Error(`no ${name} in page: ${html}`);
  return unescape(m[1]);
}

/** The value of the hidden form field `name` of a page. */
export function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no ${name} field in page: ${html}`);
  return unescape(m[1]);
}

/** Text of HTML with its character references resolved. */
export function unescape(s) {
  const named = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };
  return s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(\w+));/gi, (all, dec, hex, name) => (dec
    ? String.fromCodePoint(Number(dec))
    : hex ? String.fromCodePoint(parseInt(hex, 16)) : named[name.toLowerCase()] ?? all));
}
