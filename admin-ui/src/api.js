// The Admin API client: the bearer token goes to /admin/api/v1 and nowhere else. Errors
// are RFC 9457 problem details, kept whole so that pages can put `detail` next to the
// `field` it names. A 401 asking for a stronger or a new sign-in sends the administrator
// through the provider again and back to the same page.

import { accessToken, signIn } from './auth.js';
import { currentLang } from './i18n.js';

export const BASE = '/admin/api/v1';

/** A refused call: the problem details and the HTTP status. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.field = problem.field || null;
  }
}

const REAUTH = 'admin-console.reauthenticated';

/**
 * Signs in again and comes back here. A refusal right after a fresh sign-in would only
 * loop through the provider: then the refusal is shown instead.
 */
function reauthenticate(problem) {
  const last = Number(sessionStorage.getItem(REAUTH) || 0);
  if (problem && Date.now() - last < 30_000) throw new ApiError(401, problem);
  sessionStorage.setItem(REAUTH, String(Date.now()));
  return signIn(location.pathname + location.search, currentLang());
}

function challenge(res) {
  const h = res.headers.get('www-authenticate') || '';
  const m = h.match(/error="([^"]+)"/);
  return m ? m[1] : null;
}

/**
 * Calls the API. `query` is an object of parameters (empty ones left out); `body` is sent
 * as JSON; `as` is 'json' (default), 'blob' or 'text'. Resolves to null for 204.
 */
export async function api(method, path, { query, body, as = 'json' } = {}) {
  const token = accessToken();
  if (!token) return reauthenticate();
  let url = BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    if ([...q].length) url += `?${q}`;
  }
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, { title: 'network', detail: '' });
  }
  if (res.status === 401) {
    const error = challenge(res);
    if (error === 'insufficient_user_authentication' || error === 'invalid_token' || error === null) {
      return reauthenticate(await res.json().catch(() => ({ title: 'Unauthorized' })));
    }
  }
  if (!res.ok) {
    const problem = await res.json().catch(() => ({}));
    throw new ApiError(res.status, problem);
  }
  if (res.status === 204) return null;
  if (as === 'blob') return res.blob();
  if (as === 'text') return res.text();
  return res.json();
}

export const get = (path, query) => api('GET', path, { query });
export const post = (path, body) => api('POST', path, { body });
export const put = (path, body) => api('PUT', path, { body });
export const patch = (path, body) => api('PATCH', path, { body });
export const del = (path) => api('DELETE', path);

/** Path segments are ids that administrators and citizens chose: always escape them. */
export const seg = (s) => encodeURIComponent(s);
