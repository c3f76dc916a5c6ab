// tableview.js — one live table card: a topic's rows, filter, limit and sort, cells flashing as patches change them;
// its charts (charts.js) behind the card's Charts button, its aggregates (aggregates.js) behind Aggregates.
import { AggPanel } from './aggregates.js';
import { ChartPanel } from './charts.js';
import { parsePointer } from './jsonpatch.js';
import { $, calm, colors, store } from './page.js';
import { parseFilterText, rowComparator } from './pglive.js';
import { formatTimestamp, onZoneChange } from './timefmt.js';

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

const time_re = /^\d{4}-\d\d-\d\dT?\s?\d\d:\d\d:\d\d/;
function cell_text(v) {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
// What a cell shows: floats rounded to 3 decimals, timestamps with date, 24-hour time and zone in
// the page's zone (local or UTC, the header's switch); the title keeps the value as sent.
function shown_text(v, text, cls) {
  if (cls === 'time') return formatTimestamp(text) ?? text;
  if (typeof v === 'number' && !Number.isInteger(v)) return String(Math.round(v * 1000) / 1000);
  return text;
}
function cell_class(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v))) return 'num';
  if (typeof v === 'string' && time_re.test(v)) return 'time';
  return '';
}

// A long value shows its start (CSS ellipsis within a max width, and at most long_dom_chars in
// the page: a 200 kB cell must not make the table 1.78 M px wide); a click or Enter shows it all
// (expand_cell), the title holds it for a tooltip.
const long_chars = 48;
const long_dom_chars = 2000;
function set_cell(td, text, shown, cls) {
  const long = shown.length > long_chars;
  const expanded = long && td.classList.contains('expanded');
  td.className = [cls, long ? 'long' : '', expanded ? 'expanded' : ''].filter(Boolean).join(' ');
  if (expanded) {
    const full = document.createElement('div');
    full.className = 'full';  // scrolls within the cell: a huge value does not stretch the table
    full.textContent = text;
    td.replaceChildren(full);
  } else {
    td.textContent = shown.length > long_dom_chars ? `${shown.slice(0, long_dom_chars)}…` : shown;
  }
  td.title = shown !== text || long ? text : '';
  if (long) {
    td.tabIndex = 0;
    td.setAttribute('aria-expanded', String(expanded));
  } else if (td.hasAttribute('tabindex')) {
    td.removeAttribute('tabindex');
    td.removeAttribute('aria-expanded');
  }
}
function expand_cell(td) {
  if (!td?.classList.contains('long')) return;
  td.classList.toggle('expanded');
  set_cell(td, td.text_, td.shown_, [...td.classList].filter((c) => c !== 'long' && c !== 'expanded').join(' '));
}

// Every card, for the zone switch: its times are written again.
const all_views = new Set();
onZoneChange(() => {
  for (const v of all_views) {
    for (const { cells } of v.rows_el.values()) for (const td of cells.values()) td.text_ = undefined;
    v.full = true;
    schedule(v);
  }
});

// Decimals line up: a number with fewer fraction digits than its column's longest gets invisible
// zeros after it (CSS ::after from data-pad, so neither its text nor a copy holds them).
const max_pad_digits = 6;
function fraction_digits(shown) {
  const m = /^-?\d*\.(\d+)$/.exec(shown);
  return m ? Math.min(m[1].length, max_pad_digits) : 0;
}

export class TableView {
  // `info`: the topic as /api/topics lists it; `on_close(topic)`: the card's × was clicked.
  constructor(info, client, on_close) {
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
    this.frac_max = new Map();  // column → most fraction digits shown in it
    this.repad = new Set();     // columns whose longest fraction grew: pad every cell again
    all_views.add(this);

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
    $('.close', node).onclick = () => on_close(this.topic);

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

    // Long cells open on click, Enter or Space (one listener for the whole body).
    this.tbody.addEventListener('click', (e) => expand_cell(e.target.closest('td')));
    this.tbody.addEventListener('keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && e.target.matches?.('td.long')) { e.preventDefault(); expand_cell(e.target); }
    });

