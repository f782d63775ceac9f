// Interoperability with a Python relying party: conformance/python/authlib_client.py, written
// with authlib, drives the real binary (discovery, the code flow with PKCE, ID tokens
// verified by authlib, UserInfo, refresh, introspection, revocation, RP-initiated logout,
// private_key_jwt). This test starts the provider with its clients and checks every step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Idp, signingKey } from './harness.mjs';

const REDIRECT = 'https://rp.example/cb';
const POST_LOGOUT = 'https://rp.example/bye';
const SECRET = 'authlib-client-secret-0123456789';
const PASSWORD = 'a long and correct password';
const STEPS = [
  'discovery and JWKS',
  'code flow, client_secret_basic, ID token verified with its at_hash and the email asked for',
  'UserInfo',
  'refresh token rotated',
  'introspection and revocation',
  'a reused refresh token refused, and the family revoked',
  'RP-initiated logout',
  'code flow, private_key_jwt (RS256 assertion)',
];

test('a Python relying party (authlib) signs a citizen in and out', async () => {
  // The private_key_jwt client's RSA key: its public half registered, its private half
  // (PEM) given to the relying party.
  const { privateKey, jwk } = await signingKey('RS256', undefined, 'sig');
  const pem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(await crypto.subtle.exportKey('pkcs8', privateKey))
    .toString('base64').match(/.{1,64}/g).join('\n')}\n-----END PRIVATE KEY-----\n`;
  const jwksFile = join(mkdtempSync(join(tmpdir(), 'rp-authlib-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));

  const idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'rp-authlib', '--secret', SECRET, '--redirect-uri', REDIRECT,
      '--post-logout-redirect-uri', POST_LOGOUT]);
    cli(['client', 'add', '--id', 'rp-authlib-jwt', '--jwks-file', jwksFile, '--redirect-uri', REDIRECT]);
    cli(['user', 'add', '--username', 'maria', '--password-stdin', '--email', 'maria@example.invalid',
      '--name', 'Maria Kovács'], `${PASSWORD}\n`);
  });
  try {
    const run = join(dirname(fileURLToPath(import.meta.url)), 'python', 'run');
    const child = spawn('sh', [run], {
      env: {
        ...process.env,
        IDP_ISSUER: idp.issuer,
        IDP_REDIRECT: REDIRECT,
        IDP_POST_LOGOUT: POST_LOGOUT,
        IDP_CLIENT: 'rp-authlib',
        IDP_SECRET: SECRET,
        IDP_JWT_CLIENT: 'rp-authlib-jwt',
        IDP_JWT_KEY: pem,
        IDP_USERNAME: 'maria',
        IDP_PASSWORD: PASSWORD,
      },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((ok) => child.on('exit', ok));
    assert.equal(code, 0, `the relying party failed:\n${out}\n${err}`);
    const done = out.split('\n').filter((l) => l.startsWith('ok ')).map((l) => l.slice(3));
    assert.deepEqual(done, STEPS);
  } finally {
    await idp.stop();
  }
});
