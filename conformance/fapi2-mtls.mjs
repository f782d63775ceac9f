// The FAPI 2.0 Security Profile plan in its mutual-TLS variants (sender_constrain=mtls), as
// certification.test.mjs runs it: the clients authenticate with TLS client certificates
// (client_auth_type=mtls; RFC 8705 2: `tls_client_auth` from a CA the provider trusts,
// `self_signed_tls_client_auth` with a certificate in the client's JWK set) or, one of
// them, with private_key_jwt, at the endpoints' `mtls_endpoint_aliases`, over real TLS,
// and their access tokens are bound to the certificate (RFC 8705 3). The modules are those of the plan that this variant runs
// and that differ in it from the DPoP and private_key_jwt variant (conformance/fapi2.mjs);
// the DPoP and client-assertion modules do not run in it. The certificates are made with
// the openssl command.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clean, random, request } from './fapi2.mjs';
import { UserAgent, freePort, signJws, signingKey } from './harness.mjs';

export const FAPI2_MTLS = 'FAPI 2.0 Security Profile, mutual TLS';
const P = 'fapi2-security-profile-final-';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';


/** Runs openssl in `dir`. */
const openssl = (dir, args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

/** An EC P-256 key and a certificate for `subject`: self-signed, or signed by `ca`. */
function certificate(dir, name, subject, { ca, ext = [] } = {}) {
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`];
  if (!ca) {
    openssl(dir, ['req', '-x509', ...key, '-out', `${name}.pem`, '-days', '3650', '-subj', subject,
      ...ext.flatMap((e) => ['-addext', e])]);
  } else {
    openssl(dir, ['req', ...key, '-out', `${name}.csr`, '-subj', subject]);
    writeFileSync(join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
      '-CAcreateserial', '-out', `${name}.pem`, '-days', '365', '-extfile', `${name}.ext`]);
  }
  const read = (f) => readFileSync(join(dir, f), 'utf8');
  return { cert: read(`${name}.pem`), key: read(`${name}.key`), file: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}

/** The base64 DER of a PEM certificate (a JWK's `x5c` member), and its `x5t#S256`. */
function der(pem) {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return { x5c: b64, x5t: createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64url') };
}

/**
 * Defines the variant's modules with `h` (as `fapi2Plan` takes it). Returns `keys()`,
 * which makes the certificates, `config()`, the provider's `[mtls]` settings, and
 * `setup(cli)`, which registers the clients.
 */
export function fapi2MtlsPlan(h) {
  const { module, passed, warning, review } = h;
  const clients = {};
  let serverCa;
  let port;
  let dir;
  const issuer = () => h.idp().issuer;
  const url = (path) => `${issuer()}${path}`;
  const alias = (path) => `https://127.0.0.1:${port}${path}`;

  async function keys() {
    dir = mkdtempSync(join(tmpdir(), 'fapi2-mtls-'));
    port = await freePort();
    certificate(dir, 'server-ca', '/CN=Harness server CA', { ext: ['basicConstraints=critical,CA:TRUE'] });
    serverCa = readFileSync(join(dir, 'server-ca.pem'), 'utf8');
    certificate(dir, 'server', '/CN=127.0.0.1', {
      ca: 'server-ca', ext: ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth'],
    });
    certificate(dir, 'client-ca', '/CN=Harness client CA', { ext: ['basicConstraints=critical,CA:TRUE'] });
    const clientAuth = 'extendedKeyUsage=clientAuth';
    clients['fapi-mtls-1'] = {
      id: 'fapi-mtls-1', redirect: h.REDIRECT, method: 'tls_client_auth',
      ...certificate(dir, 'fapi-mtls-1', '/C=HU/O=Harness/CN=fapi-mtls-1', { ca: 'client-ca', ext: [clientAuth] }),
    };
    clients['fapi-mtls-2'] = {
      id: 'fapi-mtls-2', redirect: `${h.REDIRECT}?dummy1=lorem&dummy2=ipsum`, method: 'self_signed_tls_client_auth',
      ...certificate(dir, 'fapi-mtls-2', '/CN=fapi-mtls-2', { ext: [clientAuth] }),
    };
    // private_key_jwt, its tokens bound to a certificate of its own.
    clients['fapi-mtls-3'] = {
      id: 'fapi-mtls-3', redirect: h.REDIRECT, method: 'private_key_jwt',
      signing: await signingKey('ES256', 'fapi-mtls-3-key'),
      ...certificate(dir, 'fapi-mtls-3', '/CN=fapi-mtls-3', { ext: [clientAuth] }),
    };
    // A certificate of the clients' CA for a name no client registered.
    clients.stranger = certificate(dir, 'stranger', '/CN=stranger', { ca: 'client-ca', ext: [clientAuth] });
  }

  const config = () => [
    '[mtls]',
    `listen = "127.0.0.1:${port}"`,
    `url = "https://127.0.0.1:${port}"`,
    `cert_file = "${join(dir, 'server.pem')}"`,
    `key_file = "${join(dir, 'server.key')}"`,
    `ca_files = ["${join(dir, 'client-ca.pem')}"]`,
    '',
  ].join('\n');

  function setup(cli) {
    const common = ['--redirect-uri', undefined, '--profile', 'fapi2', '--tls-bound-access-tokens',
      '--scope', 'openid', '--scope', 'profile'];
    const one = clients['fapi-mtls-1'];
    cli(['client', 'add', '--id', one.id, '--tls-client-auth', 'subject_dn=CN=fapi-mtls-1,O=Harness,C=HU',
      ...common.map((a) => a ?? one.redirect)]);
    const two = clients['fapi-mtls-2'];
    const jwks = join(dir, 'fapi-mtls-2.jwks');
    const { x5c } = der(two.cert);
    const jwk = createPublicKey(two.key).export({ format: 'jwk' });
    writeFileSync(jwks, JSON.stringify({ keys: [{ ...jwk, x5c: [x5c] }] }));
    cli(['client', 'add', '--id', two.id, '--jwks-file', jwks, '--self-signed-tls',
      ...common.map((a) => a ?? two.redirect)]);
    const three = clients['fapi-mtls-3'];
    const keys = join(dir, 'fapi-mtls-3.jwks');
    writeFileSync(keys, JSON.stringify({ keys: [three.signing.jwk] }));
    cli(['client', 'add', '--id', three.id, '--jwks-file', keys, ...common.map((a) => a ?? three.redirect)]);
  }

  /** How `client` authenticates in a request's form: its id (the certificate does the
   * rest), or a client assertion (private_key_jwt, the issuer as its audience). */
  async function authentication(client) {
    if (client.method !== 'private_key_jwt') return { client_id: client.id };
    const now = h.now();
    const claims = { iss: client.id, sub: client.id, aud: issuer(), jti: random(), iat: now, exp: now + 60 };
    return {
      client_id: client.id,
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await signJws(client.signing, { kid: client.signing.kid }, claims),
    };
  }

  /** A request over TLS with `cert` (a client's, or null: none) to `target`. */
  function tls(target, { method = 'POST', form, headers = {}, cert } = {}) {
    const body = form && new URLSearchParams(clean(form)).toString();
    const all = { ...headers, ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) };
    return new Promise((resolve, reject) => {
      const req = httpsRequest(target, { method, headers: all, ca: serverCa, cert: cert?.cert, key: cert?.key }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, body: json, headers: res.headers, type: res.headers['content-type'] || '' });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const par = async (client, params, cert = client) =>
    tls(alias('/par'), { form: { ...params, ...(await authentication(client)) }, cert });

  function pushed(res) {
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.request_uri;
  }

  const front = (query) => `${url('/authorize')}?${new URLSearchParams(clean(query))}`;

  async function code(client = clients['fapi-mtls-1']) {
    const { params, verifier } = request(client);
    const target = front({ client_id: client.id, request_uri: pushed(await par(client, params)) });
    const back = new URL(await new UserAgent(issuer()).signIn(target, 'maria', h.PASSWORD));
    const q = back.searchParams;
    assert.equal(q.get('error'), null, `error ${q.get('error')}: ${q.get('error_description')}`);
    assert.equal(q.get('iss'), issuer(), 'iss');
    assert.equal(q.get('state'), params.state, 'state');
    if (client.redirect.includes('dummy1')) assert.equal(q.get('dummy1'), 'lorem');
    return { code: q.get('code'), verifier, params, client };
  }

  const redeem = async (client, c, { cert = client, verifier = c.verifier, redirect = client.redirect } = {}) => tls(alias('/token'), {
    cert,
    form: {
      grant_type: 'authorization_code', code: c.code, redirect_uri: redirect, code_verifier: verifier,
      ...(await authentication(client)),
    },
  });

  /** A successful token response: bearer tokens bound to the client's certificate. */
  async function tokensOf(res, client, sent) {
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const t = res.body;
    assert.equal(t.token_type.toLowerCase(), 'bearer', 'token_type');
    const idToken = await h.verified(t.id_token);
    assert.equal(idToken.iss, issuer());
    assert.ok([idToken.aud].flat().includes(client.id), 'aud');
    assert.equal(idToken.nonce, sent.nonce, 'nonce');
    const seen = await tls(alias('/introspect'), { cert: client, form: { token: t.access_token, ...(await authentication(client)) } });
    assert.equal(seen.body?.active, true, 'introspection');
    assert.equal(seen.body.cnf?.['x5t#S256'], der(client.cert).x5t, 'bound to the certificate (cnf x5t#S256)');
    return { ...t, idToken };
  }

  /** The resource (UserInfo at the alias), over a connection with `cert`. */
  const resource = (token, cert) => tls(alias('/userinfo'), { method: 'GET', cert, headers: { authorization: `Bearer ${token}` } });

  function served(res) {
    assert.equal(res.status, 200, `resource: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  function refused(res, statuses, errors) {
    assert.ok(statuses.includes(res.status), `status ${res.status}: ${JSON.stringify(res.body)}`);
    assert.ok(errors.includes(res.body?.error), `error ${res.body?.error}`);
    return passed(`${res.status} ${res.body.error}`);
  }

  async function flow(client = clients['fapi-mtls-1']) {
    const c = await code(client);
    const tokens = await tokensOf(await redeem(client, c), client, c.params);
    served(await resource(tokens.access_token, client));
    return { ...c, tokens };
  }

  const fapi = (name, run, options) => module(FAPI2_MTLS, `${P}${name}`, run, options);

  fapi('discovery-end-point-verification', async () => {
    const m = await (await fetch(url('/.well-known/openid-configuration'))).json();
    assert.equal(m.tls_client_certificate_bound_access_tokens, true);
    for (const method of ['tls_client_auth', 'self_signed_tls_client_auth']) {
      assert.ok(m.token_endpoint_auth_methods_supported.includes(method), method);
    }
    const aliases = m.mtls_endpoint_aliases;
    for (const [e, path] of [['token_endpoint', '/token'], ['pushed_authorization_request_endpoint', '/par'],
      ['userinfo_endpoint', '/userinfo'], ['introspection_endpoint', '/introspect'], ['revocation_endpoint', '/revoke']]) {
      assert.equal(aliases?.[e], alias(path), e);
    }
    return passed('mtls_endpoint_aliases name the mutual-TLS listener; the authorization endpoint stays on the issuer');
  });

  fapi('happy-flow', async () => {
    const one = await flow();
    const two = await flow(clients['fapi-mtls-2']);
    // One client's token over the other's connection, and over none.
    const three = await flow(clients['fapi-mtls-3']);
    const crossed = await resource(two.tokens.access_token, clients['fapi-mtls-1']);
    assert.equal(crossed.status, 401, `another certificate: ${crossed.status}`);
    assert.match(crossed.headers['www-authenticate'] || '', /invalid_token/);
    for (const tokens of [one.tokens, three.tokens]) {
      const bare = await resource(tokens.access_token, null);
      assert.equal(bare.status, 401, `no certificate: ${bare.status}`);
    }
    return passed('tls_client_auth, self_signed_tls_client_auth and private_key_jwt; each token only with its certificate');
  });

  fapi('ensure-holder-of-key-required', async () => {
    const c = await code();
    // No certificate, and a certificate of the clients' CA with another name: at the token
    // endpoint and at PAR.
    for (const cert of [null, clients.stranger]) {
      refused(await redeem(c.client, c, { cert }), [401], ['invalid_client']);
      refused(await par(c.client, request(c.client).params, cert), [401], ['invalid_client']);
    }
    const res = await redeem(c.client, c);
    assert.equal(res.status, 200, 'the refused requests did not use the code up');
    return passed('401 invalid_client without the client\'s certificate, at the token endpoint and PAR');
  });

  fapi('ensure-client-id-in-token-endpoint', async () => {
    const c = await code();
    // fapi-mtls-2's client_id over fapi-mtls-1's connection.
    const res = await redeem(clients['fapi-mtls-2'], c, { cert: clients['fapi-mtls-1'], redirect: c.client.redirect });
    return refused(res, [400, 401], ['invalid_client', 'invalid_grant']);
  });

  fapi('ensure-authorization-code-is-bound-to-client', async () => {
    const c = await code();
    const res = await redeem(clients['fapi-mtls-2'], c, { redirect: c.client.redirect });
    return refused(res, [400], ['invalid_grant']);
  });

  fapi('attempt-reuse-authorization-code-after-one-second', async () => {
    const one = await flow();
    await h.advance(1);
    const again = await redeem(one.client, one);
    const outcome = refused(again, [400], ['invalid_grant']);
    const revoked = await resource(one.tokens.access_token, one.client);
    if (revoked.status < 400 || revoked.status >= 500) return warning('the access token of a reused code still works');
    return outcome;
  });

  fapi('ensure-token-endpoint-fails-with-expired-auth-code', async () => {
    const c = await code();
    await h.advance(62);
    return refused(await redeem(c.client, c), [400], ['invalid_grant']);
  });

  fapi('refresh-token', async () => {
    const one = await flow();
    const refresh = async (client, token, cert = client) => tls(alias('/token'), {
      cert, form: { grant_type: 'refresh_token', refresh_token: token, ...(await authentication(client)) },
    });
    await h.advance(1);
    const res = await refresh(one.client, one.tokens.refresh_token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(res.headers['cache-control'] || '', /no-store/);
    served(await resource(res.body.access_token, one.client));
    const noCert = await refresh(one.client, one.tokens.refresh_token, null);
    assert.ok([400, 401].includes(noCert.status), `${noCert.status}`);
    const two = await flow(clients['fapi-mtls-2']);
    const stolen = await refresh(one.client, two.tokens.refresh_token);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    return passed('refreshed over the client\'s certificate; another client\'s token refused');
  });

  fapi('par-attempt-to-use-request_uri-for-different-client', async () => {
    const client = clients['fapi-mtls-1'];
    const { params } = request(client);
    const requestUri = pushed(await par(client, params));
    const ua = new UserAgent(issuer());
    const page = await ua.follow(await ua.request(front({
      client_id: 'fapi-mtls-2', request_uri: requestUri, response_type: 'code', scope: params.scope, redirect_uri: params.redirect_uri,
    })));
    if (page.location) {
      const error = new URL(page.location).searchParams.get('error');
      assert.ok(['invalid_request', 'invalid_request_uri', 'invalid_request_object'].includes(error), `error ${error}`);
      return passed(`redirected back with ${error}`);
    }
    assert.ok(page.status >= 400, `an error page: ${page.status}`);
    return review('an error page is shown and nothing redirected; the suite asks for a screenshot of it');
  });

  fapi('incorrect-pkce-code-verifier-rejected', async () => {
    const c = await code();
    return refused(await redeem(c.client, c, { verifier: random(96) }), [400], ['invalid_grant']);
  });

  return { keys, config, setup };
}
