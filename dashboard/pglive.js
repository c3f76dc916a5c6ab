// pglive.js — the browser client of pglive: live subscriptions over WebSocket (SSE fallback), RFC 6902 patches, resume.
//
// A dependency-free ES module, served by pglive at /pglive.js:
//
//   import { connect } from '/pglive.js';
//   const live = connect({ token });
//   const orders = live.subscribe('public.orders', { filter: ['status=eq.open'], limit: 50, order: 'id.desc',
//     onChange(rows, change) { render(orders.list()); } });
//
// The state of a subscription is one object, row key → row (PROTOCOL §4): a `snapshot` replaces it,
// each `patch` is applied to it in order. After a disconnect the client reconnects with backoff and
// resubscribes with `since` set to the last position it applied, so the server sends only what was
// missed (or a fresh snapshot when it no longer holds that history).

// ---------------------------------------------------------------------------------------------
// RFC 6902 JSON Patch (with RFC 6901 JSON Pointer)

export class PatchError extends Error {
  constructor(message, index, op) {
    super(index === undefined ? message : `patch operation ${index}: ${message}`);
    this.name = 'PatchError';
    this.index = index;
    this.op = op;
  }
}

const has_own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const is_object = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// "/a~1b/c~0d" → ["a/b", "c~d"]; "" → [] (the whole document).
export function parsePointer(pointer) {
  if (typeof pointer !== 'string') throw new PatchError(`a JSON Pointer must be a string, got ${typeof pointer}`);
  if (pointer === '') return [];
  if (pointer[0] !== '/') throw new PatchError(`JSON Pointer "${pointer}" must start with "/"`);
  return pointer.slice(1).split('/').map((t) => {
    if (/~[^01]|~$/.test(t)) throw new PatchError(`JSON Pointer "${pointer}" has a bad escape ("~" must be followed by 0 or 1)`);
    return t.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}

// One reference token as a pointer segment: "a/b" → "a~1b".
export function escapePointerToken(token) {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

// An array index token: digits without leading zeros (RFC 6901 §4); "-" only where allowed.
function array_index(arr, token, pointer, { allow_end = false, allow_length = false } = {}) {
  if (token === '-' && allow_end) return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`"${token}" in "${pointer}" is not an array index`);
  const i = Number(token);
  const max = allow_length ? arr.length : arr.length - 1;
  if (i > max) throw new PatchError(`index ${i} in "${pointer}" is out of bounds (array has ${arr.length} items)`);
  return i;
}

// Deep structural equality of JSON values (object member order does not matter).
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!has_own(b, k) || !jsonEqual(a[k], b[k])) return false;
  return true;
}

function clone(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(clone);
  const out = {};
  for (const k of Object.keys(v)) set_member(out, k, clone(v[k]));
  return out;
}

// obj[k] = v, without ever touching a prototype: a row keyed "__proto__" is just a row.
function set_member(obj, k, v) {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
  else obj[k] = v;
}

// Walks to the parent of the last token; returns [parent, last token].
function resolve_parent(doc, tokens, pointer) {
  let cur = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i];
    if (Array.isArray(cur)) cur = cur[array_index(cur, t, pointer)];
    else if (is_object(cur)) {
      if (!has_own(cur, t)) throw new PatchError(`path "${pointer}" does not exist ("${t}" is missing)`);
      cur = cur[t];
    } else throw new PatchError(`path "${pointer}" does not exist ("${tokens[i - 1] ?? ''}" is not a container)`);
  }
  if (!Array.isArray(cur) && !is_object(cur)) throw new PatchError(`path "${pointer}": its parent is not an object or array`);
  return [cur, tokens[tokens.length - 1]];
}

function get_value(doc, pointer) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  if (Array.isArray(parent)) return parent[array_index(parent, last, pointer)];
  if (!has_own(parent, last)) throw new PatchError(`path "${pointer}" does not exist`);
  return parent[last];
}

