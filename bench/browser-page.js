// bench/browser-page.js — page side of the BROWSER benchmark section (bench/browser.js). Served by
// tools/serve.mjs from the repository and imported in page.evaluate(); every function takes one
// plain options object and returns plain data (timings in ms), or { error } instead of throwing.
//
//   ingest   fetch the rows (raw little-endian f32, written by bench/browser.js), create a database
//            of the given backend / workers, a 1,000-row warm-up collection (same session), then
//            the timed collection: insertBatch in batches (each one a durable commit);
//   putStore fetch a .rvf built in Node and store it as collection `name` of database `path`:
//            OPFS veclite/<path>/<name>.rvf (createWritable) or IndexedDB `veclite:<path>` through
//            idb/indexeddb-store.js's replaceBytes (chunk [name, 0] + head { length });
//   reopen   in a fresh page: import /web/index.js, then createDatabase + getCollection + first
//            k=10 search, each step timed;
//   readBytes in a fresh page: read the same store's bytes only (OPFS getFile().arrayBuffer(),
//            IndexedDB loadBytes = getAll of the chunks), the baseline the reopen is judged against;
//            then, apart, the first touch of a fresh buffer of the same size (allocate, write a byte per 4 KiB).
//
// Invariants: nothing here is asserted; every database is closed before a function returns.

const err = (e) => ({ error: `${e?.name ?? 'Error'}${e?.code ? ` [${e.code}]` : ''}: ${e?.message ?? e}` });
const now = () => performance.now();

async function fetchF32(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`fetch ${url}: ${r.status}`);
  return new Float32Array(await r.arrayBuffer());
}

const dbConfig = (o) => (o.backend === 'memory'
  ? (o.workers === undefined ? {} : { workers: o.workers })
  : { backend: o.backend, path: o.path, ...(o.workers === undefined ? {} : { workers: o.workers }) });

/** Timed ingest of o.n rows of o.url in batches of o.batch. */
export async function ingest(o) {
  let db;
  try {
    const v = await import('/web/index.js');
    const data = await fetchF32(o.url);
    const { dim, n, batch } = o;
    const cfg = { dimension: dim, metric: 'euclidean', index: { type: 'hnsw', m: o.m, efConstruction: o.efConstruction, seed: o.seed } };
    const rowsOf = (from, to, idBase = 0) => {
      const items = [];
      for (let i = from; i < to; i++) items.push({ id: idBase + i, vector: data.subarray(i * dim, (i + 1) * dim) });
      return items;
    };
    let t = now();
    db = await v.createDatabase(dbConfig(o));
    const createMs = now() - t;
    const warm = await db.createCollection('warm', cfg);
    await warm.insertBatch(rowsOf(0, Math.min(o.warmup, n)));
    const col = await db.createCollection('ingest', cfg);
    const lat = [];
    const t0 = now();
    for (let i = 0; i < n; i += batch) {
      t = now();
      await col.insertBatch(rowsOf(i, Math.min(n, i + batch)));
      lat.push(now() - t);
    }
    const ms = now() - t0;
    const count = await col.count();
    const st = await col.status();
    const out = { backend: db.backend, workers: db.workers, implementation: db.implementation ?? null, createMs, ms, vectors: n, vectorsPerSec: n / (ms / 1000), commits: lat.length, medianCommitMs: lat.sort((a, b) => a - b)[lat.length >> 1], maxCommitMs: lat[lat.length - 1], count, statusBackend: st.backend ?? null, bytes: st.bytes ?? null };
    await db.close();
    db = null;
    return out;
  } catch (e) {
    try { await db?.close(); } catch { /* reported above */ }
    return err(e);
  }
}

/** Copy the .rvf at o.url into OPFS or IndexedDB as collection o.name of database o.path. */
export async function putStore(o) {
  try {
    const r = await fetch(o.url);
    if (!r.ok) throw new Error(`fetch ${o.url}: ${r.status}`);
    const bytes = new Uint8Array(await r.arrayBuffer());
    const t = now();
    if (o.kind === 'opfs') {
      let dir = await navigator.storage.getDirectory();
      for (const part of ['veclite', ...o.path.split('/')]) dir = await dir.getDirectoryHandle(part, { create: true });
      const fh = await dir.getFileHandle(`${o.name}.rvf`, { create: true });
      const w = await fh.createWritable();
      await w.write(bytes);
      await w.close();
    } else {
      const s = await import('/idb/indexeddb-store.js');
      const idb = await s.openIdbDatabase(o.path);
      try { await s.replaceBytes(idb, o.name, bytes); } finally { idb.close(); }
    }
    return { bytes: bytes.length, writeMs: now() - t };
  } catch (e) {
    return err(e);
  }
}

/** In a fresh page: import + createDatabase + getCollection + first search, timed step by step. */
export async function reopen(o) {
  let db;
  try {
    const q = Float32Array.from(o.query);
    let t = now();
    const v = await import('/web/index.js');
    const importMs = now() - t;
    const t0 = now();
    db = await v.createDatabase(dbConfig(o));
    const t1 = now();
    const col = await db.getCollection(o.name);
    const t2 = now();
    const hits = await col.search(q, { k: 10, includeMetadata: false });
    const t3 = now();
    t = now();
    for (let i = 0; i < 20; i++) await col.search(q, { k: 10, includeMetadata: false });
    const warmQueryMs = (now() - t) / 20;
    const st = await col.status();
    const out = {
      backend: db.backend, workers: db.workers, importMs, createMs: t1 - t0, getMs: t2 - t1, firstQueryMs: t3 - t2, openFirstQueryMs: t3 - t0,
      warmQueryMs, count: st.count, indexLoaded: st.indexLoaded ?? null, ids: hits.map((h) => Number(h.id)),
    };
    t = now();
    await db.close();
    out.closeMs = now() - t;
    db = null;
    return out;
  } catch (e) {
    try { await db?.close(); } catch { /* reported above */ }
    return err(e);
  }
}

/** In a fresh page: read the store's bytes only (no engine). */
export async function readBytes(o) {
  try {
    const t = now();
    let n;
    if (o.kind === 'opfs') {
      let dir = await navigator.storage.getDirectory();
      for (const part of ['veclite', ...o.path.split('/')]) dir = await dir.getDirectoryHandle(part);
      const fh = await dir.getFileHandle(`${o.name}.rvf`);
      const buf = await (await fh.getFile()).arrayBuffer();
      n = new Uint8Array(buf).length;
    } else {
      const s = await import('/idb/indexeddb-store.js');
      const idb = await s.openIdbDatabase(o.path);
      try { n = (await s.loadBytes(idb, o.name)).length; } finally { idb.close(); }
    }
    const ms = now() - t;
    // first touch of fresh memory of the same size, alone (no storage): what any load pays
    const t1 = now();
    const fresh = new Uint8Array(n);
    for (let i = 0; i < n; i += 4096) fresh[i] = 1;
    return { bytes: n, ms, touchMs: now() - t1 };
  } catch (e) {
    return err(e);
  }
}
