// dashboard.js — the operator's page: live tables per topic, status bar, notifications, admin view (uses pglive.js).
import { connect, rowComparator, parseFilterText } from './pglive.js';

const $ = (sel, root = document) => root.querySelector(sel);
const store = {
  get(k, dflt) { try { const v = localStorage.getItem(`pglive.${k}`); return v === null ? dflt : JSON.parse(v); } catch { return dflt; } },
  set(k, v) { try { localStorage.setItem(`pglive.${k}`, JSON.stringify(v)); } catch { /* private mode: not remembered */ } },
  del(k) { try { localStorage.removeItem(`pglive.${k}`); } catch { /* nothing to remove */ } },
};

// --- token: ?token= wins and is remembered, then taken out of the address bar ---------------
const params = new URLSearchParams(location.search);
let token = params.get('token');
if (token) {
  store.set('token', token);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
} else {
  token = store.get('token', null);
}
const claims = decode_claims(token);
const is_admin = claims?.admin === true;

function decode_claims(t) {
  if (!t) return null;
  try {
    const b64 = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(b64 + '='.repeat((4 - b64.length % 4) % 4)))));
  } catch { return null; }
}

const auth_headers = () => (token ? { Authorization: `Bearer ${token}` } : {});
async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { ...auth_headers(), ...(opts.body ? { 'Content-Type': 'application/json' } : {}), ...opts.headers } });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = body?.message ?? body?.error ?? `${res.status} ${res.statusText}`;
    throw Object.assign(new Error(msg), { status: res.status, body });
  }
  return body;
}

// `?transport=sse` forces the fallback (for trying it, and for tests).
const transports = params.get('transport') ? params.get('transport').split(',') : undefined;
const client = connect({ token, ...(transports ? { transports } : {}) });
window.pglive = client;  // for the console (and tests)

