// charts.js — a table card's charts, drawn as plain SVG from the live stream (no chart library):
// patches/s of the card's subscription, commit → browser latency (p50 and max per second), and a
// line per row key of a numeric column. The data (chartdata.js) is gathered from the card's
// first snapshot on, open or not, in fixed bounds; the drawing happens only while the panel is
// open, at most twice a second. `?chart_window=S` sets the window (default 300 s; tests).
// window.pgliveCharts.get(topic) gives what a card's charts hold (console, tests).
import { KeyLines, numericColumns, parseCommitTime, SecondRing } from './chartdata.js';
import { parsePointer } from './jsonpatch.js';
import { params, store } from './page.js';
import { compareValues } from './pglive.js';

const requested_window = Number(params.get('chart_window'));
export const window_s = Number.isFinite(requested_window) && requested_window >= 5 ? Math.min(3600, Math.floor(requested_window)) : 300;
const redraw_ms = 500;    // a panel is drawn at most this often…
const scroll_ms = 1000;   // …and at least this often while open (the time axis moves)
const plot_height = 96;
const max_legend = 24;    // lines drawn and listed; more keys are counted in the legend

const panels = new Map();  // topic → ChartPanel
window.pgliveCharts = {
  topics: () => [...panels.keys()],
  get: (topic) => panels.get(topic)?.data() ?? null,
};

let ticker = null;
function tick() {
  const now = Date.now();
  if (document.hidden) {  // nothing is drawn in a background tab, but old points are still dropped
    for (const p of panels.values()) if (now - p.trimmed_at >= 5000) { p.lines.trim(now); p.trimmed_at = now; }
    return;
  }
  for (const p of panels.values()) {
    if (p.open && (p.dirty || now - p.drawn_at >= scroll_ms)) p.draw(now);
    else if (!p.open && now - p.trimmed_at >= 5000) { p.lines.trim(now); p.trimmed_at = now; }  // closed: still forget the old
  }
}

const svg_ns = 'http://www.w3.org/2000/svg';
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const palette = ['#60a5fa', '#34d399', '#fbbf24', '#f87171', '#c084fc', '#22d3ee', '#fb923c', '#a3e635', '#f472b6', '#94a3b8'];

function fmt_num(v) {
  if (v === null || v === undefined) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return String(Math.round(v * 1000) / 1000);
}
function fmt_ms(ms) {
  if (ms === null || ms === undefined) return '–';
  return Math.abs(ms) < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
// A row key as people read it: a composite key's JSON array text ["web-1","cpu"] as web-1 / cpu.
export function keyText(key) {
  if (!key.startsWith('[')) return key;
  try {
    const a = JSON.parse(key);
    if (Array.isArray(a)) return a.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' / ');
  } catch { /* not JSON: as it is */ }
  return key;
}
const fmt_window = (s) => (s % 60 === 0 ? `${s / 60} min` : `${s} s`);

// A value range with some room, never empty.
function range(lo, hi, { zero = false } = {}) {
  if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (zero) { lo = Math.min(0, lo); hi = Math.max(0, hi); }
  if (lo === hi) { const d = Math.abs(lo) || 1; return [lo - d / 2, hi + d / 2]; }
  return [lo, hi];
}

// The frame of a plot: y labels (top and bottom value) on the left, time labels under it.
function frame(w, h, [lo, hi], fmt) {
  const left = 44;
  const x0 = left;
  const x1 = w - 4;
  const y0 = 4;
  const y1 = h - 14;
  const parts = [
    `<line class="axis" x1="${x0}" y1="${y1}" x2="${x1}" y2="${y1}"/>`,
    `<line class="grid-line" x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}"/>`,
    `<text class="tick" x="${x0 - 4}" y="${y0 + 8}" text-anchor="end">${esc(fmt(hi))}</text>`,
    `<text class="tick" x="${x0 - 4}" y="${y1}" text-anchor="end">${esc(fmt(lo))}</text>`,
    `<text class="tick" x="${x0}" y="${h - 2}">−${esc(fmt_window(window_s))}</text>`,
    `<text class="tick" x="${x1}" y="${h - 2}" text-anchor="end">now</text>`,
  ];
  if (lo < 0 && hi > 0) {
    const yz = y1 - ((0 - lo) / (hi - lo)) * (y1 - y0);
    parts.push(`<line class="grid-line" x1="${x0}" y1="${yz.toFixed(1)}" x2="${x1}" y2="${yz.toFixed(1)}"/>`);
  }
  const sy = (v) => y1 - ((v - lo) / (hi - lo)) * (y1 - y0);
  return { x0, x1, y0, y1, sy, parts };
}

