// tests/browser/demo.test.js — examples/browser.html, the demo page, in headless Chromium driven
// like a person would: click "Load sample set", fill the search form, read the results table.
//
// What it checks:
//   - the page says which build and backend it runs on: 'wasm-simd', and OPFS in a worker
//     (db.workers 1) when no backend is chosen;
//   - loading the sample set fills the collection with 5,000 documents;
//   - a filtered search (category + year $range) shows exactly the top-k of a brute-force cosine
//     scan computed here, in Node, over the same deterministic dataset (examples/demo-data.js),
//     in order, with the same scores;
//   - after page.reload() the page finds the collection in OPFS ("loaded from opfs"), the count
//     is still 5,000 and a search still matches the oracle;
//   - a second tab gets ELOCK and shows it as "open in another tab"; Clear empties the store;
//   - no console errors or page errors; a full-page screenshot lands in build/demo.png.
//
// Invariants: one browser per file; a fresh context per test (closed in finally); the oracle
// never reads what the page computed; no browser is ever downloaded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, useBrowser, within } from './harness.js';
import { generate, centroid, COUNT } from '../../examples/demo-data.js';

const DEMO = '/examples/browser.html';
const STEP_MS = 60_000;
const { docs } = generate();

let browser;
let server;

useBrowser((b, s) => { browser = b; server = s; });

/** Exact top-k by cosine (float64 over the stored float32 components), filtered. */
function oracle(q, k, { category, years }) {
  const qn = Math.sqrt(q.reduce((s, x) => s + x * x, 0));
  const hits = [];
  for (const d of docs) {
    if (category && d.category !== category) continue;
    if (years && (d.year < years[0] || d.year > years[1])) continue;
    let dot = 0;
    let nn = 0;
    for (let i = 0; i < q.length; i++) {
      dot += q[i] * d.vector[i];
      nn += d.vector[i] * d.vector[i];
    }
    hits.push({ id: d.id, score: dot / (qn * Math.sqrt(nn)), category: d.category, year: d.year, title: d.title });
  }
  return hits.sort((a, b) => b.score - a.score).slice(0, k);
}

async function openDemo(ctx) {
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console.error: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  const resp = await page.goto(server.url + DEMO);
  assert.equal(resp?.status(), 200);
  await waitReady(page);
  return { page, errors };
}

/** The page is open (or gave up with an error) and not busy. */
async function waitReady(page) {
  await within(STEP_MS, 'page ready', page.waitForSelector('#app[data-state="ready"]', { timeout: STEP_MS }));
}

const text = (page, sel) => page.locator(sel).textContent();

/** Fill the search form, click Search, and return the rows of the results table. */
async function search(page, { mode, doc, category, k, filterCategory, years }) {
  const seq = Number(await page.locator('#results').getAttribute('data-seq'));
  await page.click(`#qmode label:has(input[value=${mode}])`);
  if (mode === 'doc') await page.fill('#q-doc', String(doc));
  if (mode === 'centroid') await page.selectOption('#q-cat', category);
  await page.fill('#k', String(k));
  await page.selectOption('#f-cat', filterCategory ?? '');
  await page.fill('#y-from', String(years[0]));
  await page.fill('#y-to', String(years[1]));
  await page.click('#search');
  await within(STEP_MS, 'search results', page.waitForSelector(`#results[data-seq="${seq + 1}"]`, { timeout: STEP_MS }));
  await waitReady(page);
  assert.equal(await page.locator('#error').isHidden(), true, `error shown: ${await text(page, '#error')}`);
  return page.$$eval('#results tbody tr[data-id]', (trs) => trs.map((tr) => ({
    id: Number(tr.dataset.id),
    score: Number(tr.dataset.score),
    title: tr.cells[2].textContent,
    category: tr.cells[3].textContent.trim(),
    year: Number(tr.cells[4].textContent),
  })));
}

function assertMatchesOracle(rows, expected, what) {
  assert.ok(expected.length > 0, `${what}: the oracle found nothing (bad test parameters)`);
  assert.deepEqual(rows.map((r) => r.id), expected.map((e) => e.id), `${what}: ids and order differ from the brute force`);
  for (let i = 0; i < rows.length; i++) {
    assert.ok(Math.abs(rows[i].score - expected[i].score) < 1e-5, `${what}: score of ${rows[i].id}: ${rows[i].score} vs ${expected[i].score}`);
    assert.equal(rows[i].category, expected[i].category);
    assert.equal(rows[i].year, expected[i].year);
    assert.equal(rows[i].title, expected[i].title);
  }
}

