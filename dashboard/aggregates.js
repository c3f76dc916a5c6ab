// aggregates.js — a table card's aggregate panel (PROTOCOL §5): pick group columns and aggregates,
// see the top N groups as a plain-SVG bar chart of the chosen aggregate and the exact numbers in a
// table, live. The panel holds a subscription of its own only while it is open (the server bounds
// it to the top N groups); it applies the card's filter. The pure parts are in aggdata.js.
//
// `?agg=TOPIC&group=…&aggregate=…&order=…&limit=…` opens TOPIC's panel with those picks (they are
// then remembered in this browser, like every pick, and taken out of the address bar); `pglive
// demo` prints such an address. window.pgliveAggregates.get(topic) gives what a panel shows
// (console, tests).
import { aggFunctions, aggName, bounds, defaultPicks, missingField, normalizePicks, picksFromParams, subscribeOptions, toBars } from './aggdata.js';
import { numericColumns } from './chartdata.js';
import { calm, colors, params, store } from './page.js';

const redraw_ms = 200;   // a panel is drawn at most this often
const row_h = 22;        // px per bar
const char_w = 6.6;      // px per character of the chart's 11 px text (an estimate, for the layout)

// --- the address: picks for one topic's panel ---------------------------------------------------
const from_url = picksFromParams(params);
export const url_topic = from_url?.topic ?? null;
if (from_url) {
  store.set(`agg.${from_url.topic}`, { open: true, picks: from_url.picks });
  for (const k of ['agg', 'group', 'aggregate', 'order', 'limit']) params.delete(k);
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
}

const panels = new Map();  // topic → AggPanel
window.pgliveAggregates = {
  topics: () => [...panels.keys()],
  get: (topic) => panels.get(topic)?.data() ?? null,
};

const svg_ns = 'http://www.w3.org/2000/svg';
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fit = (text, chars) => (text.length <= chars ? text : `${text.slice(0, Math.max(1, chars - 1))}…`);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
const option = (value, text = value) => el('option', { value, textContent: text });

let next_id = 1;

// "3 groups" when the server's window (top N) is not full: every group there is; "top 5 of ≥ 5
// groups" when it is (pglive sends no total).
function groups_text(b, picks) {
  const n = b.bars.length;
  return b.groups >= picks.top ? `top ${n} of ≥ ${b.groups} groups` : `${n} group${n === 1 ? '' : 's'}`;
}

export class AggPanel {
  // `view`: the TableView whose topic (and filter) this panel aggregates; `box`: its (hidden)
  // panel element; `toggle`: the card's Aggregates button; `client`: the pglive connection.
  constructor(view, box, toggle, client) {
    this.view = view;
    this.topic = view.topic;
    this.client = client;
    this.box = box;
    this.toggle_el = toggle;
    const saved = store.get(`agg.${this.topic}`, {});
    this.picks = normalizePicks(saved.picks ?? defaultPicks());
    this.open = false;
    this.sub = null;
    this.error = null;
    this.draws = 0;
    this.drawn_at = 0;
    this.timer = null;
    this.shown = new Map();  // "key\u0000field" → text last drawn (changed numbers flash)

    const id = `aggs-${next_id++}`;
    box.id = id;
    toggle.setAttribute('aria-controls', id);
    box.innerHTML = `
      <div class="agg-picks">
        <fieldset class="agg-group"><legend>group by</legend><span class="opts"></span></fieldset>
        <fieldset class="agg-list"><legend>aggregates</legend>
          <ul class="agg-chips"></ul>
          <span class="agg-add">
            <select class="agg-fn" aria-label="aggregate function"></select>
            <select class="agg-col" aria-label="column to aggregate"></select>
            <button type="button" class="ghost agg-add-btn">Add</button>
          </span>
        </fieldset>
        <fieldset class="agg-order"><legend>show</legend>
          <label>top <input class="agg-top" type="number" min="1" max="${bounds.top_max}" step="1" aria-label="how many groups (top N)"></label>
          <label>by <select class="agg-order-by" aria-label="order the groups by"></select></label>
          <button type="button" class="ghost agg-dir"></button>
        </fieldset>
      </div>
      <p class="agg-error" role="alert" hidden></p>
      <figure class="chart agg-chart"><figcaption><span class="agg-caption"></span> <span class="now muted"></span></figcaption><div class="plot"></div></figure>
      <div class="agg-scroll"><table class="grid agg-table"><thead><tr></tr></thead><tbody></tbody></table></div>`;
    const q = (s) => box.querySelector(s);
    this.group_el = q('.agg-group .opts');
    this.chips_el = q('.agg-chips');
    this.fn_el = q('.agg-fn');
    this.col_el = q('.agg-col');
    this.add_el = q('.agg-add-btn');
    this.top_el = q('.agg-top');
    this.order_el = q('.agg-order-by');
    this.dir_el = q('.agg-dir');
    this.error_el = q('.agg-error');
    this.caption_el = q('.agg-caption');
    this.now_el = q('.agg-chart .now');
    this.plot_el = q('.agg-chart .plot');
    this.head_el = q('.agg-table thead tr');
    this.body_el = q('.agg-table tbody');
    this.table_box = q('.agg-scroll');

    this.fn_el.replaceChildren(...aggFunctions.map((f) => option(f)));
    this.fn_el.addEventListener('change', () => this.render_columns());
    this.add_el.addEventListener('click', () => {
      const fn = this.fn_el.value;
      const col = this.col_el.value || null;
      if (fn !== 'count' && !col) return;
      const name = aggName(fn, col);
      if (this.picks.aggregates.includes(name)) return;
      this.set_picks({ ...this.picks, aggregates: [...this.picks.aggregates, name] });
    });
    this.top_el.addEventListener('change', () => {
      const n = parseInt(this.top_el.value, 10);
      this.set_picks({ ...this.picks, top: Number.isFinite(n) ? n : this.picks.top });
    });
    this.order_el.addEventListener('change', () => this.set_picks({ ...this.picks, order_by: this.order_el.value }));
    this.dir_el.addEventListener('click', () => this.set_picks({ ...this.picks, dir: this.picks.dir === 'desc' ? 'asc' : 'desc' }));
    toggle.addEventListener('click', () => this.set_open(!this.open));
    this.resize = new ResizeObserver(() => { if (this.open) this.schedule(); });
    this.resize.observe(box);
    panels.set(this.topic, this);
    this.render_picks();
    this.set_open(saved.open === true);
  }

