// e2e.test.mjs — the dashboard in headless chromium against the real pglive binary on a real PostgreSQL (pglive demo).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { Pglive, psql, launchBrowser, until, tableRows, artifacts_dir } from './harness.mjs';

const orders_sql = "SELECT coalesce(json_agg(json_build_object('id', id::text, 'customer', customer, 'status', status, 'amount', amount::text) ORDER BY id DESC), '[]') FROM (SELECT * FROM public.orders ORDER BY id DESC LIMIT 100) o";

// The rows a card shows, compared with the rows the database holds (the newest 100 by id, the page's default window).
async function orders_match(page, db, where = 'true') {
  const sql = orders_sql.replace('FROM public.orders', `FROM public.orders WHERE ${where}`);
  const want = JSON.parse(await psql(db, sql));
  const got = await tableRows(page, 'public.orders');
  if (!got || got.length !== want.length) return false;
  return want.every((w, i) => got[i].key === w.id && got[i].id === w.id && got[i].customer === w.customer &&
    got[i].status === w.status && Number(got[i].amount) === Number(w.amount));
}

async function converge(page, db, what, where, timeout = 10000) {
  let detail = '';
  try {
    await until(() => orders_match(page, db, where), { timeout, what });
  } catch (e) {
    detail = JSON.stringify({ page: await tableRows(page, 'public.orders'), db: await psql(db, orders_sql) });
    throw new Error(`${e.message}\n${detail}`);
  }
}

const card = (topic) => `.card[data-topic="${topic}"]`;