// --- status bar ------------------------------------------------------------------------------
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
function parse_ts(ts) {
  if (typeof ts !== 'string') return null;
  // Microseconds are more than Date.parse promises to read in every browser: keep milliseconds.
  const t = Date.parse(ts.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(t) ? t : null;
}
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
function fmt_ms(ms) {
  if (ms < 0) return '0 ms';  // clocks of the database and this machine differ slightly
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

// --- rendering, batched per animation frame --------------------------------------------------
const dirty_views = new Set();
let frame_pending = false;
function schedule(view) {
  dirty_views.add(view);
  if (frame_pending) return;
  frame_pending = true;
  requestAnimationFrame(() => {
    frame_pending = false;
    const views = [...dirty_views];
    dirty_views.clear();
    for (const v of views) v.render();
  });
}
// A frame flashes at most this many cells: beyond it the eye sees nothing more, the CPU does.
const flash_budget_per_frame = 400;
const fade_ms = 900;
// Flash colours as concrete values: var() inside Web Animations keyframes is not read alike by every browser.
const colors = {};
function read_colors() {
  const css = getComputedStyle(document.documentElement);
  for (const k of ['flash-add', 'flash-change', 'panel-2']) colors[k] = css.getPropertyValue(`--${k}`).trim();
}
read_colors();
matchMedia('(prefers-color-scheme: light)').addEventListener('change', read_colors);
const calm = matchMedia('(prefers-reduced-motion: reduce)');  // no flashing or fading for who asked for none

const time_re = /^\d{4}-\d\d-\d\dT?\s?\d\d:\d\d:\d\d/;
function cell_text(v) {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
// What a cell shows: floats rounded to 3 decimals and times without their date (the title keeps the whole value).
function shown_text(v, text, cls) {
  if (cls === 'time') return short_time(text);
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Math.round(v * 1000) / 1000);
  return text;
}
function cell_class(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v))) return 'num';
  if (typeof v === 'string' && time_re.test(v)) return 'time';
  return '';
}
function short_time(v) {
  // "2026-11-22 10:00:00.123456+00" → "10:00:00.123": the date is noise on a live board.
  const m = /[T ](\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(v);
  return m ? m[1] + (m[2] ?? '') : v;
}

class TableView {
  constructor(info) {
    this.info = info;
    this.topic = info.name;
    const saved = store.get(`view.${this.topic}`, {});
    this.filter_text = saved.filter ?? '';
    this.limit = saved.limit ?? 100;
    this.order = saved.order ?? '';
    this.rows_el = new Map();   // key → {tr, cells: Map col → td, fading}
    this.columns = info.columns ?? [];
    this.full = true;           // next render walks every row (snapshot)
    this.first = true;          // the first snapshot appears without flashing
    this.changed = new Map();   // key → Set of columns | null (whole row)
    this.flash_left = 0;

    const node = $('#card-template').content.firstElementChild.cloneNode(true);
    this.el = node;
    node.dataset.topic = this.topic;
    $('.card-title', node).textContent = this.topic;
    this.count_el = $('.count', node);
    this.error_el = $('.error', node);
    this.thead_row = $('thead tr', node);
    this.tbody = $('tbody', node);
    this.filter_el = $('.filter', node);
    this.limit_el = $('.limit', node);
    this.filter_el.value = this.filter_text;
    this.limit_el.value = this.limit ?? '';
    $('.close', node).onclick = () => set_watched(this.topic, false);

    let debounce = null;
    const apply_filter = () => {
      clearTimeout(debounce);
      const text = this.filter_el.value.trim();
      if (text === this.filter_text) return;
      this.filter_text = text;
      this.save();
      this.resubscribe();
    };
    this.filter_el.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply_filter(); });
    this.filter_el.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(apply_filter, 600); });
    this.filter_el.addEventListener('change', apply_filter);
    this.limit_el.addEventListener('change', () => {
      const n = parseInt(this.limit_el.value, 10);
      const limit = Number.isFinite(n) && n > 0 ? n : null;
      if (limit === this.limit) return;
      this.limit = limit;
      this.save();
      this.resubscribe();
    });

    this.render_head();
    this.sub = client.subscribe(this.topic, {
      ...this.sub_opts(),
      onChange: (rows, ev) => this.on_change(ev),
      onError: (err) => { this.show_error(err); this.full = true; schedule(this); },  // refused: show no stale rows
      onMessage: () => {},  // shown by the notifications panel
    });
  }

  sub_opts() {
    return { filter: parseFilterText(this.filter_text), limit: this.limit, order: this.order };
  }

  save() { store.set(`view.${this.topic}`, { filter: this.filter_text, limit: this.limit, order: this.order }); }

  // A new filter, limit or order: the next snapshot replaces the rows without flashing them all,
  // and nothing is drawn until it comes (no empty-table flicker).
  resubscribe() {
    this.show_error(null);
    this.full = true;
    this.first = true;
    this.changed.clear();
    this.sub.update(this.sub_opts());
  }

  show_error(err) {
    this.error_el.hidden = !err;
    this.error_el.textContent = err ? `${err.code}: ${err.message}` : '';
    this.filter_el.classList.toggle('invalid', !!err && err.code === 'bad_filter');
  }

  on_change(ev) {
    if (ev.type === 'snapshot') {
      this.full = true;
      this.show_error(null);
    } else if (!this.full) {
      for (const op of ev.ops) {
        // "/<key>" touches a whole row, "/<key>/<col>" one cell.
        const slash = op.path.indexOf('/', 1);
        const key = unescape_token(slash < 0 ? op.path.slice(1) : op.path.slice(1, slash));
        const col = slash < 0 ? null : unescape_token(op.path.slice(slash + 1).split('/')[0]);
        if (col === null || !this.changed.has(key)) this.changed.set(key, col === null ? null : new Set([col]));
        else this.changed.get(key)?.add(col);
      }
    }
    schedule(this);
  }

  render_head() {
    const cols = this.sub?.columns ?? this.columns;
    if (cols.join('\u0000') === this.head_cols) return this.update_arrows();
    this.head_cols = cols.join('\u0000');
    this.columns = cols;
    this.thead_row.replaceChildren(...cols.map((c) => {
      const th = document.createElement('th');
      th.dataset.col = c;
      th.textContent = c;
      th.title = `sort by ${c}`;
      th.onclick = () => this.sort_by(c);
      return th;
    }));
    // Existing rows were built for other columns.
    for (const { tr } of this.rows_el.values()) tr.remove();
    this.rows_el.clear();
    this.full = true;
    this.update_arrows();
  }

  // Clicking a header sorts by it, again reverses. The order goes to the server too, so a
  // limited window holds the first rows in that order, not just a sorted slice.
  sort_by(col) {
    const [cur, dir] = (this.order.split(',')[0] ?? '').split('.');
    this.order = cur === col && dir !== 'desc' ? `${col}.desc` : `${col}.asc`;
    this.save();
    this.update_arrows();
    this.resubscribe();
  }

  update_arrows() {
    const [col, dir] = (this.order || `${(this.sub?.key ?? this.info.key ?? [])[0]}.asc`).split(',')[0].split('.');
    for (const th of this.thead_row.children) {
      th.querySelector('.arrow')?.remove();
      if (th.dataset.col === col) {
        const a = document.createElement('span');
        a.className = 'arrow';
        a.textContent = dir === 'desc' ? '▼' : '▲';
        th.append(a);
      }
    }
  }

  render() {
    this.render_head();
    const rows = this.sub.rows;
    this.flash_left = this.first || calm.matches ? 0 : flash_budget_per_frame;
    if (this.full) {
      for (const key of Object.keys(rows)) this.update_row(key, rows[key], null, true);
      for (const key of [...this.rows_el.keys()]) if (!(key in rows)) this.fade_out(key);
      this.full = false;
      if (this.sub.ready) this.first = false;
    } else {
      for (const [key, colset] of this.changed) {
        if (key in rows) this.update_row(key, rows[key], colset, false);
        else this.fade_out(key);
      }
    }
    this.changed.clear();
    this.reorder();
    this.align_head();
    const n = Object.keys(rows).length;
    this.count_el.textContent = `${n} row${n === 1 ? '' : 's'}${this.limit ? ` · limit ${this.limit}` : ''}` +
      (this.sub.filter.length ? ' · filtered' : '');
  }

  update_row(key, row, colset, compare_all) {
    let r = this.rows_el.get(key);
    let is_new = false;
    if (!r || r.fading) {
      if (r?.fading) { r.anim?.cancel(); r.tr.classList.remove('removed'); r.fading = false; }
      else {
        const tr = document.createElement('tr');
        tr.dataset.key = key;
        r = { tr, cells: new Map(), fading: false, anim: null };
        for (const c of this.columns) {
          const td = document.createElement('td');
          td.dataset.col = c;
          tr.append(td);
          r.cells.set(c, td);
        }
        this.rows_el.set(key, r);
        is_new = true;
      }
    }
    let flashed_row = false;
    if (is_new && this.flash_left > 0) {
      this.flash_left -= 1;
      flashed_row = true;
      r.tr.animate([{ backgroundColor: colors['flash-add'] }, { backgroundColor: 'transparent' }], { duration: 1600, easing: 'ease-out' });
    }
    for (const c of this.columns) {
      if (!is_new && !compare_all && colset && !colset.has(c)) continue;
      const td = r.cells.get(c);
      const v = row[c];
      const text = cell_text(v);
      const cls = cell_class(v);
      const shown = shown_text(v, text, cls);
      if (td.textContent === shown && td.className === cls) continue;
      td.textContent = shown;
      td.className = cls;
      td.title = shown !== text ? text : '';
      if (!is_new && !flashed_row && this.flash_left > 0) {
        this.flash_left -= 1;
        td.animate([{ backgroundColor: colors['flash-change'] }, { backgroundColor: 'transparent' }], { duration: 1400, easing: 'ease-out' });
      }
    }
  }

  fade_out(key) {
    const r = this.rows_el.get(key);
    if (!r || r.fading) return;
    r.fading = true;
    r.tr.classList.add('removed');
    const done = () => {
      if (!r.fading) return;
      r.tr.remove();
      if (this.rows_el.get(key) === r) this.rows_el.delete(key);
    };
    if (this.first || calm.matches || !r.tr.isConnected) return done();
    r.anim = r.tr.animate([{ opacity: 1 }, { opacity: 0 }], { duration: fade_ms, easing: 'ease-in', fill: 'forwards' });
    r.anim.onfinish = done;
    r.anim.oncancel = () => {};
  }

  // Numeric columns are right-aligned, their headers too (decided by the first row shown).
  align_head() {
    const first = this.tbody.firstElementChild;
    if (!first || this.aligned_ === first) return;
    this.aligned_ = first;
    for (const th of this.thead_row.children) {
      const td = first.querySelector(`td[data-col="${CSS.escape(th.dataset.col)}"]`);
      th.classList.toggle('num', !!td && td.classList.contains('num'));
    }
  }

  // Puts the live rows in order; rows fading out stay where they were.
  reorder() {
    const cmp = rowComparator(this.order || (this.sub.key ?? this.info.key ?? []).map((k) => `${k}.asc`).join(','));
    const rows = this.sub.rows;
    const keys = Object.keys(rows);
    if (cmp) keys.sort((a, b) => cmp(rows[a], rows[b]));
    let node = this.tbody.firstElementChild;
    for (const key of keys) {
      const tr = this.rows_el.get(key)?.tr;
      if (!tr) continue;
      while (node && node.classList.contains('removed')) node = node.nextElementSibling;
      if (node === tr) { node = node.nextElementSibling; continue; }
      this.tbody.insertBefore(tr, node);
    }
  }

  destroy() {
    this.sub.close();
    this.el.remove();
    dirty_views.delete(this);
  }
}

