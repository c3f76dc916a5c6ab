// pglive.js — the browser client of pglive: live subscriptions over WebSocket (SSE fallback), RFC 6902 patches, resume.
//
// A dependency-free ES module, served by pglive at /pglive.js:
//
//   import { connect } from '/pglive.js';
//   const live = connect({ token });
//   const orders = live.subscribe('public.orders', { filter: ['status=eq.open'], limit: 50, order: 'id.desc',
//     onChange() { console.table(orders.list()); } });
//
// Errors nobody handles (no onError on the subscription, no on('error') on the client) are
// written to the console; `logErrors: false` keeps it quiet.
//
// The state of a subscription is one object, row key → row (PROTOCOL §4): a `snapshot` replaces it,
// each `patch` is applied to it in order. After a disconnect the client reconnects with backoff and
// resubscribes with `since` set to the last position it applied, so the server sends only what was
// missed (or a fresh snapshot when it no longer holds that history).

// The client is split by job: jsonpatch.js (RFC 6902), subscription.js (one subscription's state),
// rows.js (order and filter text), exactjson.js (exact numbers), transports.js (WebSocket and SSE);
// this module is the connection itself and the one a page imports: everything public is exported here.
import { applyPatch, escapePointerToken, isObject, jsonEqual, parsePointer, PatchError, supportedOps } from './jsonpatch.js';
import { parseJSON } from './exactjson.js';
import { compareValues, parseFilterText, rowComparator } from './rows.js';
import { Subscription } from './subscription.js';
import { detach_ws, Transports } from './transports.js';

export { applyPatch, escapePointerToken, jsonEqual, parsePointer, PatchError, supportedOps };
export { compareValues, parseFilterText, rowComparator };
export { parseJSON, Subscription };

// ---------------------------------------------------------------------------------------------
// Positions are decimal strings (a bigint does not fit a JS number).

function pos_after(a, b) {
  if (b === null || b === undefined) return true;
  return BigInt(a) > BigInt(b);
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
  // 'bigint' = integers as BigInt and decimals as strings, 'text' = as 'string', and also every
  // decimal JavaScript would not write back as sent (a numeric's scale: 1523.40) as its literal.
  bigNumbers: null,
  logErrors: true,           // console.error/warn for errors no onError / on('error') handles
  // A page of another origin that the server refuses (its allowed_origins does not list it) is
  // retried this many times with backoff, then the client gives up: an 'error' event with
  // final: true, state 'closed'. A network loss is retried for ever, as before.
  refusedRetries: 3,
  fetch: null,               // implementation, for tests; default: the browser's (asks /healthz why a connect failed)
};

// An option given as undefined (or null, for those with a default) means "the default", so that
// connect({ transports: someSetting }) works whatever the setting holds.
function with_defaults(options) {
  const o = { ...default_options };
  for (const [k, v] of Object.entries(options ?? {})) {
    if (v === undefined) continue;
    if (v === null && default_options[k] !== null && default_options[k] !== undefined) continue;
    o[k] = v;
  }
  if (typeof o.transports === 'string') o.transports = o.transports.split(',').map((t) => t.trim()).filter(Boolean);
  if (!Array.isArray(o.transports) || o.transports.length === 0) o.transports = [...default_options.transports];
  const unknown = o.transports.filter((t) => t !== 'ws' && t !== 'sse');
  if (unknown.length) throw new TypeError(`connect: unknown transport ${unknown.join(', ')} (use 'ws' and/or 'sse')`);
  return o;
}

// The page's origin in a browser, else null.
function page_origin() {
  try {
    if (typeof location !== 'undefined' && location.origin && location.origin !== 'null') return location.origin;
  } catch { /* not a browser */ }
  return null;
}

function default_base() {
  try {
    if (typeof location !== 'undefined' && location.origin && location.origin !== 'null') return location.origin;
  } catch { /* not a browser */ }
  return new URL('.', import.meta.url).href;
}

