// Signing the administrator in through the provider itself: authorization code flow with
// PKCE as the built-in public client `admin-console`, at level high. The tokens live in
// this module's memory only (never in localStorage or a cookie), so a reload signs in
// again; the provider's own session makes that a quick round trip. Only the PKCE verifier,
// state and nonce wait in sessionStorage during the redirect.

export const CLIENT_ID = 'admin-console';
export const HIGH = 'http://eidas.europa.eu/LoA/high';
const SCOPE = 'openid profile admin';
const PENDING = 'admin-console.pending';

let discovery = null;
let tokens = null;

export async function metadata() {
  if (!discovery) {
    const res = await fetch('/.well-known/openid-configuration');
    if (!res.ok) throw new Error(`discovery: ${res.status}`);
    discovery = await res.json();
  }
  return discovery;
}

const callbackUri = () => `${location.origin}/admin/callback`;

function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function s256(verifier) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** Sends the browser to the provider's sign-in; comes back to `returnTo` (a path). */
export async function signIn(returnTo, lang) {
  const meta = await metadata();
  const pending = { verifier: randomString(), state: randomString(16), nonce: randomString(16), returnTo };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: callbackUri(),
    scope: SCOPE,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await s256(pending.verifier),
    code_challenge_method: 'S256',
    acr_values: HIGH,
    ui_locales: lang,
  }).toString();
  location.assign(url.href);
  // The page is going away; nothing after this should run.
  return new Promise(() => {});
}

/** Why a sign-in came back without tokens; `code` is the OAuth error or our own word. */
export class SignInError extends Error {
  constructor(code, description) {
    super(description || code);
    this.code = code;
  }
}

function claimsOf(idToken) {
  const part = idToken.split('.')[1] || '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
}

/**
 * Finishes the sign-in on the callback page: checks state and issuer, redeems the code
 * with the verifier, checks the ID token's audience, nonce and level. The ID token comes
 * straight from the token endpoint of this origin, so its signature need not be checked
 * here (OpenID Connect Core 3.1.3.7). Returns the path to go back to.
 */
export async function completeSignIn(search) {
  const params = new URLSearchParams(search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  if (!pending || params.get('state') !== pending.state) {
    throw new SignInError('state_mismatch');
  }
  if (params.get('error')) {
    throw new SignInError(params.get('error'), params.get('error_description'));
  }
  const meta = await metadata();
  if (params.get('iss') !== null && params.get('iss') !== meta.issuer) {
    throw new SignInError('issuer_mismatch');
  }
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code') || '',
      redirect_uri: callbackUri(),
      client_id: CLIENT_ID,
      code_verifier: pending.verifier,
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new SignInError(body.error || 'token_error', body.error_description);
  const claims = claimsOf(body.id_token);
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== meta.issuer || !audience.includes(CLIENT_ID) || claims.nonce !== pending.nonce) {
    throw new SignInError('id_token_invalid');
  }
  if (claims.acr !== HIGH) throw new SignInError('insufficient_user_authentication');
  tokens = {
    accessToken: body.access_token,
    idToken: body.id_token,
    expiresAt: Date.now() + (body.expires_in || 0) * 1000,
    claims,
  };
  return pending.returnTo && pending.returnTo.startsWith('/admin') ? pending.returnTo : '/admin/';
}

/** The access token while it is still good for a while, else null. */
export function accessToken() {
  if (!tokens || Date.now() > tokens.expiresAt - 10_000) return null;
  return tokens.accessToken;
}

/** The signed-in administrator's ID token claims (sub, name, acr, ...). */
export function who() {
  return tokens?.claims || null;
}

/** Forgets the tokens and ends the provider's session (RP-initiated logout). */
export async function signOut() {
  const meta = await metadata();
  const idToken = tokens?.idToken;
  tokens = null;
  const url = new URL(meta.end_session_endpoint);
  // The state tells the page we come back to not to sign in again at once.
  const q = { client_id: CLIENT_ID, post_logout_redirect_uri: `${location.origin}/admin/`, state: 'signed-out' };
  if (idToken) q.id_token_hint = idToken;
  url.search = new URLSearchParams(q).toString();
  location.assign(url.href);
  return new Promise(() => {});
}