function put_svg(box, w, h, label, body) {
  box.innerHTML = `<svg xmlns="${svg_ns}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}"><title>${esc(label)}</title>${body}</svg>`;
  box.title = label;
}

export class ChartPanel {
  // `view`: the TableView whose subscription this panel charts; `box`: its (hidden) panel element;
  // `toggle`: the card's chart button.
  constructor(view, box, toggle) {
    this.view = view;
    this.topic = view.topic;
    this.box = box;
    this.toggle_el = toggle;
    this.rate = new SecondRing(window_s);
    this.latency = new SecondRing(window_s);
    this.lines = new KeyLines(window_s);
    this.numeric = [];
    this.colors = new Map();  // row key → palette index, kept while its line lasts
    this.next_color = 0;
    const saved = store.get(`chart.${this.topic}`, {});
    this.column = saved.column ?? null;
    this.open = false;
    this.dirty = true;
    this.drawn_at = 0;
    this.draws = 0;
    this.trimmed_at = 0;           // drawings so far (tests check the rate)

    const id = `charts-${Math.random().toString(36).slice(2, 10)}`;
    box.id = id;
    toggle.setAttribute('aria-controls', id);
    box.innerHTML = `
      <figure class="chart rate"><figcaption>patches/s <span class="now muted"></span></figcaption><div class="plot"></div></figure>
      <figure class="chart latency"><figcaption>commit → browser latency <span class="now muted"></span>
        <small class="muted note">line: p50, bars: max per second; includes the clock skew between the database host and this browser</small></figcaption><div class="plot"></div></figure>
      <figure class="chart lines"><figcaption><label>per row: <select class="column" aria-label="numeric column to plot per row"></select></label>
        <span class="now muted"></span></figcaption><div class="plot"></div><ul class="legend"></ul></figure>`;
    this.rate_el = box.querySelector('.rate .plot');
    this.rate_now = box.querySelector('.rate .now');
    this.lat_el = box.querySelector('.latency .plot');
    this.lat_now = box.querySelector('.latency .now');
    this.lines_fig = box.querySelector('.lines');
    this.lines_el = box.querySelector('.lines .plot');
    this.lines_now = box.querySelector('.lines .now');
    this.legend_el = box.querySelector('.legend');
    this.select = box.querySelector('select.column');
    this.select.addEventListener('change', () => {
      this.column = this.select.value || null;
      this.save();
      this.dirty = true;
      this.draw(Date.now());
    });
    toggle.addEventListener('click', () => this.set_open(!this.open));
    this.resize = new ResizeObserver(() => { if (this.open) this.dirty = true; });
    this.resize.observe(box);
    panels.set(this.topic, this);
    if (!ticker) ticker = setInterval(tick, redraw_ms);
    this.set_open(saved.open === true);
  }

  save() { store.set(`chart.${this.topic}`, { open: this.open, column: this.column }); }

  set_open(on) {
    this.open = on;
    this.box.hidden = !on;
    this.toggle_el.setAttribute('aria-pressed', String(on));
    this.toggle_el.title = on ? 'hide the charts' : 'show charts: patches/s, latency, a numeric column per row';
    this.save();
    if (on) { this.dirty = true; this.draw(Date.now()); }
  }

  // The card's subscription changed (TableView.on_change): count it, time it, follow the values.
  observe(ev) {
    const now = Date.now();
    const sub = this.view.sub;
    const rows = sub?.rows ?? {};
    if (ev.type === 'snapshot') {
      this.find_columns(rows);
      this.lines.reset(rows, now);
    } else if (ev.type === 'patch') {
      this.rate.add(now);
      const committed = parseCommitTime(ev.ts);
      if (committed !== null) this.latency.add(now, now - committed);
      if (!this.numeric.length && ev.ops.some((op) => op.op === 'add')) this.find_columns(rows);
      const keys = new Set();
      for (const op of ev.ops) keys.add(parsePointer(op.path)[0] ?? '');
      for (const k of keys) this.lines.set(k, rows[k] ?? null, now);
    }
    this.dirty = true;
  }

