// tests/browser/pages/persist-check.js — page-side steps of tests/browser/persist.test.js: fill a
// browser store (OPFS or IndexedDB), reopen it and judge it against an exact brute force computed
// here from the same deterministic rows, hold a writer, race for the lease, export bytes.
//
// Invariants: rows are a pure function of (seed, index), so any page (or Node) can rebuild the
// oracle; every step returns plain data; errors come back as { code, message }.

const veclite = await import('/web/index.js');

import { bruteForce, query, row } from './rows.js';

const err = (e) => ({ code: e?.code ?? e?.name, message: String(e?.message ?? e) });

export async function open(o) {
  return veclite.createDatabase({ backend: o.backend, path: o.path, workers: o.workers, lease: o.lease, cache: o.cache });
}

/** Create the store and insert rows [from, to) in batches; keeps the database in globalThis.__db. */
export async function fill(o) {
  try {
    const db = globalThis.__db ?? await open(o);
    globalThis.__db = db;
    const col = (await db.listCollections()).includes(o.name ?? 'docs')
      ? await db.getCollection(o.name ?? 'docs')
      : await db.createCollection(o.name ?? 'docs', o.create ?? { dimension: o.dim, metric: 'euclidean', index: { type: 'flat' } });
    const batch = o.batch ?? 100;
    globalThis.__acked = o.from ?? 0;
    for (let i = o.from ?? 0; i < o.to; i += batch) {
      const rows = [];
      for (let j = i; j < Math.min(o.to, i + batch); j++) rows.push(row(j, o.dim));
      await col.insertBatch(rows);
      globalThis.__acked = i + rows.length;
      console.log(`acked ${globalThis.__acked}`);
    }
    const status = await col.status();
    const workers = db.workers;
    const quantization = o.create?.quantization ? (await col.stats()).quantization : undefined;
    if (o.close) {
      await db.close();
      globalThis.__db = null;
    }
    return { ok: true, backend: db.backend, workers, count: status.count, statusBackend: status.backend, info: veclite.getWasmInfo(), quantization };
  } catch (e) {
    return { ok: false, error: err(e) };
  }
}

/** Reopen and judge: count, get, exact top-k against the brute force, verify(). */
export async function check(o) {
  try {
    const db = await open(o);
    try {
      const col = await db.getCollection(o.name ?? 'docs');
      const n = await col.count();
      const problems = [];
      const gets = o.getEvery ? Array.from({ length: Math.ceil(n / o.getEvery) }, (_, j) => j * o.getEvery) : [0, Math.floor(n / 2), n - 1];
      for (const i of gets) {
        if (n === 0) break;
        const g = await col.get(`r${i}`);
        const want = row(i, o.dim);
        if (!g || g.metadata.i !== i || g.vector.some((x, j) => x !== want.vector[j])) problems.push(`get r${i}`);
      }
      if (await col.get(`r${n}`) !== null) problems.push(`r${n} is there but count is ${n}`);
      for (let q = 0; q < (o.queries ?? 5); q++) {
        const qv = query(q, o.dim);
        const hits = await col.search(qv, { k: 10, ...(o.ef ? { ef: o.ef } : {}) });
        const want = bruteForce(qv, n, o.dim, 10);
        for (let r = 0; r < want.length; r++) {
          if (!hits[r] || Math.abs(hits[r].distance - want[r].d) > 1e-4) problems.push(`query ${q} rank ${r}: ${hits[r]?.id} ${hits[r]?.distance} vs ${want[r].id} ${want[r].d}`);
        }
      }
      const v = await col.verify();
      const status = await col.status();
      const quantization = (await col.stats()).quantization;
      if (o.cache) {
        // hybrid mode: the cache is at the store's epoch and answers every row checked above
        if (!status.cache || status.cache.epoch !== status.epoch) problems.push(`cache ${JSON.stringify(status.cache)} vs epoch ${status.epoch}`);
        for (const i of [0, n - 1]) {
          const m = await col.cachedMetadata(`r${i}`);
          if (!m || m.i !== i) problems.push(`cached metadata of r${i}: ${JSON.stringify(m)}`);
        }
      }
      return { ok: true, count: n, problems, verify: v.ok, verifyProblems: v.problems, backend: db.backend, statusBackend: status.backend, epoch: status.epoch, cache: status.cache, quantization };
    } finally {
      await db.close();
    }
  } catch (e) {
    return { ok: false, error: err(e) };
  }
}

/** Open the store as its writer and keep it open (globalThis.__held). */
export async function hold(o) {
  try {
    const db = await open(o);
    globalThis.__held = db;
    await db.getCollection(o.name ?? 'docs');
    return { ok: true };
  } catch (e) {
    return { ok: false, error: err(e) };
  }
}

export async function release() {
  await globalThis.__held?.close();
  globalThis.__held = null;
  return { ok: true };
}

/** The store's export() bytes as a plain array. */
export async function exportBytes(o) {
  const db = await open(o);
  try {
    const col = await db.getCollection(o.name ?? 'docs');
    return Array.from(await col.export());
  } finally {
    await db.close();
  }
}

/** Put an .rvf image into OPFS as collection `name` of database `path` (what a user copying a file does). */
export async function putOpfsFile(o) {
  let dir = await navigator.storage.getDirectory();
  for (const part of ['veclite', ...o.path.split('/')]) dir = await dir.getDirectoryHandle(part, { create: true });
  const fh = await dir.getFileHandle(`${o.name}.rvf`, { create: true });
  const w = await fh.createWritable();
  await w.write(new Uint8Array(o.bytes));
  await w.close();
  return { ok: true };
}

/** Search results (ids and distances) of the first q queries. */
export async function searchAll(o) {
  const db = await open(o);
  try {
    const col = await db.getCollection(o.name ?? 'docs');
    const out = [];
    for (let q = 0; q < o.queries; q++) out.push((await col.search(query(q, o.dim), { k: 10 })).map((h) => [h.id, h.distance]));
    return out;
  } finally {
    await db.close();
  }
}
