// tests/js/example.test.js — examples/node.mjs (what `make run` runs) prints true things
// (issue 9 point 4): the number of durable commits is a whole count of insertBatch calls (it
// printed N / 5000, "0.4 durable commits" for --n 2000), and the QPS table is timed only after
// an untimed warm-up pass (without one the first ef paid for JIT compilation and cold caches,
// and queries/s went non-monotonic in ef). Timings themselves are not asserted (they vary).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = path.join(ROOT, 'examples', 'node.mjs');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-example-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

function run(n) {
  const r = spawnSync(process.execPath, [EXAMPLE, '--n', String(n), '--dir', path.join(TMP, `run-${n}`)], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('examples/node.mjs reports a whole number of durable commits', () => {
  for (const [n, commits] of [[2000, '1 durable commit '], [7000, '2 durable commits ']]) {
    const out = run(n);
    const ingest = out.split('\n').find((l) => l.startsWith('ingested'));
    assert.ok(ingest, out);
    assert.ok(ingest.includes(`ingested ${n} vectors`), ingest);
    assert.ok(ingest.includes(commits), `${n}: ${ingest}`);
    assert.doesNotMatch(ingest, /\d\.\d+ durable commit/, ingest);
    assert.equal(out.split('\n').filter((l) => /^ef=\d+\s*: recall@10 [\d.]+ vs exact scan, \d+ queries\/s$/.test(l)).length, 3, out);
  }
});

test('examples/node.mjs warms up before timing the QPS table', () => {
  const src = fs.readFileSync(EXAMPLE, 'utf8');
  const loop = src.indexOf('for (const ef of [32, 64, 128])');
  assert.ok(loop > 0, 'the ef loop is there');
  const before = src.slice(src.indexOf('const recall ='), loop);
  // An untimed pass over the same queries, between the previous timing and the ef loop.
  const warm = before.lastIndexOf('for (const q of queries) await col.search(');
  assert.ok(warm > 0, 'a warm-up pass over the queries precedes the timed ef loop');
  assert.ok(!before.slice(warm).includes('performance.now()'), 'the warm-up is not timed');
});
