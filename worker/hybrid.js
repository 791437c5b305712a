// worker/hybrid.js — hybrid mode in a session: a collection of a browser database opened with
// `cache: 'indexeddb'` keeps each row's metadata in an IndexedDB cache (idb/metadata-cache.js)
// beside its .rvf store, which stays the source of truth (docs/browser.md §4).
//
// Write order: the store's commit (durable: settled) → the cache's rows and the commit's epoch,
// in one transaction. On open the two epochs are compared: cache behind → rebuilt from the store;
// cache ahead → a warning, and rebuilt from the store (the store is trusted); a cache of another
// store (fileId), or of another history at the same epoch (committed length) → rebuilt.
//
// Invariants:
// - A write's promise resolves after its cache update. A failed cache update does not fail the
//   write (the store has it): it is recorded in status().cache.warning, and the cache takes no
//   later update (it stays behind) until rebuildCache() or the next open rebuilds it. A cache
//   that cannot be read or rebuilt at open does not fail the open either: it is behind the same way.
// - cachedMetadata never answers from a cache known to be behind: the store answers instead.
// - Metadata put in the cache is read back from the engine after the commit (what the store now
//   holds), never taken from the caller's arguments.

import { decodeRecord } from './metadata.js';
import { nameOf, publicId, resolveId } from './rows.js';
import { scanPage } from './search.js';

/** [id, metadata] of every live row, from the engine. */
function allRows(s) {
  const out = [];
  let after = null;
  for (;;) {
    const page = scanPage(s, after, 4096);
    const n = page.pairs.length / 2;
    for (let i = 0; i < n; i++) out.push([page.ids[i], page.metas[i]]);
    if (n < 4096) return out;
    after = page.pairs.slice(2 * (n - 1), 2 * n);
  }
}

/** [id, metadata] of the given ids that are live, from the engine. */
function rowsOf(s, ids) {
  const pairs = new Uint32Array(ids.length * 2);
  let n = 0;
  for (const id of ids) if (resolveId(s, id, pairs, n, 'cache')) n++;
  if (n === 0) return [];
  const g = s.engine.getBatch(s.h, s.dim, n, pairs.subarray(0, 2 * n), true, false);
  const nameFn = nameOf(s);
  const out = [];
  for (let i = 0; i < n; i++) {
    if (!g.found[i]) continue;
    const meta = g.meta ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).meta : {};
    out.push([publicId(s, pairs, i), meta]);
  }
  return out;
}

/** The store's identity as the cache records it: { epoch, fileId, bytes } (one engine call). */
const infoOf = (s) => s.engine.storeInfo(s.store);

/** Rebuild the cache of s from its store; returns { rows, epoch }. */
export async function rebuildCache(s) {
  const rows = allRows(s);
  const { epoch, fileId, bytes } = infoOf(s);
  // In the chain of cache updates (commit order): a write committed after these rows were read
  // has its update run after the rebuild, on a cache no longer marked behind — not skipped as
  // missed while the rebuild is under way, its rows then lacking under a later write's epoch.
  const run = (s.cacheChain ?? Promise.resolve()).then(async () => {
    await s.cache.rebuild(s.name, rows, epoch, fileId, bytes);
    s.cacheMissed = false;
    s.cacheStatus = { ...s.cacheStatus, epoch, rows: rows.length, warning: null };
  });
  s.cacheChain = run.catch(() => {});
  await run;
  return { rows: rows.length, epoch };
}

/** The metadata of row `id` as the store holds it (null for an absent row). */
export function storeMetadata(s, id) {
  const r = rowsOf(s, [id]);
  return r.length ? r[0][1] : null;
}

/**
 * Compare epochs at open and reconcile (see the top of this file). A cache IndexedDB fails to
 * read or rebuild (quota, a broken database) leaves the open to the store: the cache is marked
 * behind (status().cache.warning says why) until rebuildCache() or the next open.
 */
export async function reconcile(s) {
  try {
    await reconcileCache(s);
  } catch (e) {
    s.cacheMissed = true;
    s.cacheStatus = {
      epoch: null, rows: 0, rebuilt: null,
      warning: `the metadata cache could not be reconciled with the store at open (${e?.message ?? e}); the store ` +
        'serves every read, and the cache is behind it until rebuildCache() or the next open rebuilds it',
    };
    globalThis.console?.warn?.(`veclite: collection '${s.name}': ${s.cacheStatus.warning}`);
  }
}

async function reconcileCache(s) {
  const st = await s.cache.state(s.name);
  const info = infoOf(s), store = info.epoch;
  s.cacheStatus = { epoch: st?.epoch ?? null, rows: st?.rows ?? 0, rebuilt: null, warning: null };
  const sameStore = st && st.fileId === info.fileId;
  if (sameStore && st.epoch === store && st.bytes === info.bytes) return;
  let warning = null;
  if (st && (!sameStore || st.epoch === store)) {
    // Another store under this name (deleted and recreated, restored from elsewhere), or another
    // history of this one at the cache's epoch (an older copy restored and written to since: its
    // committed length differs): the cache's epoch says nothing about this store.
    await rebuildCache(s);
    s.cacheStatus.rebuilt = 'replaced';
    return;
  }
  if (st && st.epoch > store) {
    warning = `the metadata cache was ahead of the store (cache epoch ${st.epoch}, store epoch ${store}): ` +
      'the store is the source of truth, the cache was rebuilt from it';
    globalThis.console?.warn?.(`veclite: collection '${s.name}': ${warning}`);
  }
  await rebuildCache(s);
  s.cacheStatus.rebuilt = st && st.epoch > store ? 'ahead' : 'behind';
  s.cacheStatus.warning = warning;
}

/**
 * Bring the cache to the commit a write just made (at `epoch`): { puts: ids } | { deletes: ids }
 * | { clear }. Only the epoch moves for writes that change no row's metadata (compaction). The
 * session runs these in commit order, so the recorded epoch only grows, and a cache that missed
 * a write's update is always behind its store (and rebuilt on open).
 */
export async function afterWrite(s, change, epoch) {
  // A cache that missed an update stays at its last whole epoch until it is rebuilt: a later
  // write's rows applied on top would record that write's epoch over the rows it lacks.
  if (s.cacheMissed) return;
  try {
    const { fileId, bytes } = infoOf(s);
    await s.cache.apply(s.name, {
      clear: change.clear === true,
      deletes: change.deletes ?? [],
      puts: change.puts ? rowsOf(s, change.puts) : [],
    }, epoch, fileId, bytes);
    const st = await s.cache.state(s.name);
    s.cacheStatus = { ...s.cacheStatus, epoch, rows: st?.rows ?? 0 };
  } catch (e) {
    s.cacheMissed = true;
    s.cacheStatus = {
      ...s.cacheStatus,
      warning: `the metadata cache could not be updated (${e.message}); it is behind the store until the next open rebuilds it`,
    };
  }
}
