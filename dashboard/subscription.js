// subscription.js — one live subscription of a pglive client: its query, its rows (row key → row), its position.
import { compareValues, parseFilterText, rowComparator } from './rows.js';

let next_sub_id = 1;

export class Subscription {
  constructor(client, topic, opts = {}) {
    this.client = client;
    this.topic = topic;
    this.filter = normalize_filter(opts.filter);
    this.limit = opts.limit ?? null;
    this.order = opts.order ?? '';
    // Aggregates instead of rows (PROTOCOL §5): group columns and aggregate names ("count",
    // "sum:amount", …); the rows are then group key → group.
    this.group = normalize_list(opts.group, 'group');
    this.aggregate = normalize_list(opts.aggregate, 'aggregate');
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

  // Changes filter, limit, order, group or aggregate: a new subscription on the server, a fresh snapshot here.
  update(opts = {}) {
    if (this.closed) throw new Error('this subscription is closed');
    if ('filter' in opts) this.filter = normalize_filter(opts.filter);
    if ('limit' in opts) this.limit = opts.limit ?? null;
    if ('order' in opts) this.order = opts.order ?? '';
    if ('group' in opts) this.group = normalize_list(opts.group, 'group');
    if ('aggregate' in opts) this.aggregate = normalize_list(opts.aggregate, 'aggregate');
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

// group / aggregate: an array of names, or one string of them separated by commas.
function normalize_list(v, what) {
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!Array.isArray(v)) throw new TypeError(`${what} must be an array of names or a comma-separated string, got ${typeof v}`);
  return v.map(String);
}