function unescape_token(t) { return t.replace(/~1/g, '/').replace(/~0/g, '~'); }

// --- topics -----------------------------------------------------------------------------------
const views = new Map();  // topic → TableView
let topics = [];
let watched = new Set(store.get('watched', null) ?? []);
let watched_default = store.get('watched', null) === null;  // first visit: watch every topic

function set_watched(topic, on) {
  if (on) watched.add(topic); else watched.delete(topic);
  store.set('watched', [...watched]);
  watched_default = false;
  sync_views();
  render_topic_list();
}

function sync_views() {
  const known = new Map(topics.map((t) => [t.name, t]));
  for (const [name, v] of views) {
    if (!watched.has(name) || !known.has(name)) { v.destroy(); views.delete(name); }
  }
  for (const t of topics) {
    if (watched.has(t.name) && !views.has(t.name)) {
      const v = new TableView(t);
      views.set(t.name, v);
    }
  }
  // Cards in the order of the topic list.
  const box = $('#tables');
  for (const t of topics) { const v = views.get(t.name); if (v) box.append(v.el); }
  $('#no-topics').hidden = views.size > 0;
}

function render_topic_list() {
  const ul = $('#topic-list');
  if (!topics.length) {
    ul.innerHTML = '<li class="muted">No topic you may read. Attach a table: <code>pglive attach public.orders</code></li>';
    return;
  }
  ul.replaceChildren(...topics.map((t) => {
    const li = document.createElement('li');
    li.innerHTML = '<label><input type="checkbox"><span class="name"></span><span class="subs"></span></label>';
    const box = li.querySelector('input');
    box.checked = watched.has(t.name);
    box.dataset.topic = t.name;
    box.onchange = () => set_watched(t.name, box.checked);
    li.querySelector('.name').textContent = t.name;
    li.querySelector('.name').title = `key: ${(t.key ?? []).join(', ')}\ncolumns: ${(t.columns ?? []).join(', ')}`;
    li.querySelector('.subs').textContent = t.subscribers !== undefined ? `${t.subscribers} sub${t.subscribers === 1 ? '' : 's'}` : '';
    return li;
  }));
}

