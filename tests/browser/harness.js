// tests/browser/harness.js — what every headless-Chromium test file shares: Debian's
// /usr/bin/chromium with the flags that work in this sandbox, tools/serve.mjs serving the
// repository, and a timeout wrapper so a step fails with a message instead of hanging.
//
// Invariants: never downloads a browser (a missing /usr/bin/chromium fails with a hint); every
// built file the pages load must exist first.

import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../tools/serve.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const PAGE = '/tests/browser/pages/index.html';
const BUILT = ['web/index.js', 'worker/host.js', 'pkg/veclite.mjs', 'pkg/veclite.wasm', 'pkg-simd/veclite.mjs', 'pkg-simd/veclite.wasm'];

/**
 * Check the prerequisites, start the server and launch the browser.
 * @returns {Promise<{ browser: import('playwright-core').Browser, server: { url: string, close(): Promise<void> } }>}
 */
export async function startBrowser() {
  assert.ok(existsSync(CHROMIUM),
    `${CHROMIUM} not found: run tools/ensure-deps.sh (it installs Debian's chromium; these tests never download a browser)`);
  for (const f of BUILT) assert.ok(existsSync(path.join(ROOT, f)), `${f} is missing: run \`make build\` first`);
  const server = await startServer(ROOT);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 20_000 });
  return { browser, server };
}

/** A promise that rejects with a clear message instead of hanging. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A page of a context on the blank test page, recording console errors and warnings, page errors,
 * and the highest `acked <n>` a step logged (how far an interrupted ingest got).
 * @returns {Promise<{ page: import('playwright-core').Page, log: { errors: string[], warnings: string[], acked: number } }>}
 */
/**
 * fn(ctx) in a fresh browser context, closed afterwards whatever happens; with webLocks: false
 * its pages have no navigator.locks (the lease then rests on its IndexedDB record alone).
 */
export async function withContext(browser, fn, { webLocks = true } = {}) {
  const ctx = await browser.newContext();
  try {
    if (!webLocks) {
      await ctx.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true }); });
    }
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export async function newPage(ctx, server) {
  const page = await ctx.newPage();
  const log = { errors: [], warnings: [], acked: 0 };
  page.on('console', (m) => {
    const t = m.text();
    const a = /^acked (\d+)$/.exec(t);
    if (a) log.acked = Math.max(log.acked, Number(a[1]));
    else if (m.type() === 'error') log.errors.push(`console.error: ${t}`);
    else if (m.type() === 'warning') log.warnings.push(t);
  });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  const resp = await page.goto(server.url + PAGE);
  assert.equal(resp?.status(), 200, `GET ${PAGE}`);
  return { page, log };
}

/**
 * Record what a page does: console errors and warnings and page errors (log.errors), every
 * response's path, status and Content-Type (log.responses), the path of every Worker it starts
 * (log.workers). note() renders log.errors for an assertion message ('' when there are none).
 * @returns {{ log: { errors: string[], responses: { path: string, status: number, type: string }[], workers: string[] }, note: () => string }}
 */
export function watchPage(page) {
  const log = { errors: [], responses: [], workers: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.errors.push(`console.${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('worker', (w) => log.workers.push(new URL(w.url()).pathname));
  page.on('response', (r) => log.responses.push({
    path: new URL(r.url()).pathname, status: r.status(), type: r.headers()['content-type'] ?? '',
  }));
  const note = () => (log.errors.length ? `\npage log:\n  ${log.errors.join('\n  ')}` : '');
  return { log, note };
}

/** A JavaScript MIME type, as module scripts and module Workers require. */
export const JS_MIME = /^(text|application)\/javascript\b/;

/** `file` was fetched (a watchPage log), and every time with status 200 and a Content-Type matching `type`. */
export function assertServed(log, file, type) {
  const rs = log.responses.filter((r) => r.path === file);
  assert.ok(rs.length >= 1, `${file} was fetched: ${JSON.stringify(log.responses.map((r) => r.path))}`);
  for (const r of rs) {
    assert.equal(r.status, 200, `${file} status: ${JSON.stringify(r)}`);
    assert.match(r.type, type, `${file} MIME type: ${JSON.stringify(r)}`);
  }
}

/**
 * Start the server and the browser before a file's tests and close both after them;
 * onReady(browser, server) hands them to the file.
 */
export function useBrowser(onReady) {
  let b, s;
  before(async () => {
    ({ browser: b, server: s } = await startBrowser());
    onReady(b, s);
  });
  after(async () => {
    await b?.close();
    await s?.close();
  });
}
