// aggclient.test.mjs — pglive.js's aggregate subscriptions (PROTOCOL §5) through scripted WebSocket and
// EventSource stand-ins: the subscribe message, the group state kept by snapshot and patches, a
// changed query, exact sums with bigNumbers, and the SSE address. The real server: aggregates.test.mjs.
import { test, describe, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { connect, parseJSON } from '../../dashboard/pglive.js';
import { subscribeOptions } from '../../dashboard/aggdata.js';
import { usePgliveTopic } from '../../dashboard/pglive-react.js';

class ScriptedSocket {
  static all = [];
  static refuse = false;
  constructor(url) {
    if (ScriptedSocket.refuse) throw new Error('blocked');
    this.url = url;
    this.sent = [];
    ScriptedSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() {}
  accept() { this.onopen?.(); }
  push(msg) { this.onmessage?.({ data: typeof msg === 'string' ? msg : JSON.stringify(msg) }); }
  static last() { return ScriptedSocket.all[ScriptedSocket.all.length - 1]; }
}

class ScriptedEventSource {
  static all = [];
  constructor(url) { this.url = new URL(url); this.listeners = {}; ScriptedEventSource.all.push(this); }
  addEventListener(type, fn) { (this.listeners[type] ??= []).push(fn); }
  close() {}
}

const make = (opts = {}) => connect({ url: 'http://127.0.0.1:9/', WebSocket: ScriptedSocket, EventSource: ScriptedEventSource, ping_interval_ms: 0, ...opts });

beforeEach(() => {
  ScriptedSocket.all = [];
  ScriptedSocket.refuse = false;
  ScriptedEventSource.all = [];
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
});
afterEach(() => mock.timers.reset());

describe('aggregate subscriptions in pglive.js', () => {
  test('the subscribe message of PROTOCOL §5; groups added, changed and removed by patches', () => {
    const c = make();
    const picks = { group: ['status'], aggregates: ['count', 'sum:amount', 'max:amount'], order_by: 'count', dir: 'desc', top: 5 };
    const sub = c.subscribe('public.orders', subscribeOptions(picks, ['amount=gt.0']));
    const ws = ScriptedSocket.last();
    ws.accept();
    const s = ws.sent.find((m) => m.op === 'subscribe');
    const { ref, sub: name, ...rest } = s;
    assert.deepEqual(rest, { op: 'subscribe', topic: 'public.orders', filter: ['amount=gt.0'], group: ['status'],
      aggregate: ['count', 'sum:amount', 'max:amount'], order: 'count.desc', limit: 5 });
    ws.push({ type: 'snapshot', sub: name, topic: 'public.orders', pos: '10',
      rows: { open: { status: 'open', count: 2, 'sum:amount': 30.5, 'max:amount': 20 } } });
    ws.push({ type: 'patch', sub: name, topic: 'public.orders', pos: '11', ts: '2026-12-03T10:00:00Z', patch: [
      { op: 'replace', path: '/open/count', value: 3 }, { op: 'replace', path: '/open/sum:amount', value: 40.5 },
      { op: 'add', path: '/paid', value: { status: 'paid', count: 1, 'sum:amount': 7, 'max:amount': 7 } }] });
    assert.deepEqual(sub.rows, {
      open: { status: 'open', count: 3, 'sum:amount': 40.5, 'max:amount': 20 },
      paid: { status: 'paid', count: 1, 'sum:amount': 7, 'max:amount': 7 },
    });
    ws.push({ type: 'patch', sub: name, topic: 'public.orders', pos: '12', ts: '2026-12-03T10:00:01Z', patch: [{ op: 'remove', path: '/paid' }] });
    assert.deepEqual(Object.keys(sub.rows), ['open']);
    assert.deepEqual(sub.list().map((g) => g.status), ['open']);
    c.close();
  });

  test('update() with other picks unsubscribes and subscribes anew with them', () => {
    const c = make();
    const sub = c.subscribe('public.orders', { group: 'status', aggregate: 'count,sum:amount', order: 'count.desc', limit: 3 });
    const ws = ScriptedSocket.last();
    ws.accept();
    const first = ws.sent.find((m) => m.op === 'subscribe');
    assert.deepEqual([first.group, first.aggregate], [['status'], ['count', 'sum:amount']], 'comma-separated strings are lists');
    sub.update({ group: [], aggregate: ['count'] });
    const un = ws.sent.find((m) => m.op === 'unsubscribe');
    assert.equal(un.sub, first.sub);
    const again = ws.sent.filter((m) => m.op === 'subscribe').at(-1);
    assert.notEqual(again.sub, first.sub);
    assert.equal(again.group, undefined, 'no group columns: none sent (one group "*")');
    assert.deepEqual(again.aggregate, ['count']);
    // A frame of the old subscription is not applied.
    ws.push({ type: 'snapshot', sub: first.sub, pos: '3', rows: { open: { status: 'open', count: 1, 'sum:amount': 1 } } });
    assert.deepEqual(sub.rows, {});
    ws.push({ type: 'snapshot', sub: again.sub, pos: '3', rows: { '*': { count: 9 } } });
    assert.deepEqual(sub.rows, { '*': { count: 9 } });
    assert.throws(() => c.subscribe('t', { group: 5 }), /group must be an array/);
    c.close();
  });

  test('bigNumbers: a sum beyond what a double holds keeps every digit', () => {
    const c = make({ bigNumbers: 'string' });
    const sub = c.subscribe('public.orders', { group: ['status'], aggregate: ['sum:amount'] });
    const ws = ScriptedSocket.last();
    ws.accept();
    const name = ws.sent.find((m) => m.op === 'subscribe').sub;
    ws.push(`{"type":"snapshot","sub":"${name}","pos":"5","rows":{"open":{"status":"open","sum:amount":12345678901234567890.25}}}`);
    ws.push(`{"type":"patch","sub":"${name}","pos":"6","ts":"t","patch":[{"op":"replace","path":"/open/sum:amount","value":12345678901234567891.75}]}`);
    assert.equal(sub.rows.open['sum:amount'], '12345678901234567891.75');
    c.close();
  });

  test("bigNumbers: 'text' keeps a numeric's scale (1523.40, as PostgreSQL prints it); other modes are as they were", () => {
    const text = '{"a":1523.40,"b":0.1,"c":42,"d":1.5e3,"e":9007199254740993,"f":-0.50,"g":[380.7500000000000000]}';
    assert.deepEqual(parseJSON(text, 'text'), { a: '1523.40', b: 0.1, c: 42, d: '1.5e3', e: '9007199254740993', f: '-0.50', g: ['380.7500000000000000'] });
    assert.deepEqual(parseJSON(text, 'string'), { a: 1523.4, b: 0.1, c: 42, d: 1500, e: '9007199254740993', f: -0.5, g: [380.75] });
    const c = make({ bigNumbers: 'text' });
    const sub = c.subscribe('public.orders', { group: ['status'], aggregate: ['sum:amount', 'avg:amount'] });
    const ws = ScriptedSocket.last();
    ws.accept();
    const name = ws.sent.find((m) => m.op === 'subscribe').sub;
    ws.push(`{"type":"snapshot","sub":"${name}","pos":"5","rows":{"open":{"status":"open","sum:amount":1523.40,"avg:amount":380.8500000000000000}}}`);
    assert.deepEqual(sub.rows.open, { status: 'open', 'sum:amount': '1523.40', 'avg:amount': '380.8500000000000000' });
    c.close();
  });

  test('over SSE the stream address carries group and aggregate', () => {
    ScriptedSocket.refuse = true;
    const c = make();
    c.subscribe('public.orders', subscribeOptions({ group: ['status', 'customer'], aggregates: ['count', 'avg:amount'], top: 4 }));
    const es = ScriptedEventSource.all[0];
    assert.equal(es.url.pathname, '/sse');
    assert.deepEqual(es.url.searchParams.getAll('group'), ['status', 'customer']);
    assert.deepEqual(es.url.searchParams.getAll('aggregate'), ['count', 'avg:amount']);
    assert.equal(es.url.searchParams.get('order'), 'count.desc');
    assert.equal(es.url.searchParams.get('limit'), '4');
    c.close();
  });

  test('the React hook passes group and aggregate on, and subscribes anew when they change', () => {
    // Just enough of React for one component: state, refs, and effects run when their deps change.
    const fake = () => {
      const slots = [];
      let i = 0;
      const R = {
        useState: (init) => { const k = i++; if (!(k in slots)) slots[k] = init; return [slots[k], (v) => { slots[k] = typeof v === 'function' ? v(slots[k]) : v; }]; },
        useRef: (init) => { const k = i++; if (!(k in slots)) slots[k] = { current: init }; return slots[k]; },
        useEffect: (fn, deps) => {
          const k = i++;
          const prev = slots[k];
          if (prev && deps.every((d, j) => Object.is(d, prev.deps[j]))) return;
          prev?.cleanup?.();
          slots[k] = { deps, cleanup: fn() };
        },
      };
      return { R, render: (f) => { i = 0; return f(); } };
    };
    const c = make();
    const ws = ScriptedSocket.last();
    ws.accept();
    const { R, render } = fake();
    const opts = (aggregate) => ({ React: R, group: ['status'], aggregate, order: 'count.desc', limit: 5 });
    render(() => usePgliveTopic(c, 'public.orders', opts(['count'])));
    render(() => usePgliveTopic(c, 'public.orders', opts(['count'])));  // same picks (new arrays): no new subscription
    const first = ws.sent.filter((m) => m.op === 'subscribe');
    assert.equal(first.length, 1);
    assert.deepEqual([first[0].group, first[0].aggregate, first[0].order, first[0].limit], [['status'], ['count'], 'count.desc', 5]);
    render(() => usePgliveTopic(c, 'public.orders', opts(['count', 'sum:amount'])));
    const subs = ws.sent.filter((m) => m.op === 'subscribe');
    assert.equal(subs.length, 2);
    assert.deepEqual(subs[1].aggregate, ['count', 'sum:amount']);
    assert.ok(ws.sent.some((m) => m.op === 'unsubscribe' && m.sub === first[0].sub), 'the old one closed');
    c.close();
  });
});
