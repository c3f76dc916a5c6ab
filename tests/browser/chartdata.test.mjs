// chartdata.test.mjs — the pure parts of the dashboard's charts (dashboard/chartdata.js) in node:
// the ring of seconds, percentiles, commit times, numeric columns, the per-key lines and their bounds.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { KeyLines, numericColumns, parseCommitTime, percentile, plotValue, SecondRing } from '../../dashboard/chartdata.js';

describe('percentile', () => {
  test('nearest rank, unsorted input left as it was', () => {
    const v = [5, 1, 4, 2, 3];
    assert.equal(percentile(v, 50), 3);
    assert.deepEqual(v, [5, 1, 4, 2, 3]);
    assert.equal(percentile(v, 100), 5);
    assert.equal(percentile(v, 0), 1);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([7], 50), 7);
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([-3, -1, -2], 50), -2);
  });
});

describe('parseCommitTime', () => {
  test('reads microseconds as a fraction of a millisecond', () => {
    assert.equal(parseCommitTime('2026-11-22T10:00:00.123456Z'), Date.UTC(2026, 10, 22, 10, 0, 0, 123) + 0.456);
    assert.equal(parseCommitTime('2026-11-22T10:00:00Z'), Date.UTC(2026, 10, 22, 10, 0, 0));
    assert.equal(parseCommitTime('2026-11-22T10:00:00.5Z'), Date.UTC(2026, 10, 22, 10, 0, 0, 500));
    assert.equal(parseCommitTime('2026-11-22T10:00:00.1+01:00'), Date.UTC(2026, 10, 22, 9, 0, 0, 100));
    assert.equal(parseCommitTime(undefined), null);
    assert.equal(parseCommitTime('yesterday'), null);
  });
});

describe('SecondRing', () => {
  const t0 = 1_800_000_000_000;  // a whole second
  test('counts per second, every second of the window present, oldest first', () => {
    const r = new SecondRing(10);
    r.add(t0);
    r.add(t0 + 999);
    r.add(t0 + 1000);
    r.add(t0 + 3500);
    const s = r.series(t0 + 3600);
    assert.equal(s.length, 10);
    assert.equal(s[9].sec, (t0 + 3000) / 1000);
    assert.deepEqual(s.slice(-4).map((x) => x.n), [2, 1, 0, 1]);
    assert.equal(r.total(t0 + 3600), 4);
  });

  test('seconds older than the window are gone, and memory does not grow', () => {
    const r = new SecondRing(5, { samples_per_s: 10 });
    const held = r.held;
    for (let i = 0; i < 10_000; i += 1) r.add(t0 + i * 7, i % 50);
    const now = t0 + 10_000 * 7;
    assert.ok(r.held <= 5 + 5 * 10, `holds ${r.held} numbers`);
    assert.ok(held <= r.held);
    const s = r.series(now);
    assert.equal(s.length, 5);
    assert.ok(s.every((x) => x.sec > Math.floor(now / 1000) - 5));
    assert.equal(r.total(now + 60_000), 0, 'a minute later nothing is left in the window');
    assert.ok(r.series(now + 60_000).every((x) => x.n === 0));
  });

  test('p50 and exact max per second; a reservoir beyond the sample cap keeps max, min and count exact', () => {
    const r = new SecondRing(60, { samples_per_s: 3, random: () => 0.99 });
    for (const v of [10, 30, 20]) r.add(t0 + 100, v);
    r.add(t0 + 1100, -2);
    for (let i = 0; i < 100; i += 1) r.add(t0 + 2000 + i, i);
    const s = r.series(t0 + 2500);
    const [a, b, c] = s.slice(-3);
    assert.deepEqual([a.n, a.vn, a.p50, a.max, a.min], [3, 3, 20, 30, 10]);
    assert.deepEqual([b.p50, b.max, b.min], [-2, -2, -2]);
    assert.deepEqual([c.n, c.max, c.min], [100, 99, 0]);
    assert.equal(r.slots.find((x) => x.sec === c.sec).samples.length, 3);
  });

  test('events without a value count, but have no latency', () => {
    const r = new SecondRing(5);
    r.add(t0);
    r.add(t0, null);
    const last = r.series(t0).at(-1);
    assert.deepEqual([last.n, last.vn, last.p50, last.max], [2, 0, null, null]);
  });
});

