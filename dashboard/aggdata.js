// aggdata.js — what the dashboard's aggregate panel computes, with no DOM (the node unit tests
// import this module as it is): the picks a person made (group columns, aggregates, order, top N)
// checked and turned into a subscription's options (PROTOCOL §5), the aggregate state turned into
// sorted bars, and the exact text of every number shown.
//
// Numbers may arrive as JavaScript numbers, as their exact literal strings or as BigInt (pglive.js's
// bigNumbers option). They are compared exactly (as decimals, never through a double) and shown
// as their exact text; only a bar's length is computed with doubles.
import { compareValues } from './rows.js';

export const aggFunctions = ['count', 'sum', 'avg', 'min', 'max'];
export const bounds = { group_columns: 4, aggregates: 8, top_max: 50, top_default: 10 };

// --- aggregate names: "count", "count:COL", "sum:COL", "avg:COL", "min:COL", "max:COL" ----------

export function aggName(fn, column = null) {
  if (!aggFunctions.includes(fn)) throw new TypeError(`unknown aggregate ${fn}`);
  if (fn === 'count' && !column) return 'count';
  if (!column) throw new TypeError(`${fn} needs a column`);
  return `${fn}:${column}`;
}

// "sum:amount" → {fn: 'sum', column: 'amount'}, "count" → {fn: 'count', column: null}; null if not one.
export function parseAggName(name) {
  if (typeof name !== 'string') return null;
  if (name === 'count') return { fn: 'count', column: null };
  const i = name.indexOf(':');
  if (i <= 0 || i === name.length - 1) return null;
  const fn = name.slice(0, i);
  return aggFunctions.includes(fn) ? { fn, column: name.slice(i + 1) } : null;
}

// --- picks -------------------------------------------------------------------------------------

// What the panel starts with for a topic nobody has set up: every row counted, no groups.
export function defaultPicks() {
  return { group: [], aggregates: ['count'], order_by: 'count', dir: 'desc', top: bounds.top_default };
}

// The picks made sane against the topic's columns (null: not known yet, any name goes): unknown
// columns and aggregates dropped, duplicates removed, at most `bounds` of each, at least `count`,
// an order by one of the aggregates or group columns (default: the first aggregate, descending),
// top N within 1..top_max.
export function normalizePicks(picks, columns = null) {
  const p = picks ?? {};
  const known = (c) => typeof c === 'string' && c !== '' && (!columns || columns.includes(c));
  const group = [...new Set((Array.isArray(p.group) ? p.group : []).filter(known))].slice(0, bounds.group_columns);
  const aggregates = [...new Set((Array.isArray(p.aggregates) ? p.aggregates : []).filter((a) => {
    const x = parseAggName(a);
    return x && (x.column === null || known(x.column));
  }))].slice(0, bounds.aggregates);
  if (!aggregates.length) aggregates.push('count');
  const order_by = aggregates.includes(p.order_by) || group.includes(p.order_by) ? p.order_by : aggregates[0];
  const dir = p.dir === 'asc' ? 'asc' : 'desc';
  const n = Math.floor(Number(p.top));
  const top = Number.isFinite(n) && n >= 1 ? Math.min(n, bounds.top_max) : bounds.top_default;
  return { group, aggregates, order_by, dir, top };
}

// The options of client.subscribe(topic, …) for these picks (PROTOCOL §5's group, aggregate,
// order and limit), with the card's filter.
export function subscribeOptions(picks, filter = []) {
  const p = normalizePicks(picks);
  const o = { group: [...p.group], aggregate: [...p.aggregates], order: `${p.order_by}.${p.dir}`, limit: p.top };
  if (filter.length) o.filter = [...filter];
  return o;
}

// Picks from a page address (?agg=TOPIC&group=a,b&aggregate=count,sum:amount&order=sum:amount.desc&limit=5,
// the same names as GET /api/topics/{topic}/rows): {topic, picks} or null without `agg`. Lists may
// be comma separated or repeated.
export function picksFromParams(params) {
  const topic = params.get('agg');
  if (!topic) return null;
  const list = (name) => params.getAll(name).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
  const picks = { group: list('group'), aggregates: list('aggregate') };
  const order = params.get('order');
  if (order) {
    const m = /^(.*)\.(asc|desc)$/.exec(order);
    picks.order_by = m ? m[1] : order;
    picks.dir = m ? m[2] : 'desc';
  } else picks.dir = 'desc';
  if (params.get('limit')) picks.top = Number(params.get('limit'));
  return { topic, picks: normalizePicks(picks) };
}

// --- exact numbers -------------------------------------------------------------------------------

const decimal_re = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

// A decimal literal without an exponent ("1e-7" → "0.0000001", "1.5e3" → "1500"), else null.
export function plainDecimal(text) {
  const m = decimal_re.exec(String(text));
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const sign = m[1] === '-' ? '-' : '';
  if (m[4] === undefined) return `${sign}${m[2] || '0'}${m[3] !== undefined && m[3] !== '' ? `.${m[3]}` : ''}`;
  let digits = m[2] + (m[3] ?? '');
  let point = m[2].length + Number(m[4]);  // digits before the decimal point
  if (point <= 0) { digits = '0'.repeat(1 - point) + digits; point = 1; }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const int = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const frac = digits.slice(point);
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}

// Is this a number as pglive sends them (a JSON number, BigInt, or the exact literal as a string)?
// "NaN" and "±Infinity" (float specials) are not.
export function isNumeric(v) {
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'bigint') return true;
  return typeof v === 'string' && plainDecimal(v) !== null;
}

