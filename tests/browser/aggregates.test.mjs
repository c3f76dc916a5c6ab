// aggregates.test.mjs — issue 14, the dashboard's aggregate panel in headless chromium against pglive
// demo (no traffic but ours): the demo's page opens with the orders counted and summed by status,
// the groups and their exact numbers are PostgreSQL's, a write moves a bar and its number at once,
// a group goes with its last row, and the panel works from the keyboard at 390 px. The page's
// panels expose what they show through window.pgliveAggregates.get(topic) (dashboard/aggregates.js).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Pglive, psql, launchBrowser, until, openPage } from './harness.mjs';

const orders = 'public.orders';
const panel = `.card[data-topic="${orders}"] .aggs`;

describe('aggregate panel (issue 14)', () => {
  let demo;
  let browser;
  const page_errors = [];
  const open = (url, viewport) => openPage(browser, url, { viewport, errors: page_errors });
  const agg = (p) => p.evaluate((t) => window.pgliveAggregates?.get(t) ?? null, orders);
  // What the panel's table shows: group key → {column: text}, in its order.
  const table = (p) => p.evaluate((sel) => [...document.querySelectorAll(`${sel} .agg-table tbody tr`)].map((tr) => {
    const row = { key: tr.dataset.group };
    for (const td of tr.querySelectorAll('td')) row[td.dataset.field] = td.textContent;
    return row;
  }), panel);
  // The bars drawn: group key → {width, value text}.
  const bars = (p) => p.evaluate((sel) => Object.fromEntries([...document.querySelectorAll(`${sel} svg g.agg-bar`)].map((g) => [g.dataset.group, {
    width: Number(g.querySelector('rect')?.getAttribute('width') ?? 0), value: g.querySelector('text.value').textContent,
  }])), panel);
  // PostgreSQL's answer, as text: status → {count, sum}, top 5 by count (ties by status).
  const expected = async () => JSON.parse(await psql(demo.db, `SELECT coalesce(json_agg(json_build_object('key', status, 'status', status,
      'count', n::text, 'sum:amount', s::text) ORDER BY n DESC, status), '[]')
    FROM (SELECT status, count(*) AS n, sum(amount) AS s FROM public.orders GROUP BY status ORDER BY n DESC, status LIMIT 5) g`));
  const same_groups = async (p) => {
    const want = await expected();
    const got = await table(p);
    // Groups tied on count may come in either order from the server's window; the panel sorts ties by key.
    return JSON.stringify(got) === JSON.stringify(want) ? got : null;
  };

  before(async () => {
    demo = await Pglive.start(['demo', '--listen', '127.0.0.1:0', '--traffic', '0'], { name: 'pglive demo' });
    assert.ok(demo.db && demo.dashboard_url, `pglive demo printed no database or dashboard line:\n${demo.tail()}`);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
    assert.deepEqual(page_errors, [], 'the page threw');
  });

  test('the demo opens with the orders counted and summed by status: PROTOCOL §5 request, PostgreSQL\'s numbers', async () => {
    assert.match(demo.dashboard_url, /\/\?agg=public\.orders&group=status&aggregate=count,sum:amount&order=count\.desc&limit=5$/);
    const sent = [];
    const ctx_listener = (page) => page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
    browser.context.on('page', ctx_listener);
    const p = await open(demo.dashboard_url);
    browser.context.off('page', ctx_listener);
    try {
      const d = await until(async () => { const x = await agg(p); return x?.open ? x : null; }, { what: 'the orders aggregate panel open' });
      assert.deepEqual(d.picks, { group: ['status'], aggregates: ['count', 'sum:amount'], order_by: 'count', dir: 'desc', top: 5 });
      assert.equal(await p.locator(`.card[data-topic="${orders}"] .agg-toggle`).getAttribute('aria-pressed'), 'true');
      assert.doesNotMatch(p.url(), /agg=/, 'the picks are remembered, not left in the address bar');
      const request = await until(() => sent.map((t) => JSON.parse(t)).find((m) => m.op === 'subscribe' && m.aggregate),
        { what: 'an aggregate subscribe sent' });
      const { ref, sub, ...rest } = request;
      assert.deepEqual(rest, { op: 'subscribe', topic: orders, group: ['status'], aggregate: ['count', 'sum:amount'], order: 'count.desc', limit: 5 });
      const got = await until(() => same_groups(p), { timeout: 15000, what: 'the panel to show PostgreSQL\'s groups' }).catch(async (e) => {
        throw new Error(`${e.message}\npanel: ${JSON.stringify(await agg(p))}\nPostgreSQL: ${JSON.stringify(await expected())}`);
      });
      assert.ok(got.length >= 2, `the demo has orders of several statuses: ${JSON.stringify(got)}`);
      assert.ok(got.every((g) => /^\d+\.\d\d$/.test(g['sum:amount'])), `sums of numeric(10,2) shown with their scale: ${JSON.stringify(got)}`);
      // A bar per group, as long as its count (relative to the longest), its number beside it.
      const b = await bars(p);
      assert.deepEqual(Object.keys(b).sort(), got.map((g) => g.key).sort());
      const top = got[0];
      for (const g of got) {
        assert.equal(b[g.key].value, g.count);
        const want = b[top.key].width * (Number(g.count) / Number(top.count));
        assert.ok(Math.abs(b[g.key].width - want) <= 1.5, `bar of ${g.key}: ${b[g.key].width} px, want ${want}`);
      }
      const label = await p.locator(`${panel} svg`).getAttribute('aria-label');
      assert.match(label, new RegExp(`count by status, ${got.length} groups: ${top.key} ${top.count}`));
    } finally {
      await p.close();
    }
  });

  test('a write moves its bar and number at once; a group goes with its last row', async () => {
    const p = await open(demo.dashboard_url);
    try {
      await until(() => same_groups(p), { timeout: 15000, what: 'the groups' });
      const deadline = { timeout: 5000 };
      // A new status: a group appears with its first row.
      const id = await psql(demo.db, "INSERT INTO public.orders (customer, status, amount) VALUES ('agg-test', 'late', 12.34) RETURNING id");
      await until(async () => (await table(p)).find((g) => g.key === 'late' && g.count === '1' && g['sum:amount'] === '12.34'),
        { ...deadline, what: 'the group "late" with its first row' });
      // Its sum follows an update exactly; its bar grows with more rows.
      await psql(demo.db, `UPDATE public.orders SET amount = 1000.05 WHERE id = ${id}`);
      await until(async () => (await table(p)).find((g) => g.key === 'late' && g['sum:amount'] === '1000.05'),
        { ...deadline, what: 'the sum of "late" after the update' });
      const before = (await bars(p)).late;
      assert.ok(before?.width > 0, `a bar for "late": ${JSON.stringify(await bars(p))}`);
      await psql(demo.db, "INSERT INTO public.orders (customer, status, amount) SELECT 'agg-test', 'late', 0.01 FROM generate_series(1, 20)");
      const after_bar = await until(async () => { const b = (await bars(p)).late; return b?.value === '21' ? b : null; },
        { ...deadline, what: 'the bar of "late" at 21' });
      assert.ok(after_bar.width > before.width, `the bar grew: ${before.width} → ${after_bar.width}`);
      const rows = await until(async () => { const t = await table(p); return t[0]?.key === 'late' ? t : null; },
        { ...deadline, what: '"late" first by count' });
      assert.equal(rows[0]['sum:amount'], '1000.25');
      assert.deepEqual(rows, await expected());
      // Gone with its last row.
      await psql(demo.db, "DELETE FROM public.orders WHERE status = 'late'");
      await until(async () => !(await table(p)).some((g) => g.key === 'late') && !('late' in (await bars(p))),
        { ...deadline, what: 'the group "late" gone from the table and the chart' });
      await until(() => same_groups(p), { ...deadline, what: 'the groups as before' });
    } finally {
      await p.close();
    }
  });

  test('over SSE (?transport=sse) the same groups, live', async () => {
    const p = await open(`${demo.dashboard_url}&transport=sse`);
    try {
      await until(() => p.evaluate(() => window.pglive.transport === 'sse'), { what: 'the SSE fallback' });
      await until(() => same_groups(p), { timeout: 15000, what: 'the groups over SSE' });
      await psql(demo.db, "INSERT INTO public.orders (customer, status, amount) VALUES ('agg-sse', 'sse', 3.30)");
      await until(async () => (await table(p)).find((g) => g.key === 'sse' && g.count === '1' && g['sum:amount'] === '3.30'),
        { timeout: 5000, what: 'the group "sse" over SSE' });
      await psql(demo.db, "DELETE FROM public.orders WHERE status = 'sse'");
      await until(async () => !(await table(p)).some((g) => g.key === 'sse'), { timeout: 5000, what: 'the group "sse" gone over SSE' });
    } finally {
      await p.close();
    }
  });

  test("the card's filter applies to its aggregates too", async () => {
    const p = await open(demo.dashboard_url);
    try {
      await until(() => same_groups(p), { timeout: 15000, what: 'the groups' });
      const filter = p.locator(`.card[data-topic="${orders}"] .filter`);
      await filter.fill('status=neq.open');
      await filter.press('Enter');
      const want = JSON.parse(await psql(demo.db, "SELECT json_agg(status ORDER BY n DESC, status) FROM (SELECT status, count(*) n FROM public.orders WHERE status <> 'open' GROUP BY status) g"));
      await until(async () => JSON.stringify((await table(p)).map((g) => g.key)) === JSON.stringify(want), { timeout: 5000, what: `the groups but open: ${want}` });
      assert.deepEqual((await agg(p)).request.filter, ['status=neq.open']);
      assert.match(await p.locator(`${panel} .agg-chart .now`).textContent(), /filtered/);
      await filter.fill('');
      await filter.press('Enter');
      await until(() => same_groups(p), { timeout: 5000, what: 'every group again once the filter is gone' });
      assert.deepEqual((await agg(p)).request.filter, []);
    } finally {
      await p.close();
    }
  });

  test('no group columns: one entry "*" for all rows, there with count 0 when no row matches', async () => {
    const p = await open(`${demo.url}/?agg=public.orders&aggregate=count,sum:amount`);
    try {
      const [n, sum] = (await psql(demo.db, 'SELECT count(*), sum(amount) FROM public.orders')).split('|');
      await until(async () => JSON.stringify(await table(p)) === JSON.stringify([{ key: '*', count: n, 'sum:amount': sum }]),
        { timeout: 15000, what: `"*" with ${n} orders summing to ${sum}` });
      assert.deepEqual(Object.keys(await bars(p)), ['*']);
      const filter = p.locator(`.card[data-topic="${orders}"] .filter`);
      await filter.fill('status=eq.nothing-has-this');
      await filter.press('Enter');
      await until(async () => JSON.stringify(await table(p)) === JSON.stringify([{ key: '*', count: '0', 'sum:amount': '∅' }]),
        { timeout: 5000, what: '"*" with count 0 and a NULL sum' });
      const b = await bars(p);
      assert.equal(b['*'].value, '0');
      assert.equal(b['*'].width, 0, 'a zero count draws no bar');
      await filter.fill('');
      await filter.press('Enter');
      await until(async () => (await table(p))[0]?.count === n, { timeout: 5000, what: 'every order again' });
    } finally {
      await p.evaluate(() => localStorage.removeItem('pglive.agg.public.orders')).catch(() => {});
      await p.close();
    }
  });

  test('390 px: picked from the keyboard (a group column, avg, the order); nothing scrolls sideways', async () => {
    const p = await open(demo.dashboard_url, { width: 390, height: 844 });
    try {
      await until(() => same_groups(p), { timeout: 15000, what: 'the groups' });
      // Group by customer too: Tab reaches its checkbox, Space ticks it.
      const customer = p.locator(`${panel} .agg-group input[data-col="customer"]`);
      await customer.focus();
      await p.keyboard.press('Space');
      await until(async () => JSON.stringify((await agg(p)).picks.group) === '["customer","status"]', { what: 'grouped by customer and status' }).catch(async (e) => { throw new Error(`${e.message}: ${JSON.stringify(await agg(p))} focus=${await p.evaluate(() => document.activeElement?.outerHTML)}`); });
      const pairs = await until(async () => {
        const t = await table(p);
        return t.length && t.every((g) => { try { const k = JSON.parse(g.key); return Array.isArray(k) && k.length === 2 && k[0] === g.customer && k[1] === g.status; } catch { return false; } }) ? t : null;
      }, { timeout: 5000, what: 'groups keyed by [customer, status]' });
      assert.ok(pairs.length <= 5);
      assert.ok(await customer.evaluate((el) => el === document.activeElement), 'the focus stays on the checkbox');
      await p.keyboard.press('Space');
      await until(async () => JSON.stringify((await agg(p)).picks.group) === '["status"]', { what: 'grouped by status again' });
      // Add avg:amount: type-ahead in the function and column pickers, Enter on Add.
      await p.locator(`${panel} .agg-fn`).focus();
      await p.keyboard.type('avg');
      await p.keyboard.press('Tab');
      await p.keyboard.type('amount');
      await p.keyboard.press('Tab');
      assert.ok(await p.locator(`${panel} .agg-add-btn`).evaluate((el) => el === document.activeElement), 'Tab reaches Add');
      await p.keyboard.press('Enter');
      await until(async () => (await agg(p)).picks.aggregates.includes('avg:amount'), { what: 'avg:amount added' });
      const avg = JSON.parse(await psql(demo.db,
        'SELECT json_object_agg(status, a) FROM (SELECT status, avg(amount)::text AS a FROM public.orders GROUP BY status) g'));
      await until(async () => { const t = await table(p); return t.length && t.every((g) => g['avg:amount'] === avg[g.key]); },
        { timeout: 5000, what: `avg:amount as PostgreSQL's avg() writes it: ${JSON.stringify(avg)}` });
      // Order by the sum, ascending, top 2: the picks reach the server's window.
      await p.locator(`${panel} .agg-order-by`).focus();
      await p.keyboard.type('sum');
      await p.locator(`${panel} .agg-dir`).focus();
      await p.keyboard.press('Enter');
      await p.locator(`${panel} .agg-top`).fill('2');
      await p.keyboard.press('Enter');
      const d = await until(async () => { const x = await agg(p); return x.request.order === 'sum:amount.asc' && x.request.limit === 2 ? x : null; },
        { what: 'ordered by sum ascending, top 2' });
      const want = JSON.parse(await psql(demo.db, "SELECT json_agg(status ORDER BY s, status) FROM (SELECT status, sum(amount) s FROM public.orders GROUP BY status ORDER BY s, status LIMIT 2) g"));
      await until(async () => JSON.stringify((await table(p)).map((g) => g.key)) === JSON.stringify(want), { timeout: 5000, what: `the two smallest sums ${want}` });
      assert.deepEqual(d.picks.aggregates, ['count', 'sum:amount', 'avg:amount']);
      assert.ok((await agg(p)).groups <= 2, 'the page holds the top 2 groups only: the server keeps the window');
      const m = await p.evaluate(() => ({ doc: document.documentElement.scrollWidth, inner: innerWidth,
        svg: document.querySelector('.card[data-topic="public.orders"] .aggs svg')?.getBoundingClientRect().right }));
      assert.ok(m.doc <= m.inner && m.svg <= m.inner, `the page scrolls sideways at 390 px: ${JSON.stringify(m)}`);
      // Back to the demo's picks for whoever comes next.
      await p.evaluate(() => localStorage.removeItem('pglive.agg.public.orders'));
    } finally {
      await p.close();
    }
  });
});
