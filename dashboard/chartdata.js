// chartdata.js — what the dashboard's charts hold, with no DOM: per-second counts and latencies in a
// fixed ring of seconds, percentiles, and a line per row key of a numeric column, every one bounded
// in memory whatever the traffic (the node unit tests import this module as it is).

// "2026-11-22T10:00:00.123456Z" → ms since the epoch (with the microseconds as a fraction), or null.
// Date.parse is only promised to read milliseconds, so the rest is added by hand.
export function parseCommitTime(ts) {
  if (typeof ts !== 'string') return null;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(ts);
  if (!m) return null;
  const frac = m[2] ?? '';
  const t = Date.parse(`${m[1]}.${(frac + '000').slice(0, 3)}${m[3] || 'Z'}`);
  if (!Number.isFinite(t)) return null;
  return frac.length > 3 ? t + Number(`0.${frac.slice(3)}`) : t;
}

// Nearest-rank percentile (p in 0..100) of numbers; `sorted` says they are sorted already. null for none.
export function percentile(values, p, sorted = false) {
  const n = values.length;
  if (!n) return null;
  const a = sorted ? values : [...values].sort((x, y) => x - y);
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return a[rank - 1];
}

// A fixed ring of `window_s` one-second slots: slot i holds second `sec` (floor(ms / 1000)) or is
// stale. Each slot counts events and keeps, for values, exact min/max/sum and up to
// `samples_per_s` samples (a uniform reservoir beyond that) for percentiles. Memory is
// window_s × samples_per_s numbers at most, from the first second on.
export class SecondRing {
  constructor(window_s = 300, { samples_per_s = 200, random = Math.random } = {}) {
    this.window_s = Math.max(1, Math.floor(window_s));
    this.samples_per_s = samples_per_s;
    this.random = random;
    this.slots = Array.from({ length: this.window_s }, () => ({ sec: -Infinity, n: 0, vn: 0, min: Infinity, max: -Infinity, sum: 0, samples: [] }));
  }

  slot_(sec) {
    const s = this.slots[((sec % this.window_s) + this.window_s) % this.window_s];
    if (s.sec !== sec) { s.sec = sec; s.n = 0; s.vn = 0; s.min = Infinity; s.max = -Infinity; s.sum = 0; s.samples.length = 0; }
    return s;
  }

  // One event at `t_ms`, with an optional value (a latency, say). Events older than the window are ignored.
  add(t_ms, value = undefined) {
    const sec = Math.floor(t_ms / 1000);
    const s = this.slot_(sec);
    s.n += 1;
    if (value === undefined || value === null || !Number.isFinite(value)) return;
    s.vn += 1;
    s.sum += value;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
    if (s.samples.length < this.samples_per_s) s.samples.push(value);
    else {
      const j = Math.floor(this.random() * s.vn);
      if (j < this.samples_per_s) s.samples[j] = value;
    }
  }

  // The seconds of the window ending at now_ms (the current, partial second last), oldest first:
  // [{sec, n, vn, min, max, p50}], every second present (n = 0 when nothing came).
  series(now_ms, { p = 50 } = {}) {
    const now = Math.floor(now_ms / 1000);
    const out = [];
    for (let sec = now - this.window_s + 1; sec <= now; sec += 1) {
      const s = this.slots[((sec % this.window_s) + this.window_s) % this.window_s];
      if (s.sec !== sec) { out.push({ sec, n: 0, vn: 0, min: null, max: null, p50: null }); continue; }
      out.push({ sec, n: s.n, vn: s.vn, min: s.vn ? s.min : null, max: s.vn ? s.max : null, p50: s.vn ? percentile(s.samples, p) : null });
    }
    return out;
  }

  // Events within the window ending at now_ms.
  total(now_ms) {
    const now = Math.floor(now_ms / 1000);
    let n = 0;
    for (const s of this.slots) if (s.sec > now - this.window_s && s.sec <= now) n += s.n;
    return n;
  }

  // Numbers held (for the memory bound's test): slots plus samples.
  get held() { return this.slots.length + this.slots.reduce((a, s) => a + s.samples.length, 0); }
}

// Is this JSON value a number a chart can plot? Numbers, BigInt, and numeric strings (exact
// numerics given as strings); "NaN" and "±Infinity" are not.
const numeric_re = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
export function plotValue(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && numeric_re.test(v)) return Number(v);
  return null;
}

