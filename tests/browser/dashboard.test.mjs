// dashboard.test.mjs — issue 13 in headless chromium against pglive demo: what the page says (database
// link, capture lag, row counts), narrow screens, long cells, time formats, sorting, keyboard; the
// React hook and the TypeScript declarations; last, PostgreSQL stopped under a running page.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Pglive, psql, launchBrowser, until, tableRows } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const card = (topic) => `.card[data-topic="${topic}"]`;

describe('dashboard (issue 13)', () => {
  let demo;
  let browser;
  const page_errors = [];
  const open = async (url, viewport) => {
    const p = await browser.context.newPage();
    if (viewport) await p.setViewportSize(viewport);
    p.on('pageerror', (e) => page_errors.push(e.message));
    await p.goto(url);
    return p;
  };

  before(async () => {
    demo = await Pglive.start(['demo', '--listen', '127.0.0.1:0', '--traffic', '0'], { name: 'pglive demo' });
    assert.ok(demo.db && demo.admin_url, `pglive demo printed no database or admin line:\n${demo.tail()}`);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  // Last: it stops the demo's PostgreSQL for good.
  test('PostgreSQL stopped: the status bar turns red and the admin view says the database is unavailable', async () => {
    const p = await open(demo.admin_url);
    try {
      await p.locator('#adm-tables tr[data-topic="public.orders"]').waitFor({ timeout: 10000 });
      await until(() => p.evaluate(() => document.querySelector('#db').dataset.state === 'up'), { what: 'database ok' });
      assert.equal(await p.locator('#db-text').textContent(), 'database ok');
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
      assert.equal(look.text, 'database down');
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
