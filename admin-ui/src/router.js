// The console's addresses under /admin/ with the History API: every page has its own URL
// (the server answers each with the app's page), so the back button and bookmarks work.

import { useEffect, useState } from 'preact/hooks';

const listeners = new Set();

function notify() {
  for (const f of listeners) f(location.pathname + location.search);
}

window.addEventListener('popstate', notify);

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.scrollTo(0, 0);
  notify();
}

/** The current path and query; re-renders on navigation. */
export function useLocation() {
  const [where, setWhere] = useState(location.pathname + location.search);
  useEffect(() => {
    listeners.add(setWhere);
    return () => listeners.delete(setWhere);
  }, []);
  return where;
}

/**
 * Matches `path` against patterns such as `/admin/clients/:id`; returns the first
 * route's value and its decoded parameters.
 */
export function match(path, routes) {
  const clean = path.split('?')[0].replace(/\/+$/, '') || '/';
  for (const [pattern, value] of routes) {
    const names = [];
    const re = new RegExp(`^${pattern.replace(/\/+$/, '').replace(/:(\w+)/g, (m, n) => {
      names.push(n);
      return '([^/]+)';
    })}$`);
    const m = clean.match(re);
    if (m) {
      const params = {};
      names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]);
      });
      return { value, params };
    }
  }
  return null;
}

export function queryParams() {
  return Object.fromEntries(new URLSearchParams(location.search));
}
