// rows.js — a subscription's rows as a page shows them: filter text, row order, value comparison (PostgreSQL's).

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