// The text a value is shown as: strings as sent (a lossless number's literal, every digit), BigInt
// in decimal, a JavaScript number in plain decimal (JavaScript's shortest round trip, which is the
// literal pglive sent when a double holds it exactly, without exponent), NULL as ∅, the rest as JSON.
export function exactText(v) {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    const s = String(v);
    return /e/i.test(s) ? plainDecimal(s) : s;
  }
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

// A double close to the value, for drawing only (null: not a number).
export function approxNumber(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && plainDecimal(v) !== null) return Number(plainDecimal(v));
  return null;
}

// Compares two numbers exactly as decimals (whatever their form: number, BigInt, string); -1, 0, 1.
export function compareDecimal(a, b) {
  const x = plainDecimal(exactText(a));
  const y = plainDecimal(exactText(b));
  const parts = (s) => {
    const neg = s.startsWith('-');
    const body = s.replace(/^[+-]/, '');
    const [i, f = ''] = body.split('.');
    const int = i.replace(/^0+/, '');
    const frac = f.replace(/0+$/, '');
    return { neg: neg && (int !== '' || frac !== ''), int, frac };
  };
  const p = parts(x);
  const q = parts(y);
  if (p.neg !== q.neg) return p.neg ? -1 : 1;
  const sign = p.neg ? -1 : 1;
  if (p.int.length !== q.int.length) return sign * (p.int.length < q.int.length ? -1 : 1);
  if (p.int !== q.int) return sign * (p.int < q.int ? -1 : 1);
  const n = Math.max(p.frac.length, q.frac.length);
  const pf = p.frac.padEnd(n, '0');
  const qf = q.frac.padEnd(n, '0');
  if (pf === qf) return 0;
  return sign * (pf < qf ? -1 : 1);
}

// Where a float's or numeric's special value sorts in PostgreSQL: -Infinity below every number,
// Infinity above, NaN above everything (null: an ordinary number, or not a number at all).
const special_rank = { '-Infinity': -1, Infinity: 1, NaN: 2 };
const rank_of = (v) => (typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? 2 : Math.sign(v)) : typeof v === 'string' && v in special_rank ? special_rank[v] : null);

// PostgreSQL's order for one value pair: numbers exactly (NaN and ±Infinity where PostgreSQL puts
// them), NULLs last ascending (first descending, as ORDER BY … DESC puts them), the rest as
// rows.js compares them.
export function compareExact(a, b, dir = 'asc') {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) return an && bn ? 0 : (an ? 1 : -1) * (dir === 'desc' ? -1 : 1);
  const ra = rank_of(a) ?? (isNumeric(a) ? 0 : null);
  const rb = rank_of(b) ?? (isNumeric(b) ? 0 : null);
  let c;
  if (ra !== null && rb !== null) c = ra !== rb ? Math.sign(ra - rb) : ra === 0 ? compareDecimal(a, b) : 0;
  else c = Math.sign(compareValues(a, b));
  return dir === 'desc' ? -c : c;
}

// --- groups and bars -----------------------------------------------------------------------------

// How a group is named on screen: its group columns' values joined by " / " (NULL as ∅), or
// "all rows" without group columns.
export function groupLabel(entry, group, key = null) {
  if (!group.length) return 'all rows';
  if (entry && group.every((c) => c in entry)) return group.map((c) => exactText(entry[c])).join(' / ');
  return key ?? '';
}

// Does this state look like the aggregates asked for? (An older server ignores group/aggregate and
// sends rows; those must not be drawn as groups.) Returns the first field missing, or null.
export function missingField(state, picks) {
  const p = normalizePicks(picks);
  for (const entry of Object.values(state ?? {})) {
    if (!entry || typeof entry !== 'object') return '(an entry)';
    for (const f of [...p.group, ...p.aggregates]) if (!(f in entry)) return f;
  }
  return null;
}

// The aggregate the bars measure: the one the groups are ordered by, else (ordered by a group
// column) the first aggregate.
export function measureOf(picks) {
  const p = normalizePicks(picks);
  return p.aggregates.includes(p.order_by) ? p.order_by : p.aggregates[0];
}

// The state (group key → entry) as the chart and the table show it: the top `top` groups in the
// picked order (ties: by group key), each {key, label, values: {field: exact text}, measure (exact
// text), value (a double, or null when not a number), from, to (the bar's ends as fractions of the
// width, from the zero line)}; also how many groups there are and the measure's range.
export function toBars(state, picks) {
  const p = normalizePicks(picks);
  const measure = measureOf(p);
  const entries = Object.entries(state ?? {});
  entries.sort(([ka, a], [kb, b]) => compareExact(a?.[p.order_by], b?.[p.order_by], p.dir) || compareValues(ka, kb));
  const top = entries.slice(0, p.top);
  const values = top.map(([, e]) => approxNumber(e?.[measure]));
  const finite = values.filter((v) => v !== null);
  const lo = Math.min(0, ...finite);
  const hi = Math.max(0, ...finite);
  const span = hi - lo || 1;
  const zero = (0 - lo) / span;
  const bars = top.map(([key, e], i) => {
    const v = values[i];
    const at = v === null ? zero : (v - lo) / span;
    const vals = {};
    for (const f of [...p.group, ...p.aggregates]) vals[f] = exactText(e?.[f]);
    return { key, label: groupLabel(e, p.group, key), values: vals, measure: vals[measure], value: v, from: Math.min(zero, at), to: Math.max(zero, at) };
  });
  return { measure, order_by: p.order_by, dir: p.dir, groups: entries.length, bars, zero, min: finite.length ? lo : null, max: finite.length ? hi : null };
}