    this.chart = new ChartPanel(this, $('.charts', node), $('.chart-toggle', node));
    this.render_head();
    this.sub = client.subscribe(this.topic, {
      ...this.sub_opts(),
      onChange: (rows, ev) => this.on_change(ev),
      onError: (err) => { this.show_error(err); this.full = true; schedule(this); },  // refused: show no stale rows
      onMessage: () => {},  // shown by the notifications panel
    });
    this.aggs = new AggPanel(this, $('.aggs', node), $('.agg-toggle', node), client);
  }

  // The order the card shows and asks the server for: the one picked, else newest first for a
  // one-column key (a serial id: a new row shows at the top even when the window is full), else
  // by the key ascending.
  effective_order() {
    if (this.order) return this.order;
    const key = this.sub?.key?.length ? this.sub.key : (this.info.key ?? []);
    if (key.length === 1) return `${key[0]}.desc`;
    return key.map((k) => `${k}.asc`).join(',');
  }

  sub_opts() {
    return { filter: parseFilterText(this.filter_text), limit: this.limit, order: this.effective_order() };
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
    this.aggs.filter_changed();
  }

  show_error(err) {
    this.error_el.hidden = !err;
    this.error_el.textContent = err ? `${err.code}: ${err.message}` : '';
    this.filter_el.classList.toggle('invalid', !!err && err.code === 'bad_filter');
  }

  on_change(ev) {
    this.chart.observe(ev);
    if (ev.type === 'snapshot') {
      this.full = true;
      this.show_error(null);
      this.aggs.columns_changed();  // its pickers offer the columns (and the numeric ones) the rows have
    } else if (!this.full) {
      for (const op of ev.ops) {
        // "/<key>" touches a whole row, "/<key>/<col>" one cell.
        const [key = '', col = null] = parsePointer(op.path);
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
      th.scope = 'col';
      // A button, so the keyboard reaches it (Tab, Enter/Space) and focus shows.
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sort';
      b.textContent = c;
      b.title = `sort by ${c} (again: reverse)`;
      b.onclick = () => this.sort_by(c);
      th.append(b);
      return th;
    }));
    this.aggs?.columns_changed();
    // Existing rows were built for other columns.
    for (const { tr } of this.rows_el.values()) tr.remove();
    this.rows_el.clear();
    this.full = true;
    this.update_arrows();
  }

  // Clicking a header sorts by it, again reverses; the column the card is sorted by (the default
  // order included) reverses on the first click. The order goes to the server too, so a limited
  // window holds the first rows in that order, not just a sorted slice.
  sort_by(col) {
    const [cur, dir] = (this.effective_order().split(',')[0] ?? '').split('.');
    this.order = cur === col && dir !== 'desc' ? `${col}.desc` : `${col}.asc`;
    this.save();
    this.update_arrows();
    this.resubscribe();
  }

  update_arrows() {
    const [col, dir] = this.effective_order().split(',')[0].split('.');
    for (const th of this.thead_row.children) {
      th.querySelector('.arrow')?.remove();
      const sorted = th.dataset.col === col;
      th.setAttribute('aria-sort', sorted ? (dir === 'desc' ? 'descending' : 'ascending') : 'none');
      if (sorted) {
        const a = document.createElement('span');
        a.className = 'arrow';
        a.setAttribute('aria-hidden', 'true');
        a.textContent = dir === 'desc' ? '▼' : '▲';
        (th.querySelector('button') ?? th).append(a);
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
    for (const c of this.repad) for (const { cells } of this.rows_el.values()) { const td = cells.get(c); if (td) this.pad_cell(td, c); }
    this.repad.clear();
    this.reorder();
    this.align_head();
    this.render_count(Object.keys(rows).length);
  }

  // "N of M rows": pglive sends no total, so a full window says "of ≥ N" (the table may hold
  // more) and a window not full is every row there is (that the filter lets through).
  render_count(n) {
    const full = this.limit !== null && n >= this.limit;
    const filtered = this.sub.filter.length > 0;
    const rows = `row${n === 1 && !full ? '' : 's'}`;
    this.count_el.textContent = full ? `${n} of ≥ ${n} ${rows} · limit ${this.limit}` : `${n} of ${n} ${rows}`;
    if (filtered) this.count_el.textContent += ' · filtered';
    this.count_el.title = full
      ? `the window is full (limit ${this.limit}): the table may hold more${filtered ? ' matching' : ''} rows; pglive does not send a total`
      : `every${filtered ? ' matching' : ''} row of the table is shown`;
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
      if (td.text_ === text && td.shown_ === shown) continue;
      td.text_ = text;
      td.shown_ = shown;
      set_cell(td, text, shown, cls);
      td.frac_ = cls === 'num' ? fraction_digits(shown) : 0;
      if (td.frac_ > (this.frac_max.get(c) ?? 0)) { this.frac_max.set(c, td.frac_); this.repad.add(c); }
      this.pad_cell(td, c);
      if (!is_new && !flashed_row && this.flash_left > 0) {
        this.flash_left -= 1;
        td.animate([{ backgroundColor: colors['flash-change'] }, { backgroundColor: 'transparent' }], { duration: 1400, easing: 'ease-out' });
      }
    }
  }

  pad_cell(td, col) {
    const max = this.frac_max.get(col) ?? 0;
    const f = td.frac_ ?? 0;
    const pad = !td.classList.contains('num') || td.classList.contains('long') || f >= max ? '' : (f === 0 ? '.' : '') + '0'.repeat(max - f);
    if (pad) { if (td.dataset.pad !== pad) td.dataset.pad = pad; } else if ('pad' in td.dataset) delete td.dataset.pad;
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
    const cmp = rowComparator(this.effective_order());
    const rows = this.sub.rows;
    const keys = Object.keys(rows);
    if (cmp) keys.sort((a, b) => cmp(rows[a], rows[b]));
    // Moving a row takes the focus from a cell in it: give it back (keyboard users stay put).
    const active = this.tbody.contains(document.activeElement) ? document.activeElement : null;
    let node = this.tbody.firstElementChild;
    for (const key of keys) {
      const tr = this.rows_el.get(key)?.tr;
      if (!tr) continue;
      while (node && node.classList.contains('removed')) node = node.nextElementSibling;
      if (node === tr) { node = node.nextElementSibling; continue; }
      this.tbody.insertBefore(tr, node);
    }
    if (active && active.isConnected && document.activeElement !== active) active.focus({ preventScroll: true });
  }

  destroy() {
    all_views.delete(this);
    this.chart.destroy();
    this.aggs.destroy();
    this.sub.close();
    this.el.remove();
    dirty_views.delete(this);
  }
}
