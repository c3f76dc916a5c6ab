// exactjson.js — JSON.parse that keeps numbers a double cannot hold exactly (PROTOCOL §4), as strings or BigInt.

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

// True when JavaScript would not write the literal back as it came: lossy, or a decimal whose text
// says more than its value (a numeric's scale: "1523.40", an exponent: "1.5e3").
function rewritten(lit) {
  return lossy(lit) || (!literal_shape(lit).integer && String(Number(lit)) !== lit);
}

// JSON.parse, except that number literals a double cannot hold exactly become strings (the
// literal, e.g. "12345678901234567891.5") or, with bigNumbers 'bigint', integers become BigInt
// (decimals still strings). With bigNumbers 'text' every literal JavaScript would not write back
// as it came is a string: also the numeric "1523.40" (its scale kept, as PostgreSQL prints it).
// bigNumbers null/'number' is plain JSON.parse.
export function parseJSON(text, bigNumbers = null) {
  if (bigNumbers !== 'string' && bigNumbers !== 'bigint' && bigNumbers !== 'text') return JSON.parse(text);
  const keep = bigNumbers === 'text' ? rewritten : lossy;
  let out = '', last = 0, marked = false;
  const re = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  for (let m; (m = re.exec(text));) {
    const tok = m[0];
    if (tok[0] === '"' || !keep(tok)) continue;
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