  save() { store.set(`agg.${this.topic}`, { open: this.open, picks: this.picks }); }

  // The topic's columns: from the card's subscription once it has told them, else /api/topics.
  columns() { return this.view.sub?.columns ?? this.view.info.columns ?? []; }

  set_open(on) {
    this.open = on;
    this.box.hidden = !on;
    this.toggle_el.setAttribute('aria-pressed', String(on));
    this.toggle_el.title = on ? 'hide the aggregates' : 'show live aggregates: groups, counts, sums… as a bar chart and a table';
    this.save();
    if (on) this.subscribe();
    else this.unsubscribe();
    this.render_picks();
    this.schedule();
  }

  // New picks: checked, remembered, and (open) a new subscription; the panel is drawn again.
  set_picks(picks) {
    const next = normalizePicks(picks, this.columns().length ? this.columns() : null);
    if (JSON.stringify(next) === JSON.stringify(this.picks)) { this.render_picks(); return; }
    this.picks = next;
    this.save();
    this.render_picks();
    if (this.sub) { this.error = null; this.sub.update(this.request()); }
    this.shown.clear();
    this.schedule();
  }

  // The subscription's options: the picks and the card's filter (an empty one too, so that
  // update() clears a filter the card no longer has).
  request() { return { filter: [], ...subscribeOptions(this.picks, this.view.sub?.filter ?? []) }; }

  subscribe() {
    if (this.sub) return;
    this.error = null;
    this.sub = this.client.subscribe(this.topic, {
      ...this.request(),
      onChange: () => { this.error = null; this.schedule(); },
      onError: (err) => { this.error = err; this.schedule(); },
      onMessage: () => {},  // shown by the notifications panel
    });
  }

  unsubscribe() {
    this.sub?.close();
    this.sub = null;
    this.shown.clear();
  }

  // The card's query changed: when its filter did, the groups are of the rows it now lets through.
  filter_changed() {
    if (!this.sub || JSON.stringify(this.sub.filter) === JSON.stringify(this.view.sub?.filter ?? [])) return;
    this.error = null;
    this.sub.update(this.request());
    this.schedule();
  }

  // The card learned its columns (its first `subscribed`): the pickers offer them.
  columns_changed() { this.render_picks(); }

  // --- the pickers -------------------------------------------------------------------------------

