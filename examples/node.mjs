// examples/node.mjs — veclite's main job end to end, in Node (what `make run` runs).
//
// Builds a deterministic "document embedding" dataset (20,000 clustered
// 128-dimensional vectors with a category and a year each), creates a store on
// disk (one .rvf file per collection), ingests the dataset, runs plain, filtered
// and batch searches, checks the answers against an exact brute-force scan,
// updates and deletes a row, closes the store, reopens it (the HNSW graph is
// loaded from the file, not rebuilt) and queries again, checking the answers
// are identical. Finally it opens the same files with a worker pool (one writer
// and one read replica, each in its own thread): a write made there is visible
// on both, and a searchBatch split over the two gives the same answers as in
// this thread. Prints what happened with timings. Public API only.
//
//   node examples/node.mjs [--n 20000] [--dim 128] [--simd=false] [--dir DIR]
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createDatabase, getImplementation, getWasmInfo } from '../web/index.js';
import { rng } from './demo-data.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return dflt;
  const a = args[i];
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[i + 1];
};
const N = Number(opt('n', 20000));
const DIM = Number(opt('dim', 128));
const simdOpt = opt('simd', undefined);
const DIR = opt('dir', fileURLToPath(new URL('../build/run-data', import.meta.url)));
const CATEGORIES = ['news', 'sports', 'science', 'travel', 'food', 'music', 'film', 'health'];

// --- deterministic data: mulberry32 PRNG (the browser demo's), Gaussian clusters ---
const rand = rng(20261121);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const centers = Array.from({ length: 64 }, () => Float32Array.from({ length: DIM }, gauss));
function makeVector() {
  const c = centers[Math.floor(rand() * centers.length)];
  return Float32Array.from(c, (x) => x + 0.35 * gauss());
}
const docs = Array.from({ length: N }, (_, i) => ({
  id: `doc-${i}`,
  vector: makeVector(),
  metadata: { category: CATEGORIES[i % CATEGORIES.length], year: 1990 + (i % 35), title: `Document ${i}` },
}));
const queries = Array.from({ length: 200 }, makeVector);

// --- exact oracle (cosine, float64) ------------------------------------------
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const norms = docs.map((d) => norm(d.vector));
function exactTop(q, k, pred = () => true) {
  const qn = norm(q);
  const scored = [];
  for (let i = 0; i < docs.length; i++) {
    if (!pred(docs[i].metadata)) continue;
    let dot = 0;
    const v = docs[i].vector;
    for (let j = 0; j < DIM; j++) dot += q[j] * v[j];
    scored.push([docs[i].id, dot / (qn * norms[i])]);
  }
  scored.sort((a, b) => b[1] - a[1]);
  return scored.slice(0, k).map((x) => x[0]);
}
const recall = (got, want) => got.filter((id) => want.includes(id)).length / want.length;

const ms = (t0) => (performance.now() - t0).toFixed(1);
const line = (s = '') => console.log(s);

// --- the job -------------------------------------------------------------------
let t0 = performance.now();
rmSync(DIR, { recursive: true, force: true });          // a fresh store each run
const engineOpts = simdOpt === undefined ? {} : { simd: simdOpt !== 'false' };
const db = await createDatabase({ path: DIR, ...engineOpts });
const info = getWasmInfo();
line(`veclite — engine ${getImplementation()} (SIMD supported: ${info.simdSupported}, enabled: ${info.simdEnabled}), loaded in ${ms(t0)} ms`);

const col = await db.createCollection('documents', {
  dimension: DIM,
  metric: 'cosine',
  index: { type: 'hnsw', m: 16, efConstruction: 200, seed: 42 },
});
line(`created collection "documents" in ${DIR}/documents.rvf: ${DIM} dims, cosine, HNSW M=16 efConstruction=200`);

t0 = performance.now();
const BATCH = 5000;
let commits = 0; // one durable commit per insertBatch call (the last batch may be short)
for (let i = 0; i < docs.length; i += BATCH) {
  await col.insertBatch(docs.slice(i, i + BATCH));
  commits++;
}
const ingestMs = performance.now() - t0;
line(`ingested ${await col.count()} vectors in ${ingestMs.toFixed(0)} ms (${Math.round(N / (ingestMs / 1000))} vectors/s, ` +
  `${commits} durable commit${commits === 1 ? '' : 's'} of up to ${BATCH} vectors)`);

// One query, shown in full.
const q0 = queries[0];
t0 = performance.now();
const hits = await col.search(q0, { k: 5 });
line(`\nquery 1 (k=5) answered in ${ms(t0)} ms:`);
for (const h of hits) line(`  ${h.id.padEnd(10)} score ${h.score.toFixed(4)}  ${h.metadata.category.padEnd(8)} ${h.metadata.year}  "${h.metadata.title}"`);

// Recall and throughput over 200 queries against the exact oracle. A warm-up pass first (untimed):
// the first searches also pay for JIT compilation and cold caches, which made the smallest ef
// look slower than larger ones.
for (const q of queries) await col.search(q, { k: 10, ef: 128, includeMetadata: false });
for (const ef of [32, 64, 128]) {
  let r = 0;
  t0 = performance.now();
  const results = [];
  for (const q of queries) results.push(await col.search(q, { k: 10, ef, includeMetadata: false }));
  const el = performance.now() - t0;
  queries.forEach((q, i) => { r += recall(results[i].map((h) => h.id), exactTop(q, 10)); });
  line(`ef=${String(ef).padEnd(3)}: recall@10 ${(r / queries.length).toFixed(3)} vs exact scan, ${Math.round(queries.length / (el / 1000))} queries/s`);
}