  find_columns(rows) {
    const sub = this.view.sub;
    const cols = sub?.columns ?? this.view.info.columns ?? Object.keys(Object.values(rows)[0] ?? {});
    const key = sub?.key ?? this.view.info.key ?? [];
    const numeric = numericColumns(rows, cols, key);
    if (numeric.join('\u0000') === this.numeric.join('\u0000')) return;
    this.numeric = numeric;
    this.lines.track(numeric);
    this.select.replaceChildren(...numeric.map((c) => { const o = document.createElement('option'); o.value = c; o.textContent = c; return o; }));
    if (!numeric.includes(this.column)) this.column = numeric[0] ?? null;
    this.select.value = this.column ?? '';
    this.select.disabled = numeric.length === 0;
  }

  // What the charts hold now (window.pgliveCharts.get): the series, the lines and the numbers held.
  data(now = Date.now()) {
    this.lines.trim(now);
    const rate = this.rate.series(now).map((s) => [s.sec, s.n]);
    const latency = this.latency.series(now).filter((s) => s.vn).map((s) => ({ sec: s.sec, n: s.vn, p50: s.p50, max: s.max, min: s.min }));
    const lines = {};
    for (const l of this.lines.get(this.column)) lines[l.key] = l.points.map((p) => [...p]);
    return { window_s, open: this.open, draws: this.draws, total: this.rate.total(now), rate, latency, column: this.column, columns: [...this.numeric], lines,
      held: { rate: this.rate.held, latency: this.latency.held, points: this.lines.held } };
  }

  draw(now) {
    this.dirty = false;
    this.drawn_at = now;
    const w = Math.floor(this.box.clientWidth);
    if (w < 60) return;
    this.draws += 1;
    this.lines.trim(now);
    this.draw_rate(now, w);
    this.draw_latency(now, w);
    this.draw_lines(now, w);
  }

  draw_rate(now, w) {
    const series = this.rate.series(now);
    const done = series.slice(0, -1);  // the current second is not over
    const last = done.length ? done[done.length - 1].n : 0;
    const peak = Math.max(0, ...series.map((s) => s.n));
    const total = this.rate.total(now);
    const [lo, hi] = range(0, peak, { zero: true });
    const f = frame(w, plot_height, [lo, hi], (v) => fmt_num(v));
    const bw = (f.x1 - f.x0) / series.length;
    let d = '';
    series.forEach((s, i) => {
      if (!s.n) return;
      const y = f.sy(s.n);
      d += `M${(f.x0 + i * bw).toFixed(2)} ${f.y1}V${y.toFixed(1)}h${Math.max(0.8, bw - 0.3).toFixed(2)}V${f.y1}Z`;
    });
    const label = `${this.topic}: patches per second over the last ${fmt_window(window_s)}: ${last} in the last second, peak ${peak}, ${total} in all`;
    put_svg(this.rate_el, w, plot_height, label, `${f.parts.join('')}<path class="bars" d="${d}"/>`);
    this.rate_now.textContent = `${last} now · peak ${peak} · ${total} in ${fmt_window(window_s)}`;
    this.box.dataset.total = String(total);
  }

  draw_latency(now, w) {
    const series = this.latency.series(now);
    const seen = series.filter((s) => s.vn);
    const lo_v = seen.length ? Math.min(...seen.map((s) => s.min)) : null;
    const hi_v = seen.length ? Math.max(...seen.map((s) => s.max)) : null;
    const [lo, hi] = range(lo_v, hi_v, { zero: true });
    const f = frame(w, plot_height, [lo, hi], fmt_ms);
    const bw = (f.x1 - f.x0) / series.length;
    const base = f.sy(Math.max(lo, 0));
    let bars = '';
    let line = '';
    let pen = false;
    series.forEach((s, i) => {
      const x = f.x0 + i * bw;
      if (!s.vn) { pen = false; return; }
      bars += `M${x.toFixed(2)} ${base.toFixed(1)}V${f.sy(s.max).toFixed(1)}h${Math.max(0.8, bw - 0.3).toFixed(2)}V${base.toFixed(1)}Z`;
      const cx = (x + bw / 2).toFixed(2);
      const cy = f.sy(s.p50).toFixed(1);
      line += pen ? `L${cx} ${cy}` : `M${cx} ${cy}h0.01`;
      pen = true;
    });
    const last = seen[seen.length - 1];
    const now_text = last ? `p50 ${fmt_ms(last.p50)} · max ${fmt_ms(last.max)}` : 'no patch yet';
    const label = `${this.topic}: commit → browser latency over the last ${fmt_window(window_s)}, last second with patches: ${now_text}`
      + `; worst ${fmt_ms(hi_v)}. It includes the clock skew between the database host and this browser.`;
    put_svg(this.lat_el, w, plot_height, label, `${f.parts.join('')}<path class="bars max" d="${bars}"/><path class="line p50" d="${line}"/>`);
    this.lat_now.textContent = now_text;
  }

