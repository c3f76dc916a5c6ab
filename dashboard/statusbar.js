// statusbar.js — the page's header: connection state, the database link (/healthz), who is signed
// in, patches/s, latency, capture lag, position.
import { $, claims, is_admin, store, token } from './page.js';
import { isUTC, localZoneName, onZoneChange, setUTC } from './timefmt.js';

const poll_ms = 2000;

// The database link as /healthz last said: 'up' | 'down' | 'unknown' (pglive itself unreachable).
export const db = { state: 'unknown', reason: '' };
const db_listeners = new Set();
export function onDatabase(fn) { db_listeners.add(fn); return () => db_listeners.delete(fn); }

// The admin view reads a fresh capture lag (GET /api/admin/status) every 2 s while it is open:
// then the header shows that figure rather than /metrics' (refreshed by the server every 15 s).
let lag_from_admin_at = 0;
let show_lag = () => {};
export function reportLag(seconds) {
  lag_from_admin_at = Date.now();
  show_lag(seconds);
}

export function startStatusBar(client) {
  const conn_el = $('#conn');
  const conn_text = $('#conn-text');
  function show_state() {
    const s = client.state;
    conn_el.dataset.state = s;
    conn_el.dataset.db = db.state;
    const via = client.transport === 'sse' ? 'SSE' : client.transport === 'ws' ? 'WebSocket' : '';
    // Connected to pglive is not live when pglive has no database: no change can arrive.
    conn_text.textContent = s === 'open' ? (db.state === 'down' ? `stalled · ${via}` : `live · ${via}`)
      : s === 'reconnecting' ? 'reconnecting…' : s;
    conn_el.title = s === 'open' && db.state === 'down' ? 'connected to pglive, but pglive has lost the database: no changes arrive until it is back'
      : client.lastError ? client.lastError.message : '';
  }
  client.on('state', (e) => { show_state(); if (e.state === 'open') poll_health(); });
  show_state();

  // --- the database link ---------------------------------------------------------------------
  const db_el = $('#db');
  const db_text = $('#db-text');
  function set_db(state, reason) {
    const changed = state !== db.state || reason !== db.reason;
    db.state = state;
    db.reason = reason;
    db_el.dataset.state = state;
    db_text.textContent = state === 'up' ? 'ok' : state === 'down' ? 'down' : '?';
    db_el.title = state === 'up' ? 'pglive is connected to PostgreSQL (/healthz)'
      : state === 'down' ? `pglive has no database link: ${reason || 'unavailable'} (/healthz)`
        : `pglive did not answer /healthz${reason ? `: ${reason}` : ''}`;
    show_state();
    if (state !== 'up') show_lag(null);
    if (changed) for (const fn of db_listeners) { try { fn(db); } catch (e) { console.error('pglive dashboard: a database listener threw', e); } }
  }
  let health_busy = false;
  async function poll_health() {
    if (health_busy) return;
    health_busy = true;
    try {
      const res = await fetch('healthz', { cache: 'no-store' });
      let body = null;
      try { body = await res.json(); } catch { /* not JSON */ }
      if (res.ok && body?.status === 'ok') set_db('up', '');
      else if (res.status === 503) set_db('down', body?.reason ?? '');
      else set_db('unknown', `${res.status} ${res.statusText}`);
    } catch (e) {
      set_db('unknown', e.message);
    } finally {
      health_busy = false;
    }
  }
  poll_health();
  setInterval(poll_health, poll_ms);

  // --- capture lag: the admin view's figure, else /metrics where this token may read it ------
  const lag_box = $('#lag-metric');
  const lag_el = $('#lag');
  show_lag = (seconds) => {
    if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds)) || db.state === 'down') {
      lag_el.textContent = '–';
      lag_el.className = '';
      if (db.state === 'down') lag_box.hidden = false;
      return;
    }
    const s = Number(seconds);
    lag_box.hidden = false;
    lag_el.textContent = fmt_seconds(s);
    lag_el.className = s > 5 ? 'bad' : s > 1 ? 'warn' : '';
  };
  let metrics_allowed = true;
  async function poll_metrics() {
    if (!metrics_allowed || Date.now() - lag_from_admin_at < 3 * poll_ms || db.state !== 'up') return;
    try {
      const res = await fetch('metrics', { cache: 'no-store', headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (res.status === 401 || res.status === 403) { metrics_allowed = false; return; }  // not for this token: no figure
      if (!res.ok) return;
      const m = /^pglive_capture_lag_seconds\s+(\S+)$/m.exec(await res.text());
      if (Date.now() - lag_from_admin_at >= 3 * poll_ms) show_lag(m ? Number(m[1]) : null);
    } catch { /* pglive unreachable: the connection state says so */ }
  }
  setInterval(poll_metrics, poll_ms);
  setTimeout(poll_metrics, 300);

  // Times in this browser's zone or in UTC: every table and notification follows the switch.
  const tz = $('#tz-toggle');
  const show_zone = () => {
    tz.textContent = isUTC() ? 'UTC' : 'local';
    tz.setAttribute('aria-pressed', String(isUTC()));
    tz.title = isUTC() ? `times in UTC; click for this browser's zone (${localZoneName()})`
      : `times in this browser's zone (${localZoneName()}); click for UTC`;
  };
  tz.onclick = () => setUTC(!isUTC());
  onZoneChange(show_zone);
  show_zone();

  $('#who').textContent = claims ? (claims.sub ?? 'signed in') + (is_admin ? ' · admin' : '') : 'anonymous';
  client.on('error', (e) => {
    if (e.code !== 'unauthorized') return;
    // The connection goes on with anonymous rights: say why topics may be missing.
    const who = $('#who');
    who.textContent = `token refused: ${e.message}`;
    who.classList.add('bad');
  });
  if (token) {
    const b = $('#forget-token');
    b.hidden = false;
    b.onclick = () => { store.del('token'); location.reload(); };
  }

  // Patches per second and commit→browser latency, over a sliding second.
  const recent = [];  // [arrival ms, latency ms | null]
  client.on('patch', (ev) => {
    const now = Date.now();
    const committed = parse_ts(ev.ts);
    recent.push([now, committed === null ? null : now - committed]);
  });
  let last_latency = null;
  setInterval(() => {
    const now = Date.now();
    while (recent.length && recent[0][0] < now - 1000) recent.shift();
    $('#pps').textContent = String(recent.length);
    const lats = recent.map((r) => r[1]).filter((x) => x !== null).sort((a, b) => a - b);
    if (lats.length) last_latency = lats[Math.floor(lats.length / 2)];
    $('#latency').textContent = last_latency === null ? '–' : fmt_ms(last_latency);
    $('#position').textContent = client.position ?? '–';
  }, 500);
}

function parse_ts(ts) {
  if (typeof ts !== 'string') return null;
  // Microseconds are more than Date.parse promises to read in every browser: keep milliseconds.
  const t = Date.parse(ts.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(t) ? t : null;
}
function fmt_ms(ms) {
  if (ms < 0) return '0 ms';  // clocks of the database and this machine differ slightly
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
export function fmt_seconds(s) {
  return `${s < 10 ? s.toFixed(2) : s.toFixed(0)} s`;
}
