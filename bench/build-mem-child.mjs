// Child process of the STORAGE benchmark section, (e) build memory (issue 10 item 5): in a fresh
// Node process, builds an N × 128 HNSW collection (M=16, efConstruction=100, clustered synthetic
// rows) through the public API in insertBatch calls of B rows, then prints one JSON line on stdout:
// the process's resident memory during the build against the engine's own count
// (stats().memoryBytes), both per vector.
//
// usage: node --expose-gc bench/build-mem-child.mjs REPO_ROOT N B (file|memory|none) DIR
//   file    createDatabase({ path: DIR }): a durable .rvf store (every batch one commit)
//   memory  createDatabase(): the in-memory index
//   none    no veclite: the same rows built and dropped per batch, held as long as a batch of
//           the file store takes (its ms given as DIR): what the application's own objects add
//           to RSS (the JavaScript heap grows with them), reported as { appPeakBytes, appEndBytes }
// Measured: rss0 = RSS after the engine is loaded, the collection created and the rows generated
// (a gc first); peak = VmHWM of /proc/self/status after the build (the kernel's high-water mark of
// RSS, so nothing between samples is missed; falls back to the max of process.memoryUsage().rss
// sampled between batches where /proc is absent); end = RSS after the build and a gc. Each is
// reported less rss0, per vector, and as a ratio to memoryBytes per vector.
// Invariants: the rows of a batch are built right before it and dropped after it (what an
// application streaming a bulk load does); exit 0 with { error } on a failure the parent reports.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [repoRoot, nArg, bArg, mode, dir] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const hwm = () => {
  try { return Number(/VmHWM:\s+(\d+)\s*kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024; } catch { return null; }
};
const gc = () => { globalThis.gc?.(); globalThis.gc?.(); };
/** Reset the kernel's high-water mark to the current RSS (Linux 4.0+: clear_refs "5"), so VmHWM
 * measures from here, not the data generation before; false where that is not possible. */
const resetHwm = () => {
  try { fs.writeFileSync('/proc/self/clear_refs', '5'); return true; } catch { return false; }
};

try {
  const n = Number(nArg), B = Number(bArg), dim = 128;
  if (mode === 'none') {
    const { generateClustered } = await import(pathToFileURL(path.join(repoRoot, 'bench/datasets.js')).href);
    const g = generateClustered({ n, dim, nq: 1, clusters: 64, seed: 7, gtK: 0 });
    const per = Number(dir) / Math.ceil(n / B);   // ms a batch of the file store took
    gc();
    const rss0 = process.memoryUsage.rss(), hwm0 = resetHwm() ? hwm() : null;
    const cell = new Int32Array(new SharedArrayBuffer(4));
    let held = 0;
    for (let i = 0; i < n; i += B) {
      const rows = [];
      for (let j = i; j < Math.min(n, i + B); j++) rows.push({ id: j, vector: g.base.subarray(j * dim, (j + 1) * dim) });
      Atomics.wait(cell, 0, 0, per);   // the batch's time, allocating nothing; the rows stay alive
      held += rows.length;
      await new Promise((r) => setTimeout(r, 0));
    }
    const h1 = hwm();
    gc();
    out({ mode, n, batch: B, held, appPeakBytes: (h1 != null && hwm0 != null && hwm0 <= rss0 + (1 << 20) ? h1 : process.memoryUsage.rss()) - rss0, appEndBytes: process.memoryUsage.rss() - rss0 });
    process.exit(0);
  }
  const { createDatabase } = await import(pathToFileURL(path.join(repoRoot, 'web/index.js')).href);
  const { generateClustered } = await import(pathToFileURL(path.join(repoRoot, 'bench/datasets.js')).href);
  const g = generateClustered({ n, dim, nq: 1, clusters: 64, seed: 7, gtK: 0 });
  const db = await createDatabase(mode === 'file' ? { path: dir } : {});
  const col = await db.createCollection('build', { dimension: dim, metric: 'euclidean', index: { type: 'hnsw', m: 16, efConstruction: 100 } });
  gc();
  const rss0 = process.memoryUsage.rss();
  const hwm0 = resetHwm() ? hwm() : null;
  let sampled = rss0;
  const t0 = performance.now();
  for (let i = 0; i < n; i += B) {
    const rows = [];
    for (let j = i; j < Math.min(n, i + B); j++) rows.push({ id: j, vector: g.base.subarray(j * dim, (j + 1) * dim) });
    await col.insertBatch(rows);
    sampled = Math.max(sampled, process.memoryUsage.rss());
  }
  const ms = performance.now() - t0;
  const h1 = hwm();
  gc();
  const st = await col.stats();
  const rss1 = process.memoryUsage.rss();
  await db.close();
  const peak = h1 != null && hwm0 != null && hwm0 <= rss0 + (1 << 20) ? h1 : sampled;
  const engine = st.memoryBytes / n;
  out({
    mode, n, batch: B, ms, count: st.count, memoryBytes: st.memoryBytes,
    peakSource: peak === sampled ? 'sampled rss' : 'VmHWM',
    engineBytesPerVector: engine,
    peakBytesPerVector: (peak - rss0) / n, endBytesPerVector: (rss1 - rss0) / n,
    peakRatio: (peak - rss0) / st.memoryBytes, endRatio: (rss1 - rss0) / st.memoryBytes,
  });
} catch (e) {
  out({ error: String(e?.message ?? e) });
}
