// aggdata.test.mjs — the pure parts of the dashboard's aggregate panel (dashboard/aggdata.js) in node:
// aggregate names, the picks and the subscribe request they make, the page address that opens a
// panel, exact decimal text and order, and the bars of an aggregate state.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import {
  aggName, approxNumber, bounds, compareDecimal, compareExact, defaultPicks, exactText, groupLabel, isNumeric,
  measureOf, missingField, normalizePicks, parseAggName, picksFromParams, plainDecimal, subscribeOptions, toBars,
} from '../../dashboard/aggdata.js';
import { parseJSON } from '../../dashboard/exactjson.js';

const columns = ['id', 'customer', 'status', 'amount', 'updated_at'];

describe('aggregate names', () => {
  test('made and read back', () => {
    assert.equal(aggName('count'), 'count');
    assert.equal(aggName('count', 'amount'), 'count:amount');
    assert.equal(aggName('sum', 'amount'), 'sum:amount');
    assert.throws(() => aggName('sum'), /needs a column/);
    assert.throws(() => aggName('median', 'amount'), /unknown aggregate/);
    assert.deepEqual(parseAggName('count'), { fn: 'count', column: null });
    assert.deepEqual(parseAggName('avg:amount'), { fn: 'avg', column: 'amount' });
    assert.deepEqual(parseAggName('max:a:b'), { fn: 'max', column: 'a:b' }, 'a column name may hold a colon');
    for (const bad of ['sum', 'sum:', ':amount', 'median:amount', '', null, 7]) assert.equal(parseAggName(bad), null, String(bad));
  });
});

describe('picks → subscribe request', () => {
  test('the protocol example, from picks', () => {
    const picks = { group: ['status'], aggregates: ['count', 'sum:amount', 'max:amount'], order_by: 'count', dir: 'desc', top: 5 };
    assert.deepEqual(subscribeOptions(picks, ['amount=gt.0']), {
      filter: ['amount=gt.0'], group: ['status'], aggregate: ['count', 'sum:amount', 'max:amount'], order: 'count.desc', limit: 5,
    });
    assert.deepEqual(subscribeOptions(picks), { group: ['status'], aggregate: ['count', 'sum:amount', 'max:amount'], order: 'count.desc', limit: 5 },
      'no filter: none sent');
  });

  test('defaults: every row counted, top 10 by count', () => {
    assert.deepEqual(normalizePicks(undefined), defaultPicks());
    assert.deepEqual(subscribeOptions(defaultPicks()), { group: [], aggregate: ['count'], order: 'count.desc', limit: 10 });
  });

  test('unknown columns and aggregates dropped, duplicates removed, bounded, an order that exists', () => {
    const p = normalizePicks({
      group: ['status', 'nope', 'status', 'customer'],
      aggregates: ['sum:amount', 'sum:amount', 'avg:nope', 'median:amount', 'count:customer'],
      order_by: 'max:amount', dir: 'sideways', top: 1e9,
    }, columns);
    assert.deepEqual(p, { group: ['status', 'customer'], aggregates: ['sum:amount', 'count:customer'], order_by: 'sum:amount', dir: 'desc', top: bounds.top_max });
    assert.equal(normalizePicks({ aggregates: [] }).aggregates[0], 'count', 'at least one aggregate');
    assert.equal(normalizePicks({ top: 0 }).top, bounds.top_default);
    assert.equal(normalizePicks({ top: '7' }).top, 7);
    assert.equal(normalizePicks({ group: ['status'], order_by: 'status', dir: 'asc' }).order_by, 'status', 'by a group column');
    const many = normalizePicks({ group: columns, aggregates: columns.flatMap((c) => ['min', 'max'].map((f) => `${f}:${c}`)) }, columns);
    assert.equal(many.group.length, bounds.group_columns);
    assert.equal(many.aggregates.length, bounds.aggregates);
  });

  test('a page address opens a panel: ?agg=TOPIC&group=…&aggregate=…&order=…&limit=…', () => {
    const q = new URLSearchParams('agg=public.orders&group=status&aggregate=count,sum:amount&order=sum:amount.asc&limit=5');
    assert.deepEqual(picksFromParams(q), {
      topic: 'public.orders', picks: { group: ['status'], aggregates: ['count', 'sum:amount'], order_by: 'sum:amount', dir: 'asc', top: 5 },
    });
    const repeated = new URLSearchParams('agg=public.orders&group=status&group=customer&aggregate=count&aggregate=max:amount');
    assert.deepEqual(picksFromParams(repeated).picks, { group: ['status', 'customer'], aggregates: ['count', 'max:amount'], order_by: 'count', dir: 'desc', top: 10 });
    assert.equal(picksFromParams(new URLSearchParams('group=status')), null, 'no agg=: no panel');
  });
});

