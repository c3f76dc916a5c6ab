// cors.test.mjs — pages of another origin against the real pglive binary: REST with CORS (allowed and
// refused), a refused WebSocket that stops retrying and says why, and bigNumbers on real rows.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';

import { Pglive, psql, launchBrowser, until } from './harness.mjs';

const secret = 'cors-browser-test-secret';

function b64url(x) { return Buffer.from(x).toString('base64url'); }
function sign(claims) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }));
  const mac = crypto.createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${mac}`;
}

// A server of its own origin, serving one empty page (the tests evaluate their scripts in it).
async function page_server() {
  const s = http.createServer((req, res) => { res.setHeader('Content-Type', 'text/html'); res.end('<!doctype html><title>other origin</title>'); });
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { server: s, origin: `http://127.0.0.1:${s.address().port}` };
}

describe('pages of another origin', () => {
  let demo, serve, browser, allowed, refused;
  const token = sign({ sub: 'cors-test', topics: ['*'], publish: true, admin: true });

  before(async () => {
    allowed = await page_server();
    refused = await page_server();
    demo = await Pglive.start(['demo', '--listen', '127.0.0.1:0', '--traffic', '0'], { name: 'pglive demo' });
    await psql(demo.db, `CREATE TABLE public.big (id int PRIMARY KEY, b bigint, n numeric);
      INSERT INTO public.big VALUES (1, 9007199254740993, 12345678901234567890.123456789)`);
    serve = await Pglive.start(['serve', '--db', demo.db, '--listen', '127.0.0.1:0', '--anonymous-topics', 'public.*',
      '--token-secret', secret, '--allowed-origins', allowed.origin], { name: 'pglive serve' });
    const res = await fetch(`${serve.url}/api/admin/attach`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ table: 'public.big' }),
    });
    assert.equal(res.status, 200, `attach public.big: ${await res.text()}`);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    await demo?.stop();
    allowed?.server.close();
    refused?.server.close();
  });

  async function open(origin) {
    const p = await browser.context.newPage();
    await p.goto(`${origin}/`);
    return p;
  }

  test('an allowed origin reads ordered rows and publishes with a token', async () => {
    const p = await open(allowed.origin);
    try {
      const got = await p.evaluate(async ({ base, token }) => {
        const auth = { Authorization: `Bearer ${token}` };
        const rows = await fetch(`${base}/api/topics/public.orders/rows?order=id.desc&limit=3&form=list`, { headers: auth });
        const keyed = await fetch(`${base}/api/topics/public.orders/rows?order=id.desc&limit=3`, { headers: auth });
        const pub = await fetch(`${base}/api/publish`, {
          method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ topic: 'alerts', data: { from: location.origin } }),
        });
        return { rows_status: rows.status, rows: await rows.json(), keyed: await keyed.json(), pub_status: pub.status, pub: await pub.json() };
      }, { base: serve.url, token });
      assert.equal(got.rows_status, 200, JSON.stringify(got.rows));
      const want = JSON.parse(await psql(demo.db, 'SELECT json_agg(id ORDER BY id DESC) FROM (SELECT id FROM public.orders ORDER BY id DESC LIMIT 3) o'));
      assert.deepEqual(got.rows.rows.map((r) => r.id), want, 'the list is in the window\'s order');
      assert.equal(typeof got.rows.pos, 'string');
      assert.deepEqual(Object.keys(got.keyed.rows).sort(), want.map(String).sort(), 'the keyed form is still the default');
      assert.equal(got.pub_status, 200, JSON.stringify(got.pub));
      assert.equal(got.pub.published, true);
    } finally {
      await p.close();
    }
  });

  test('a refused origin is told why: readable 403 naming the origin and allowed_origins', async () => {
    const p = await open(refused.origin);
    try {
      const got = await p.evaluate(async ({ base, token }) => {
        // A simple request (no preflight): the 403 is readable.
        const r = await fetch(`${base}/api/topics/public.orders/rows?token=${token}`);
        // With Authorization the preflight itself is refused: fetch rejects.
        let rejected = null;
        try {
          await fetch(`${base}/api/publish`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
        } catch (e) { rejected = e.name; }
        return { status: r.status, body: await r.json(), rejected };
      }, { base: serve.url, token });
      assert.equal(got.status, 403);
      assert.equal(got.body.error, 'forbidden');
      assert.match(got.body.message, new RegExp(`origin ${refused.origin} .*allowed_origins`));
      assert.equal(got.rejected, 'TypeError');
    } finally {
      await p.close();
    }
  });

  test('a refused WebSocket retries a bounded number of times, then reports and stops', async () => {
    const p = await open(refused.origin);
    try {
      await p.evaluate(async (base) => {
        const { connect } = await import(`${base}/pglive.js`);
        window.__errors = [];
        window.__client = connect({ url: base, transports: ['ws'], refusedRetries: 2, backoff_initial_ms: 20, backoff_max_ms: 40 });
        window.__client.on('error', (e) => window.__errors.push({ code: e.code, message: e.message, final: !!e.final }));
        window.__client.subscribe('public.orders');
      }, serve.url);
      const errors = await until(async () => {
        const e = await p.evaluate(() => window.__errors);
        return e.some((x) => x.final) && e;
      }, { what: 'the final origin_refused error', timeout: 20000 });
      const refusals = errors.filter((e) => e.code === 'origin_refused');
      assert.equal(refusals.length, 3, JSON.stringify(errors));
      const last = refusals[refusals.length - 1];
      assert.ok(last.final);
      assert.ok(last.message.includes(refused.origin) && last.message.includes('allowed_origins'), last.message);
      assert.equal(await p.evaluate(() => window.__client.state), 'closed');
      assert.equal(await p.evaluate(() => window.__client.lastError.code), 'origin_refused');
      // The server said so once, however often the page tried.
      const lines = serve.output.filter((l) => l.includes(`refused a request from origin "${refused.origin}"`));
      assert.equal(lines.length, 1, serve.tail());
      assert.match(lines[0], /allowed_origins/);
    } finally {
      await p.close();
    }
  });

  test('a server that cannot be reached is retried for ever, not given up on', async () => {
    const gone = http.createServer();
    await new Promise((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${gone.address().port}`;
    await new Promise((resolve) => gone.close(resolve));
    const p = await open(allowed.origin);
    try {
      await p.evaluate(async ({ base, dead }) => {
        const { connect } = await import(`${base}/pglive.js`);
        window.__errors = [];
        window.__client = connect({ url: dead, transports: ['ws'], refusedRetries: 1, backoff_initial_ms: 10, backoff_max_ms: 20, logErrors: false });
        window.__client.on('error', (e) => window.__errors.push({ code: e.code, final: !!e.final }));
      }, { base: serve.url, dead: url });
      await until(() => p.evaluate(() => window.__errors.length >= 4), { what: 'four failed attempts', timeout: 20000 });
      const errors = await p.evaluate(() => window.__errors);
      assert.ok(errors.every((e) => e.code === 'connect_failed' && !e.final), JSON.stringify(errors));
      assert.notEqual(await p.evaluate(() => window.__client.state), 'closed');
      await p.evaluate(() => window.__client.close());
    } finally {
      await p.close();
    }
  });

  test('bigNumbers keeps every digit of bigint and numeric rows; the default is unchanged', async () => {
    const p = await open(allowed.origin);
    try {
      const got = await p.evaluate(async (base) => {
        const { connect } = await import(`${base}/pglive.js`);
        const read = (bigNumbers) => new Promise((resolve) => {
          const c = connect({ url: base, bigNumbers });
          c.subscribe('public.big', { onChange(rows) { resolve(rows['1']); c.close(); } });
        });
        const s = await read('string'), b = await read('bigint'), d = await read(undefined);
        return {
          s_b: s.b, s_n: s.n, b_b_type: typeof b.b, b_b: String(b.b), b_n: b.n, d_b_type: typeof d.b, d_b: String(d.b),
          d_b_exact: d.b === 9007199254740992,
        };
      }, serve.url);
      assert.equal(got.s_b, '9007199254740993');
      assert.equal(got.s_n, '12345678901234567890.123456789');
      assert.equal(got.b_b_type, 'bigint');
      assert.equal(got.b_b, '9007199254740993');
      assert.equal(got.b_n, '12345678901234567890.123456789');
      assert.equal(got.d_b_type, 'number', 'without the option numbers stay JavaScript numbers');
      assert.ok(got.d_b_exact, `the default rounds as JSON.parse does: ${got.d_b}`);
    } finally {
      await p.close();
    }
  });
});
