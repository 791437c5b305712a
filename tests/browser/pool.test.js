// tests/browser/pool.test.js — the worker pool (createDatabase({ workers: n }), worker/pool.js)
// in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; the browser
// analogue of tests/js/pool.test.js). The pool runs worker/host.js in module Web Workers started
// from the page's main thread: one writer session and one read replica.
//
// What it checks, each in the page by pages/pool-check.js against oracles computed there (the
// exact brute force of pages/oracle.js, the rows it inserted, an in-thread database):
//   (a) getWasmInfo().workerPoolSize === 2 and db.workers === 2; after each resolved insert, four
//       consecutive count() calls and four get() calls (round robin: both sessions serve some)
//       see the row;
//   (b) searchBatch of 20 queries on a flat euclidean collection of 300 rows is the exact
//       brute-force top-k and deep-equals an in-thread database's answer; the queries are split
//       over both sessions;
//   (c) clients[1].kill() with 10 searchBatch calls in flight: all settle within 1 s, failures
//       are VecliteError EBACKEND; within 2 s the pool has 2 live workers again, and counts and
//       searches are exact, the new replica serving some of them;
//   (d) clients[0].kill() with writes in flight: they settle within 1 s (failures EBACKEND), the
//       next insert succeeds and every acknowledged row is still there;
//   (e) after every check, db.close() brings workerPoolSize back to 0 (asserted in each test).
// Every test also asserts that the page logged no console error/warning and no page error, and
// that /worker/host.js was served 200 with a JavaScript MIME type.
//
// Invariants: one browser per file (before/after), one fresh context per test (closed in finally);
// tools/serve.mjs serves the repo on a random 127.0.0.1 port; no browser is ever downloaded — a
// missing /usr/bin/chromium FAILS every test with a hint to run tools/ensure-deps.sh.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JS_MIME, PAGE, assertServed, useBrowser, watchPage, within } from './harness.js';

const STEP_MS = 30_000;

let browser;
let server;

useBrowser((b, s) => { browser = b; server = s; });


/** A fresh context + page on the test page, recording console errors, page errors, responses and workers. */
async function openPage() {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const { log, note } = watchPage(page);
  const resp = await page.goto(server.url + PAGE);
  assert.equal(resp?.status(), 200, `GET ${PAGE}`);
  return { ctx, page, log, note };
}

/** Run one export of pages/pool-check.js in the page with the module namespace of /web/index.js. */
function poolCheck(page, name, params = {}) {
  return within(STEP_MS, `${name} in page`, page.evaluate(async ({ name, params }) => {
    const veclite = await import('/web/index.js');
    const checks = await import('/tests/browser/pages/pool-check.js');
    return checks[name](veclite, params);
  }, { name, params }));
}

/** Run a check in a fresh page and make the assertions every pool test shares. */
async function runInPage(name, judge) {
  const { ctx, page, log, note } = await openPage();
  try {
    const f = await poolCheck(page, name);
    const facts = () => `\nfacts: ${JSON.stringify({ ...f, problems: undefined })}${note()}`;
    assert.deepEqual(f.problems, [], `${name}: problems found in the page${facts()}`);
    assert.equal(f.poolSizeBefore, 0, `getWasmInfo().workerPoolSize before createDatabase${facts()}`);
    assert.equal(f.dbWorkers, 2, `db.workers${facts()}`);
    assert.equal(f.poolSizeOpen, 2, `getWasmInfo().workerPoolSize with { workers: 2 } open${facts()}`);
    assert.equal(f.hasPool, true, `db[Symbol.for('veclite.pool')] is the Pool${facts()}`);
    assert.equal(f.clientsOpen, 2, `pool.clients.length${facts()}`);
    // (e) close() stops every worker of the pool
    assert.equal(f.poolSizeAfterClose, 0, `getWasmInfo().workerPoolSize after db.close()${facts()}`);
    assert.equal(f.poolWorkersAfterClose, 0, `pool.workers after db.close()${facts()}`);
    judge(f, facts);
    assertServed(log, '/worker/host.js', JS_MIME);
    assert.ok(log.workers.length >= 2 && log.workers.every((p) => p === '/worker/host.js'),
      `the pool's Workers run /worker/host.js: ${JSON.stringify(log.workers)}`);
    assert.deepEqual(log.errors, [], `the page logged errors${facts()}`);
    return { f, log };
  } finally {
    await ctx.close();
  }
}