describe('exact numbers', () => {
  test('plain decimals, exponents written out', () => {
    assert.equal(plainDecimal('1e-7'), '0.0000001');
    assert.equal(plainDecimal('1.5e3'), '1500');
    assert.equal(plainDecimal('-1.25E+1'), '-12.5');
    assert.equal(plainDecimal('123.4500'), '123.4500', 'trailing zeros kept');
    assert.equal(plainDecimal('1e21'), '1000000000000000000000');
    assert.equal(plainDecimal('12'), '12');
    for (const bad of ['NaN', 'Infinity', '-Infinity', 'abc', '', '.', '1.2.3']) assert.equal(plainDecimal(bad), null, bad);
  });

  test('the text shown is the exact value, whatever form it came in', () => {
    const text = '{"a":9007199254740993,"b":12345678901234567890.123456789,"c":1234.5,"d":0.0000001,"e":"NaN","f":null,"g":42}';
    for (const mode of ['string', 'bigint', 'text']) {
      const v = parseJSON(text, mode);
      assert.equal(exactText(v.a), '9007199254740993', mode);
      assert.equal(exactText(v.b), '12345678901234567890.123456789', mode);
      assert.equal(exactText(v.c), '1234.5');
      assert.equal(exactText(v.d), '0.0000001', 'a small number without exponent');
      assert.equal(exactText(v.e), 'NaN');
      assert.equal(exactText(v.f), '∅');
      assert.equal(exactText(v.g), '42');
    }
    assert.equal(exactText(parseJSON('{"s":1523.40}', 'text').s), '1523.40', "the dashboard's mode keeps a numeric's scale");
    assert.equal(exactText(1e21), '1000000000000000000000');
    assert.equal(exactText(true), 'true');
    assert.equal(exactText({ x: 1 }), '{"x":1}');
  });

  test('numbers compare exactly, beyond what a double holds', () => {
    assert.equal(compareDecimal('9007199254740993', 9007199254740992), 1, 'a double would say equal');
    assert.equal(compareDecimal(9007199254740993n, '9007199254740993'), 0);
    assert.equal(compareDecimal('12345678901234567890.123456789', '12345678901234567890.12345678'), 1);
    assert.equal(compareDecimal('1.50', 1.5), 0);
    assert.equal(compareDecimal('-0.00', 0), 0);
    assert.equal(compareDecimal(-2, -10), 1);
    assert.equal(compareDecimal('-10.5', '-10.25'), -1);
    assert.equal(compareDecimal(100, 99.999), 1);
    assert.equal(compareDecimal('0.001', '1e-3'), 0);
    assert.equal(compareExact(null, 5, 'asc'), 1, 'NULL last ascending');
    assert.equal(compareExact(null, 5, 'desc'), -1, 'NULL first descending (as PostgreSQL)');
    assert.equal(compareExact('paid', 'open', 'asc'), 1, 'text: byte order');
    assert.equal(compareExact(3, 2, 'desc'), -1);
    const sorted = ['NaN', 5, '-Infinity', '12345678901234567890', 'Infinity', -3, NaN].sort((x, y) => compareExact(x, y));
    assert.deepEqual(sorted.map(String), ['-Infinity', '-3', '5', '12345678901234567890', 'Infinity', 'NaN', 'NaN'], 'NaN above everything, as PostgreSQL sorts it');
    assert.ok(isNumeric('1.5') && isNumeric(2n) && isNumeric(-3) && !isNumeric('NaN') && !isNumeric(Infinity) && !isNumeric('x'));
    assert.equal(approxNumber('12345678901234567890.5'), 12345678901234567890.5);
    assert.equal(approxNumber(7n), 7);
    assert.equal(approxNumber('Infinity'), null);
  });
});