// Each mutation pushes its inverse on `undo`, so a failing patch leaves the document as it was
// (RFC 6902 §5) without copying the whole state for every patch.
function do_add(doc, pointer, value, undo) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) {
    const old = doc;
    undo.push(() => old);
    return value;
  }
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const i = array_index(parent, last, pointer, { allow_end: true, allow_length: true });
    parent.splice(i, 0, value);
    undo.push((d) => (parent.splice(i, 1), d));
  } else {
    const existed = has_own(parent, last);
    const old = parent[last];
    set_member(parent, last, value);
    undo.push((d) => (existed ? set_member(parent, last, old) : delete parent[last], d));
  }
  return doc;
}

function do_remove(doc, pointer, undo) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchError('cannot remove the whole document (path "")');
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  let old;
  if (Array.isArray(parent)) {
    const i = array_index(parent, last, pointer);
    old = parent.splice(i, 1)[0];
    undo.push((d) => (parent.splice(i, 0, old), d));
  } else {
    if (!has_own(parent, last)) throw new PatchError(`path "${pointer}" does not exist`);
    old = parent[last];
    delete parent[last];
    undo.push((d) => (set_member(parent, last, old), d));
  }
  return [doc, old];
}

function do_replace(doc, pointer, value, undo) {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) {
    const old = doc;
    undo.push(() => old);
    return value;
  }
  const [parent, last] = resolve_parent(doc, tokens, pointer);
  if (Array.isArray(parent)) {
    const i = array_index(parent, last, pointer);
    const old = parent[i];
    parent[i] = value;
    undo.push((d) => ((parent[i] = old), d));
  } else {
    if (!has_own(parent, last)) throw new PatchError(`path "${pointer}" does not exist`);
    const old = parent[last];
    set_member(parent, last, value);
    undo.push((d) => (set_member(parent, last, old), d));
  }
  return doc;
}

export const supportedOps = Object.freeze(['add', 'remove', 'replace', 'move', 'copy', 'test']);

function require_member(op, i, name) {
  if (!has_own(op, name)) throw new PatchError(`"${op.op}" needs a '${name}' member`, i, op);
}

