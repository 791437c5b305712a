// tests/js/cli-toolbox.test.js — `veclite kmeans` and `veclite similarity` (web/cli/toolbox.js,
// docs/cli.md), run in-process through main() on a store of the committed dataset: the JSON
// document against the public API's result for the same store, the similarity scores against a
// float64 oracle, exit codes and the --json error line, and the stderr note (terminal only).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../web/cli/main.js';
import { kmeans, openCollection } from '../../web/index.js';
import { BASE, DIM, dist64 } from './helpers.js';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-cli-toolbox-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));
const FILE = path.join(ROOT, 's.rvf');
const N = 500;

/** Run main() with captured streams. */
async function run(argv, { tty = false } = {}) {
  let stdout = '', stderr = '';
  const io = {
    stdout: { write: (s) => { stdout += s; } },
    stderr: { write: (s) => { stderr += s; }, isTTY: tty, columns: 80 },
    env: {},
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

test('setup: a euclidean store of 500 rows', async () => {
  const col = await openCollection(FILE, { create: { dimension: DIM, metric: 'euclidean' } });
  await col.insertBatch(BASE.slice(0, N).map((vector, id) => ({ id, vector })));
  await col.close();
});

test('veclite kmeans --json: the API result for the store, one JSON line, nothing on stderr', async () => {
  const r = await run(['kmeans', FILE, '--k', '7', '--seed', '11', '--json', '--assignments']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.trim().split('\n').length, 1);
  const doc = JSON.parse(r.stdout);
  const col = await openCollection(FILE, { readOnly: true });
  const want = await col.kmeans(7, { seed: 11 });
  await col.close();
  assert.equal(doc.k, 7);
  assert.equal(doc.vectors, N);
  assert.equal(doc.metric, 'euclidean');
  assert.equal(doc.inertia, want.inertia);
  assert.equal(doc.iterations, want.iterations);
  assert.deepEqual(doc.sizes, Array.from(want.sizes));
  assert.equal(doc.sizes.reduce((a, b) => a + b, 0), N);
  assert.deepEqual(doc.centroids.flat(), Array.from(want.centroids));
  assert.deepEqual(doc.assignments.map((a) => a.cluster), Array.from(want.assignments));
  assert.deepEqual(doc.assignments.map((a) => a.id), want.ids);
});

test('veclite kmeans on a data file (.fvecs, .json): kmeans() of its vectors, ids are row numbers', async () => {
  const fvecs = new URL('../data/base-2000x32.fvecs', import.meta.url).pathname;
  const r = await run(['kmeans', fvecs, '--k', '9', '--seed', '4', '--json', '--assignments']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  const want = await kmeans(BASE, 9, { seed: 4 });
  assert.equal(doc.vectors, BASE.length);
  assert.equal(doc.metric, 'euclidean');
  assert.equal(doc.inertia, want.inertia);
  assert.deepEqual(doc.centroids.flat(), Array.from(want.centroids));
  assert.deepEqual(doc.assignments.map((a) => a.id), BASE.map((_, i) => i));
  assert.deepEqual(doc.assignments.map((a) => a.cluster), Array.from(want.assignments));
  const json = path.join(ROOT, 'v.json');
  fs.writeFileSync(json, JSON.stringify([[1, 0], [1, 0.1], [0, 3], [0.1, 3]]));
  const j = JSON.parse((await run(['kmeans', json, '--k', '2', '--metric', 'cosine', '--json', '--assignments'])).stdout);
  assert.equal(j.metric, 'cosine');
  assert.deepEqual(j.sizes, [2, 2]);
  const [a, b, c, d] = j.assignments.map((x) => x.cluster);
  assert.ok(a === b && c === d && a !== c);
  fs.writeFileSync(json, JSON.stringify([[0, 0], [1, 1]]));
  const zero = await run(['kmeans', json, '--k', '1', '--metric', 'cosine', '--json']);
  assert.equal(zero.code, 1);
  assert.match(JSON.parse(zero.stdout).error.message, /all zeros/);
});

test('veclite kmeans: text summary and sizes; a note on a terminal only, erased', async () => {
  const r = await run(['kmeans', FILE, '--k', '4', '--metric', 'cosine', '--init', 'random'], { tty: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^k-means of 500 vectors \(dimension 32, cosine\) into 4 clusters: inertia [\d,.]+ \(sum of 1 - cos\)/);
  const sizes = r.stdout.trim().split('\n').slice(2).map((l) => Number(l.trim().split(/\s+/)[1]));
  assert.equal(sizes.length, 4);
  assert.equal(sizes.reduce((a, b) => a + b, 0), N);
  assert.match(r.stderr, /^\rkmeans: clustering 500 vectors .*\x1b\[K\r\x1b\[K$/);
  const quiet = await run(['kmeans', FILE, '--k', '4', '--no-progress'], { tty: true });
  assert.equal(quiet.stderr, '');
});

test('veclite kmeans: usage errors exit 2, engine refusals exit 1 with the --json error line', async () => {
  for (const argv of [['kmeans', FILE], ['kmeans', FILE, '--k', '0'], ['kmeans', FILE, '--k', '2', '--init', 'best'],
    ['kmeans', FILE, '--k', '2', '--metric', 'dotProduct'], ['kmeans', FILE, '--k', 'x']]) {
    const r = await run([...argv, '--json']);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(JSON.parse(r.stdout).error.code, 'EUSAGE');
  }
  const big = await run(['kmeans', FILE, '--k', '501', '--json']);
  assert.equal(big.code, 1);
  assert.equal(JSON.parse(big.stdout).error.code, 'EINVAL');
  assert.match(big.stderr, /^veclite: EINVAL: kmeans: k = 501 is more than the 500 vectors/);
  const missing = await run(['kmeans', path.join(ROOT, 'nope.rvf'), '--k', '2']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ENOTFOUND/);
});

test('veclite similarity: scores of stored ids against a float64 oracle; absent ids are ENOTFOUND', async () => {
  const r = await run(['similarity', FILE, '3', '7', '11', '--with', '0,1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.rows, [3, 7, 11]);
  assert.deepEqual(doc.columns, [0, 1]);
  doc.rows.forEach((a, i) => doc.columns.forEach((b, j) => {
    const want = 1 / (1 + dist64('euclidean', BASE[a], BASE[b]));
    assert.ok(Math.abs(doc.scores[i][j] - want) <= 1e-6 * want + 1e-7, `${a},${b}: ${doc.scores[i][j]} vs ${want}`);
  }));
  const self = JSON.parse((await run(['similarity', FILE, '5', '6', '--json'])).stdout);
  assert.equal(self.scores[0][0], 1);
  assert.equal(self.scores[0][1], self.scores[1][0]);
  const text = await run(['similarity', FILE, '5', '6']);
  assert.match(text.stdout, /^scores \(euclidean; higher is more similar\):\n/);
  const absent = await run(['similarity', FILE, '5', '99999', '--json']);
  assert.equal(absent.code, 1);
  assert.equal(JSON.parse(absent.stdout).error.code, 'ENOTFOUND');
  const usage = await run(['similarity', FILE, '5', '--with', '1,,2']);
  assert.equal(usage.code, 2);
});