describe('dashboard on pglive demo', () => {
  let demo;
  let browser;
  let page;
  const page_errors = [];

  before(async () => {
    demo = await Pglive.start(['demo', '--listen', '127.0.0.1:0', '--traffic', '0'], { name: 'pglive demo' });
    assert.ok(demo.db, `pglive demo printed no "pglive: database" line:\n${demo.tail()}`);
    browser = await launchBrowser({ colorScheme: 'dark' });
    page = await browser.context.newPage();
    page.on('pageerror', (e) => page_errors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  test('the page loads and shows the snapshot of every topic', async () => {
    await page.goto(demo.url + '/');
    await converge(page, demo.db, 'public.orders to show the database rows');
    const metrics = Number(await psql(demo.db, 'SELECT count(*) FROM public.metrics'));
    await until(async () => (await tableRows(page, 'public.metrics'))?.length === metrics, { what: `${metrics} metrics rows` });
    // Composite keys arrive as JSON array text.
    const keys = (await tableRows(page, 'public.metrics')).map((r) => JSON.parse(r.key));
    assert.ok(keys.every((k) => Array.isArray(k) && k.length === 2), JSON.stringify(keys));
    await until(() => page.evaluate(() => document.querySelector('#conn').dataset.state === 'open'), { what: 'state open' });
  });

  let inserted;
  test('an INSERT appears within a second, without a reload', async () => {
    inserted = await psql(demo.db, "INSERT INTO public.orders (customer, amount) VALUES ('e2e-insert', 12.34) RETURNING id");
    const committed = Date.now();
    await page.waitForFunction((id) => !!document.querySelector(`.card[data-topic="public.orders"] tr[data-key="${id}"]:not(.removed)`),
      inserted, { timeout: 5000, polling: 'raf' });
    const elapsed = Date.now() - committed;
    assert.ok(elapsed < 1000, `the inserted row took ${elapsed} ms to appear`);
    const row = (await tableRows(page, 'public.orders')).find((r) => r.key === inserted);
    assert.equal(row.customer, 'e2e-insert');
    assert.equal(Number(row.amount), 12.34);
    // The status bar counted it and measured its latency from the commit time.
    await until(() => page.evaluate(() => document.querySelector('#latency').textContent !== '–'), { what: 'a latency figure' });
  });

  test('an UPDATE changes the cell', async () => {
    await psql(demo.db, `UPDATE public.orders SET status = 'e2e-updated' WHERE id = ${inserted}`);
    await page.waitForFunction((id) => document.querySelector(
      `.card[data-topic="public.orders"] tr[data-key="${id}"] td[data-col="status"]`)?.textContent === 'e2e-updated', inserted, { timeout: 5000 });
    // The changed cell flashes; its neighbours do not.
    const flashing = await page.evaluate((id) => [...document.querySelectorAll(`.card[data-topic="public.orders"] tr[data-key="${id}"] td`)]
      .filter((td) => td.getAnimations().length > 0).map((td) => td.dataset.col), inserted);
    assert.ok(flashing.includes('status'), `flashing cells: ${flashing}`);
    assert.ok(!flashing.includes('customer'), `flashing cells: ${flashing}`);
  });

  test('a DELETE removes the row', async () => {
    await psql(demo.db, `DELETE FROM public.orders WHERE id = ${inserted}`);
    // It fades out first, then goes.
    await page.waitForFunction((id) => !!document.querySelector(`.card[data-topic="public.orders"] tr.removed[data-key="${id}"]`),
      inserted, { timeout: 5000, polling: 'raf' });
    await page.waitForFunction((id) => !document.querySelector(`.card[data-topic="public.orders"] tr[data-key="${id}"]`),
      inserted, { timeout: 5000 });
    await converge(page, demo.db, 'the rows after the delete');
  });

  test('a filter typed in the box narrows the rows, and the narrowed table stays live', async () => {
    const box = page.locator(`${card('public.orders')} .filter`);
    await box.fill('status=eq.paid');
    await box.press('Enter');
    await converge(page, demo.db, 'only paid orders', "status = 'paid'");
    const paid = Number(await psql(demo.db, "SELECT count(*) FROM public.orders WHERE status = 'paid'"));
    const all = Number(await psql(demo.db, 'SELECT count(*) FROM public.orders'));
    assert.ok(paid < all, `the demo data should have non-paid orders (paid ${paid} of ${all})`);
    // A row moving into the filter appears, one moving out goes.
    const moved = await psql(demo.db, "UPDATE public.orders SET status = 'paid' WHERE id = (SELECT min(id) FROM public.orders WHERE status <> 'paid') RETURNING id");
    await converge(page, demo.db, `order ${moved} to enter the filter`, "status = 'paid'");
    await psql(demo.db, `UPDATE public.orders SET status = 'open' WHERE id = ${moved}`);
    await converge(page, demo.db, `order ${moved} to leave the filter`, "status = 'paid'");
    // A bad filter is refused with the server's message, next to the box.
    await box.fill('nosuchcolumn=eq.1');
    await box.press('Enter');
    await until(() => page.locator(`${card('public.orders')} .error`).isVisible(), { what: 'the bad_filter error' });
    assert.match(await page.locator(`${card('public.orders')} .error`).textContent(), /bad_filter/);
    await box.fill('');
    await box.press('Enter');
    await converge(page, demo.db, 'every order again');
  });

  test('a column header click sorts the rows', async () => {
    await page.locator(`${card('public.orders')} th[data-col="amount"]`).click();
    await page.locator(`${card('public.orders')} th[data-col="amount"]`).click();  // descending
    await until(async () => {
      const amounts = (await tableRows(page, 'public.orders')).map((r) => Number(r.amount));
      return amounts.length > 2 && amounts.every((a, i) => i === 0 || amounts[i - 1] >= a);
    }, { what: 'orders by amount descending' });
    // Another column starts ascending; the sorted one reverses on the first click.
    await page.locator(`${card('public.orders')} th[data-col="id"]`).click();
    await until(async () => {
      const ids = (await tableRows(page, 'public.orders')).map((r) => Number(r.id));
      return ids.length > 2 && ids.every((a, i) => i === 0 || ids[i - 1] < a);
    }, { what: 'orders by id ascending' });
    await page.locator(`${card('public.orders')} th[data-col="id"]`).click();
    await converge(page, demo.db, 'orders newest first again');
  });

  test('a published message appears in the notifications panel', async () => {
    await psql(demo.db, `SELECT pglive.publish('alerts', '{"level":"high","text":"disk 91% on db-1"}')`);
    await until(() => page.evaluate(() => [...document.querySelectorAll('#notes li')].some((li) => li.textContent.includes('disk 91% on db-1'))),
      { what: 'the message in the notifications panel' });
  });

  test('the admin view shows the attached tables and lag, and attaches and detaches a table', async () => {
    assert.ok(demo.admin_url, `pglive demo printed no "pglive: admin view" line:\n${demo.tail()}`);
    const p = await browser.context.newPage();
    p.on('pageerror', (e) => page_errors.push(e.message));
    try {
      await p.goto(demo.admin_url);
      assert.ok(!new URL(p.url()).searchParams.has('token'), 'the token stays out of the address bar');
      await p.locator('#admin').waitFor({ state: 'visible', timeout: 10000 });
      await p.locator('#adm-tables tr[data-topic="public.orders"]').waitFor({ timeout: 10000 });
      await until(async () => /^\d+(\.\d+)? s$/.test(await p.locator('#adm-lag').textContent()), { what: 'the capture lag' });
      await until(async () => /^\d+$/.test(await p.locator('#adm-outbox').textContent()), { what: 'the outbox size' });

      await psql(demo.db, "CREATE TABLE public.e2e_items (id int PRIMARY KEY, name text); INSERT INTO public.e2e_items VALUES (1, 'one')");
      await p.fill('#attach-table', 'public.e2e_items');
      await p.click('#attach-form button[type=submit]');
      await until(async () => (await p.locator('#adm-msg').textContent()) === 'attached public.e2e_items',
        { what: 'the attach to succeed', timeout: 10000 });
      // A new topic shows up on its own, with its rows, and stays live.
      await p.locator(`${card('public.e2e_items')} tr[data-key="1"]`).waitFor({ timeout: 10000 });
      await psql(demo.db, "INSERT INTO public.e2e_items VALUES (2, 'two')");
      await p.locator(`${card('public.e2e_items')} tr[data-key="2"]`).waitFor({ timeout: 5000 });

      const detach = p.locator('#adm-tables tr[data-topic="public.e2e_items"] button');
      await detach.click();
      assert.equal(await detach.textContent(), 'Confirm detach');
      await detach.click();
      await until(async () => (await p.locator('#adm-msg').textContent()) === 'detached public.e2e_items', { what: 'the detach' });
      await p.locator(card('public.e2e_items')).waitFor({ state: 'detached', timeout: 10000 });
      assert.equal(await p.locator('#topic-list input[data-topic="public.e2e_items"]').count(), 0);
    } finally {
      await p.close();
    }
  });

  test('where a WebSocket cannot be opened the page falls back to SSE and stays live', async () => {
    const p = await browser.context.newPage();
    p.on('pageerror', (e) => page_errors.push(e.message));
    await p.addInitScript(() => {
      window.WebSocket = class { constructor() { throw new Error('WebSocket blocked by the test'); } };
    });
    await p.goto(demo.url + '/');
    await converge(p, demo.db, 'the snapshot over SSE');
    assert.equal(await p.evaluate(() => window.pglive.transport), 'sse');
    const id = await psql(demo.db, "INSERT INTO public.orders (customer, amount) VALUES ('e2e-sse', 1) RETURNING id");
    await converge(p, demo.db, `order ${id} over SSE`);
    await psql(demo.db, `DELETE FROM public.orders WHERE id = ${id}`);
    await converge(p, demo.db, `order ${id} gone over SSE`);
    await p.close();
  });

  test('pglive killed and restarted: the page reconnects and converges to the table', async () => {
    const args = (listen) => ['serve', '--db', demo.db, '--listen', listen, '--anonymous-topics', '*'];
    let serve = await Pglive.start(args('127.0.0.1:0'), { name: 'pglive serve' });
    const port = serve.port;
    const p = await browser.context.newPage();
    p.on('pageerror', (e) => page_errors.push(e.message));
    try {
      await p.goto(serve.url + '/');
      await converge(p, demo.db, 'the snapshot from pglive serve');
      // The page's tables are windowed (limit 100), which the hub resumes with a snapshot; an
      // unwindowed subscription next to them must resume from the outbox with patches only.
      await p.evaluate(() => {
        window.__probe = window.pglive.subscribe('public.orders');
        window.__probe_snapshots = 0;
        window.pglive.on('snapshot', (e) => { if (e.sub === window.__probe) window.__probe_snapshots += 1; });
      });
      await until(() => p.evaluate(() => window.__probe.ready), { what: 'the unwindowed subscription' });
      await p.evaluate(() => { window.__probe_snapshots = 0; });  // its first snapshot is not a resume
      await serve.kill();
      await until(() => p.evaluate(() => document.querySelector('#conn').dataset.state === 'reconnecting'),
        { what: 'the page to show it is reconnecting' });
      // Changes while pglive is down: the page must catch up on all of them.
      await psql(demo.db, `
        INSERT INTO public.orders (customer, amount) VALUES ('while-down-1', 5), ('while-down-2', 6);
        UPDATE public.orders SET status = 'shipped' WHERE id = (SELECT min(id) FROM public.orders);
        DELETE FROM public.orders WHERE id = (SELECT max(id) FROM public.orders WHERE customer NOT LIKE 'while-down%');`);
      // The same port again (the page knows only that address); a port still held by the
      // dying process is retried until the deadline.
      serve = await until(async () => Pglive.start(args(`127.0.0.1:${port}`), { name: 'pglive serve (restarted)' }),
        { timeout: 30000, interval: 250, what: `pglive serve to listen on port ${port} again` });
      await converge(p, demo.db, 'the page to converge after the restart', 'true', 30000);
      await until(() => p.evaluate(() => document.querySelector('#conn').dataset.state === 'open'), { what: 'state open again' });
      const ids = JSON.parse(await psql(demo.db, 'SELECT json_agg(id::text ORDER BY id) FROM public.orders'));
      await until(async () => JSON.stringify(await p.evaluate(() => window.__probe.list().map((r) => String(r.id)))) === JSON.stringify(ids),
        { what: 'the unwindowed subscription to hold every order' });
      assert.equal(await p.evaluate(() => window.__probe_snapshots), 0, 'the resume sent a snapshot although the outbox holds the history');
      assert.equal(await p.evaluate(() => window.pglive.transport), 'ws', 'back on WebSocket, not left on the fallback');
      // Still live after the restart.
      const id = await psql(demo.db, "INSERT INTO public.orders (customer, amount) VALUES ('after-restart', 7) RETURNING id");
      await converge(p, demo.db, `order ${id} after the restart`);
    } finally {
      await p.close();
      await serve.stop();
    }
  });

  test('a burst of 2,000 transactions: the page keeps up and ends on the database state', async (t) => {
    const metrics_sql = "SELECT json_agg(json_build_object('host', host, 'name', name, 'value', value) ORDER BY host, name) FROM public.metrics";
    const metrics_match = async () => {
      const want = JSON.parse(await psql(demo.db, metrics_sql));
      const got = await tableRows(page, 'public.metrics');
      if (!got || got.length !== want.length) return false;
      const by = new Map(got.map((r) => [`${r.host}/${r.name}`, Number(r.value)]));
      return want.every((w) => by.get(`${w.host}/${w.name}`) === Number(w.value));
    };
    // Frame gaps while the patches pour in: reported, not asserted (timing is for benchmarks).
    await page.evaluate(() => {
      window.__frames = [];
      let last = performance.now();
      const tick = (now) => { window.__frames.push(now - last); last = now; if (!window.__stop) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    });
    const started = Date.now();
    await psql(demo.db, `DO $$ BEGIN FOR i IN 1..2000 LOOP
        UPDATE public.metrics SET value = round((random() * 100)::numeric, 1), updated_at = now()
         WHERE (host, name) = (SELECT host, name FROM public.metrics ORDER BY random() LIMIT 1);
        COMMIT;
      END LOOP; END $$`);
    const committed = Date.now();
    await until(metrics_match, { timeout: 30000, what: 'the metrics table to end on the database state' });
    const caught_up = Date.now();
    await converge(page, demo.db, 'orders unchanged by the burst');
    const frames = await page.evaluate(() => { window.__stop = true; return window.__frames; });
    frames.sort((a, b) => a - b);
    t.diagnostic(`2000 transactions committed in ${committed - started} ms; page caught up ${caught_up - committed} ms later; ` +
      `${frames.length} frames, median gap ${frames[frames.length >> 1]?.toFixed(1)} ms, worst ${frames[frames.length - 1]?.toFixed(1)} ms`);
  });

  test('screenshot of the dashboard (artifacts/dashboard.png)', async () => {
    const p = await browser.context.newPage();
    await p.goto(demo.admin_url ?? demo.url + '/');
    await converge(p, demo.db, 'the rows before the screenshot');
    // Some movement, so flashes and the status bar show what they are for.
    await psql(demo.db, "INSERT INTO public.orders (customer, amount) VALUES ('wayne', 321.5)");
    await psql(demo.db, "UPDATE public.metrics SET value = 97.5 WHERE host = 'db-1' AND name = 'cpu'");
    await psql(demo.db, `SELECT pglive.publish('alerts', '{"level":"warn","text":"db-1 cpu above 95%"}')`);
    await converge(p, demo.db, 'the last changes before the screenshot');
    fs.mkdirSync(artifacts_dir, { recursive: true });
    const file = path.join(artifacts_dir, 'dashboard.png');
    await p.screenshot({ path: file, fullPage: true });
    assert.ok(fs.statSync(file).size > 10000, 'the screenshot is suspiciously small');
    await p.close();
  });

  test('a remembered token that the server refuses is reported on the page', async () => {
    const p = await browser.context.newPage();
    p.on('pageerror', (e) => page_errors.push(e.message));
    try {
      await p.addInitScript(() => localStorage.setItem('pglive.token', JSON.stringify('abc.def.ghi')));
      await p.goto(demo.url + '/');
      await until(async () => /token refused/.test(await p.locator('#who').textContent()), { what: 'the refused token in the header' });
      await until(async () => /401/.test(await p.locator('#topic-list').textContent()), { what: 'the 401 in the topic list' });
      assert.ok(await p.locator('#forget-token').isVisible(), 'a way to drop the token');
    } finally {
      await p.evaluate(() => localStorage.removeItem('pglive.token')).catch(() => {});
      await p.close();
    }
  });

  // README: a page pglive does not serve imports /pglive.js; the modules it imports in turn are
  // fetched cross-origin too, so each needs the same CORS header.
  test('pglive.js imports on a page of another origin', async () => {
    const html = `<!doctype html><script type="module">
      import { connect, applyPatch } from '${demo.url}/pglive.js';
      window.__ok = typeof connect === 'function' && applyPatch({}, [{ op: 'add', path: '/a~1b', value: 1 }])['a/b'] === 1;
    </script>`;
    const other = http.createServer((req, res) => { res.setHeader('Content-Type', 'text/html'); res.end(html); });
    await new Promise((resolve) => other.listen(0, '127.0.0.1', resolve));
    const p = await browser.context.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    try {
      await p.goto(`http://127.0.0.1:${other.address().port}/`);
      await until(() => p.evaluate(() => window.__ok === true), { what: `the module to load (errors: ${errors.join('; ')})` });
    } finally {
      await p.close();
      other.close();
    }
  });

  test('no script error on any page', () => {
    assert.deepEqual(page_errors, []);
  });
});
