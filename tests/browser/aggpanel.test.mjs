// aggpanel.test.mjs — the dashboard's aggregate panel in headless chromium against frames the test
// writes itself: the page talks to the real pglive demo, except that its aggregate subscriptions are
// answered by the test (playwright's routeWebSocket), so what a server rarely sends can be sent on
// purpose — sums beyond a double, negative and NaN values, a burst of patches, rows from a server
// without aggregates. The real server's aggregates: aggregates.test.mjs.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Pglive, launchBrowser, until, openPage } from './harness.mjs';

const orders = 'public.orders';
const panel = `.card[data-topic="${orders}"] .aggs`;

describe('aggregate panel, scripted frames (issue 14)', () => {
  let demo;
  let browser;
  const page_errors = [];

  // A page whose aggregate subscriptions the test answers: `stream.subs` holds each subscribe
  // message, `stream.send(text)` writes a frame to the page, `stream.unsubscribed` the names let go.
  const open_scripted = async (url, viewport) => {
    const stream = { subs: [], unsubscribed: [], ws: null, send: (t) => stream.ws.send(typeof t === 'string' ? t : JSON.stringify(t)) };
    const p = await browser.context.newPage();
    p.on('pageerror', (e) => page_errors.push(e.message));
    if (viewport) await p.setViewportSize(viewport);
    await p.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      stream.ws = ws;
      const ours = new Set();
      ws.onMessage((text) => {
        const m = JSON.parse(text);
        if (m.op === 'subscribe' && m.aggregate) { ours.add(m.sub); stream.subs.push(m); return; }
        if (m.op === 'unsubscribe' && ours.has(m.sub)) { stream.unsubscribed.push(m.sub); return; }
        server.send(text);
      });
    });
    await p.goto(url);
    return { p, stream };
  };
  const agg = (p) => p.evaluate((t) => window.pgliveAggregates?.get(t) ?? null, orders);
  const table = (p) => p.evaluate((sel) => [...document.querySelectorAll(`${sel} .agg-table tbody tr`)].map((tr) => {
    const row = { key: tr.dataset.group };
    for (const td of tr.querySelectorAll('td')) row[td.dataset.field] = td.textContent;
    return row;
  }), panel);
  const bars = (p) => p.evaluate((sel) => [...document.querySelectorAll(`${sel} svg g.agg-bar`)].map((g) => {
    const r = g.querySelector('rect');
    return { key: g.dataset.group, x: r ? Number(r.getAttribute('x')) : null, width: r ? Number(r.getAttribute('width')) : 0, value: g.querySelector('text.value').textContent };
  }), panel);
  const last_sub = (stream) => until(() => stream.subs.at(-1), { what: 'an aggregate subscribe' });

  before(async () => {
    demo = await Pglive.start(['demo', '--listen', '127.0.0.1:0', '--traffic', '0'], { name: 'pglive demo' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
    assert.deepEqual(page_errors, [], 'the page threw');
  });

  test('exact text whatever a double holds; groups added, changed, removed by patches; bars from the zero line', async () => {
    const { p, stream } = await open_scripted(demo.dashboard_url);
    try {
      const s = await last_sub(stream);
      // As pglive writes them: the literal PostgreSQL gave (PROTOCOL §4), here beyond a double.
      stream.send(`{"type":"subscribed","ref":"${s.ref}","sub":"${s.sub}","topic":"${orders}","key":["status"],"columns":["status","count","sum:amount"]}`);
      stream.send(`{"type":"snapshot","sub":"${s.sub}","topic":"${orders}","pos":"10","rows":{`
        + `"open":{"status":"open","count":6,"sum:amount":1523.40},`
        + `"paid":{"status":"paid","count":3,"sum:amount":12345678901234567890.25},`
        + `"refund":{"status":"refund","count":2,"sum:amount":-400.10}}}`);
      const t0 = await until(async () => { const t = await table(p); return t.length === 3 ? t : null; }, { what: 'three groups' });
      assert.deepEqual(t0, [
        { key: 'open', status: 'open', count: '6', 'sum:amount': '1523.40' },
        { key: 'paid', status: 'paid', count: '3', 'sum:amount': '12345678901234567890.25' },
        { key: 'refund', status: 'refund', count: '2', 'sum:amount': '-400.10' },
      ]);
      // One patch: a replace, an add, a remove (a transaction), applied and drawn together.
      stream.send(`{"type":"patch","sub":"${s.sub}","topic":"${orders}","pos":"11","ts":"2026-12-03T10:00:00Z","patch":[`
        + '{"op":"replace","path":"/paid/count","value":9},{"op":"replace","path":"/paid/sum:amount","value":12345678901234567891.75},'
        + '{"op":"add","path":"/late","value":{"status":"late","count":1,"sum:amount":0.01}},{"op":"remove","path":"/refund"}]}');
      const t1 = await until(async () => { const t = await table(p); return t[0]?.key === 'paid' && t.length === 3 ? t : null; }, { what: 'paid first after the patch' });
      assert.deepEqual(t1.map((g) => [g.key, g.count, g['sum:amount']]), [['paid', '9', '12345678901234567891.75'], ['open', '6', '1523.40'], ['late', '1', '0.01']]);
      const b1 = await bars(p);
      assert.deepEqual(b1.map((b) => b.value), ['9', '6', '1']);
      assert.ok(Math.abs(b1[1].width / b1[0].width - 6 / 9) < 0.02 && Math.abs(b1[2].width / b1[0].width - 1 / 9) < 0.02, JSON.stringify(b1));
      // By the sum: a negative sum grows left of the zero line, every digit of the big one shown.
      await p.locator(`${panel} .agg-order-by`).selectOption('sum:amount');
      const s2 = await until(() => (stream.subs.at(-1) !== s ? stream.subs.at(-1) : null), { what: 'a new subscribe for the new order' });
      assert.equal(s2.order, 'sum:amount.desc');
      assert.deepEqual(stream.unsubscribed, [s.sub], 'the old one let go');
      stream.send(`{"type":"snapshot","sub":"${s2.sub}","topic":"${orders}","pos":"11","rows":{`
        + '"a":{"status":"a","count":1,"sum:amount":300},"b":{"status":"b","count":1,"sum:amount":-100.5},"c":{"status":"c","count":1,"sum:amount":"NaN"}}}');
      // Descending as PostgreSQL: NaN above every number.
      const b2 = await until(async () => { const b = await bars(p); return b.map((x) => x.key).join() === 'c,a,b' ? b : null; }, { what: 'bars by sum: NaN, 300, -100.5' });
      const by = Object.fromEntries(b2.map((b) => [b.key, b]));
      assert.ok(by.b.x + by.b.width <= by.a.x + 0.5, `the negative bar ends where the positive starts: ${JSON.stringify(b2)}`);
      assert.ok(Math.abs(by.b.width / by.a.width - 100.5 / 300) < 0.02, JSON.stringify(b2));
      assert.equal(by.c.width, 0, 'NaN: no bar');
      assert.equal(by.c.value, 'NaN', '…but its text');
    } finally {
      await p.close();
    }
  });

  test('a burst of patches is drawn at most 5 times a second; closing the panel lets its subscription go', async () => {
    const { p, stream } = await open_scripted(demo.url + '/');
    try {
      await p.evaluate(() => localStorage.setItem('pglive.agg.public.orders', JSON.stringify({ open: true, picks: { group: ['status'], aggregates: ['count'], order_by: 'count', dir: 'desc', top: 5 } })));
      await p.reload();
      // The newest aggregate subscription gets the snapshot: on a busy host the page may have
      // subscribed again (a card re-rendered) before the first answer, and then shows only the new one.
      let s = await last_sub(stream);
      const answered = new Set();
      await until(async () => {
        s = stream.subs.at(-1);
        if (!answered.has(s)) {
          answered.add(s);
          stream.send({ type: 'snapshot', sub: s.sub, topic: orders, pos: '100', rows: { open: { status: 'open', count: 0 } } });
        }
        return (await table(p)).length === 1;
      }, { what: 'one group' });
      const d0 = await agg(p);
      const t0 = Date.now();
      for (let i = 1; i <= 300; i += 1) {
        stream.send({ type: 'patch', sub: s.sub, topic: orders, pos: String(100 + i), ts: '2026-12-03T10:00:00Z', patch: [{ op: 'replace', path: '/open/count', value: i }] });
      }
      await until(async () => (await table(p))[0]?.count === '300', { what: 'the last count' });
      const secs = (Date.now() - t0) / 1000;
      const d1 = await agg(p);
      assert.ok(d1.draws - d0.draws <= 5 * secs + 2, `${d1.draws - d0.draws} drawings in ${secs} s`);
      await p.locator(`.card[data-topic="${orders}"] .agg-toggle`).press('Enter');  // the keyboard closes it
      await until(() => stream.unsubscribed.includes(s.sub), { what: 'the unsubscribe' });
      const closed = await agg(p);
      assert.equal(closed.open, false);
      assert.equal(closed.groups, 0, 'nothing held once closed');
      assert.equal(await p.locator(panel).isHidden(), true);
    } finally {
      await p.evaluate(() => localStorage.removeItem('pglive.agg.public.orders')).catch(() => {});
      await p.close();
    }
  });

  test('rows from a server that ignores group/aggregate are not drawn as groups', async () => {
    const { p, stream } = await open_scripted(demo.dashboard_url);
    try {
      const s = await last_sub(stream);
      stream.send({ type: 'snapshot', sub: s.sub, topic: orders, pos: '5', rows: { 17: { id: 17, customer: 'acme', status: 'open', amount: 120 } } });
      const err = p.locator(`${panel} .agg-error`);
      await until(async () => /sent rows, not the aggregates/.test(await err.textContent()), { what: 'the panel to say so' });
      assert.equal(await err.isVisible(), true);
      assert.deepEqual(await table(p), []);
      assert.deepEqual(await bars(p), []);
    } finally {
      await p.evaluate(() => localStorage.removeItem('pglive.agg.public.orders')).catch(() => {});
      await p.close();
    }
  });
});
