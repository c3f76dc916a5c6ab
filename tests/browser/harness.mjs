// harness.mjs — what the browser tests share: the real pglive binary as a child process, psql, headless chromium, polling.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const artifacts_dir = path.join(here, 'artifacts');

// The binary under test: PGLIVE_BINARY (set by CMake), else the default build directory. A missing
// binary is a failure with a clear message, never a skipped test.
export function pgliveBinary() {
  const bin = process.env.PGLIVE_BINARY || path.resolve(here, '../../build/pglive');
  if (!fs.existsSync(bin)) {
    throw new Error(`pglive binary not found at ${bin}: build it (make build) or set PGLIVE_BINARY to its path`);
  }
  return bin;
}

export const chromium_path = process.env.CHROMIUM || '/usr/bin/chromium';

// Polls `fn` until it returns a truthy value (returned), or throws after `timeout` ms saying
// what was awaited and what was last seen.
export async function until(fn, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let last_error;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last_error = e;
    }
    if (Date.now() > deadline) {
      const seen = last_error ? `last error: ${last_error.message}` : `last seen: ${JSON.stringify(last)?.slice(0, 600)}`;
      throw new Error(`timed out after ${timeout} ms waiting for ${what} (${seen})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// A running pglive process: its printed URLs, its output (for failure messages), stop/kill.
export class Pglive {
  constructor(args, { ready_timeout = 60000, name = args[0] } = {}) {
    this.args = args;
    this.name = name;
    this.ready_timeout = ready_timeout;
    this.output = [];
    this.url = null;
    this.db = null;
    this.admin_url = null;
    this.dashboard_url = null;
    this.exited = null;
  }

  static async start(args, opts) {
    const p = new Pglive(args, opts);
    await p.start_();
    return p;
  }

  tail(n = 40) { return this.output.slice(-n).join('\n'); }

  start_() {
    const bin = pgliveBinary();
    this.proc = spawn(bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    this.exited = null;
    const ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(
        `${this.name}: no "pglive: serving" line within ${this.ready_timeout} ms; output:\n${this.tail()}`)), this.ready_timeout);
      const on_line = (line) => {
        this.output.push(line);
        let m;
        if ((m = /^pglive: database (\S+)/.exec(line))) this.db = m[1];
        if ((m = /^pglive: admin view (\S+)/.exec(line))) this.admin_url = m[1];
        if ((m = /^pglive: dashboard (\S+)/.exec(line))) this.dashboard_url = m[1];
        if ((m = /^pglive: serving (http:\/\/\S+)/.exec(line))) {
          this.url = m[1].replace(/\/$/, '');
          clearTimeout(timer);
          resolve();
        }
      };
      for (const stream of [this.proc.stdout, this.proc.stderr]) {
        let buf = '';
        stream.setEncoding('utf8');
        stream.on('data', (d) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) { on_line(buf.slice(0, i)); buf = buf.slice(i + 1); }
        });
      }
      this.proc.on('error', (e) => { clearTimeout(timer); reject(new Error(`${this.name}: cannot run ${bin}: ${e.message}`)); });
      this.proc.on('exit', (code, signal) => {
        this.exited = { code, signal };
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${signal ?? code}) before it was ready; output:\n${this.tail()}`));
      });
    });
    return ready;
  }

  get port() { return Number(new URL(this.url).port); }

  // SIGKILL: a crash, nothing is cleaned up by the process.
  async kill() {
    if (!this.proc || this.exited) return;
    this.proc.kill('SIGKILL');
    await until(() => this.exited, { timeout: 10000, what: `${this.name} to die` });
  }

  // SIGTERM, then SIGKILL if it does not go within `timeout`.
  async stop(timeout = 20000) {
    if (!this.proc || this.exited) return;
    this.proc.kill('SIGTERM');
    try {
      await until(() => this.exited, { timeout, what: `${this.name} to stop` });
    } catch {
      this.proc.kill('SIGKILL');
      await until(() => this.exited, { timeout: 5000, what: `${this.name} to die` });
    }
  }
}

// Runs SQL with psql against `url`; resolves to its unaligned, tuples-only output.
export function psql(url, sql) {
  return new Promise((resolve, reject) => {
    execFile('psql', ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], { timeout: 30000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`psql failed on ${JSON.stringify(sql)}: ${stderr || err.message}`));
        else resolve(stdout.trim());
      });
  });
}

// Headless Debian chromium in a fresh profile, driven by playwright-core.
// `extra_args`: more chromium flags.
export async function launchBrowser({ extra_args = [], ...options } = {}) {
  if (!fs.existsSync(chromium_path)) {
    throw new Error(`chromium not found at ${chromium_path}: apt-get install -y chromium (make deps does it), or set CHROMIUM`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pglive-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromium_path,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra_args],
    viewport: { width: 1440, height: 900 },
    ...options,
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// A new page of `browser` (launchBrowser) at `url`, optionally sized, its uncaught errors
// pushed to `errors` so a suite can assert none happened.
export async function openPage(browser, url, { viewport, errors } = {}) {
  const p = await browser.context.newPage();
  if (viewport) await p.setViewportSize(viewport);
  if (errors) p.on('pageerror', (e) => errors.push(e.message));
  await p.goto(url);
  return p;
}

// What a live table shows: the rows that are not fading out, in order, as {key, col: text…}.
export function tableRows(page, topic) {
  return page.evaluate((topic) => {
    const card = document.querySelector(`.card[data-topic="${CSS.escape(topic)}"]`);
    if (!card) return null;
    return [...card.querySelectorAll('table.live tbody tr:not(.removed)')].map((tr) => {
      const row = { key: tr.dataset.key };
      for (const td of tr.querySelectorAll('td')) row[td.dataset.col] = td.title || td.textContent;
      return row;
    });
  }, topic);
}
