#!/usr/bin/env node
// examples/cloudflare-store.mjs — builds the .rvf store that examples/cloudflare-worker.js ships
// inside the Worker bundle: the 5,000 sample documents of examples/demo-data.js (64-dimensional,
// cosine, metadata { title, category, year }), with the HNSW graph checkpointed into the file so
// the Worker loads the graph instead of rebuilding it on its first request.
//
//   node examples/cloudflare-store.mjs [out.rvf]      (default: examples/docs.rvf)
//
// Invariants: deterministic input (demo-data.js is a pure function of its seed); the output is
// written with openCollection(path, { create }) and closed, so it is one committed .rvf file that
// any veclite (Node, browser, workerd) or @ruvector/rvf-node opens; an existing file is replaced.
// In your own project, import from 'veclite' instead of '../web/index.js'.

import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openCollection } from '../web/index.js';
import { generate } from './demo-data.js';

/** The index settings the store is built with (the Worker inherits them from the file). */
export const STORE_CONFIG = Object.freeze({
  metric: 'cosine',
  index: Object.freeze({ type: 'hnsw', m: 16, efConstruction: 200, ef: 64 }),
});

/** Write the sample store to `out`; resolves with its row count and dimension. */
export async function writeStore(out) {
  const { dim, docs } = generate();
  rmSync(out, { force: true });
  const col = await openCollection(out, { create: { dimension: dim, ...STORE_CONFIG } });
  await col.insertBatch(docs.map((d) => ({
    id: d.id, vector: d.vector, metadata: { title: d.title, category: d.category, year: d.year },
  })));
  const count = await col.count();
  await col.close(); // checkpoints the graph into the file
  return { count, dimension: dim };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const out = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'docs.rvf'));
  const { count, dimension } = await writeStore(out);
  console.log(`wrote ${out}: ${count} documents, ${dimension} dimensions`);
}