export class Client extends Transports {
  constructor(options = {}) {
    super();
    this.options = with_defaults(options);
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

  // An error no handler will see goes to the console, once per kind and message in a row.
  report_(err, sub = null) {
    if (this.options.logErrors === false) return;
    if (sub?.onError || (this.listeners_.get('error')?.size ?? 0) > 0) return;
    const line = `pglive: ${sub ? `${sub.topic}: ` : ''}${err.code}: ${err.message}`;
    if (line === this.last_logged_) return;
    this.last_logged_ = line;
    (sub ? console.error : console.warn)(line);
  }

  set_state_(state) {
    if (state === 'open') { this.ever_open_ = true; this.last_logged_ = null; this.refused_count_ = 0; }
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

  close(error_ = null) {  // error_: why the client closed itself (internal)
    this.state = 'closed';
    clearTimeout(this.timer_);
    this.stop_pings_();
    if (this.ws_) { const ws = this.ws_; this.ws_ = null; detach_ws(ws); try { ws.close(1000); } catch { /* already closed */ } }
    for (const es of this.sse_.values()) es.close();
    this.sse_.clear();
    this.emit_('state', { state: 'closed', transport: this.transport, error: error_ });
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
    if (sub.group.length) m.group = sub.group;
    if (sub.aggregate.length) m.aggregate = sub.aggregate;
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
    this.connect_failed_();
    this.schedule_reconnect_();
  }

  // The transport failed before it ever opened: try the next one at once, or back off.
  transport_failed_(message) {
    this.lastError = { code: 'connect_failed', message };
    if (this.transport_index_ + 1 >= this.options.transports.length) this.connect_failed_();
    if (this.transport_index_ + 1 < this.options.transports.length) this.open_transport_(this.transport_index_ + 1);
    else this.schedule_reconnect_();
  }

  // Every transport failed: an 'error' event, and the console when nobody listens. A browser
  // does not tell a page why a WebSocket or an EventSource was refused; for another origin the
  // usual reason is the server's allowed_origins.
  //
  // On a page of another origin the client asks the server's /healthz (CORS: readable even when
  // refused) which it is: a 403 naming allowed_origins is a refusal (reported in the server's
  // words, retried refusedRetries times, then given up), anything else a server that is down or
  // unreachable (retried for ever).
  connect_failed_() {
    const e = this.lastError ?? { code: 'connect_failed', message: 'could not connect' };
    const page = page_origin();
    if (!page || page === this.base_.origin) return this.connect_error_(e);
    const hint = ` — is pglive running at ${this.base_.origin}, and does its allowed_origins list this page's origin ${page}?`;
    const fetch_ = this.options.fetch ?? globalThis.fetch;
    if (typeof fetch_ !== 'function') return this.connect_error_({ code: e.code, message: e.message + hint });
    this.probe_origin_(fetch_).then((refusal) => {
      if (this.state === 'closed') return;
      if (refusal) return this.refused_(page, refusal);
      this.connect_error_({ code: e.code, message: e.message + hint });
    });
  }

  connect_error_(err) {
    this.emit_('error', { ...err, sub: null });
    this.report_(err);
  }

  // The server's refusal message when it refuses this page's origin, else null.
  async probe_origin_(fetch_) {
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = setTimeout(() => ctl?.abort(), 5000);
    try {
      const res = await fetch_(this.url_('healthz').href, { mode: 'cors', cache: 'no-store', signal: ctl?.signal });
      if (res.status !== 403) return null;
      const body = await res.json().catch(() => null);
      return body?.error === 'forbidden' && /allowed_origins/.test(body?.message ?? '') ? body.message : null;
    } catch {
      return null;  // unreachable: a network loss, not a refusal
    } finally {
      clearTimeout(timer);
    }
  }

  refused_(page, server_message) {
    this.refused_count_ = (this.refused_count_ ?? 0) + 1;
    const err = { code: 'origin_refused', message: `${this.base_.origin} refuses this page's origin ${page}: ${server_message}` };
    this.lastError = err;
    const retries = Number.isFinite(this.options.refusedRetries) ? this.options.refusedRetries : default_options.refusedRetries;
    if (this.refused_count_ <= retries) {
      err.message += ` (retry ${this.refused_count_} of ${retries})`;
      return this.connect_error_(err);
    }
    // Permanent: stop retrying, say so once more, and close.
    err.message += `; gave up after ${retries} retries`;
    this.lastError = err;
    this.close(err);
    this.emit_('error', { ...err, sub: null, final: true });
    this.report_(err);
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


  handle_(msg, sse_sub) {
    const sub = msg.sub !== undefined ? this.by_name_.get(msg.sub) : undefined;
    switch (msg.type) {
      case 'subscribed':
        if (msg.ref) this.pending_.delete(msg.ref);
        if (sub) { sub.key = msg.key ?? sub.key; sub.columns = msg.columns ?? sub.columns; sub.error = null; }
        break;
      case 'snapshot':
        if (!sub) return;
        sub.rows = isObject(msg.rows) ? msg.rows : {};
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
          this.report_({ code: 'patch_failed', message: `${e.message}; resubscribing` });
          sub.position = null;
          this.resubscribe_(sub);
          return;
        }
        sub.position = msg.pos;
        sub.ready = true;
        this.note_position_(msg.pos);
        // A catch-up (the server resynced this connection, PROTOCOL §4) covers every position after `from`.
        const ev = { type: 'patch', pos: msg.pos, ts: msg.ts, ops: msg.patch, ...(msg.from !== undefined ? { from: msg.from } : {}) };
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
        this.report_(err, target ?? null);
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

export function connect(options = {}) {
  return new Client(options);
}

export default { connect, Client, Subscription, applyPatch, parsePointer, escapePointerToken, PatchError };