async function load_topics() {
  try {
    topics = await api('/api/topics');
    topics.sort((a, b) => a.name.localeCompare(b.name));
    if (watched_default) watched = new Set(topics.map((t) => t.name));
    sync_views();
    render_topic_list();
    if (is_admin) render_admin_tables();
  } catch (e) {
    if (!topics.length) $('#topic-list').innerHTML = '';
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = e.status === 401 ? 'The token was refused (401): sign out or open the page with a fresh ?token=.' : `Could not list topics: ${e.message}`;
    if (!topics.length) $('#topic-list').append(li);
  }
}
load_topics();
setInterval(load_topics, 5000);  // new attached tables and subscriber counts, without a reload
client.on('state', (e) => { if (e.state === 'open') load_topics(); });
// Subscriber counts change when subscriptions start (ours too): refresh soon after a snapshot.
let topics_soon = null;
client.on('snapshot', () => { clearTimeout(topics_soon); topics_soon = setTimeout(load_topics, 300); });

// --- notifications --------------------------------------------------------------------------
const max_notes = 100;
let note_count = 0;
client.on('message', (m) => {
  const ol = $('#notes');
  ol.querySelector('.empty')?.remove();
  const li = document.createElement('li');
  const data = m.data;
  const level = typeof data === 'object' && data !== null ? (data.level ?? data.severity ?? '') : '';
  if (level) li.className = `level-${String(level).toLowerCase()}`;
  const meta = document.createElement('div');
  meta.className = 'meta';
  const from = document.createElement('span');
  from.textContent = m.user ? `to ${m.user}` : m.topic ?? '';
  const when = document.createElement('span');
  when.textContent = new Date().toLocaleTimeString();
  meta.append(from, when);
  const text = document.createElement('div');
  text.className = 'text';
  text.textContent = typeof data === 'object' && data !== null && typeof (data.text ?? data.message) === 'string'
    ? (data.text ?? data.message) : JSON.stringify(data);
  li.append(meta, text);
  li.title = JSON.stringify(data, null, 2);
  ol.prepend(li);
  li.animate([{ backgroundColor: colors['flash-add'] }, { backgroundColor: colors['panel-2'] }], { duration: 1500 });
  while (ol.children.length > max_notes) ol.lastElementChild.remove();
  note_count += 1;
  const badge = $('#note-count');
  badge.hidden = false;
  badge.textContent = String(note_count);
});

