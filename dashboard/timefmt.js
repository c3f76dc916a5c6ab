// timefmt.js — how the page writes times: date, 24-hour clock and zone, in this browser's zone or
// in UTC (the header's switch, remembered).
import { store } from './page.js';

let utc = store.get('utc', false);
const listeners = new Set();

export const isUTC = () => utc;
export function setUTC(on) {
  utc = !!on;
  store.set('utc', utc);
  for (const fn of listeners) { try { fn(utc); } catch (e) { console.error('pglive dashboard: a time-zone listener threw', e); } }
}
export function onZoneChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export const localZoneName = () => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local'; } catch { return 'local'; } };

const two = (n) => String(n).padStart(2, '0');
function offset_text(minutes_east) {
  const sign = minutes_east < 0 ? '-' : '+';
  const m = Math.abs(minutes_east);
  return `${sign}${two(Math.floor(m / 60))}:${two(m % 60)}`;
}

// ms since the epoch → "2026-12-02 13:00:00.123 +01:00" (local) or "2026-12-02 12:00:00.123 UTC".
// `parts`: 'datetime' (default) or 'time' (no date: "13:00:00 +01:00").
export function formatInstant(ms, { parts = 'datetime', fraction = 0 } = {}) {
  const d = new Date(ms);
  const [Y, M, D, h, m, s, f] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  const frac = fraction > 0 ? `.${String(f).padStart(3, '0').slice(0, fraction)}` : '';
  const time = `${two(h)}:${two(m)}:${two(s)}${frac}`;
  const zone = utc ? 'UTC' : offset_text(-d.getTimezoneOffset());
  const date = `${String(Y).padStart(4, '0')}-${two(M)}-${two(D)}`;
  return parts === 'time' ? `${time} ${zone}` : `${date} ${time} ${zone}`;
}

// A timestamptz as pglive sends it ("2026-12-02T12:00:00.123456+00:00", PROTOCOL "Values on the
// wire") → its text in the page's zone, milliseconds kept when it has a fraction. A timestamp
// without zone ("2026-12-02T12:00:00.5") has no instant to convert: date and time as they are,
// with a space. Anything else (BC, infinity) → null: shown as sent.
const tstz_re = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d(?::?\d\d)?(?::\d\d)?|Z)$/;
const ts_re = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?$/;
export function formatTimestamp(text) {
  let m = tstz_re.exec(text);
  if (m) {
    let zone = m[4] === 'Z' ? '+00:00' : m[4];
    if (/^[+-]\d\d$/.test(zone)) zone += ':00';
    else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const frac = m[3] ? m[3].slice(0, 4) : '';
    const ms = Date.parse(`${m[1]}T${m[2]}${frac}${zone.slice(0, 6)}`);
    if (!Number.isFinite(ms)) return null;
    return formatInstant(ms, { fraction: m[3] ? 3 : 0 });
  }
  m = ts_re.exec(text);
  if (m) return `${m[1]} ${m[2]}${m[3] ? m[3].slice(0, 4) : ''}`;
  return null;
}
