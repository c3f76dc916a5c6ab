// charts.test.mjs — issue 13, charts: a card's patches/s, commit → browser latency and per-row
// lines of a numeric column, in headless chromium against pglive demo (no traffic but ours). The
// page's charts expose what they hold through window.pgliveCharts.get(topic) (dashboard/charts.js).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Pglive, psql, launchBrowser, until, openPage } from './harness.mjs';

const card = (topic) => `.card[data-topic="${topic}"]`;
const metrics = 'public.metrics';
const skew_ms = 50;  // database and browser share this machine's clock: only rounding differs

describe('charts (issue 13)', () => {
  let demo;
  let browser;
  const page_errors = [];

  const open = (url, viewport) => openPage(browser, url, { viewport, errors: page_errors });
  const charts = (p, topic) => p.evaluate((t) => window.pgliveCharts?.get(t) ?? null, topic);
  // Opens a card's charts (the choice is remembered in the browser: click only when closed) and
  // waits for its first snapshot's columns.
  const show_charts = async (p, topic) => {
    const b = p.locator(`${card(topic)} .chart-toggle`);
    await b.waitFor({ timeout: 10000 });
    // Click until it shows pressed: once seen (ctest -j2 beside a sanitizer build) a first click
    // left it unpressed; the handler sets the attribute synchronously, so a click that took
    // shows at once and is never undone by the next round.
    await until(async () => {
      if ((await b.getAttribute('aria-pressed')) === 'true') return true;
      await b.click({ timeout: 2000 });
      return (await b.getAttribute('aria-pressed')) === 'true';
    }, { what: `${topic}'s charts open` });
    return until(async () => { const d = await charts(p, topic); return d?.open && d.columns.length ? d : null; },
      { what: `${topic}'s charts with its numeric columns` });
  };
  const key_of = (d, host, name) => Object.keys(d.lines).find((k) => { try { const a = JSON.parse(k); return a[0] === host && a[1] === name; } catch { return false; } });
  const set_value = (host, name, v) => psql(demo.db, `UPDATE public.metrics SET value = ${v}, updated_at = now() WHERE host = '${host}' AND name = '${name}'`);

  before(async () => {
    demo = await Pglive.start(['demo', '--listen', '127.0.0.1:0', '--traffic', '0'], { name: 'pglive demo' });
    assert.ok(demo.db, `pglive demo printed no database line:\n${demo.tail()}`);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
    assert.deepEqual(page_errors, [], 'the page threw');
  });

  test('patches/s counts every transaction once; latency is there per second, not negative beyond the skew', async () => {
    const p = await open(demo.url + '/');
    try {
      const first = await show_charts(p, metrics);
      assert.equal(first.window_s, 300);
      assert.equal(first.rate.length, 300, 'a bar per second of the window');
      assert.equal(first.total, 0, 'no traffic: nothing counted before we write');
      const n = 25;
      const t0 = Date.now();
      for (let i = 0; i < n; i += 1) await set_value(i % 2 ? 'web-2' : 'db-1', 'rps', 1000 + i);
      const d = await until(async () => { const x = await charts(p, metrics); return x.total === n ? x : null; },
        { what: `${n} patches counted` });
      // Cheap: however fast the patches come, the panel is drawn at most twice a second.
      const seconds = (Date.now() - t0) / 1000;
      assert.ok(d.draws - first.draws <= 2 * seconds + 2, `${d.draws - first.draws} drawings in ${seconds} s`);
      assert.equal(d.rate.reduce((a, [, c]) => a + c, 0), n, 'the per-second series sums to the transactions written');
      assert.ok(d.rate.every(([sec, c], i) => c >= 0 && (i === 0 || sec === d.rate[i - 1][0] + 1)), 'one entry per second, in order');
      assert.equal(d.latency.reduce((a, s) => a + s.n, 0), n, 'a latency for every patch');
      for (const s of d.latency) {
        assert.ok(s.min >= -skew_ms && s.p50 >= s.min && s.max >= s.p50 && s.max < 10000, `a plausible latency second: ${JSON.stringify(s)}`);
      }
      // What a screen reader and a tooltip say, and what the caption shows.
      const label = await until(async () => {
        const l = await p.locator(`${card(metrics)} .chart.rate svg`).getAttribute('aria-label');
        return l?.includes(`${n} in all`) ? l : null;
      }, { what: 'the patches/s chart to say the total' });
      assert.match(label, /patches per second over the last 5 min/);
      const lat = await p.locator(`${card(metrics)} .chart.latency svg`).getAttribute('aria-label');
      assert.match(lat, /p50 -?\d+ ms · max -?\d+ ms/);
      assert.match(lat, /clock skew/);
      assert.match(await p.locator(`${card(metrics)} .chart.latency figcaption`).textContent(), /clock skew between the database host and this browser/);
      // The other card counts only its own subscription's patches.
      const orders = await charts(p, 'public.orders');
      assert.equal(orders.total, 0);
    } finally {
      await p.close();
    }
  });

  test('a line per row of the numeric column follows its updates to the exact value; the column is picked from the keyboard', async () => {
    const p = await open(demo.url + '/');
    try {
      const d0 = await show_charts(p, metrics);
      assert.deepEqual(d0.columns, ['value'], 'the first numeric non-key column (host, name are the key)');
      assert.equal(d0.column, 'value');
      assert.equal(Object.keys(d0.lines).length, 9, 'a line per host and metric');
      const key = key_of(d0, 'web-1', 'cpu');
      assert.ok(key, `a line for web-1/cpu in ${Object.keys(d0.lines)}`);
      const values = [12.5, 37.25, -4.125, 99.875];
      for (const v of values) {
        await set_value('web-1', 'cpu', v);
        await until(async () => (await charts(p, metrics)).lines[key]?.at(-1)?.[1] === v, { what: `web-1/cpu at ${v} in the chart` });
      }
      const d = await charts(p, metrics);
      assert.deepEqual(d.lines[key].slice(-values.length).map((pt) => pt[1]), values, 'every value, in order');
      assert.ok(d.lines[key].every((pt, i, a) => i === 0 || pt[0] >= a[i - 1][0]), 'points in time order');
      // Legend and text alternative carry the current value.
      const legend = p.locator(`${card(metrics)} .legend li[data-key="${key.replace(/"/g, '\\"')}"] .value`);
      await until(async () => (await legend.textContent()) === '99.875', { what: 'the legend to show 99.875' });
      const label = await p.locator(`${card(metrics)} .chart.lines svg`).getAttribute('aria-label');
      assert.ok(label.includes('web-1 / cpu = 99.875'), label);
      assert.equal(await p.locator(`${card(metrics)} .legend li[data-key="${key.replace(/"/g, '\\"')}"] .key`).textContent(), 'web-1 / cpu');

      // Keyboard: the Charts button and the column select are reached with Tab; orders plot amount.
      const toggle = p.locator(`${card('public.orders')} .chart-toggle`);
      await toggle.focus();
      if ((await toggle.getAttribute('aria-pressed')) !== 'true') await p.keyboard.press('Enter');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
      let reached = false;
      for (let i = 0; i < 8 && !reached; i += 1) {
        await p.keyboard.press('Tab');
        reached = await p.evaluate(() => document.activeElement?.matches('.card[data-topic="public.orders"] select.column'));
      }
      assert.ok(reached, 'Tab reaches the column select of the orders card');
      assert.deepEqual(await p.locator(`${card('public.orders')} select.column option`).allTextContents(), ['amount']);
      assert.notEqual(await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none', 'the select shows its focus');
    } finally {
      await p.close();
    }
  });

  for (const [width, height] of [[1280, 900], [390, 844]]) {
    test(`${width} px: the charts fit the card and the page does not scroll sideways`, async () => {
      const p = await open(demo.url + '/', { width, height });
      try {
        for (const topic of [metrics, 'public.orders']) await show_charts(p, topic);
        await set_value('db-1', 'mem', 42.5);
        await p.locator(`${card(metrics)} .chart.lines svg`).waitFor({ timeout: 10000 });
        const m = await p.evaluate(() => {
          const out = { doc: document.documentElement.scrollWidth, inner: innerWidth, bad: [] };
          for (const svg of document.querySelectorAll('.charts svg')) {
            const r = svg.getBoundingClientRect();
            const c = svg.closest('.card').getBoundingClientRect();
            if (r.left < c.left || r.right > c.right + 0.5 || r.width < 100) out.bad.push({ left: r.left, right: r.right, width: r.width, card: [c.left, c.right] });
          }
          out.svgs = document.querySelectorAll('.charts svg').length;
          return out;
        });
        assert.equal(m.svgs, 6, `three charts on each of the two cards: ${JSON.stringify(m)}`);
        assert.deepEqual(m.bad, [], `a chart sticks out of its card: ${JSON.stringify(m)}`);
        assert.ok(m.doc <= m.inner, `the page scrolls sideways: ${JSON.stringify(m)}`);
      } finally {
        await p.close();
      }
    });
  }

  test('history is trimmed to the window: a short window (?chart_window=5) forgets what is older, memory stays bounded', async () => {
    const p = await open(demo.url + '/?chart_window=5');
    try {
      const d0 = await show_charts(p, metrics);
      assert.equal(d0.window_s, 5);
      const key = key_of(d0, 'web-2', 'mem');
      for (const v of [1.5, 2.5, 3.5]) await set_value('web-2', 'mem', v);
      await until(async () => (await charts(p, metrics)).total === 3, { what: '3 patches counted' });
      // Five seconds later they are out of the window: counts, latencies and old points go (the
      // counts by whole seconds, the points by milliseconds: wait for both).
      const d = await until(async () => { const x = await charts(p, metrics); return x.total === 0 && x.lines[key]?.length === 1 ? x : null; },
        { timeout: 15000, what: 'the patches to leave the 5 s window' });
      assert.equal(d.rate.length, 5);
      assert.deepEqual(d.latency, []);
      assert.ok(d.held.rate <= 5 && d.held.latency <= 5 + 5 * 200, `held: ${JSON.stringify(d.held)}`);
      assert.deepEqual(d.lines[key], [[d.lines[key][0][0], 3.5]], 'the line keeps just the value it holds');
      assert.ok(Object.values(d.lines).every((pts) => pts.length === 1), `every line trimmed to one point: ${JSON.stringify(d.lines)}`);
      assert.equal(d.held.points, 9);
    } finally {
      await p.close();
    }
  });
});
