// Child process of the BROWSER benchmark section (bench/browser.js): the Node reference for the
// browser reopen. In a fresh Node process: read the store file's bytes (the baseline), then import
// web/index.js and time createDatabase({ path: DIR }) + getCollection(NAME) + the first k=10 search,
// step by step, as bench/browser-page.js's reopen() does in a fresh page. Prints one JSON line.
//
// The first touch of a fresh buffer of the same size is timed apart (touchMs).
// usage: node bench/browser-node-child.mjs DIR NAME QUERY.f32 REPO_ROOT
// Invariants: exit 0 with { error } on a failure the parent should report.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const [dir, name, qfile, repoRoot] = process.argv.slice(2);
const now = () => performance.now();

async function main() {
  const qb = fs.readFileSync(qfile);
  const q = new Float32Array(qb.buffer.slice(qb.byteOffset, qb.byteOffset + qb.length));
  let t = now();
  const bytes = fs.readFileSync(path.join(dir, `${name}.rvf`));
  // touch every page so the baseline includes first-touch of the buffer, as the engine's load does
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4096) sum += bytes[i];
  const readMs = now() - t;
  t = now();
  const fresh = new Uint8Array(bytes.length);
  for (let i = 0; i < fresh.length; i += 4096) fresh[i] = 1;
  const touchMs = now() - t;
  t = now();
  const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
  const importMs = now() - t;
  const t0 = now();
  const db = await api.createDatabase({ path: dir });
  const t1 = now();
  const col = await db.getCollection(name);
  const t2 = now();
  const hits = await col.search(q, { k: 10, includeMetadata: false });
  const t3 = now();
  t = now();
  for (let i = 0; i < 20; i++) await col.search(q, { k: 10, includeMetadata: false });
  const warmQueryMs = (now() - t) / 20;
  const st = await col.status();
  await db.close();
  return { readBytes: bytes.length, readMs, touchMs, touch: sum & 1, importMs, createMs: t1 - t0, getMs: t2 - t1, firstQueryMs: t3 - t2, openFirstQueryMs: t3 - t0, warmQueryMs, count: st.count, indexLoaded: st.indexLoaded ?? null, ids: hits.map((h) => Number(h.id)) };
}

main().then((o) => process.stdout.write(JSON.stringify(o) + '\n'), (e) => {
  process.stdout.write(JSON.stringify({ error: `${e?.name ?? 'Error'}${e?.code ? ` [${e.code}]` : ''}: ${e?.message ?? e}` }) + '\n');
});