test('demo page: build + backend shown, sample set loaded, filtered search exact, survives reload', { timeout: 240_000 }, async () => {
  const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  try {
    const { page, errors } = await openDemo(ctx);
    assert.equal(await text(page, '#build'), 'wasm-simd');
    assert.equal(await text(page, '#backend'), 'opfs');
    assert.equal(await text(page, '#workers'), '1', 'OPFS in a page runs its session in a worker');
    assert.equal(await text(page, '#rt-backend'), 'opfs');
    assert.equal(await page.locator('#count').getAttribute('data-count'), '0', 'a fresh context starts empty');

    await page.click('#load');
    await within(120_000, 'sample set loaded', page.waitForSelector(`#count[data-count="${COUNT}"]`, { timeout: 120_000 }));
    await waitReady(page);
    assert.equal(await page.locator('#error').isHidden(), true, `error shown: ${await text(page, '#error')}`);
    assert.match(await text(page, '#load-status'), /Inserted 5,000 documents in \d+(\.\d)? ms/);

    // a science document from the 2000s: its neighbours under the filter are its own topic
    const probe = docs.find((d) => d.id >= 100 && d.category === 'science' && d.year >= 2000 && d.year <= 2015);
    const q1 = { mode: 'doc', doc: probe.id, k: 10, filterCategory: 'science', years: [2000, 2015] };
    const rows = await search(page, q1);
    assertMatchesOracle(rows, oracle(probe.vector, 10, { category: 'science', years: [2000, 2015] }), 'filtered search');
    assert.equal(rows[0].id, probe.id, 'the query document is its own nearest neighbour');
    assert.ok(rows.every((r) => r.category === 'science' && r.year >= 2000 && r.year <= 2015));
    assert.match(await text(page, '#search-time'), /^\d+(\.\d)? ms$/);
    assert.match(await text(page, '#call'), /filter: \{ category: 'science', year: \{ \$range: \[2000, 2015\] \} \}/);

    fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'build/demo.png'), fullPage: true });

    await page.reload();
    await waitReady(page);
    assert.equal(await page.locator('#count').getAttribute('data-count'), String(COUNT), 'the count survives the reload');
    assert.match(await text(page, '#persist'), /Loaded 5,000 documents from opfs in \d+(\.\d)? ms/);
    assert.equal(await text(page, '#backend'), 'opfs');
    const q2 = { mode: 'centroid', category: 'music', k: 15, filterCategory: '', years: [1995, 2005] };
    assertMatchesOracle(await search(page, q2), oracle(centroid(docs, 'music'), 15, { years: [1995, 2005] }), 'search after reload');
    await page.screenshot({ path: path.join(ROOT, 'build/demo-reload.png'), fullPage: true });

    // A second tab of the same origin: the writer lease is held, the page says so.
    const p2 = await ctx.newPage();
    p2.on('pageerror', (e) => errors.push(`second tab pageerror: ${e.message}`));
    await p2.goto(server.url + DEMO);
    await waitReady(p2);
    assert.equal(await p2.locator('#error').getAttribute('data-code'), 'ELOCK');
    assert.match(await text(p2, '#error'), /open in another tab/);
    assert.equal(await p2.locator('#load').isDisabled(), true, 'nothing to load into without the lease');
    await p2.screenshot({ path: path.join(ROOT, 'build/demo-lock.png') });
    await p2.close();

    // Clear deletes the collection; a reload finds nothing.
    await page.click('#clear');
    await waitReady(page);
    assert.equal(await page.locator('#count').getAttribute('data-count'), '0');
    await page.reload();
    await waitReady(page);
    assert.equal(await page.locator('#count').getAttribute('data-count'), '0', 'Clear deleted it from OPFS');
    assert.equal(await page.locator('#error').isHidden(), true);

    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});

for (const backend of ['indexeddb', 'memory']) {
  test(`demo page with the ${backend} backend chosen: loads, searches exactly, and ${backend === 'memory' ? 'starts empty after a reload' : 'survives a reload'}`, { timeout: 240_000 }, async () => {
    const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    try {
      const { page, errors } = await openDemo(ctx);
      await page.selectOption('#backend-select', backend);
      await within(60_000, 'backend switched', page.waitForFunction((b) => document.querySelector('#backend')?.textContent.trim() === b, backend));
      await waitReady(page);
      assert.equal(await text(page, '#workers'), '0');
      await page.click('#load');
      await within(120_000, 'sample set loaded', page.waitForSelector(`#count[data-count="${COUNT}"]`, { timeout: 120_000 }));
      await waitReady(page);
      const probe = docs.find((d) => d.id >= 200 && d.category === 'travel');
      const q = { mode: 'doc', doc: probe.id, k: 10, filterCategory: 'travel', years: [1900, 2100] };
      assertMatchesOracle(await search(page, q), oracle(probe.vector, 10, { category: 'travel', years: [1900, 2100] }), `${backend} search`);
      await page.reload();
      await waitReady(page);
      assert.equal(await text(page, '#backend'), backend, 'the choice is remembered');
      assert.equal(await page.locator('#count').getAttribute('data-count'), backend === 'memory' ? '0' : String(COUNT));
      assert.deepEqual(errors, []);
    } finally {
      await ctx.close();
    }
  });
}