  render_picks() {
    const cols = this.columns();
    const p = this.picks;
    // Group columns: a checkbox each (Tab, Space).
    const boxes = [...new Set([...cols, ...p.group])].map((c) => {
      const input = el('input', { type: 'checkbox', checked: p.group.includes(c) });
      input.dataset.col = c;
      input.disabled = !p.group.includes(c) && p.group.length >= bounds.group_columns;
      input.addEventListener('change', () => {
        const group = input.checked ? [...p.group, c] : p.group.filter((g) => g !== c);
        this.set_picks({ ...this.picks, group: cols.length ? cols.filter((x) => group.includes(x)) : group });
      });
      return el('label', { className: 'agg-opt' }, input, el('span', { textContent: c }));
    });
    const keep_focus = this.box.contains(document.activeElement) ? document.activeElement : null;
    const focused_col = keep_focus?.dataset?.col;
    const focused_chip = keep_focus?.dataset?.agg;
    this.group_el.replaceChildren(...(boxes.length ? boxes : [el('span', { className: 'muted', textContent: 'columns not known yet' })]));
    // Aggregates: a chip each with its remove button (the last one stays).
    this.chips_el.replaceChildren(...p.aggregates.map((a) => {
      const b = el('button', { type: 'button', className: 'chip-x', textContent: '×', title: `remove ${a}` });
      b.setAttribute('aria-label', `remove ${a}`);
      b.dataset.agg = a;
      b.disabled = p.aggregates.length === 1;
      b.addEventListener('click', () => this.set_picks({ ...this.picks, aggregates: this.picks.aggregates.filter((x) => x !== a) }));
      const li = el('li', { className: 'chip' }, el('span', { textContent: a }), b);
      li.dataset.agg = a;
      return li;
    }));
    this.add_el.disabled = p.aggregates.length >= bounds.aggregates;
    this.render_columns();
    // Order: the aggregates and the group columns; direction; top N.
    this.order_el.replaceChildren(...p.aggregates.map((a) => option(a)), ...p.group.map((g) => option(g)));
    this.order_el.value = p.order_by;
    this.dir_el.textContent = p.dir === 'desc' ? '↓ desc' : '↑ asc';
    this.dir_el.setAttribute('aria-label', p.dir === 'desc' ? 'descending (click for ascending)' : 'ascending (click for descending)');
    this.top_el.value = String(p.top);
    // A rebuilt control gives the focus back to its successor (keyboard users stay put).
    if (focused_col) this.group_el.querySelector(`input[data-col="${CSS.escape(focused_col)}"]`)?.focus();
    else if (focused_chip) (this.chips_el.querySelector('button:not(:disabled)') ?? this.add_el).focus();
  }

  // The column picker for the function picked: count counts rows (or a column's non-NULL values),
  // sum and avg take the numeric columns (as the card's rows show them), min and max any column.
  render_columns() {
    const fn = this.fn_el.value || 'count';
    const cols = this.columns();
    let list = cols;
    if (fn === 'sum' || fn === 'avg') {
      const rows = this.view.sub?.rows ?? {};
      const numeric = numericColumns(rows, cols, []);
      if (Object.keys(rows).length) list = numeric;
    }
    const prev = this.col_el.value;
    this.col_el.replaceChildren(...(fn === 'count' ? [option('', 'rows')] : []), ...list.map((c) => option(c)));
    if ([...this.col_el.options].some((o) => o.value === prev)) this.col_el.value = prev;
    this.add_el.disabled = this.picks.aggregates.length >= bounds.aggregates || (fn !== 'count' && !list.length);
  }

  // --- drawing -----------------------------------------------------------------------------------

  schedule() {
    if (this.timer) return;
    const wait = Math.max(0, this.drawn_at + redraw_ms - Date.now());
    this.timer = setTimeout(() => { this.timer = null; this.draw(); }, wait);
  }

  state() {
    const rows = this.sub?.rows ?? {};
    const missing = this.sub?.ready ? missingField(rows, this.picks) : null;
    return { rows, missing };
  }

  draw() {
    this.drawn_at = Date.now();
    if (!this.open) return;
    const { rows, missing } = this.state();
    const err = this.error
      ? `${this.error.code}: ${this.error.message}`
      : missing ? `the server sent rows, not the aggregates asked for (no field ${missing}): does it support group/aggregate subscriptions (PROTOCOL §5)?` : '';
    this.error_el.hidden = !err;
    this.error_el.textContent = err;
    const b = toBars(err ? {} : rows, this.picks);
    this.bars = b;
    this.draws += 1;
    const p = this.picks;
    const filtered = (this.sub?.filter ?? []).length > 0;
    this.caption_el.textContent = `${b.measure}${p.group.length ? ` by ${p.group.join(', ')}` : ''}`;
    if (err) this.now_el.textContent = '';
    else if (!this.sub?.ready) this.now_el.textContent = 'waiting for the first snapshot…';
    else if (!b.groups) this.now_el.textContent = `no rows${filtered ? ' match the filter' : ''}: no groups`;
    else this.now_el.textContent = `${groups_text(b, p)} · ${p.order_by} ${p.dir}${filtered ? ' · filtered' : ''}`;
    this.table_box.hidden = !b.bars.length;
    this.draw_chart(b);
    this.draw_table(b);
  }