const channels = new Map();  // name → Subscription
function listen(name) {
  name = name.trim();
  if (!name || channels.has(name)) return;
  const chip = document.createElement('span');
  chip.className = 'chip';
  chip.dataset.channel = name;
  chip.textContent = name;
  const x = document.createElement('button');
  x.type = 'button';
  x.textContent = '×';
  x.title = `stop listening to ${name}`;
  x.onclick = () => { channels.get(name)?.close(); channels.delete(name); chip.remove(); store.set('channels', [...channels.keys()]); };
  chip.append(x);
  $('#channels').append(chip);
  const sub = client.subscribe(name, {
    onError: (err) => { chip.classList.add('bad'); chip.title = `${err.code}: ${err.message}`; },
    onChange: () => { chip.classList.remove('bad'); chip.title = ''; },
  });
  channels.set(name, sub);
  store.set('channels', [...channels.keys()]);
}
for (const c of store.get('channels', ['alerts'])) listen(c);
$('#channel-form').addEventListener('submit', (e) => {
  e.preventDefault();
  listen($('#channel-input').value);
  $('#channel-input').value = '';
});

// --- admin view (tokens with admin=true) -----------------------------------------------------
let admin_status = null;
let admin_timer = null;
if (is_admin) {
  const toggle = $('#admin-toggle');
  toggle.hidden = false;
  const show = (on) => {
    $('#admin').hidden = !on;
    toggle.setAttribute('aria-pressed', String(on));
    store.set('admin_open', on);
    clearInterval(admin_timer);
    if (on) { load_admin(); admin_timer = setInterval(load_admin, 2000); }
  };
  toggle.onclick = () => show($('#admin').hidden);
  show(store.get('admin_open', true));

  $('#attach-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const table = $('#attach-table').value.trim();
    const key = $('#attach-key').value.split(',').map((s) => s.trim()).filter(Boolean);
    const body = { table };
    if (key.length) body.key = key;
    admin_msg(`attaching ${table}…`);
    try {
      await api('/api/admin/attach', { method: 'POST', body: JSON.stringify(body) });
      admin_msg(`attached ${table}`, 'good');
      $('#attach-table').value = '';
      $('#attach-key').value = '';
      await Promise.all([load_admin(), load_topics()]);
    } catch (err) {
      admin_msg(`attach ${table}: ${err.message}`, 'bad');
    }
  });
}

