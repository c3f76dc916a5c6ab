// statusbar.js — the page's header: connection state, who is signed in, patches/s, latency, position.
import { $, claims, is_admin, store, token } from './page.js';

export function startStatusBar(client) {
  const conn_el = $('#conn');
  const conn_text = $('#conn-text');
  function show_state() {
    const s = client.state;
    conn_el.dataset.state = s;
    const via = client.transport === 'sse' ? 'SSE' : client.transport === 'ws' ? 'WebSocket' : '';
    conn_text.textContent = s === 'open' ? `live · ${via}` : s === 'reconnecting' ? 'reconnecting…' : s;
    conn_el.title = client.lastError ? client.lastError.message : '';
  }
  client.on('state', show_state);
  show_state();

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
