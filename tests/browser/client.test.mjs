// client.test.mjs — pglive.js's connection logic (subscribe, snapshot + patches, resume with since, backoff,
// SSE fallback, pings) driven through scripted WebSocket/EventSource stand-ins; the real server is in e2e.test.mjs.
import { test, describe, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';

import { connect, rowComparator, parseFilterText, compareValues, parseJSON } from '../../dashboard/pglive.js';

// A scripted WebSocket: the test plays the server.
class ScriptedSocket {
  static all = [];
  static refuse = false;  // constructing throws, as a browser does for a blocked scheme
  constructor(url) {
    if (ScriptedSocket.refuse) throw new Error('blocked');
    this.url = url;
    this.sent = [];
    this.closed = false;
    ScriptedSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.closed = true; }
  // server side
  accept() { this.onopen?.(); }
  push(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
  drop(code = 1006) { this.onclose?.({ code }); }
  fail() { this.onclose?.({ code: 1006 }); }
  static last() { return ScriptedSocket.all[ScriptedSocket.all.length - 1]; }
}

class ScriptedEventSource {
  static all = [];
  constructor(url) {
    this.url = new URL(url);
    this.readyState = 0;
    this.listeners = {};
    ScriptedEventSource.all.push(this);
  }
  addEventListener(type, fn) { (this.listeners[type] ??= []).push(fn); }
  close() { this.readyState = 2; }
  accept() { this.readyState = 1; this.onopen?.(); }
  push(event, msg, id) { for (const fn of this.listeners[event] ?? []) fn({ data: JSON.stringify(msg), lastEventId: id }); }
  refuse() { this.readyState = 2; this.onerror?.({}); }
}

const base = 'http://127.0.0.1:9/';
function make(opts = {}) {
  return connect({ url: base, WebSocket: ScriptedSocket, EventSource: ScriptedEventSource, ping_interval_ms: 0, ...opts });
}

beforeEach(() => {
  ScriptedSocket.all = [];
  ScriptedSocket.refuse = false;
  ScriptedEventSource.all = [];
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
});
afterEach(() => mock.timers.reset());

describe('big numbers', () => {
  // Frames as pglive writes them: the literal PostgreSQL produced (PROTOCOL §4).
  const snapshot = (sub) => `{"type":"snapshot","sub":"${sub}","topic":"public.v","pos":"7","rows":{` +
    `"9007199254740993":{"id":9007199254740993,"n":12345678901234567891.5,"f":0.1,"s":"9007199254740993"},` +
    `"-9223372036854775808":{"id":-9223372036854775808,"n":1.50,"f":"NaN","s":"x"}}}`;
  const patch = (sub) => `{"type":"patch","sub":"${sub}","topic":"public.v","pos":"8","ts":"t","patch":[` +
    `{"op":"replace","path":"/9007199254740993/n","value":123456789.123456789}]}`;

  test('parseJSON keeps literals a double cannot hold, and only those', () => {
    const text = '{"a":9007199254740993,"b":123456789.123456789,"c":1.5,"d":"q\\"9007199254740993","e":[1e400,42,-0.5]}';
    assert.deepEqual(parseJSON(text, 'string'), { a: '9007199254740993', b: '123456789.123456789', c: 1.5, d: 'q"9007199254740993', e: ['1e400', 42, -0.5] });
    assert.deepEqual(parseJSON(text, 'bigint'), { a: 9007199254740993n, b: '123456789.123456789', c: 1.5, d: 'q"9007199254740993', e: ['1e400', 42, -0.5] });
    assert.equal(parseJSON(text).a, 9007199254740992);  // the default: JavaScript numbers
  });

  for (const mode of ['string', 'bigint']) {
    test(`bigNumbers: '${mode}' gives snapshots and patches losslessly`, () => {
      const c = make({ bigNumbers: mode });
      const sub = c.subscribe('public.v');
      const ws = ScriptedSocket.last();
      ws.accept();
      const s = ws.sent[0];
      ws.onmessage({ data: snapshot(s.sub) });
      ws.onmessage({ data: patch(s.sub) });
      const big = mode === 'bigint' ? 9007199254740993n : '9007199254740993';
      const min = mode === 'bigint' ? -9223372036854775808n : '-9223372036854775808';
      assert.deepEqual(sub.rows, {
        '9007199254740993': { id: big, n: '123456789.123456789', f: 0.1, s: '9007199254740993' },
        '-9223372036854775808': { id: min, n: 1.5, f: 'NaN', s: 'x' },
      });
      assert.equal(sub.position, '8');
      c.close();
    });
  }
});

describe('WebSocket client', () => {
  test('authenticates in the first message, subscribes, applies a snapshot then patches in order', () => {
    const c = make({ token: 'tok' });
    const changes = [];
    const sub = c.subscribe('public.orders', {
      filter: 'status=eq.open&amount=gt.100', limit: 10, order: 'id.desc',
      onChange: (rows, ev) => changes.push(ev.type),
    });
    const ws = ScriptedSocket.last();
    assert.equal(ws.url, 'ws://127.0.0.1:9/ws');
    assert.equal(c.state, 'connecting');
    ws.accept();
    assert.equal(c.state, 'open');
    assert.equal(c.transport, 'ws');
    assert.deepEqual(ws.sent[0], { op: 'auth', ref: ws.sent[0].ref, token: 'tok' });
    const s = ws.sent[1];
    assert.equal(s.op, 'subscribe');
    assert.equal(s.topic, 'public.orders');
    assert.deepEqual(s.filter, ['status=eq.open', 'amount=gt.100']);
    assert.equal(s.limit, 10);
    assert.equal(s.order, 'id.desc');
    assert.equal(s.since, undefined);

    ws.push({ type: 'subscribed', ref: s.ref, sub: s.sub, topic: 'public.orders', key: ['id'], columns: ['id', 'amount'] });
    ws.push({ type: 'snapshot', sub: s.sub, topic: 'public.orders', pos: '9007199254740993',
      rows: { '1': { id: 1, amount: 150 }, '2': { id: 2, amount: 200 } } });
    ws.push({ type: 'patch', sub: s.sub, topic: 'public.orders', pos: '9007199254740994', ts: '2026-11-22T10:00:00.123456Z',
      patch: [{ op: 'replace', path: '/1/amount', value: 175 }, { op: 'add', path: '/3', value: { id: 3, amount: 300 } }] });
    // A position the subscription already holds is not applied twice (bigint compare, not float).
    ws.push({ type: 'patch', sub: s.sub, topic: 'public.orders', pos: '9007199254740994', ts: 'x',
      patch: [{ op: 'remove', path: '/3' }] });
    assert.deepEqual(sub.key, ['id']);
    assert.deepEqual(sub.rows, { '1': { id: 1, amount: 175 }, '2': { id: 2, amount: 200 }, '3': { id: 3, amount: 300 } });
    assert.equal(sub.position, '9007199254740994');
    assert.equal(c.position, '9007199254740994');
    assert.deepEqual(changes, ['snapshot', 'patch']);
    assert.deepEqual(sub.list().map((r) => r.id), [3, 2, 1]);
    c.close();
  });

  test('a catch-up patch (from, after a resync) applies like any patch and says what it covers', () => {
    const c = make();
    const events = [];
    const sub = c.subscribe('public.orders', { onChange: (rows, ev) => events.push(ev) });
    const ws = ScriptedSocket.last();
    ws.accept();
    const s = ws.sent.find((m) => m.op === 'subscribe');
    ws.push({ type: 'subscribed', ref: s.ref, sub: s.sub, topic: 'public.orders', key: ['id'], columns: ['id', 'amount'] });
    ws.push({ type: 'snapshot', sub: s.sub, topic: 'public.orders', pos: '10', rows: { '1': { id: 1, amount: 1 } } });
    ws.push({ type: 'patch', sub: s.sub, topic: 'public.orders', pos: '42', from: '10', ts: '2026-12-03T10:00:00.000000Z',
      patch: [{ op: 'remove', path: '/1' }, { op: 'add', path: '/7', value: { id: 7, amount: 70 } }] });
    assert.deepEqual(sub.rows, { '7': { id: 7, amount: 70 } });
    assert.equal(sub.position, '42');
    assert.equal(events.at(-1).type, 'patch');
    assert.equal(events.at(-1).from, '10');
    assert.equal(events.at(-1).pos, '42');
    c.close();
  });

  test('frames for another subscription name, or a stale one after update(), are ignored', () => {
    const c = make();
    const sub = c.subscribe('public.orders');
    const ws = ScriptedSocket.last();
    ws.accept();
    const first = ws.sent[0];
    ws.push({ type: 'snapshot', sub: first.sub, pos: '5', rows: { '1': { id: 1 } } });
    sub.update({ filter: ['id=gt.1'] });
    assert.equal(ws.sent[1].op, 'unsubscribe');
    assert.equal(ws.sent[1].sub, first.sub);
    const second = ws.sent[2];
    assert.notEqual(second.sub, first.sub);
    assert.deepEqual(second.filter, ['id=gt.1']);
    assert.equal(second.since, undefined, 'a changed filter needs a fresh snapshot');
    ws.push({ type: 'patch', sub: first.sub, pos: '6', patch: [{ op: 'add', path: '/9', value: { id: 9 } }] });
    assert.deepEqual(sub.rows, {});
    ws.push({ type: 'snapshot', sub: second.sub, pos: '6', rows: { '2': { id: 2 } } });
    assert.deepEqual(Object.keys(sub.rows), ['2']);
    c.close();
  });

  test('after a drop it reconnects with growing backoff and resumes every subscription with since', () => {
    const c = make({ backoff_initial_ms: 100, backoff_max_ms: 1000 });
    const states = [];
    c.on('state', (e) => states.push(e.state));
    const sub = c.subscribe('public.orders');
    const unready = c.subscribe('public.metrics');
    let ws = ScriptedSocket.last();
    ws.accept();
    ws.push({ type: 'snapshot', sub: ws.sent[0].sub, pos: '41', rows: { '1': { id: 1 } } });
    ws.drop();
    assert.equal(c.state, 'reconnecting');
    assert.equal(ScriptedSocket.all.length, 1);
    // Attempt 1 after 50–100 ms; it fails, attempt 2 after 100–200 ms, which opens.
    mock.timers.tick(100);
    assert.equal(ScriptedSocket.all.length, 2);
    ScriptedSocket.last().fail();
    // The WebSocket could not be opened, so SSE is tried at once before backing off.
    assert.equal(ScriptedEventSource.all.length, 2);
    assert.equal(ScriptedEventSource.all[0].url.searchParams.get('since'), '41');
    ScriptedEventSource.all[0].refuse();
    mock.timers.tick(99);
    assert.equal(ScriptedSocket.all.length, 2, 'the second retry waited at least half of 200 ms');
    mock.timers.tick(101);
    assert.equal(ScriptedSocket.all.length, 3);
    ws = ScriptedSocket.last();
    ws.accept();
    const resub = ws.sent.filter((m) => m.op === 'subscribe');
    assert.equal(resub.length, 2);
    assert.equal(resub.find((m) => m.topic === 'public.orders').since, '41');
    assert.equal(resub.find((m) => m.topic === 'public.metrics').since, undefined);
    // The server still held the history: patches, no snapshot; the rows carry on.
    const name = resub.find((m) => m.topic === 'public.orders').sub;
    ws.push({ type: 'patch', sub: name, pos: '42', patch: [{ op: 'add', path: '/2', value: { id: 2 } }] });
    assert.deepEqual(Object.keys(sub.rows), ['1', '2']);
    assert.equal(unready.ready, false);
    assert.deepEqual(states, ['open', 'reconnecting', 'open']);
    c.close();
    assert.equal(c.state, 'closed');
  });

  test('a patch that does not apply means our state is wrong: it is dropped and a fresh snapshot asked for', () => {
    const c = make();
    const errors = [];
    c.on('error', (e) => errors.push(e.code));
    const sub = c.subscribe('public.orders');
    const ws = ScriptedSocket.last();
    ws.accept();
    const s = ws.sent[0];
    ws.push({ type: 'snapshot', sub: s.sub, pos: '1', rows: { '1': { id: 1 } } });
    ws.push({ type: 'patch', sub: s.sub, pos: '2', patch: [{ op: 'add', path: '/2', value: { id: 2 } }, { op: 'remove', path: '/7' }] });
    assert.deepEqual(errors, ['patch_failed']);
    const again = ws.sent.filter((m) => m.op === 'subscribe');
    assert.equal(again.length, 2);
    assert.equal(again[1].since, undefined);
    assert.deepEqual(sub.rows, {});
    c.close();
  });

  test('options given as undefined take their defaults (connect({transports: undefined}))', () => {
    const c = make({ transports: undefined, token: undefined, backoff_initial_ms: undefined });
    assert.deepEqual(c.options.transports, ['ws', 'sse']);
    assert.equal(c.options.backoff_initial_ms, 500);
    assert.equal(ScriptedSocket.all.length, 1, 'it opened a WebSocket');
    c.close();
    assert.throws(() => make({ transports: ['carrier-pigeon'] }), /unknown transport/);
  });

  test('a refused subscription without onError or error listener is written to the console', (t) => {
    const logged = t.mock.method(console, 'error', () => {});
    const c = make();
    c.subscribe('public.nope');
    const ws = ScriptedSocket.last();
    ws.accept();
    ws.push({ type: 'error', ref: ws.sent[0].ref, code: 'unknown_topic', message: 'no attached table public.nope' });
    assert.equal(logged.mock.callCount(), 1);
    assert.match(logged.mock.calls[0].arguments[0], /public\.nope: unknown_topic/);
    // With a handler it is the handler's.
    c.subscribe('public.nope2', { onError: () => {} });
    ws.push({ type: 'error', ref: ws.sent[1].ref, code: 'unknown_topic', message: 'no attached table public.nope2' });
    assert.equal(logged.mock.callCount(), 1);
    c.close();
  });

  test('a refused subscription reports the server error on the subscription, the connection stays', () => {
    const c = make();
    const seen = [];
    const sub = c.subscribe('public.nope', { onError: (e) => seen.push(e) });
    const ws = ScriptedSocket.last();
    ws.accept();
    ws.push({ type: 'error', ref: ws.sent[0].ref, code: 'unknown_topic', message: 'no attached table public.nope' });
    assert.deepEqual(sub.error, { code: 'unknown_topic', message: 'no attached table public.nope' });
    assert.equal(seen.length, 1);
    assert.equal(c.state, 'open');
    c.close();
  });

  test('published messages reach the client and the subscriptions of their topic', () => {
    const c = make();
    const got = [];
    c.on('message', (m) => got.push(['client', m.topic, m.data.level]));
    c.subscribe('alerts', { onMessage: (d) => got.push(['sub', d.level]) });
    const ws = ScriptedSocket.last();
    ws.accept();
    ws.push({ type: 'message', topic: 'alerts', data: { level: 'high' } });
    assert.deepEqual(got, [['client', 'alerts', 'high'], ['sub', 'high']]);
    c.close();
  });

  test('an unanswered ping closes the dead link and reconnects', () => {
    const c = make({ ping_interval_ms: 1000, ping_timeout_ms: 500 });
    const ws = ScriptedSocket.last();
    ws.accept();
    mock.timers.tick(1000);
    const ping = ws.sent.find((m) => m.op === 'ping');
    assert.ok(ping);
    ws.push({ type: 'pong', ref: ping.ref });
    mock.timers.tick(1000);
    assert.equal(c.state, 'open', 'an answered ping keeps the link');
    mock.timers.tick(500);
    assert.equal(ws.closed, true);
    assert.equal(c.state, 'reconnecting');
    assert.equal(c.lastError.code, 'timeout');
    c.close();
  });
});

describe('SSE fallback', () => {
  test('when a WebSocket cannot be opened, each subscription streams over SSE with token, filter and since', () => {
    ScriptedSocket.refuse = true;
    const c = make({ token: 't0k' });
    const sub = c.subscribe('public.orders', { filter: ['status=eq.open', 'amount=gt.5'], limit: 3, order: 'amount.desc' });
    assert.equal(c.transport, 'sse');
    const es = ScriptedEventSource.all[0];
    assert.equal(es.url.pathname, '/sse');
    assert.equal(es.url.searchParams.get('topic'), 'public.orders');
    assert.deepEqual(es.url.searchParams.getAll('filter'), ['status=eq.open', 'amount=gt.5']);
    assert.equal(es.url.searchParams.get('limit'), '3');
    assert.equal(es.url.searchParams.get('order'), 'amount.desc');
    assert.equal(es.url.searchParams.get('token'), 't0k');
    es.accept();
    assert.equal(c.state, 'open');
    es.push('snapshot', { type: 'snapshot', sub: 'public.orders', pos: '3', rows: { '1': { id: 1, amount: 9 } } }, '3');
    es.push('patch', { type: 'patch', sub: 'public.orders', pos: '4', patch: [{ op: 'replace', path: '/1/amount', value: 8 }] }, '4');
    assert.deepEqual(sub.rows, { '1': { id: 1, amount: 8 } });
    // The browser's own reconnect (readyState CONNECTING) resumes with Last-Event-ID: we only show it.
    es.readyState = 0;
    es.onerror({});
    assert.equal(c.state, 'reconnecting');
    es.accept();
    assert.equal(c.state, 'open');
    c.close();
  });

  test('SSE sends no `subscribed` (no key known): list() orders by row key, numbers numerically', () => {
    ScriptedSocket.refuse = true;
    const c = make();
    const sub = c.subscribe('public.orders');
    const es = ScriptedEventSource.all[0];
    es.accept();
    es.push('snapshot', { type: 'snapshot', pos: '1', rows: { '3': { id: 3 }, '-5': { id: -5 }, '1.5': { id: 1.5 } } }, '1');
    assert.deepEqual(sub.list().map((r) => r.id), [-5, 1.5, 3]);
    c.close();
  });

  test('with the server down, neither transport opens: back off, and try WebSocket first again', () => {
    const c = make({ backoff_initial_ms: 100 });
    c.subscribe('public.orders');
    ScriptedSocket.last().fail();
    const es = ScriptedEventSource.all[0];
    es.readyState = 0;  // the browser would retry by itself: we do not let the tab settle on SSE
    es.onerror({});
    assert.equal(es.readyState, 2, 'the stream that never opened is closed');
    assert.equal(c.state, 'connecting', 'never open yet: still connecting, not reconnecting');
    mock.timers.tick(100);
    assert.equal(ScriptedSocket.all.length, 2);
    ScriptedSocket.last().accept();
    assert.equal(c.transport, 'ws');
    assert.equal(c.state, 'open');
    c.close();
  });

  test('a stream the browser gives up on makes the client back off and start again from WebSocket', () => {
    ScriptedSocket.refuse = true;
    const c = make({ backoff_initial_ms: 100 });
    c.subscribe('public.orders');
    ScriptedEventSource.all[0].accept();
    ScriptedEventSource.all[0].push('snapshot', { type: 'snapshot', pos: '7', rows: {} }, '7');
    ScriptedEventSource.all[0].refuse();
    assert.equal(c.state, 'reconnecting');
    ScriptedSocket.refuse = false;
    mock.timers.tick(100);
    const ws = ScriptedSocket.last();
    ws.accept();
    assert.equal(c.transport, 'ws');
    assert.equal(ws.sent[0].since, '7');
    c.close();
  });
});

describe('helpers', () => {
  test('PostgREST filter text splits on & and newlines', () => {
    assert.deepEqual(parseFilterText(' status=eq.open & amount=gt.100\ncustomer=in.(a,b) '),
      ['status=eq.open', 'amount=gt.100', 'customer=in.(a,b)']);
    assert.deepEqual(parseFilterText(''), []);
  });

  test('row order: numbers numerically (numeric strings too), nulls last ascending and first descending', () => {
    const rows = [{ a: '10.50' }, { a: null }, { a: '9.99' }, { a: 100 }];
    assert.deepEqual([...rows].sort(rowComparator('a.asc')).map((r) => r.a), ['9.99', '10.50', 100, null]);
    assert.deepEqual([...rows].sort(rowComparator('a.desc')).map((r) => r.a), [null, 100, '10.50', '9.99']);
    const two = [{ s: 'b', id: 1 }, { s: 'a', id: 2 }, { s: 'b', id: 3 }];
    assert.deepEqual(two.sort(rowComparator('s,id.desc')).map((r) => r.id), [2, 3, 1]);
    assert.equal(compareValues('abc', 'abd'), -1);
  });
});