describe('numeric columns', () => {
  test('plots numbers, numeric strings and BigInt; not NaN, Infinity or text', () => {
    assert.equal(plotValue(1.5), 1.5);
    assert.equal(plotValue('12345678901234567890.5'), 12345678901234567890.5);
    assert.equal(plotValue(10n), 10);
    assert.equal(plotValue('NaN'), null);
    assert.equal(plotValue('Infinity'), null);
    assert.equal(plotValue('web-1'), null);
    assert.equal(plotValue(null), null);
  });

  test('the non-key columns whose every value is a number, in column order', () => {
    const rows = {
      '["web-1","cpu"]': { host: 'web-1', name: 'cpu', value: 1.5, n: null, at: '2026-01-01T00:00:00Z', f: 'NaN' },
      '["web-2","cpu"]': { host: 'web-2', name: 'cpu', value: 2, n: null, at: '2026-01-01T00:00:00Z', f: 3 },
    };
    assert.deepEqual(numericColumns(rows, ['host', 'name', 'value', 'n', 'at', 'f'], ['host', 'name']), ['value', 'f']);
    assert.deepEqual(numericColumns({ 1: { id: 1, amount: '12.50' } }, ['id', 'amount'], ['id']), ['amount']);
    assert.deepEqual(numericColumns({}, ['id', 'amount'], ['id']), []);
  });
});

describe('KeyLines', () => {
  const t0 = 1_800_000_000_000;
  test('a point per change of value, per key; a removed row ends its line; a snapshot ends the missing ones', () => {
    const k = new KeyLines(60);
    k.track(['value']);
    k.reset({ a: { value: 1 }, b: { value: 5 } }, t0);
    k.set('a', { value: 1 }, t0 + 100);         // unchanged: no point
    k.set('a', { value: 2.5 }, t0 + 200);
    k.set('b', null, t0 + 300);
    k.set('a', { value: 'NaN' }, t0 + 400);     // not a number: a gap
    const lines = Object.fromEntries(k.get('value').map((l) => [l.key, l]));
    assert.deepEqual(lines.a.points, [[t0, 1], [t0 + 200, 2.5], [t0 + 400, null]]);
    assert.equal(lines.b.ended, t0 + 300);
    k.reset({ c: { value: 9 } }, t0 + 500);
    const again = Object.fromEntries(k.get('value').map((l) => [l.key, l]));
    assert.equal(again.a.ended, t0 + 500);
    assert.deepEqual(again.c.points, [[t0 + 500, 9]]);
    k.set('b', { value: 6 }, t0 + 600);         // the row is back
    assert.equal(Object.fromEntries(k.get('value').map((l) => [l.key, l])).b.ended, null);
  });

  test('trimmed to the window: the value held at its start stays, ended lines go', () => {
    const k = new KeyLines(10);
    k.track(['v']);
    for (let i = 0; i < 30; i += 1) k.set('a', { v: i }, t0 + i * 1000);
    k.set('b', { v: 1 }, t0);
    k.set('b', null, t0 + 1000);
    k.trim(t0 + 29_000);
    const [a] = k.get('v');
    assert.equal(k.get('v').length, 1, 'the ended line is gone');
    assert.deepEqual(a.points[0], [t0 + 19_000, 19]);
    assert.equal(a.points.length, 11);
    assert.equal(a.last, 29);
  });

  test('bounded: points per line, lines per column, columns', () => {
    const k = new KeyLines(1e6, { max_points: 50, max_keys: 4, max_columns: 2 });
    k.track(['x', 'y', 'z']);
    assert.deepEqual(k.columns, ['x', 'y']);
    for (let i = 0; i < 1000; i += 1) k.set(`k${i % 10}`, { x: i, y: -i }, t0 + i);
    assert.ok(k.held <= 2 * 4 * 50, `holds ${k.held} points`);
    assert.deepEqual(k.get('x').map((l) => l.key).sort(), ['k6', 'k7', 'k8', 'k9'], 'the most recently changed keys stay');
    assert.equal(k.get('x').find((l) => l.key === 'k9').last, 999);
  });
});