// Applies `patch` (an array of operations) to `doc` and returns the result. The document is
// changed in place where possible (use the returned value: an operation on "" replaces it).
// Throws PatchError, leaving `doc` exactly as it was, when any operation fails.
export function applyPatch(doc, patch) {
  if (!Array.isArray(patch)) throw new PatchError(`a JSON Patch must be an array of operations, got ${typeof patch}`);
  const undo = [];
  let cur = doc;
  try {
    for (let i = 0; i < patch.length; i++) {
      const op = patch[i];
      if (!is_object(op)) throw new PatchError('an operation must be an object', i, op);
      try {
        require_member(op, i, 'path');
        switch (op.op) {
          case 'add':
            require_member(op, i, 'value');
            cur = do_add(cur, op.path, clone(op.value), undo);
            break;
          case 'remove':
            cur = do_remove(cur, op.path, undo)[0];
            break;
          case 'replace':
            require_member(op, i, 'value');
            cur = do_replace(cur, op.path, clone(op.value), undo);
            break;
          case 'move': {
            require_member(op, i, 'from');
            if (op.path !== op.from && (op.path + '/').startsWith(op.from + '/'))
              throw new PatchError(`cannot move "${op.from}" into its own child "${op.path}"`);
            if (op.path === op.from) { get_value(cur, op.from); break; }
            const [d, value] = do_remove(cur, op.from, undo);
            cur = do_add(d, op.path, value, undo);
            break;
          }
          case 'copy':
            require_member(op, i, 'from');
            cur = do_add(cur, op.path, clone(get_value(cur, op.from)), undo);
            break;
          case 'test':
            require_member(op, i, 'value');
            if (!jsonEqual(get_value(cur, op.path), op.value))
              throw new PatchError(`test failed: the value at "${op.path}" is not ${JSON.stringify(op.value)}`);
            break;
          default:
            throw new PatchError(`unsupported operation ${JSON.stringify(op.op)} (supported: ${supportedOps.join(', ')})`);
        }
      } catch (e) {
        if (e instanceof PatchError && e.index === undefined) throw new PatchError(e.message, i, op);
        throw e;
      }
    }
  } catch (e) {
    for (let j = undo.length - 1; j >= 0; j--) cur = undo[j](cur);
    throw e;
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// Positions are decimal strings (a bigint does not fit a JS number).

function pos_after(a, b) {
  if (b === null || b === undefined) return true;
  return BigInt(a) > BigInt(b);
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

let next_sub_id = 1;

export class Subscription {
  constructor(client, topic, opts = {}) {
    this.client = client;
    this.topic = topic;
    this.filter = normalize_filter(opts.filter);
    this.limit = opts.limit ?? null;
    this.order = opts.order ?? '';
    this.onChange = opts.onChange ?? null;
    this.onError = opts.onError ?? null;
    this.onMessage = opts.onMessage ?? null;
    this.rows = {};         // row key → row
    this.position = null;   // the last position applied (decimal string)
    this.key = null;        // key columns, from `subscribed`
    this.columns = null;
    this.ready = false;     // a snapshot (or a resume) has been applied
    this.error = null;      // {code, message} of the last refusal
    this.closed = false;
    this.id_ = next_sub_id++;
    this.gen_ = 0;
    this.name_ = null;      // the wire `sub`: changes with every (re)subscribe, so stale frames are ignored
  }

  // The rows as an array, in the subscription's order (default: by key).
  list() {
    const order = this.order || (this.key ?? []).map((k) => `${k}.asc`).join(',');
    if (order) return Object.values(this.rows).sort(rowComparator(order));
    // No order and no key known (SSE has no `subscribed` reply): by row key, numbers numerically.
    return Object.keys(this.rows).sort((a, b) => compareValues(a, b)).map((k) => this.rows[k]);
  }

  get size() { return Object.keys(this.rows).length; }

  // Changes filter, limit or order: a new subscription on the server, a fresh snapshot here.
  update(opts = {}) {
    if (this.closed) throw new Error('this subscription is closed');
    if ('filter' in opts) this.filter = normalize_filter(opts.filter);
    if ('limit' in opts) this.limit = opts.limit ?? null;
    if ('order' in opts) this.order = opts.order ?? '';
    this.position = null;
    this.ready = false;
    this.error = null;
    this.client.resubscribe_(this);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.client.unsubscribe_(this);
  }
}

function normalize_filter(f) {
  if (f === undefined || f === null || f === '') return [];
  if (typeof f === 'string') return parseFilterText(f);
  if (!Array.isArray(f)) throw new TypeError(`filter must be an array of "column=op.value" strings or a string, got ${typeof f}`);
  return f.map(String);
}

// PostgREST query syntax as typed in a box: "status=eq.open&amount=gt.100" (also newlines).
export function parseFilterText(text) {
  return String(text).split(/[&\n]/).map((s) => s.trim()).filter(Boolean);
}

// "amount.desc,id" → comparator over rows, or null for "". Nulls sort last ascending and first
// descending, as in PostgreSQL; numbers (and numeric strings) compare as numbers.
export function rowComparator(order) {
  if (!order) return null;
  const parts = order.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const segs = p.split('.');
    let dir = 'asc';
    let nulls = null;
    while (segs.length > 1 && ['asc', 'desc', 'nullsfirst', 'nullslast'].includes(segs[segs.length - 1])) {
      const s = segs.pop();
      if (s === 'asc' || s === 'desc') dir = s; else nulls = s;
    }
    return { col: segs.join('.'), desc: dir === 'desc', nulls_first: nulls ? nulls === 'nullsfirst' : dir === 'desc' };
  });
  return (a, b) => {
    for (const { col, desc, nulls_first } of parts) {
      const c = compareValues(a?.[col], b?.[col], nulls_first);
      if (c !== 0) return desc && a?.[col] != null && b?.[col] != null ? -c : c;
    }
    return 0;
  };
}

const numeric_re = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
export function compareValues(x, y, nulls_first = false) {
  const xn = x === null || x === undefined;
  const yn = y === null || y === undefined;
  if (xn || yn) return xn && yn ? 0 : (xn ? 1 : -1) * (nulls_first ? -1 : 1);
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if ((typeof x === 'number' || numeric_re.test(x)) && (typeof y === 'number' || numeric_re.test(y))) {
    return Number(x) - Number(y);
  }
  if (typeof x === 'boolean' && typeof y === 'boolean') return Number(x) - Number(y);
  const xs = typeof x === 'object' ? JSON.stringify(x) : String(x);
  const ys = typeof y === 'object' ? JSON.stringify(y) : String(y);
  return xs < ys ? -1 : xs > ys ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Exact numbers (PROTOCOL §4: integers of any width and numeric keep every digit on the wire)

const BIG_MARK = '\u0000pglive-number:';

// How many significant digits a JSON number literal has, and whether it is an integer.
function literal_shape(lit) {
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(lit);
  const digits = (m[1] + (m[2] ?? '')).replace(/^0+/, '').replace(/0+$/, '');
  return { digits: digits.length, integer: m[2] === undefined && m[3] === undefined };
}

// True when JavaScript's Number would change the literal's value: an integer beyond ±(2^53 − 1),
// or a decimal with more than 15 significant digits (a double holds 15 exactly) or beyond
// double's range.
function lossy(lit) {
  const { digits, integer } = literal_shape(lit);
  if (integer) return !Number.isSafeInteger(Number(lit)) || BigInt(lit) !== BigInt(Number(lit));
  const n = Number(lit);
  return digits > 15 || !Number.isFinite(n) || (n === 0 && digits > 0);
}

// JSON.parse, except that number literals a double cannot hold exactly become strings (the
// literal, e.g. "12345678901234567891.5") or, with bigNumbers 'bigint', integers become BigInt
// (decimals still strings). bigNumbers null/'number' is plain JSON.parse.
export function parseJSON(text, bigNumbers = null) {
  if (bigNumbers !== 'string' && bigNumbers !== 'bigint') return JSON.parse(text);
  let out = '', last = 0, marked = false;
  const re = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  for (let m; (m = re.exec(text));) {
    const tok = m[0];
    if (tok[0] === '"' || !lossy(tok)) continue;
    out += text.slice(last, m.index) + JSON.stringify(BIG_MARK + tok);
    last = m.index + tok.length;
    marked = true;
  }
  if (!marked) return JSON.parse(text);
  out += text.slice(last);
  return JSON.parse(out, (key, value) => {
    if (typeof value !== 'string' || !value.startsWith(BIG_MARK)) return value;
    const lit = value.slice(BIG_MARK.length);
    return bigNumbers === 'bigint' && literal_shape(lit).integer ? BigInt(lit) : lit;
  });
}

// ---------------------------------------------------------------------------------------------
// The connection

const default_options = {
  url: null,                 // http(s) base of the pglive server; default: where this module was served from
  token: null,               // JWT; null = anonymous
  transports: ['ws', 'sse'], // tried in order: SSE when a WebSocket cannot be opened
  backoff_initial_ms: 500,
  backoff_max_ms: 15000,
  ping_interval_ms: 25000,   // a ping with no pong within ping_timeout_ms means a dead link (laptop slept, NAT dropped it)
  ping_timeout_ms: 10000,
  WebSocket: null,           // implementations, for tests; default: the browser's
  EventSource: null,
  // Numbers a double cannot hold exactly (bigint beyond 2^53, numeric with more than 15 digits):
  // null = JavaScript numbers (digits lost), 'string' = the exact literal as a string,
  // 'bigint' = integers as BigInt and decimals as strings.
  bigNumbers: null,
};

function default_base() {
  try {
    if (typeof location !== 'undefined' && location.origin && location.origin !== 'null') return location.origin;
  } catch { /* not a browser */ }
  return new URL('.', import.meta.url).href;
}

export class Client {
  constructor(options = {}) {
    this.options = { ...default_options, ...options };
    const o = this.options;
    this.base_ = new URL(o.url ?? default_base());
    this.WS_ = o.WebSocket ?? globalThis.WebSocket;
    this.ES_ = o.EventSource ?? globalThis.EventSource;
    this.state = 'connecting';  // connecting | open | reconnecting | closed
    this.transport = null;      // 'ws' | 'sse' once open
    this.position = null;       // the highest position applied by any subscription
    this.lastError = null;
    this.subs_ = new Map();     // id → Subscription
    this.by_name_ = new Map();  // wire sub name → Subscription
    this.pending_ = new Map();  // ref → Subscription (subscribe awaiting `subscribed`/error)
    this.listeners_ = new Map();
    this.next_ref_ = 1;
    this.attempt_ = 0;
    this.ws_ = null;
    this.sse_ = new Map();      // sub id → EventSource
    this.timer_ = null;
    this.ping_timer_ = null;
    this.pong_timer_ = null;
    this.transport_index_ = 0;
    this.open_transport_(0);
  }

  // on('state'|'message'|'patch'|'snapshot'|'error', fn) → a function that removes the listener.
  on(type, fn) {
    if (!this.listeners_.has(type)) this.listeners_.set(type, new Set());
    this.listeners_.get(type).add(fn);
    return () => this.listeners_.get(type)?.delete(fn);
  }

  emit_(type, ev) {
    for (const fn of this.listeners_.get(type) ?? []) {
      try { fn(ev); } catch (e) { console.error(`pglive: a '${type}' listener threw`, e); }
    }
  }

  set_state_(state) {
    if (state === 'open') this.ever_open_ = true;
    if (this.state === state) return;
    this.state = state;
    this.emit_('state', { state, transport: this.transport, error: this.lastError });
  }

  subscribe(topic, opts = {}) {
    if (this.state === 'closed') throw new Error('this pglive client is closed');
    if (typeof topic !== 'string' || topic === '') throw new TypeError('subscribe: topic must be a non-empty string');
    const sub = new Subscription(this, topic, opts);
    this.subs_.set(sub.id_, sub);
    this.start_sub_(sub);
    return sub;
  }

  close() {
    this.state = 'closed';
    clearTimeout(this.timer_);
    this.stop_pings_();
    if (this.ws_) { const ws = this.ws_; this.ws_ = null; detach_ws(ws); try { ws.close(1000); } catch { /* already closed */ } }
    for (const es of this.sse_.values()) es.close();
    this.sse_.clear();
    this.emit_('state', { state: 'closed', transport: this.transport, error: null });
  }

  // --- subscriptions on the wire ----------------------------------------------------------

  new_name_(sub) {
    if (sub.name_) this.by_name_.delete(sub.name_);
    sub.gen_ += 1;
    sub.name_ = `${sub.topic}#${sub.id_}.${sub.gen_}`;
    this.by_name_.set(sub.name_, sub);
    return sub.name_;
  }

  subscribe_message_(sub, ref) {
    const m = { op: 'subscribe', ref, topic: sub.topic, sub: this.new_name_(sub) };
    if (sub.filter.length) m.filter = sub.filter;
    if (sub.limit !== null) m.limit = sub.limit;
    if (sub.order) m.order = sub.order;
    if (sub.position !== null) m.since = sub.position;
    return m;
  }

  start_sub_(sub) {
    if (this.transport === 'ws' && this.ws_ && this.ws_open_) {
      const ref = String(this.next_ref_++);
      this.pending_.set(ref, sub);
      this.send_(this.subscribe_message_(sub, ref));
    } else if (this.transport === 'sse') {
      this.open_sse_(sub);
    }
    // Otherwise the subscription goes out when the connection opens.
  }

  resubscribe_(sub) {
    if (this.transport === 'ws' && this.ws_open_ && sub.name_) {
      this.send_({ op: 'unsubscribe', ref: String(this.next_ref_++), sub: sub.name_ });
    }
    if (this.transport === 'sse') this.close_sse_(sub);
    sub.rows = {};
    this.start_sub_(sub);
  }

  unsubscribe_(sub) {
    this.subs_.delete(sub.id_);
    if (sub.name_) this.by_name_.delete(sub.name_);
    if (this.transport === 'ws' && this.ws_open_ && sub.name_) {
      this.send_({ op: 'unsubscribe', ref: String(this.next_ref_++), sub: sub.name_ });
    }
    this.close_sse_(sub);
  }

  // --- transports ---------------------------------------------------------------------------

  open_transport_(index) {
    if (this.state === 'closed') return;
    const list = this.options.transports;
    this.transport_index_ = index;
    const kind = list[index];
    if (kind === 'ws' && this.WS_) return this.open_ws_();
    if (kind === 'sse' && this.ES_) return this.open_sse_all_();
    if (index + 1 < list.length) return this.open_transport_(index + 1);
    this.lastError = { code: 'no_transport', message: `none of the transports ${list.join(', ')} is available here` };
    this.schedule_reconnect_();
  }

  // The transport failed before it ever opened: try the next one at once, or back off.
  transport_failed_(message) {
    this.lastError = { code: 'connect_failed', message };
    if (this.transport_index_ + 1 < this.options.transports.length) this.open_transport_(this.transport_index_ + 1);
    else this.schedule_reconnect_();
  }

  schedule_reconnect_() {
    if (this.state === 'closed') return;
    this.transport = null;
    const o = this.options;
    const base = Math.min(o.backoff_max_ms, o.backoff_initial_ms * 2 ** this.attempt_);
    const delay = Math.round(base / 2 + Math.random() * base / 2);  // jitter: reconnecting tabs do not stampede
    this.attempt_ += 1;
    this.set_state_(this.ever_open_ ? 'reconnecting' : 'connecting');
    this.next_retry_ms = delay;
    clearTimeout(this.timer_);
    this.timer_ = setTimeout(() => this.open_transport_(0), delay);
  }

  url_(path, params = {}) {
    const u = new URL(path, this.base_);
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) for (const x of v) u.searchParams.append(k, x);
      else if (v !== null && v !== undefined && v !== '') u.searchParams.set(k, v);
    }
    return u;
  }

  // WebSocket ---------------------------------------------------------------------------------

  open_ws_() {
    const u = this.url_('ws');
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new this.WS_(u.href);
    } catch (e) {
      return this.transport_failed_(`WebSocket ${u.href}: ${e.message}`);
    }
    this.ws_ = ws;
    this.ws_open_ = false;
    ws.onopen = () => {
      if (this.ws_ !== ws) return;
      this.ws_open_ = true;
      this.transport = 'ws';
      this.attempt_ = 0;
      this.lastError = null;
      this.pending_.clear();
      // The token travels in the first message, not the URL, so it stays out of access logs.
      if (this.options.token) this.send_({ op: 'auth', ref: String(this.next_ref_++), token: this.options.token });
      for (const sub of this.subs_.values()) this.start_sub_(sub);
      this.start_pings_();
      this.set_state_('open');
    };
    ws.onmessage = (ev) => {
      if (this.ws_ !== ws) return;
      let msg;
      try { msg = parseJSON(ev.data, this.options.bigNumbers); } catch { return this.emit_('error', { code: 'bad_frame', message: 'a frame from the server is not JSON' }); }
      this.handle_(msg, null);
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws_ !== ws) return;
      this.ws_ = null;
      this.stop_pings_();
      const was_open = this.ws_open_;
      this.ws_open_ = false;
      if (this.state === 'closed') return;
      if (!was_open) return this.transport_failed_(`WebSocket ${u.href} could not be opened`);
      this.lastError = { code: 'disconnected', message: `connection closed (${ev?.code ?? '?'}${ev?.reason ? ': ' + ev.reason : ''})` };
      this.schedule_reconnect_();
    };
  }

  send_(msg) {
    if (!this.ws_ || !this.ws_open_) return false;
    try { this.ws_.send(JSON.stringify(msg)); return true; } catch { return false; }
  }

  start_pings_() {
    this.stop_pings_();
    const o = this.options;
    if (!(o.ping_interval_ms > 0)) return;
    this.ping_timer_ = setInterval(() => {
      if (this.pong_timer_) return;
      const ref = `ping-${this.next_ref_++}`;
      this.ping_ref_ = ref;
      this.send_({ op: 'ping', ref });
      this.pong_timer_ = setTimeout(() => {
        // No pong: the link is dead even though the socket never said so.
        this.pong_timer_ = null;
        const ws = this.ws_;
        if (!ws) return;
        this.ws_ = null;
        this.ws_open_ = false;
        detach_ws(ws);
        try { ws.close(4000, 'no pong'); } catch { /* closing anyway */ }
        this.stop_pings_();
        this.lastError = { code: 'timeout', message: `no answer to a ping within ${o.ping_timeout_ms} ms` };
        this.schedule_reconnect_();
      }, o.ping_timeout_ms);
    }, o.ping_interval_ms);
  }

  stop_pings_() {
    clearInterval(this.ping_timer_);
    clearTimeout(this.pong_timer_);
    this.ping_timer_ = null;
    this.pong_timer_ = null;
  }

  // SSE: one EventSource per subscription (an SSE stream carries one topic) ------------------

  open_sse_all_() {
    this.transport = 'sse';
    this.sse_failed_ = false;
    if (this.subs_.size === 0) {
      this.attempt_ = 0;
      this.set_state_('open');
      return;
    }
    for (const sub of this.subs_.values()) this.open_sse_(sub);
  }

  open_sse_(sub) {
    this.close_sse_(sub);
    const name = this.new_name_(sub);
    const u = this.url_('sse', {
      topic: sub.topic, filter: sub.filter, limit: sub.limit, order: sub.order, since: sub.position,
      token: this.options.token,
    });
    let es;
    try {
      es = new this.ES_(u.href);
    } catch (e) {
      return this.sse_lost_(`EventSource ${u.pathname}: ${e.message}`, false);
    }
    this.sse_.set(sub.id_, es);
    let opened = false;
    const on_frame = (ev) => {
      if (this.sse_.get(sub.id_) !== es || !ev.data) return;
      let msg;
      try { msg = parseJSON(ev.data, this.options.bigNumbers); } catch { return; }
      msg.sub = name;  // the stream is this subscription whatever name the server gives it
      this.handle_(msg, sub);
    };
    for (const t of ['subscribed', 'snapshot', 'patch', 'message']) es.addEventListener(t, on_frame);
    es.onopen = () => {
      if (this.sse_.get(sub.id_) !== es) return;
      opened = true;
      this.attempt_ = 0;
      this.lastError = null;
      this.update_sse_state_();
    };
    es.onerror = (ev) => {
      if (this.sse_.get(sub.id_) !== es) return;
      if (ev && ev.data) return on_frame(ev);  // an `event: error` record from the server
      if (es.readyState === 2 /* CLOSED: the browser gave up (HTTP error, wrong type) */) {
        this.sse_.delete(sub.id_);
        if (!opened && [...this.sse_.values()].some((o) => o.readyState === 1)) {
          // The server is up (other streams flow) and refused this one: a bad filter or a forbidden topic.
          sub.error = { code: 'refused', message: `the server refused the event stream of ${sub.topic}` };
          if (sub.onError) sub.onError(sub.error);
          return this.emit_('error', { ...sub.error, sub });
        }
        return this.sse_lost_(`the event stream of ${sub.topic} was refused or lost`, opened);
      }
      if (!opened) {
        // Never opened (server down): back off and start again from WebSocket, rather than
        // leave every tab on the fallback for good after one outage.
        return this.sse_lost_(`the event stream of ${sub.topic} could not be opened`, false);
      }
      // CONNECTING after it was open: the browser reconnects by itself and resumes with Last-Event-ID.
      this.lastError = { code: 'disconnected', message: `the event stream of ${sub.topic} dropped; resuming` };
      this.set_state_('reconnecting');
    };
  }

  update_sse_state_() {
    for (const es of this.sse_.values()) if (es.readyState !== 1) return;
    this.set_state_('open');
  }

  sse_lost_(message, was_open) {
    if (this.transport !== 'sse' || this.state === 'closed') return;
    for (const es of this.sse_.values()) es.close();
    this.sse_.clear();
    this.transport = null;
    this.lastError = { code: was_open ? 'disconnected' : 'connect_failed', message };
    this.schedule_reconnect_();  // starts again from the preferred transport
  }

  close_sse_(sub) {
    const es = this.sse_.get(sub.id_);
    if (es) { es.close(); this.sse_.delete(sub.id_); }
  }

  // --- server messages ------------------------------------------------------------------------

  handle_(msg, sse_sub) {
    const sub = msg.sub !== undefined ? this.by_name_.get(msg.sub) : undefined;
    switch (msg.type) {
      case 'subscribed':
        if (msg.ref) this.pending_.delete(msg.ref);
        if (sub) { sub.key = msg.key ?? sub.key; sub.columns = msg.columns ?? sub.columns; sub.error = null; }
        break;
      case 'snapshot':
        if (!sub) return;
        sub.rows = is_object(msg.rows) ? msg.rows : {};
        sub.position = msg.pos ?? sub.position;
        sub.ready = true;
        this.note_position_(msg.pos);
        this.emit_('snapshot', { sub, pos: msg.pos });
        this.changed_(sub, { type: 'snapshot', pos: msg.pos });
        break;
      case 'patch': {
        if (!sub) return;
        if (sub.position !== null && !pos_after(msg.pos, sub.position)) return;  // already applied (a resume overlap)
        try {
          sub.rows = applyPatch(sub.rows, msg.patch);
        } catch (e) {
          // Our state no longer matches the server's: never show it, start over from a snapshot.
          this.emit_('error', { code: 'patch_failed', message: `${sub.topic}: ${e.message}; resubscribing`, sub });
          sub.position = null;
          this.resubscribe_(sub);
          return;
        }
        sub.position = msg.pos;
        sub.ready = true;
        this.note_position_(msg.pos);
        const ev = { type: 'patch', pos: msg.pos, ts: msg.ts, ops: msg.patch };
        this.emit_('patch', { sub, ...ev });
        this.changed_(sub, ev);
        break;
      }
      case 'message': {
        const ev = { topic: msg.topic, user: msg.user, data: msg.data };
        this.emit_('message', ev);
        for (const s of this.subs_.values()) if (s.topic === msg.topic && s.onMessage) s.onMessage(msg.data, ev);
        break;
      }
      case 'unsubscribed':
      case 'pong':
        if (msg.ref && msg.ref === this.ping_ref_) { clearTimeout(this.pong_timer_); this.pong_timer_ = null; }
        break;
      case 'error': {
        const target = (msg.ref && this.pending_.get(msg.ref)) || sub || sse_sub;
        if (msg.ref) this.pending_.delete(msg.ref);
        const err = { code: msg.code, message: msg.message };
        if (target) {
          target.error = err;
          if (target.onError) target.onError(err);
        }
        this.emit_('error', { ...err, sub: target ?? null });
        break;
      }
      default:
        break;  // newer servers may send more types
    }
  }

  note_position_(pos) {
    if (pos !== undefined && pos !== null && pos_after(pos, this.position)) this.position = String(pos);
  }

  changed_(sub, ev) {
    if (!sub.onChange) return;
    try { sub.onChange(sub.rows, ev); } catch (e) { console.error('pglive: onChange threw', e); }
  }
}

function detach_ws(ws) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

export function connect(options = {}) {
  return new Client(options);
}

export default { connect, Client, Subscription, applyPatch, parsePointer, escapePointerToken, PatchError };