function admin_msg(text, cls = '') {
  const m = $('#adm-msg');
  m.textContent = text;
  m.className = `msg ${cls}`;
}

async function load_admin() {
  try {
    admin_status = await api('/api/admin/status');
  } catch (e) {
    admin_msg(`status: ${e.message}`, 'bad');
    return;
  }
  const s = admin_status;
  const lag = Number(s.lag_seconds ?? 0);
  $('#adm-lag').textContent = `${lag < 10 ? lag.toFixed(2) : lag.toFixed(0)} s`;
  $('#adm-lag').classList.toggle('bad', lag > 5);
  $('#adm-outbox').textContent = s.outbox_rows ?? '–';
  $('#adm-tx').textContent = s.tx_rows ?? '–';
  $('#adm-pos').textContent = s.last_position ?? '–';
  $('#adm-wakeup').textContent = s.wakeup ?? '–';
  render_admin_tables();
}

let detach_armed = { topic: null, until: 0 };
function render_admin_tables() {
  if (!admin_status) return;
  const subs = new Map(topics.map((t) => [t.name, t.subscribers]));
  for (const t of admin_status.topics ?? []) subs.set(t.name, t.subscribers);
  const tbody = $('#adm-tables');
  const tables = admin_status.tables ?? [];
  if (!tables.length) {
    tbody.innerHTML = '<tr><td colspan="5" class="muted">No table attached.</td></tr>';
    return;
  }
  tbody.replaceChildren(...tables.map((t) => {
    const tr = document.createElement('tr');
    tr.dataset.topic = t.topic;
    const cells = [t.topic, (t.key ?? []).join(', '), (t.columns ?? []).join(', ') + (t.exclude?.length ? ` (hidden: ${t.exclude.join(', ')})` : ''),
      String(subs.get(t.topic) ?? '–')];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 3) td.className = 'num';
      tr.append(td);
    }
    const td = document.createElement('td');
    const b = document.createElement('button');
    // Two clicks, no modal dialog: detaching drops every live subscription of the table. The
    // armed state lives outside the button, which is rebuilt on every status refresh.
    const armed = detach_armed.topic === t.topic && Date.now() < detach_armed.until;
    b.className = armed ? 'danger armed' : 'danger';
    b.textContent = armed ? 'Confirm detach' : 'Detach';
    b.onclick = async () => {
      if (!(detach_armed.topic === t.topic && Date.now() < detach_armed.until)) {
        detach_armed = { topic: t.topic, until: Date.now() + 4000 };
        b.classList.add('armed');
        b.textContent = 'Confirm detach';
        setTimeout(render_admin_tables, 4100);
        return;
      }
      detach_armed = { topic: null, until: 0 };
      admin_msg(`detaching ${t.topic}…`);
      try {
        await api('/api/admin/detach', { method: 'POST', body: JSON.stringify({ table: t.topic }) });
        admin_msg(`detached ${t.topic}`, 'good');
        await Promise.all([load_admin(), load_topics()]);
      } catch (err) {
        admin_msg(`detach ${t.topic}: ${err.message}`, 'bad');
      }
    };
    td.append(b);
    tr.append(td);
    return tr;
  }));
}