  draw_lines(now, w) {
    const col = this.column;
    if (!col) {
      this.lines_el.innerHTML = '';
      this.lines_el.title = '';
      this.lines_now.textContent = 'no numeric column besides the key';
      this.legend_el.replaceChildren();
      return;
    }
    // Rows still there first, by key as the table sorts them; then the ones removed in the window.
    const lines = this.lines.get(col).sort((a, b) => (a.ended !== null) - (b.ended !== null) || compareValues(a.key, b.key));
    const shown = lines.slice(0, max_legend);
    const present = new Set(lines.map((l) => l.key));
    for (const k of this.colors.keys()) if (!present.has(k)) this.colors.delete(k);
    for (const l of shown) if (!this.colors.has(l.key)) this.colors.set(l.key, this.next_color++ % palette.length);
    const color = (l) => palette[this.colors.get(l.key)];
    let lo_v = null;
    let hi_v = null;
    for (const l of shown) for (const [, v] of l.points) {
      if (v === null) continue;
      if (lo_v === null || v < lo_v) lo_v = v;
      if (hi_v === null || v > hi_v) hi_v = v;
    }
    const [lo, hi] = range(lo_v, hi_v);
    const f = frame(w, plot_height + 24, [lo, hi], fmt_num);
    const start = now - window_s * 1000;
    const sx = (t) => f.x0 + ((Math.max(t, start) - start) / (window_s * 1000)) * (f.x1 - f.x0);
    const paths = shown.map((l) => {
      // A step line: a value holds until the next one; a line ends where its row went.
      let d = '';
      let pen = false;  // the previous point had a value
      for (const [t, v] of l.points) {
        const x = sx(t).toFixed(1);
        if (pen) d += `H${x}`;
        if (v === null) { pen = false; continue; }
        const y = f.sy(v).toFixed(1);
        d += pen ? `V${y}` : `M${x} ${y}`;
        pen = true;
      }
      if (pen) d += `H${sx(l.ended ?? now).toFixed(1)}`;
      return `<path class="series" stroke="${color(l)}" d="${d}"/>`;
    });
    const values = shown.map((l) => `${keyText(l.key)} = ${l.ended !== null ? 'removed' : fmt_num(l.last)}`);
    const more = lines.length - shown.length;
    const label = `${this.topic}: ${col} per row over the last ${fmt_window(window_s)}: ${values.join(', ') || 'no rows'}${more > 0 ? `, and ${more} more rows` : ''}`;
    put_svg(this.lines_el, w, plot_height + 24, label, `${f.parts.join('')}${paths.join('')}`);
    this.lines_now.textContent = `${lines.length} row${lines.length === 1 ? '' : 's'}`;
    this.legend_el.replaceChildren(...shown.map((l) => {
      const li = document.createElement('li');
      li.dataset.key = l.key;
      li.innerHTML = '<span class="swatch" aria-hidden="true"></span><span class="key"></span> <b class="value"></b>';
      li.querySelector('.swatch').style.background = color(l);
      li.querySelector('.key').textContent = keyText(l.key);
      li.querySelector('.value').textContent = l.ended !== null ? 'removed' : fmt_num(l.last);
      return li;
    }), ...(more > 0 ? [Object.assign(document.createElement('li'), { className: 'muted', textContent: `+${more} more` })] : []));
  }

  destroy() {
    panels.delete(this.topic);
    this.resize.disconnect();
    if (!panels.size && ticker) { clearInterval(ticker); ticker = null; }
  }
}