// Filtered search: evaluated inside the graph traversal.
const filter = { category: 'science', year: { $range: [2000, 2009] } };
const pred = (m) => m.category === 'science' && m.year >= 2000 && m.year <= 2009;
const matching = docs.filter((d) => pred(d.metadata)).length;
t0 = performance.now();
const fh = await col.search(q0, { k: 10, filter });
line(`\nfiltered query {category:'science', year 2000..2009} (${matching} of ${N} match): ${fh.length} hits in ${ms(t0)} ms, ` +
  `all match: ${fh.every((h) => pred(h.metadata))}, recall@10 ${recall(fh.map((h) => h.id), exactTop(q0, 10, pred)).toFixed(2)}`);

// Batch search.
t0 = performance.now();
const batch = await col.searchBatch(queries.slice(0, 100), { k: 10, includeMetadata: false });
line(`searchBatch of ${batch.length} queries in ${ms(t0)} ms`);

// Update and delete.
const top = hits[0].id;
await col.update(top, { metadata: { category: 'archived', year: 1970, title: 'moved' } });
const after = await col.get(top);
line(`\nupdated ${top}: metadata now ${JSON.stringify(after.metadata)}`);
await col.delete(top);
const again = await col.search(q0, { k: 5 });
line(`deleted ${top}: it is ${again.some((h) => h.id === top) ? 'STILL' : 'no longer'} returned; count ${await col.count()}`);

const st = await col.stats();
line(`\nstats: ${st.count} live vectors, ${(st.memoryBytes / 2 ** 20).toFixed(1)} MiB in the engine, ${st.bytesPerVector.toFixed(0)} bytes/vector (raw vector ${DIM * 4})`);

// Close, reopen, query again: the same answers, from the file.
const probe = queries.slice(0, 50);
const before = [];
for (const q of probe) before.push((await col.search(q, { k: 10, includeMetadata: false })).map((h) => `${h.id}:${h.distance}`));
t0 = performance.now();
await db.close();
line(`closed in ${ms(t0)} ms (graph written to the file)`);

t0 = performance.now();
const db2 = await createDatabase({ path: DIR, ...engineOpts });
const col2 = await db2.getCollection('documents');
const firstHit = await col2.search(q0, { k: 1 });
const openMs = ms(t0);
const status = await col2.status();
line(`reopened in ${openMs} ms including the first query: ${status.count} vectors, epoch ${status.epoch}, ` +
  `${(status.bytes / 2 ** 20).toFixed(1)} MiB file, graph ${status.indexLoaded ? 'loaded from the file' : 'REBUILT'}`);
let same = 0;
for (let i = 0; i < probe.length; i++) {
  const after = (await col2.search(probe[i], { k: 10, includeMetadata: false })).map((h) => `${h.id}:${h.distance}`);
  if (after.join() === before[i].join()) same++;
}
line(`after reopen: ${same} of ${probe.length} queries return exactly the same top-10 as before closing; first hit ${firstHit[0].id}`);
const gone = await col2.get(top);
line(`deleted ${top} is ${gone === null ? 'still deleted' : 'BACK'}; ${hits[1].id} metadata: ${JSON.stringify((await col2.get(hits[1].id)).metadata)}`);
const v = await col2.verify();
line(`verify: ${v.ok ? 'ok' : 'PROBLEMS ' + v.problems.join('; ')} (witness chain ${v.witness.entries} entries, ${v.witness.intact ? 'intact' : 'broken'})`);
const many = Array.from({ length: 2000 }, (_, i) => queries[i % queries.length]);
await col2.searchBatch(many.slice(0, 200), { k: 10, includeMetadata: false }); // warm-up, as below
t0 = performance.now();
const inThread = await col2.searchBatch(many, { k: 10, includeMetadata: false });
const inThreadMs = ms(t0);
await db2.close();

// The same files behind a worker pool: a writer and a read replica, each in a worker thread.
t0 = performance.now();
const db3 = await createDatabase({ path: DIR, workers: 2, ...engineOpts });
const col3 = await db3.getCollection('documents');
line(`opened with workers: 2 (a writer and a read replica, ${getWasmInfo().workerPoolSize} worker threads) in ${ms(t0)} ms`);
await col3.insert({ id: 'doc-new', vector: q0, metadata: { category: 'news', year: 2026, title: 'fresh' } });
const seen = await Promise.all([col3.get('doc-new'), col3.get('doc-new')]);
line(`inserted doc-new through the writer: visible on ${seen.filter((x) => x !== null).length} of 2 sessions right after`);
await col3.delete('doc-new');
await col3.searchBatch(many.slice(0, 200), { k: 10, includeMetadata: false }); // warm-up: fresh workers compile on first use
t0 = performance.now();
const pooled = await col3.searchBatch(many, { k: 10, includeMetadata: false });
const pooledMs = ms(t0);
const agree = pooled.filter((r, i) => r.map((h) => h.id).join() === inThread[i].map((h) => h.id).join()).length;
line(`searchBatch of ${many.length} queries: ${inThreadMs} ms in this thread, ${pooledMs} ms split over the 2 workers; ` +
  `${agree} of ${many.length} answers identical`);
await db3.close();
if (same !== probe.length || gone !== null || !status.indexLoaded || !v.ok || agree !== many.length ||
  seen.some((x) => x === null)) process.exitCode = 1;