test('(a) workers:2 in the page: two Web Workers; every read after a resolved insert sees it, on both sessions', { timeout: 60_000 }, async () => {
  await runInPage('checkReadsFollowWrites', (f, facts) => {
    assert.equal(f.reads, 40 * 8, `reads made${facts()}`);
    const [writer, replica] = f.served;
    assert.ok(writer.count > 0 && replica.count > 0, `count() served by both sessions${facts()}`);
    assert.ok(writer.get > 0 && replica.get > 0, `get() served by both sessions${facts()}`);
    assert.equal(writer.insert, 40, `every insert went to the writer${facts()}`);
    assert.equal(replica.insert, 0, `no insert went to the replica${facts()}`);
    assert.equal(replica.apply, 40, `the replica was sent every commit${facts()}`);
  });
});

test('(b) searchBatch over the pool = exact brute force = in-thread database, split over both sessions', { timeout: 60_000 }, async () => {
  await runInPage('checkSearchBatch', (f, facts) => {
    assert.equal(f.inserted, 300, `insertBatch() return value${facts()}`);
    assert.equal(f.judged, 40, `result rows judged${facts()}`);
    assert.ok(f.searchCalls[0] >= 2 && f.searchCalls[1] >= 2, `each searchBatch was split over writer and replica${facts()}`);
  });
});

test('(c) a replica killed with searchBatch calls in flight: EBACKEND within 1 s, replaced, exact again', { timeout: 60_000 }, async () => {
  const { log } = await runInPage('checkReplicaKill', (f, facts) => {
    assert.ok(f.victimPendingAtKill > 0, `the replica held calls when it was killed${facts()}`);
    assert.equal(f.victimAliveAfterKill, false, `kill() marks the client dead${facts()}`);
    assert.ok(f.settleMs < 1000, `settled in ${f.settleMs} ms${facts()}`);
    assert.ok(f.rejected >= 1, `the calls the replica held rejected${facts()}`);
    assert.equal(f.rejected + f.fulfilled, 10, `all 10 calls settled${facts()}`);
    for (const r of f.rejections) assert.match(r.message, /replica 1.*stopped/, `rejection message${facts()}`);
    assert.equal(f.replaced, true, `clients[1] is a new WorkerClient${facts()}`);
    assert.equal(f.workersAfter, 2, `pool.workers after the replacement${facts()}`);
    assert.equal(f.poolSizeAfterKill, 2, `getWasmInfo().workerPoolSize after the replacement${facts()}`);
    assert.ok(f.newReplicaServedCount > 0, `the new replica serves reads${facts()}`);
  });
  assert.ok(log.workers.length >= 3, `a third Worker was started: ${JSON.stringify(log.workers)}`);
});

test('(d) the writer killed with writes in flight: EBACKEND within 1 s, next insert succeeds, nothing acknowledged lost', { timeout: 60_000 }, async () => {
  const { log } = await runInPage('checkWriterKill', (f, facts) => {
    assert.ok(f.writerPendingAtKill > 0, `the writer held writes when it was killed${facts()}`);
    assert.ok(f.settleMs < 1000, `settled in ${f.settleMs} ms${facts()}`);
    assert.equal(f.rejected + f.fulfilled, 20, `all 20 writes settled${facts()}`);
    assert.ok(f.rejected >= 1, `the writes the writer held rejected${facts()}`);
    assert.equal(f.writerReplaced, true, `clients[0] is a new WorkerClient${facts()}`);
    assert.ok(f.acked >= 51, `acknowledged rows${facts()}`);
    assert.equal(f.workersAfter, 2, `pool.workers after the replacement${facts()}`);
  });
  assert.ok(log.workers.length >= 3, `a new writer Worker was started: ${JSON.stringify(log.workers)}`);
});