// The columns a line chart can plot: not a key column, and every non-null value in `rows` a
// number (at least one). In the order of `columns`.
export function numericColumns(rows, columns, key = []) {
  const keys = new Set(key);
  const list = Object.values(rows ?? {});
  return (columns ?? []).filter((c) => {
    if (keys.has(c)) return false;
    let seen = false;
    for (const r of list) {
      const v = r?.[c];
      if (v === null || v === undefined) continue;
      if (plotValue(v) === null && !(typeof v === 'string' && /^-?Infinity$|^NaN$/.test(v))) return false;
      seen = true;
    }
    return seen;
  });
}

// A line per row key of each tracked column: points [t_ms, value] (a value holds until the next
// point; null: not a number then), trimmed to the window, at most `max_points` per line and
// `max_keys` lines per column (the least recently changed line goes first). A removed row's line
// ends (`ended` at that time) and goes once it is older than the window.
export class KeyLines {
  constructor(window_s = 300, { max_points = 1200, max_keys = 32, max_columns = 8 } = {}) {
    this.window_ms = window_s * 1000;
    this.max_points = max_points;
    this.max_keys = max_keys;
    this.max_columns = max_columns;
    this.columns = [];          // tracked columns
    this.lines = new Map();     // column → Map key → {points, ended, touched}
  }

  track(columns) {
    const cols = columns.slice(0, this.max_columns);
    if (cols.join('\u0000') === this.columns.join('\u0000')) return;
    this.columns = cols;
    for (const c of [...this.lines.keys()]) if (!cols.includes(c)) this.lines.delete(c);
    for (const c of cols) if (!this.lines.has(c)) this.lines.set(c, new Map());
  }

  // The row `key` is `row` (null: removed) at t_ms; records each tracked column's value if it changed.
  set(key, row, t_ms) {
    for (const c of this.columns) {
      const m = this.lines.get(c);
      let line = m.get(key);
      if (!row) { if (line && line.ended === null) { line.ended = t_ms; line.touched = t_ms; } continue; }
      const v = plotValue(row[c]);
      if (!line) {
        line = { points: [], ended: null, touched: t_ms };
        m.set(key, line);
        if (m.size > this.max_keys) this.evict_(m);
      }
      const last = line.points[line.points.length - 1];
      if (line.ended !== null) { line.ended = null; line.points.push([t_ms, v]); line.touched = t_ms; }
      else if (!last || last[1] !== v) { line.points.push([t_ms, v]); line.touched = t_ms; }
      if (line.points.length > this.max_points) line.points.splice(0, line.points.length - this.max_points);
    }
  }

  // A snapshot: every row as it is now, and the lines of rows no longer there end.
  reset(rows, t_ms) {
    for (const c of this.columns) for (const [k, line] of this.lines.get(c)) if (!(k in rows) && line.ended === null) line.ended = t_ms;
    for (const [k, row] of Object.entries(rows)) this.set(k, row, t_ms);
  }

  evict_(m) {
    let oldest = null;
    for (const [k, line] of m) if (!oldest || line.touched < oldest[1].touched) oldest = [k, line];
    m.delete(oldest[0]);
  }

  // Drops what is older than the window ending at now_ms; a line keeps the last point before the
  // window's start (the value it held then), moved to the start.
  trim(now_ms) {
    const start = now_ms - this.window_ms;
    for (const m of this.lines.values()) {
      for (const [k, line] of m) {
        if (line.ended !== null && line.ended < start) { m.delete(k); continue; }
        const p = line.points;
        let i = 0;
        while (i + 1 < p.length && p[i + 1][0] <= start) i += 1;
        if (i > 0) p.splice(0, i);
        if (p.length && p[0][0] < start) p[0] = [start, p[0][1]];
      }
    }
  }

  // column → [{key, points, ended, last}] (last: the current value), keys in `order` if given.
  get(column) {
    const m = this.lines.get(column);
    if (!m) return [];
    return [...m].map(([key, line]) => ({ key, points: line.points, ended: line.ended, last: line.points.length ? line.points[line.points.length - 1][1] : null }));
  }

  get held() {
    let n = 0;
    for (const m of this.lines.values()) for (const line of m.values()) n += line.points.length;
    return n;
  }
}
