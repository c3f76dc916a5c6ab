// page.js — what every part of the dashboard page shares: $, local storage, the token and its claims, API calls, colours.

export const $ = (sel, root = document) => root.querySelector(sel);
export const store = {
  get(k, dflt) { try { const v = localStorage.getItem(`pglive.${k}`); return v === null ? dflt : JSON.parse(v); } catch { return dflt; } },
  set(k, v) { try { localStorage.setItem(`pglive.${k}`, JSON.stringify(v)); } catch { /* private mode: not remembered */ } },
  del(k) { try { localStorage.removeItem(`pglive.${k}`); } catch { /* nothing to remove */ } },
};

// --- token: ?token= wins and is remembered, then taken out of the address bar ---------------
export const params = new URLSearchParams(location.search);
export let token = params.get('token');
if (token) {
  store.set('token', token);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
} else {
  token = store.get('token', null);
}
export const claims = decode_claims(token);
export const is_admin = claims?.admin === true;

function decode_claims(t) {
  if (!t) return null;
  try {
    const b64 = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(b64 + '='.repeat((4 - b64.length % 4) % 4)))));
  } catch { return null; }
}

const auth_headers = () => (token ? { Authorization: `Bearer ${token}` } : {});
export async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { ...auth_headers(), ...(opts.body ? { 'Content-Type': 'application/json' } : {}), ...opts.headers } });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = body?.message ?? body?.error ?? `${res.status} ${res.statusText}`;
    throw Object.assign(new Error(msg), { status: res.status, body });
  }
  return body;
}

// Flash colours as concrete values: var() inside Web Animations keyframes is not read alike by every browser.
export const colors = {};
function read_colors() {
  const css = getComputedStyle(document.documentElement);
  for (const k of ['flash-add', 'flash-change', 'panel-2']) colors[k] = css.getPropertyValue(`--${k}`).trim();
}
read_colors();
matchMedia('(prefers-color-scheme: light)').addEventListener('change', read_colors);
export const calm = matchMedia('(prefers-reduced-motion: reduce)');  // no flashing or fading for who asked for none
