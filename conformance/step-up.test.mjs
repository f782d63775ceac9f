// RFC 9470 (OAuth 2.0 Step Up Authentication Challenge) with an example relying party and
// resource server built on openid-client. The API needs "substantial" assurance; a token
// from a password sign-in is refused with `insufficient_user_authentication`; the relying
// party sends the citizen back with the requested `acr_values`; the provider asks only for
// the missing factor (an authenticator app code); the new token is accepted.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import * as client from 'openid-client';
import { Idp, UserAgent } from './harness.mjs';

const REDIRECT = 'https://rp.example/cb';
const SECRET = 'step-up-example-secret-0123';
const PASSWORD = 'a long and correct password';
const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const LEVELS = ['http://eidas.europa.eu/LoA/low', SUBSTANTIAL, 'http://eidas.europa.eu/LoA/high'];

let idp;
let api;
let apiUrl;

/** The example resource server: introspects the bearer token and applies RFC 9470. */
async function startApi(config) {
  const server = createServer(async (req, res) => {
    const token = (req.headers.authorization || '').replace(/^Bearer /, '');
    const intro = await client.tokenIntrospection(config, token);
    if (!intro.active) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
    } else if (LEVELS.indexOf(intro.acr) < LEVELS.indexOf(SUBSTANTIAL)) {
      res.writeHead(401, {
        'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="${SUBSTANTIAL}"`,
      }).end();
    } else {
      res.writeHead(200).end('paid');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return server;
}

before(async () => {
  idp = await Idp.start((cli) => {
    cli(['client', 'add', '--id', 'portal', '--secret', SECRET, '--redirect-uri', REDIRECT]);
    cli(['client', 'add', '--id', 'api', '--secret', SECRET, '--redirect-uri', REDIRECT, '--resource-server']);
    cli(['user', 'add', '--username', 'maria', '--password-stdin'], PASSWORD);
  }, { testClock: true });
  const apiConfig = await client.discovery(new URL(idp.issuer), 'api', SECRET, undefined, {
    execute: [client.allowInsecureRequests],
  });
  api = await startApi(apiConfig);
  apiUrl = `http://127.0.0.1:${api.address().port}/payments`;
});

after(async () => {
  api?.close();
  await idp?.stop();
});

function totp(key, seconds) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const c of key) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigInt64BE(BigInt(Math.floor(seconds / 30)));
  const h = createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const o = h[19] & 0xf;
  return String((((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1_000_000).padStart(6, '0');
}

async function formPost(ua, page, path, fields) {
  const csrf = page.match(/name="csrf" value="([^"]*)"/)[1];
  return ua.follow(await ua.request(new URL(path, idp.issuer).href, {
    method: 'POST', body: new URLSearchParams({ csrf, ...fields }),
  }));
}

test('a resource server challenge leads to a step-up and an accepted token', async () => {
  const ua = new UserAgent(idp.issuer);
  // The citizen signs in to the account page and sets up an authenticator app.
  let page = await ua.follow(await ua.request(`${idp.issuer}/account`));
  const action = page.body.match(/action="([^"]*)"/)[1];
  page = await formPost(ua, page.body, action, { username: 'maria', password: PASSWORD });
  page = await formPost(ua, page.body, '/account/totp/start', {});
  const key = page.body.match(/id="totp-key">([A-Z2-7 ]+)</)[1].replaceAll(' ', '');
  page = await formPost(ua, page.body, '/account/totp/confirm', { code: totp(key, Date.now() / 1000) });
  assert.match(page.body, /Authenticator app: Active/);

  // The relying party signs the citizen in (the session is at "low") and calls the API.
  const config = await client.discovery(new URL(idp.issuer), 'portal', SECRET, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const signIn = async (params) => {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT, scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      ...params,
    });
    return { url, verifier };
  };
  let { url, verifier } = await signIn({});
  const back = await ua.signIn(url.href, 'maria', PASSWORD);
  const low = await client.authorizationCodeGrant(config, new URL(back), { pkceCodeVerifier: verifier });
  let res = await fetch(apiUrl, { headers: { authorization: `Bearer ${low.access_token}` } });
  assert.equal(res.status, 401);
  const challenge = res.headers.get('www-authenticate');
  assert.match(challenge, /error="insufficient_user_authentication"/);
  const acrValues = challenge.match(/acr_values="([^"]*)"/)[1];

  // Back to the provider with the level the API asked for: only the code is asked.
  ({ url, verifier } = await signIn({ acr_values: acrValues }));
  page = await ua.follow(await ua.request(url.href));
  assert.match(page.body, /action="\/interaction\/[^"]+\/factor"/);
  assert.doesNotMatch(page.body, /type="password"/);
  // A later time step than the one used at enrolment: the server's clock moves on.
  await idp.advanceClock(30);
  const stepAction = page.body.match(/action="([^"]*)"/)[1];
  page = await formPost(ua, page.body, stepAction, { factor: 'totp', code: totp(key, Date.now() / 1000 + 30) });
  assert.ok(page.location, `back to the client: ${page.body}`);
  const strong = await client.authorizationCodeGrant(config, new URL(page.location), { pkceCodeVerifier: verifier });
  assert.equal(strong.claims().acr, SUBSTANTIAL);
  res = await fetch(apiUrl, { headers: { authorization: `Bearer ${strong.access_token}` } });
  assert.equal(res.status, 200);
});
