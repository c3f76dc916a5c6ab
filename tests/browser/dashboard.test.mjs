// dashboard.test.mjs — issue 13 in headless chromium against pglive demo: what the page says (database
// link, capture lag, row counts), narrow screens, long cells, time formats, sorting, keyboard; the
// React hook and the TypeScript declarations; last, PostgreSQL stopped under a running page.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { Pglive, psql, launchBrowser, until, tableRows, openPage } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const card = (topic) => `.card[data-topic="${topic}"]`;

describe('dashboard (issue 13)', () => {
  let demo;
  let browser;
  const page_errors = [];
  const open = (url, viewport) => openPage(browser, url, { viewport, errors: page_errors });

  before(async () => {
    demo = await Pglive.start(['demo', '--listen', '127.0.0.1:0', '--traffic', '0'], { name: 'pglive demo' });
    assert.ok(demo.db && demo.admin_url, `pglive demo printed no database or admin line:\n${demo.tail()}`);
    // A zone with a half-hour offset and a 12-hour locale: what a 24-hour clock with zone must survive.
    // Pages the test answers itself (page.route) have no address to be local to: chromium's
    // local network access checks would block their WebSocket to 127.0.0.1.
    browser = await launchBrowser({ timezoneId: 'Asia/Kolkata', locale: 'en-US', extra_args: ['--disable-features=LocalNetworkAccessChecks'] });
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  test('the row the demo invites appears at once, at the top, with more rows than the window holds', async () => {
    const p = await open(demo.url + '/');
    try {
      const n = Number(await psql(demo.db, 'SELECT count(*) FROM public.orders'));
      await until(async () => (await p.locator(`${card('public.orders')} .count`).textContent()) === `${n} of ${n} rows`,
        { what: `"${n} of ${n} rows" while every order fits the window` });
      // Demo traffic passes 100 orders within a minute: past the window of 100.
      await psql(demo.db, "INSERT INTO public.orders (customer, amount) SELECT 'filler', g FROM generate_series(1, 150) g");
      const id = await psql(demo.db, "INSERT INTO orders (customer, amount) VALUES ('you', 42) RETURNING id");
      await until(async () => (await tableRows(p, 'public.orders'))?.[0]?.key === id, { what: `order ${id} at the top of the card` });
      const count = p.locator(`${card('public.orders')} .count`);
      await until(async () => (await count.textContent()) === '100 of ≥ 100 rows · limit 100', { what: 'the full window said so' });
      assert.match(await count.getAttribute('title'), /may hold more/);
    } finally {
      await p.close();
    }
  });

  test('the sorted column reverses on the first click, from the keyboard too', async () => {
    const p = await open(demo.url + '/');
    try {
      const ids = async () => (await tableRows(p, 'public.orders'))?.map((r) => Number(r.id)) ?? [];
      await until(async () => { const a = await ids(); return a.length > 2 && a[0] > a[1]; }, { what: 'newest first by default' });
      const id_head = p.locator(`${card('public.orders')} th[data-col="id"]`);
      assert.equal(await id_head.getAttribute('aria-sort'), 'descending');
      await id_head.click();
      await until(async () => { const a = await ids(); return a.length > 2 && a.every((x, i) => i === 0 || a[i - 1] < x); },
        { what: 'oldest first after one click' });
      assert.equal(await id_head.getAttribute('aria-sort'), 'ascending');
      // Keyboard: the header is a button; Enter sorts.
      await p.locator(`${card('public.orders')} th[data-col="id"] button`).focus();
      await p.keyboard.press('Shift+Tab');  // reached by the keyboard, as :focus-visible wants
      await p.keyboard.press('Tab');
      assert.equal(await p.evaluate(() => document.activeElement.closest('th')?.dataset.col), 'id');
      const outline = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      await p.keyboard.press('Enter');
      await until(async () => { const a = await ids(); return a.length > 2 && a[0] > a[1]; }, { what: 'newest first again after Enter' });
      assert.notEqual(outline, 'none', 'the focused header shows its focus');
    } finally {
      await p.close();
    }
  });

  for (const [width, height, max_bar] of [[1280, 900, 60], [390, 844, 70]]) {
    test(`${width} px: the header fits (no horizontal overflow) and every Detach button is within reach`, async () => {
      const p = await open(demo.admin_url, { width, height });
      try {
        await p.locator('#adm-tables tr[data-topic="public.orders"] button').waitFor({ timeout: 10000 });
        await p.locator(`${card('public.orders')} tbody tr`).first().waitFor({ timeout: 10000 });
        const m = await p.evaluate(() => {
          const bar = document.querySelector('header.bar');
          const right = Math.max(...[...bar.querySelectorAll('*')].filter((e) => e.getClientRects().length)
            .map((e) => e.getBoundingClientRect().right));
          return { bar_scroll: bar.scrollWidth, bar_client: bar.clientWidth, bar_height: bar.getBoundingClientRect().height,
            right, doc: document.documentElement.scrollWidth, inner: innerWidth };
        });
        assert.ok(m.bar_scroll <= m.bar_client && m.right <= m.inner, `the header overflows: ${JSON.stringify(m)}`);
        assert.ok(m.bar_height <= max_bar, `the header is ${m.bar_height} px tall (at most ${max_bar}): ${JSON.stringify(m)}`);
        assert.ok(m.doc <= m.inner, `the page scrolls sideways: ${JSON.stringify(m)}`);
        // The admin table is rebuilt on every status refresh: find each button anew until it answers.
        for (const topic of ['public.metrics', 'public.orders']) {
          let seen;
          await until(async () => {
            const b = p.locator(`#adm-tables tr[data-topic="${topic}"] button`);
            await b.scrollIntoViewIfNeeded({ timeout: 2000 });
            seen = await b.evaluate((el) => {
              const r = el.getBoundingClientRect();
              const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
              return { left: r.left, right: r.right, inner: innerWidth, hit: hit === el || el.contains(hit) };
            }, null, { timeout: 2000 });
            // A zero-size box is a button the refresh replaced between the lookup and the
            // measurement (it is no longer laid out): look again.
            return seen.right > seen.left ? seen : null;
          }, { what: `the Detach button of ${topic}` });
          assert.ok(seen.left >= 0 && seen.right <= seen.inner && seen.hit, `the Detach button of ${topic} is out of reach: ${JSON.stringify(seen)}`);
        }
      } finally {
        await p.close();
      }
    });
  }

  test('a 200 kB cell is cut short in the table and opens whole on Enter', async () => {
    const p = await open(demo.url + '/');
    try {
      const id = await psql(demo.db, "INSERT INTO public.orders (customer, amount) VALUES (repeat('x', 200000), 1) RETURNING id");
      const cell = p.locator(`${card('public.orders')} tr[data-key="${id}"] td[data-col="customer"]`);
      await cell.waitFor({ timeout: 10000 });
      const m = await cell.evaluate((td) => ({ table: td.closest('table').scrollWidth, width: td.getBoundingClientRect().width,
        clipped: td.scrollWidth > td.clientWidth, ellipsis: getComputedStyle(td).textOverflow, title: td.title.length }));
      assert.ok(m.table < 2500, `the table is ${m.table} px wide`);
      assert.ok(m.width < 600, `the cell is ${m.width} px wide`);
      assert.ok(m.clipped && m.ellipsis === 'ellipsis', JSON.stringify(m));
      assert.equal(m.title, 200000, 'the tooltip holds the whole value');
      await cell.focus();
      await p.keyboard.press('Enter');
      await until(() => cell.evaluate((td) => td.classList.contains('expanded') && td.textContent.length === 200000),
        { what: 'the whole value after Enter' });
      assert.equal(await cell.getAttribute('aria-expanded'), 'true');
      assert.ok(await cell.evaluate((td) => td.closest('table').scrollWidth < 2500), 'the opened cell keeps the table narrow');
      await cell.focus();  // a row moved by the live reordering loses the focus
      await p.keyboard.press('Enter');
      await until(() => cell.evaluate((td) => !td.classList.contains('expanded')), { what: 'the cell closed again' });
    } finally {
      await p.close();
    }
  });

  test('timestamps show date, 24-hour time and zone, local or UTC; notifications too; decimals line up', async () => {
    const p = await open(demo.url + '/');
    try {
      await psql(demo.db, "UPDATE public.metrics SET value = 5, updated_at = '2026-12-02 22:15:30.25+00' WHERE host = 'db-1' AND name = 'cpu'");
      await psql(demo.db, "UPDATE public.metrics SET value = 32.9 WHERE host = 'db-1' AND name = 'mem'");
      const key = JSON.stringify(['db-1', 'cpu']);
      const cell = p.locator(`${card('public.metrics')} tr[data-key='${key}'] td[data-col="updated_at"]`);
      await until(async () => (await cell.textContent()) === '2026-12-03 03:45:30.250 +05:30',
        { what: 'the time in Asia/Kolkata with date and offset', timeout: 10000 }).catch(async (e) => {
        throw new Error(`${e.message}: ${await cell.textContent().catch(() => '?')}`);
      });
      assert.match(await cell.getAttribute('title'), /^2026-12-02T22:15:30\.25\+00:00$/, 'the title keeps the value as sent');

      const toggle = p.locator('#tz-toggle');
      assert.equal(await toggle.textContent(), 'local');
      await toggle.focus();
      await p.keyboard.press('Enter');
      await until(async () => (await cell.textContent()) === '2026-12-02 22:15:30.250 UTC', { what: 'the time in UTC' });
      assert.equal(await toggle.getAttribute('aria-pressed'), 'true');

      await psql(demo.db, `SELECT pglive.publish('alerts', '{"level":"warn","text":"clock check"}')`);
      const when = p.locator('#notes li .when').first();
      await when.waitFor({ timeout: 10000 });
      assert.match(await when.textContent(), /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC$/);
      await toggle.click();
      await until(async () => /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d \+05:30$/.test(await when.textContent()),
        { what: 'the notification time in local 24-hour time' });
      assert.doesNotMatch(await p.locator('#notes').textContent(), /\b(AM|PM)\b/);

      // 5 next to 32.9: the 5 sits under the 2 (an invisible ".0" after it), tabular figures.
      const edges = await until(() => p.evaluate(() => {
        const td = (host, name) => document.querySelector(`.card[data-topic="public.metrics"] tr[data-key='${JSON.stringify([host, name])}'] td[data-col="value"]`);
        const a = td('db-1', 'cpu');
        const b = td('db-1', 'mem');
        if (a?.textContent !== '5' || b?.textContent !== '32.9') return null;
        const right_of = (el, n) => { const r = document.createRange(); r.setStart(el.firstChild, 0); r.setEnd(el.firstChild, n); return r.getBoundingClientRect().right; };
        return { pad: a.dataset.pad, five: right_of(a, 1), two: right_of(b, 2), align: getComputedStyle(a).textAlign,
          figures: getComputedStyle(a).fontVariantNumeric };
      }), { what: 'the metrics values 5 and 32.9' });
      assert.equal(edges.pad, '.0');
      assert.equal(edges.align, 'right');
      assert.match(edges.figures, /tabular-nums/);
      assert.ok(Math.abs(edges.five - edges.two) < 1, `the units do not line up: ${JSON.stringify(edges)}`);
    } finally {
      await p.evaluate(() => localStorage.removeItem('pglive.utc')).catch(() => {});
      await p.close();
    }
  });

  // A page of pglive's own origin that pglive does not have: playwright answers it.
  async function page_on_demo(html, name) {
    const p = await browser.context.newPage();
    const log = [];
    p.on('pageerror', (e) => { page_errors.push(e.message); log.push(`pageerror: ${e.message}`); });
    p.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    const url = `${demo.url}/__test/${name}.html`;
    await p.route(url, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: html }));
    await p.goto(url);
    return { p, log };
  }

  test('the README snippet works as pasted', async () => {
    const readme = fs.readFileSync(path.join(here, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## For frontend developers'));
    const snippet = /```html\n([\s\S]*?)```/.exec(section)[1].replaceAll('http://localhost:8080', demo.url);
    const { p, log } = await page_on_demo(`<!doctype html><meta charset="utf-8">${snippet}`, 'readme');
    try {
      const want = Number(await psql(demo.db, "SELECT least(count(*), 20) FROM public.orders WHERE status = 'open' AND amount > 100"));
      assert.ok(want > 0, 'the demo has open orders above 100');
      await until(() => p.evaluate(() => document.querySelectorAll('#orders tr').length), { what: 'rows in the table' });
      await until(async () => (await p.evaluate(() => document.querySelectorAll('#orders tr').length)) === want,
        { what: `${want} rows (console: ${log.join(' | ')})` });
      assert.deepEqual(log.filter((l) => /^(error|pageerror)/.test(l)), []);
    } finally {
      await p.close();
    }
  });

  test('connect({transports: undefined}) takes the defaults; a refused subscription without onError is logged', async () => {
    const { p, log } = await page_on_demo(`<!doctype html><script type="module">
      import { connect } from '/pglive.js';
      const c = connect({ transports: undefined, token: undefined, url: undefined });
      window.__orders = c.subscribe('public.orders');
      c.subscribe('public.nope');
      window.__c = c;
    </script>`, 'defaults');
    try {
      await until(() => p.evaluate(() => window.__orders?.ready === true), { what: `the subscription (console: ${log.join(' | ')})` });
      assert.equal(await p.evaluate(() => window.__c.transport), 'ws');
      await until(() => log.some((l) => l.startsWith('error: ') && l.includes('public.nope') && l.includes('unknown_topic')),
        { what: 'the refusal on the console' }).catch((e) => { throw new Error(`${e.message}: ${log.join(' | ')}`); });
    } finally {
      await p.close();
    }
  });

  test('a page of another origin that the server refuses is told why on the console', async () => {
    const html = `<!doctype html><script type="module">
      import { connect } from '${demo.url}/pglive.js';
      connect({ url: '${demo.url}' }).subscribe('public.orders');
    </script>`;
    const other = http.createServer((req, res) => { res.setHeader('Content-Type', 'text/html'); res.end(html); });
    await new Promise((resolve) => other.listen(0, '127.0.0.1', resolve));
    const p = await browser.context.newPage();
    const log = [];
    p.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    try {
      await p.goto(`http://127.0.0.1:${other.address().port}/`);
      await until(() => log.some((l) => /^warning: pglive: (connect_failed|origin_refused): .*allowed_origins/.test(l)),
        { what: 'the refusal explained on the console', timeout: 15000 }).catch((e) => { throw new Error(`${e.message}: ${log.join(' | ')}`); });
    } finally {
      await p.close();
      other.close();
    }
  });

  // React from npm (tests/browser/package.json; `make node-deps` installs it): its UMD builds, no bundler.
  function react_files() {
    // By path: the packages' "exports" do not list their umd/ files.
    const modules = path.join(here, 'node_modules');
    try {
      return {
        react: fs.readFileSync(path.join(modules, 'react/umd/react.development.js'), 'utf8'),
        dom: fs.readFileSync(path.join(modules, 'react-dom/umd/react-dom.development.js'), 'utf8'),
      };
    } catch (e) {
      throw new Error(`react and react-dom are not installed in tests/browser/node_modules (make node-deps, or npm ci there): ${e.message}`);
    }
  }

  test('the React hook renders live rows, shows a refusal, and closes its subscription on unmount', async () => {
    const { react, dom } = react_files();
    const p = await browser.context.newPage();
    const log = [];
    p.on('pageerror', (e) => { page_errors.push(e.message); log.push(`pageerror: ${e.message}`); });
    p.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    await p.route(`${demo.url}/__test/react.js`, (r) => r.fulfill({ contentType: 'text/javascript', body: react }));
    await p.route(`${demo.url}/__test/react-dom.js`, (r) => r.fulfill({ contentType: 'text/javascript', body: dom }));
    await p.route(`${demo.url}/__test/hook.html`, (r) => r.fulfill({ contentType: 'text/html', body: `<!doctype html>
      <div id="root"></div>
      <script src="/__test/react.js"></script><script src="/__test/react-dom.js"></script>
      <script type="module">
        import { connect } from '/pglive.js';
        import { usePgliveTopic } from '/pglive-react.js';
        const h = React.createElement;
        const client = connect();
        window.__client = client;
        function Orders() {
          const { rows, ready, error } = usePgliveTopic(client, 'public.orders', { React, order: 'id.desc', limit: 5 });
          if (error) return h('p', { id: 'orders-error' }, error.code);
          if (!ready) return h('p', { id: 'orders-loading' }, 'loading');
          return h('ul', { id: 'orders' }, rows.map((r) => h('li', { key: r.id, 'data-id': String(r.id) }, r.customer)));
        }
        function Missing() {
          const { error } = usePgliveTopic(client, 'public.nope', { React, onError: () => {} });
          return h('p', { id: 'missing' }, error ? error.code : 'waiting');
        }
        const root = ReactDOM.createRoot(document.getElementById('root'));
        root.render(h(React.Fragment, null, h(Orders), h(Missing)));
        window.__unmount = () => root.unmount();
      </script>` }));
    try {
      await p.goto(`${demo.url}/__test/hook.html`);
      const shown = () => p.evaluate(() => [...document.querySelectorAll('#orders li')].map((li) => li.dataset.id));
      const newest = async () => JSON.parse(await psql(demo.db, 'SELECT json_agg(id::text) FROM (SELECT id FROM public.orders ORDER BY id DESC LIMIT 5) o'));
      let want = await newest();
      await until(async () => JSON.stringify(await shown()) === JSON.stringify(want), { what: `the newest 5 orders (console: ${log.join(' | ')})` });
      const id = await psql(demo.db, "INSERT INTO public.orders (customer, amount) VALUES ('react', 1) RETURNING id");
      want = await newest();
      assert.equal(want[0], id);
      await until(async () => JSON.stringify(await shown()) === JSON.stringify(want), { what: `order ${id} rendered by the hook` });
      assert.equal(await p.locator(`#orders li[data-id="${id}"]`).textContent(), 'react');
      await until(async () => (await p.locator('#missing').textContent()) === 'unknown_topic', { what: 'the refusal in the component' });
      assert.equal(await p.evaluate(() => window.__client.subs_.size), 2);
      await p.evaluate(() => window.__unmount());
      await until(() => p.evaluate(() => window.__client.subs_.size === 0), { what: 'the subscriptions closed on unmount' });
      assert.deepEqual(log.filter((l) => /^(error|pageerror)/.test(l) && !/Download the React DevTools/.test(l)), []);
    } finally {
      await p.close();
    }
  });

  test('pglive.d.ts and pglive-react.d.ts type-check a use of every export (tsc --noEmit --strict)', async () => {
    const require = createRequire(import.meta.url);
    let tsc;
    try {
      tsc = require.resolve('typescript/bin/tsc');
    } catch (e) {
      throw new Error(`typescript is not installed in tests/browser/node_modules (make node-deps, or npm ci there): ${e.message}`);
    }
    const out = await new Promise((resolve) => execFile(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022',
      '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2022,dom', path.join(here, 'types/check.ts')],
    { timeout: 120000 }, (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, text: stdout + stderr })));
    assert.equal(out.code, 0, `tsc:\n${out.text}`);
  });

  // Last: it stops the demo's PostgreSQL for good.
  test('PostgreSQL stopped: the status bar turns red and the admin view says the database is unavailable', async () => {
    const p = await open(demo.admin_url);
    try {
      await p.locator('#adm-tables tr[data-topic="public.orders"]').waitFor({ timeout: 10000 });
      await until(() => p.evaluate(() => document.querySelector('#db').dataset.state === 'up'), { what: 'database ok' });
      assert.equal(await p.locator('#db-text').textContent(), 'ok');
      await until(async () => /^\d+\.\d\d s$/.test(await p.locator('#lag').textContent()), { what: 'a capture lag in the header' });

      const datadir = await psql(demo.db, 'SHOW data_directory');
      const postmaster = Number(fs.readFileSync(path.join(datadir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      assert.ok(postmaster > 1, `no postmaster pid in ${datadir}`);
      process.kill(postmaster, 'SIGINT');  // fast shutdown, as pg_ctl stop -m fast

      await until(() => p.evaluate(() => document.querySelector('#db').dataset.state === 'down'),
        { timeout: 30000, what: 'the status bar to say the database is down' });
      const look = await p.evaluate(() => {
        const css = getComputedStyle(document.documentElement);
        const probe = document.createElement('span');
        probe.style.color = css.getPropertyValue('--bad');
        document.body.append(probe);
        const bad = getComputedStyle(probe).color;
        probe.remove();
        return {
          bad, db: getComputedStyle(document.querySelector('#db')).color, text: document.querySelector('#db-text').textContent,
          conn: document.querySelector('#conn-text').textContent, lag: document.querySelector('#lag').textContent,
        };
      });
      assert.equal(look.db, look.bad, 'the database indicator is red');
      assert.equal(look.text, 'down');
      assert.doesNotMatch(look.conn, /^live/, 'the connection no longer claims to be live');
      assert.equal(look.lag, '–', 'no capture lag is made up while the database is away');
      await until(async () => /Database unavailable/.test(await p.locator('#adm-tables').textContent()),
        { timeout: 15000, what: 'the admin view to say the database is unavailable' }).catch(async (e) => {
        throw new Error(`${e.message}: ${await p.locator('#admin').textContent()}`);
      });
      assert.doesNotMatch(await p.locator('#adm-tables').textContent(), /No table attached/);
    } finally {
      await p.close();
    }
  });

  test('no script error on any page', () => {
    assert.deepEqual(page_errors, []);
  });
});