describe('bars', () => {
  const picks = { group: ['status'], aggregates: ['count', 'sum:amount'], order_by: 'count', dir: 'desc', top: 5 };
  const state = {
    open: { status: 'open', count: 6, 'sum:amount': '1523.40' },
    paid: { status: 'paid', count: 3, 'sum:amount': 800.5 },
    shipped: { status: 'shipped', count: 3, 'sum:amount': '12345678901234567890.25' },
  };

  test('sorted by the chosen aggregate, ties by key, exact text, bars from zero', () => {
    const b = toBars(state, picks);
    assert.equal(b.measure, 'count');
    assert.equal(b.groups, 3);
    assert.deepEqual(b.bars.map((x) => x.key), ['open', 'paid', 'shipped']);
    assert.deepEqual(b.bars.map((x) => x.label), ['open', 'paid', 'shipped']);
    assert.deepEqual(b.bars.map((x) => x.measure), ['6', '3', '3']);
    assert.deepEqual(b.bars[0].values, { status: 'open', count: '6', 'sum:amount': '1523.40' });
    assert.equal(b.bars[2].values['sum:amount'], '12345678901234567890.25', 'every digit of a big sum');
    assert.deepEqual(b.bars.map((x) => [x.from, x.to]), [[0, 1], [0, 0.5], [0, 0.5]]);
  });

  test('by a sum: exact order though a double cannot tell the values apart', () => {
    const s = {
      a: { status: 'a', count: 1, 'sum:amount': '9007199254740993' },
      b: { status: 'b', count: 1, 'sum:amount': '9007199254740992' },
      c: { status: 'c', count: 1, 'sum:amount': '9007199254740994' },
    };
    const b = toBars(s, { ...picks, order_by: 'sum:amount', dir: 'desc' });
    assert.equal(b.measure, 'sum:amount');
    assert.deepEqual(b.bars.map((x) => x.key), ['c', 'a', 'b']);
    assert.deepEqual(b.bars.map((x) => x.measure), ['9007199254740994', '9007199254740993', '9007199254740992']);
    const asc = toBars(s, { ...picks, order_by: 'sum:amount', dir: 'asc' });
    assert.deepEqual(asc.bars.map((x) => x.key), ['b', 'a', 'c']);
  });

  test('top N only; ordered by a group column the bars measure the first aggregate', () => {
    const many = {};
    for (let i = 0; i < 40; i += 1) many[`g${i}`] = { status: `g${i}`, count: i, 'sum:amount': i * 2 };
    const b = toBars(many, { ...picks, top: 3 });
    assert.equal(b.groups, 40);
    assert.deepEqual(b.bars.map((x) => x.measure), ['39', '38', '37']);
    const by_name = toBars(many, { ...picks, order_by: 'status', dir: 'asc', top: 3 });
    assert.equal(by_name.measure, 'count');
    assert.deepEqual(by_name.bars.map((x) => x.key), ['g0', 'g1', 'g10'], 'text order');
    assert.equal(measureOf({ ...picks, order_by: 'status' }), 'count');
  });

  test('negative values grow left of the zero line; not-a-number draws no bar but keeps its text', () => {
    const s = {
      up: { status: 'up', 'sum:amount': 30 },
      down: { status: 'down', 'sum:amount': '-10' },
      weird: { status: 'weird', 'sum:amount': 'NaN' },
    };
    const b = toBars(s, { group: ['status'], aggregates: ['sum:amount'], order_by: 'sum:amount', top: 5 });
    assert.equal(b.zero, 0.25);
    const by = Object.fromEntries(b.bars.map((x) => [x.key, x]));
    assert.deepEqual([by.up.from, by.up.to], [0.25, 1]);
    assert.deepEqual([by.down.from, by.down.to], [0, 0.25]);
    assert.deepEqual([by.weird.from, by.weird.to, by.weird.value, by.weird.measure], [0.25, 0.25, null, 'NaN']);
    assert.deepEqual([b.min, b.max], [-10, 30]);
  });

  test('no group columns: one group "*" called all rows; several: values joined, NULL shown as ∅', () => {
    const b = toBars({ '*': { count: 12 } }, defaultPicks());
    assert.deepEqual(b.bars.map((x) => [x.key, x.label, x.measure]), [['*', 'all rows', '12']]);
    assert.equal(groupLabel({ status: 'open', customer: null }, ['status', 'customer'], '["open",null]'), 'open / ∅');
    assert.equal(toBars({}, picks).bars.length, 0);
    assert.deepEqual([toBars({}, picks).min, toBars({}, picks).max], [null, null]);
  });

  test('rows from a server that ignored group/aggregate are told apart', () => {
    assert.equal(missingField(state, picks), null);
    assert.equal(missingField({ 17: { id: 17, status: 'open', amount: 120 } }, picks), 'count');
    assert.equal(missingField({}, picks), null, 'no groups: nothing to tell');
  });
});