  draw_chart(b) {
    const w = Math.floor(this.plot_el.clientWidth || this.box.clientWidth);
    if (w < 60) return;
    if (!b.bars.length) {
      this.plot_el.innerHTML = '';
      this.plot_el.title = '';
      return;
    }
    const label_chars = Math.max(...b.bars.map((x) => x.label.length));
    const value_chars = Math.max(...b.bars.map((x) => x.measure.length));
    const label_w = Math.min(Math.floor(w * 0.36), Math.ceil(label_chars * char_w) + 8);
    const value_w = Math.min(Math.floor(w * 0.4), Math.ceil(value_chars * char_w) + 8);
    const x0 = label_w;
    const x1 = w - value_w;
    const bw = Math.max(1, x1 - x0);
    const h = b.bars.length * row_h + 4;
    const parts = [];
    if (b.min !== null && b.min < 0) {
      const xz = (x0 + b.zero * bw).toFixed(1);
      parts.push(`<line class="axis" x1="${xz}" y1="0" x2="${xz}" y2="${h}"/>`);
    }
    b.bars.forEach((bar, i) => {
      const y = 2 + i * row_h;
      const bx = x0 + bar.from * bw;
      const len = bar.value === null || bar.value === 0 ? 0 : Math.max(1, (bar.to - bar.from) * bw);  // a tiny value still shows, nothing does not
      const tip = `${bar.label}: ${b.measure} ${bar.measure}`;
      parts.push(`<g class="agg-bar" data-group="${esc(bar.key)}"><title>${esc(tip)}</title>`
        + `<text class="tick label" x="${x0 - 6}" y="${y + row_h / 2 + 4}" text-anchor="end">${esc(fit(bar.label, Math.floor((label_w - 8) / char_w)))}</text>`
        + (len ? `<rect class="bar" x="${bx.toFixed(1)}" y="${y + 3}" width="${len.toFixed(1)}" height="${row_h - 6}" rx="2"/>` : '')
        + `<text class="tick value" x="${w - 2}" y="${y + row_h / 2 + 4}" text-anchor="end">${esc(bar.measure)}</text></g>`);
    });
    const label = `${this.topic}: ${b.measure}${this.picks.group.length ? ` by ${this.picks.group.join(', ')}` : ''}, ${groups_text(b, this.picks)}: `
      + b.bars.map((x) => `${x.label} ${x.measure}`).join(', ');
    this.plot_el.innerHTML = `<svg xmlns="${svg_ns}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}"><title>${esc(label)}</title>${parts.join('')}</svg>`;
  }

  draw_table(b) {
    const fields = [...this.picks.group, ...this.picks.aggregates];
    const head = fields.join('\u0000');
    if (this.head_ !== head) {
      this.head_ = head;
      this.head_el.replaceChildren(...fields.map((f) => {
        const th = el('th', { scope: 'col', textContent: f });
        th.dataset.field = f;
        if (!this.picks.group.includes(f)) th.className = 'num';
        return th;
      }));
    }
    const flash = !calm.matches;
    const seen = new Map();
    this.body_el.replaceChildren(...b.bars.map((bar) => {
      const tr = el('tr');
      tr.dataset.group = bar.key;
      for (const f of fields) {
        const text = bar.values[f];
        const td = el('td', { textContent: text });
        td.dataset.field = f;
        if (!this.picks.group.includes(f)) td.className = 'num';
        const k = `${bar.key}\u0000${f}`;
        const before = this.shown.get(k);
        seen.set(k, text);
        if (flash && before !== undefined && before !== text) {
          td.animate([{ backgroundColor: colors['flash-change'] }, { backgroundColor: 'transparent' }], { duration: 1400, easing: 'ease-out' });
        }
        tr.append(td);
      }
      return tr;
    }));
    this.shown = seen;  // only the groups shown: bounded by top N
  }

  // What the panel shows (window.pgliveAggregates.get): the picks, the request, the bars as drawn.
  data() {
    const { rows, missing } = this.state();
    return {
      open: this.open, picks: structuredClone(this.picks), request: this.request(), ready: !!this.sub?.ready,
      error: this.error, missing, draws: this.draws, groups: Object.keys(rows).length,
      bars: (this.bars?.bars ?? []).map((x) => ({ key: x.key, label: x.label, measure: x.measure, values: { ...x.values } })),
    };
  }

  destroy() {
    panels.delete(this.topic);
    this.unsubscribe();
    clearTimeout(this.timer);
    this.resize.disconnect();
  }
}
