// worker/collection.js — what a session does for each collection message (worker/protocol.js):
// writes, reads, persistence and lifecycle on a collection state (worker/rows.js).
//
// Every function takes the state and the message's plain arguments, and returns plain results.
// The facade (web/index.js) documents the public behaviour; this file keeps the engine-side
// rules.
//
// Invariants:
// - Every write checks writable() first and changes nothing when it is refused.
// - A pooled writer (s.ship) reports each commit (worker/protocol.js "commit") so its pool can
//   bring the replicas up to it: the epoch, and for a store in memory the bytes appended since the
//   last report (or the whole image after a compaction).
// - Derived children and reopened stores belong to the same session and engine as their parent.

import { VecliteError, einval, plural } from './errors.js';
import { checkedImage } from './image.js';
import {
  commitRows, encodeRows, engineClear, engineDelete, engineSetMeta, engineUpsert, knownField, live, nameOf, nowNs,
  notFound, poison, publicId, resolveId, settle, storeWrite, updateRecord, updateRecordSize, writable,
} from './rows.js';
import { getOne, liveIdPages, rank, runSearch, scanPage } from './search.js';
import { emitFilter } from './filter.js';
import { runTextSearch } from './text.js';
import { TAG, classifyValue, decodeRecord, recordSize } from './metadata.js';
import {
  basename, dropMaterialized, materialize, nodeBackend, randomBytes, recoveryProblems, refreshState, release,
  openImage, sha256Hex, snapshotOf, storeCollection, swapStore, toHex, trimmed, adoptConfig, reloadIdMaps, dropIdMaps,
} from './stores.js';
import { MemoryDevice } from '../idb/memory-device.js';

/** What a pooled writer appended since its last report (see the invariants), or undefined. */
export function commitInfo(s) {
  if (!s.ship || !s.store) return undefined;
  const info = s.engine.storeInfo(s.store);
  const out = { epoch: info.epoch, bytes: info.bytes };
  if (s.dev instanceof MemoryDevice) {
    if (s.shipReopen) {
      out.tail = { reopen: s.dev.slice(0, info.bytes) };
      s.shipReopen = false;
    } else if (info.bytes > s.shipped) {
      out.tail = { from: s.shipped, bytes: s.dev.slice(s.shipped, info.bytes) };
    }
    s.shipped = info.bytes;
  }
  return out;
}

/**
 * EBUDGET when rows would take the collection past its maxElements (a handle's capacity limit,
 * from createCollection / createDatabase): counts the batch's distinct ids that are not live
 * yet. Runs before anything changes (no field name is registered for a refused write).
 */
function checkCapacity(s, ids, where) {
  const live = s.engine.count(s.h);
  if (live + ids.length <= s.maxElements) return;
  const fresh = freshIds(s, ids, where);
  if (fresh > 0 && live + fresh > s.maxElements) { // an overwrite adds nothing: always allowed
    throw new VecliteError('EBUDGET', `${where}: collection '${s.name}' holds at most maxElements = ${s.maxElements} vectors; ` +
      `it has ${live} and this write adds ${fresh} new one${fresh === 1 ? '' : 's'}; raise maxElements or delete some`);
  }
}

/** How many distinct ids of a batch are not live yet (each costs a new row). */
function freshIds(s, ids, where) {
  const seen = new Set();
  const pairs = new Uint32Array(2 * ids.length);
  let n = 0, fresh = 0;
  for (const id of ids) {
    const key = typeof id === 'bigint' ? `n${id}` : typeof id === 'number' ? `n${id}` : `s${id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (resolveId(s, id, pairs, n, where)) n++;
    else fresh++; // a string id never seen
  }
  if (n) {
    const g = s.engine.getBatch(s.h, s.dim, n, pairs.subarray(0, 2 * n), false, false);
    for (let i = 0; i < n; i++) if (!g.found[i]) fresh++;
  }
  return fresh;
}

/** The tighter of a collection's memory budget and its database's, in bytes (0: none). */
export function budgetOf(s) {
  const b = [s.budget, s.db?.budget].filter((x) => x > 0);
  return b.length ? Math.min(...b) : 0;
}

const MiB = (b) => `${(b / 1048576).toFixed(b < 10485760 ? 2 : 0)} MiB`;

/**
 * Bytes the engine holds for collection s (stats().memoryBytes, what budgets compare with): its
 * index (vl_stats) plus, for a store, the file layer's bookkeeping beside it (directory, an
 * entry and map slot per loaded id: ~40-70 bytes a vector, vl_store_status.memory_bytes).
 */
export function memoryOf(s, st = s.engine.stats(s.h)) {
  return st.memoryBytes + (s.store ? s.engine.storeMemoryBytes(s.store) : 0);
}

/** What a store's file layer adds per loaded id at most: an entry (24 bytes) and a map slot (12),
 * both doubling, plus the id in its VEC segment's list (8). */
const STORE_ID_BYTES = 2 * 24 + 2 * 12 + 8;

/**
 * EBUDGET, before anything is staged or changed, when an insert would take the collection past
 * its memoryBudgetMB, or its database's open collections past theirs. The cost of the write, as
 * the engine will count it in stats().memoryBytes: the node storage it grows into (by half plus
 * 16 nodes when the new rows do not fit its capacity), the graph's upper-level links of the new
 * rows (on average m/(m-1) links each), their metadata records, the id map's doubling, and the
 * batch's staging copy; for a store, its file layer's bookkeeping of the new ids. Under HNSW an
 * overwritten id is a new node too.
 */
function checkBudget(s, a) {
  if (!s.budget && !s.db?.budget) return;
  const e = s.engine;
  const st = e.stats(s.h);
  const fresh = freshIds(s, a.ids, a.where);
  // HNSW writes every id of the batch as a new node (an overwritten one stays as a tombstone)
  const added = s.kind === 'hnsw' ? new Set(a.ids.map((id) => (typeof id === 'string' ? `s${id}` : `n${id}`))).size : fresh;
  let grow = 0;
  if (st.nodes + added > st.capacity) {
    grow = (Math.max(st.capacity + Math.floor(st.capacity / 2) + 16, st.nodes + added) - st.capacity) * st.nodeBytes;
  }
  // the id map (12 bytes a slot) doubles while its ids take more than half its slots; its
  // capacity is not reported: taken as the smallest that holds the live ids (no less)
  const slots = (k) => { let c = 16; while (k * 2 > c) c *= 2; return c; };
  const idmap = (slots(st.live + fresh) - slots(st.live)) * 12;
  const m = s.kind === 'hnsw' ? e.config(s.h).m : 0;
  const upper = m ? added * (m / Math.max(1, m - 1)) * 4 * (m + 1) : 0;
  let meta = 0;
  const str = s.idKind === 'string' || (s.idKind === null && typeof a.ids[0] === 'string');
  for (let i = 0; i < a.ids.length; i++) {
    if (a.metas[i].length || str) meta += recordSize(a.metas[i], str ? a.ids[i] : undefined);
  }
  const file = s.store ? fresh * STORE_ID_BYTES : 0;
  budgetFits(s, grow + idmap + upper + meta + file + a.vecs.length * 4, memoryOf(s, st), a.where, plural(fresh, 'new vector'));
}

/**
 * EBUDGET when `cost` more bytes would take the collection (using `own`) past its memoryBudgetMB
 * or its database's open collections past theirs; `what` names what the write adds.
 */
function budgetFits(s, cost, own, where, what) {
  if (s.budget && own + cost > s.budget) {
    throw new VecliteError('EBUDGET', `${where}: collection '${s.name}' has a memory budget of ${MiB(s.budget)} ` +
      `(memoryBudgetMB); it uses ${MiB(own)} and this write needs about ${MiB(cost)} more (${what}); ` +
      'nothing was written: raise memoryBudgetMB, delete rows, or write a smaller batch');
  }
  if (s.db?.budget) {
    const e = s.engine;
    let all = s.db.cols.get(s.name) === s ? 0 : own; // a derived child is not listed
    for (const c of s.db.cols.values()) if (c.h) all += c === s ? own : memoryOf(c);
    if (all + cost > s.db.budget) {
      throw new VecliteError('EBUDGET', `${where}: the database has a memory budget of ${MiB(s.db.budget)} (memoryBudgetMB); ` +
        `its collections use ${MiB(all)} and this write needs about ${MiB(cost)} more (${what}); ` +
        'nothing was written: raise memoryBudgetMB, delete rows or collections, or write a smaller batch');
    }
  }
}

export function insert(s, a) {
  writable(s, a.where);
  if (a.ids.length === 0) return { written: 0, dim: s.dim };
  if (s.maxElements && s.dim) checkCapacity(s, a.ids, a.where);
  checkBudget(s, a);
  const r = encodeRows(s, a, a.where);
  engineUpsert(s, r.n, r.ids, r.vecs, r.meta, r.metaOff);
  commitRows(s, r);
  return { written: r.written, dim: s.dim, commit: commitInfo(s) };
}

export function update(s, a) {
  writable(s, 'update');
  const pair = new Uint32Array(2);
  const { id, hasVec, hasMeta } = a;
  if (!resolveId(s, id, pair, 0, 'update') || !s.idKind) throw notFound(s, id);
  if (hasVec && a.vector.length !== s.dim) {
    throw einval(`update: vector has ${plural(a.vector.length, 'component')} but collection '${s.name}' has dimension ${s.dim}`);
  }
  const merge = hasMeta && a.merge === true;
  let entries = a.metadata;
  let recBytes = hasMeta && !merge ? updateRecordSize(s, id, entries) : 0;
  const g = s.engine.getBatch(s.h, s.dim, 1, pair, (hasVec && !hasMeta) || merge, false);
  if (!g.found[0]) throw notFound(s, id);
  if (merge) {
    // read, merge and write in this one message: no other write comes in between
    const stored = g.meta ? decodeRecord(g.meta.bytes, g.meta.off[0], g.meta.off[1], nameOf(s)).meta : {};
    entries = mergeEntries(stored, a.metadata);
    recBytes = updateRecordSize(s, id, entries);
  }
  // a new record (and its staging copy) may grow the row: held to the budget before a field name
  // is registered (the old record's bytes are freed only after the new one is in)
  if (hasVec && (s.budget || s.db?.budget)) { // under HNSW a new vector is a new node
    checkBudget(s, { ids: [id], metas: [hasMeta ? entries : []], vecs: a.vector, where: 'update' });
  } else if (hasMeta && (s.budget || s.db?.budget)) {
    budgetFits(s, 2 * recBytes, memoryOf(s), 'update', `a ${recBytes}-byte metadata record`);
  }
  const meta = hasMeta ? updateRecord(s, id, entries, recBytes) : g.meta.bytes;
  const metaOff = Uint32Array.of(0, meta.length);
  if (hasVec) engineUpsert(s, 1, pair, a.vector, meta.length ? meta : null, meta.length ? metaOff : null);
  else engineSetMeta(s, 1, pair, meta, metaOff);
  if (hasMeta && entries.length) s.userMeta = true;
  return { commit: commitInfo(s) };
}

/**
 * update(..., { merge: true }): the stored metadata (decoded) with the patch's entries
 * (prepareMetadata form) laid over it, shallowly: a key of the patch replaces the stored value,
 * a key whose patch value is null is removed, every other stored key stays (in its place).
 */
function mergeEntries(stored, patch) {
  const m = new Map();
  for (const key of Object.keys(stored)) m.set(key, classifyValue(stored[key], `update: stored metadata.${key}`));
  for (let j = 0; j < patch.length; j += 3) {
    if (patch[j + 1] === TAG.NULL) m.delete(patch[j]);
    else m.set(patch[j], [patch[j + 1], patch[j + 2]]);
  }
  const out = [];
  for (const [key, [tag, payload]] of m) out.push(key, tag, payload);
  return out;
}

/**
 * Delete every live row whose metadata matches a parsed filter (null: every row), in one store
 * write. Pages through the live ids, evaluates the engine's filter program on each row's record
 * (vl_filter_eval: the same semantics as a filtered search), then deletes the matches at once.
 * `out` receives the public ids deleted (for a metadata cache).
 */
export function deleteWhere(s, a, out = []) {
  writable(s, 'deleteWhere');
  if (!s.idKind) return { deleted: 0, commit: commitInfo(s) };
  const program = emitFilter(a.filter, (name) => knownField(s, name));
  const empty = new Uint8Array(2); // a record with no fields
  let match = new Uint32Array(2048);
  let n = 0;
  for (const page of liveIdPages(() => live(s))) {
    const m = page.length / 2;
    const g = program ? s.engine.getBatch(s.h, s.dim, m, page, true, false) : null;
    for (let i = 0; i < m; i++) {
      if (program) {
        if (!g.found[i]) continue;
        const lo = g.meta ? g.meta.off[i] : 0, hi = g.meta ? g.meta.off[i + 1] : 0;
        const rec = hi - lo >= 2 ? g.meta.bytes.subarray(lo, hi) : empty;
        if (!s.engine.filterEval(program, rec)) continue;
      }
      if (2 * n + 2 > match.length) {
        const bigger = new Uint32Array(match.length * 2);
        bigger.set(match);
        match = bigger;
      }
      match[2 * n] = page[2 * i];
      match[2 * n + 1] = page[2 * i + 1];
      n++;
    }
  }
  if (n === 0) return { deleted: 0, commit: commitInfo(s) };
  const pairs = match.slice(0, 2 * n);
  const pub = new Array(n);
  for (let i = 0; i < n; i++) pub[i] = publicId(s, pairs, i);
  const deleted = engineDelete(s, n, pairs);
  for (const id of pub) {
    out.push(id);
    if (typeof id === 'string') {
      const iid = s.strToId.get(id);
      if (iid !== undefined) {
        s.strToId.delete(id);
        s.idToStr.delete(iid);
      }
    }
  }
  return { deleted, commit: commitInfo(s) };
}

export function remove(s, a) {
  writable(s, 'delete');
  const list = a.ids;
  const pairs = new Uint32Array(list.length * 2);
  const strs = [];
  let n = 0;
  for (let i = 0; i < list.length; i++) {
    const id = list[i];
    if (resolveId(s, id, pairs, n, a.many ? `delete[${i}]` : 'delete')) {
      n++;
      if (typeof id === 'string') strs.push(id);
    }
  }
  let deleted = 0;
  if (n > 0 && s.idKind) deleted = engineDelete(s, n, pairs);
  for (const str of strs) {
    const iid = s.strToId.get(str);
    if (iid !== undefined) {
      s.strToId.delete(str);
      s.idToStr.delete(iid);
    }
  }
  return { deleted, commit: commitInfo(s) };
}

export function clear(s) {
  writable(s, 'clear');
  engineClear(s);
  dropIdMaps(s);
  s.userMeta = false;
  s.idKind = s.configIdKind;
  return { commit: commitInfo(s) };
}

export function search(s, a) {
  if (a.options.text != null) {
    // keyword (queries null) or hybrid search: one query (worker/text.js)
    if (s.dim === 0) return { nq: 1, k: 1, counts: new Uint32Array(1), dist: new Float32Array(1), ids: [], metas: null, vecs: null, text: new Float32Array(1), fused: null };
    if (a.queries && a.queries.length !== s.dim) {
      throw einval(`search: query has ${plural(a.queries.length, 'component')} but collection '${s.name}' has dimension ${s.dim}`);
    }
    return runTextSearch(s, a.queries, a.options);
  }
  if (s.dim === 0) {
    // a dimension-0 store is empty: nothing to compare the queries with
    return { nq: a.nq, k: 1, counts: new Uint32Array(a.nq), dist: new Float32Array(a.nq), ids: [], metas: null, vecs: null };
  }
  if (a.queries.length !== a.nq * s.dim) {
    throw einval(`search: query has ${plural(a.queries.length / a.nq, 'component')} but collection '${s.name}' has dimension ${s.dim}`);
  }
  return runSearch(s, a.queries, a.nq, a.options);
}

export function get(s, a) {
  const pair = new Uint32Array(2);
  if (!resolveId(s, a.id, pair, 0, 'get') || !s.idKind) return null;
  return getOne(s, pair);
}

/** Several ids at once, in the order given: one getBatch; null for an absent id. */
export function getMany(s, a) {
  const list = a.ids;
  const out = new Array(list.length).fill(null);
  const pairs = new Uint32Array(2 * list.length);
  const slot = [];
  for (let i = 0; i < list.length; i++) {
    if (resolveId(s, list[i], pairs, slot.length, `getMany[${i}]`) && s.idKind) slot.push(i);
  }
  const n = slot.length;
  if (n === 0) return out;
  const g = s.engine.getBatch(s.h, s.dim, n, pairs.subarray(0, 2 * n), s.userMeta, true);
  const nameFn = nameOf(s);
  for (let j = 0; j < n; j++) {
    if (!g.found[j]) continue;
    out[slot[j]] = {
      id: publicId(s, pairs, j),
      vector: g.vecs.slice(j * s.dim, (j + 1) * s.dim),
      metadata: g.meta ? decodeRecord(g.meta.bytes, g.meta.off[j], g.meta.off[j + 1], nameFn).meta : {},
    };
  }
  return out;
}

/**
 * One page of live public ids in ascending internal order, after the id pair `a.after` (null:
 * from the start); `next` is the last pair of a full page (the facade wraps it in an opaque
 * cursor), null when the page was the last.
 */
export function ids(s, a) {
  if (!s.idKind) return { ids: [], next: null };
  const after = a.after ? Uint32Array.of(a.after[0], a.after[1]) : null;
  const pairs = s.engine.liveIds(s.h, after, a.limit);
  const n = pairs.length / 2;
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = publicId(s, pairs, i);
  return { ids: out, next: n === a.limit ? [pairs[2 * n - 2], pairs[2 * n - 1]] : null };
}

export { scanPage, rank };

export function stats(s) {
  const st = s.engine.stats(s.h);
  const mem = memoryOf(s, st);
  const cfg = s.engine.config(s.h);
  const index = s.kind === 'hnsw'
    ? { type: 'hnsw', m: cfg.m, efConstruction: cfg.efConstruction, ef: s.defaultEf || cfg.ef }
    : { type: 'flat' };
  return {
    count: st.live,
    dimension: s.dim,
    metric: s.metric,
    index,
    memoryBytes: mem,
    bytesPerVector: st.live ? mem / st.live : 0,
    tombstones: st.tombstones,
    implementation: s.impl,
    nodes: st.nodes,
    vectorBytes: st.vectorBytes,
    graphBytes: st.graphBytes,
    metadataBytes: st.metaBytes,
    maxLevel: st.maxLevel,
    fields: st.fields,
    idType: s.idKind,
    quantization: quantization(s),
    text: s.engine.textField(s.h),
  };
}

/**
 * The collection's quantization: { kind, trained, codeBytes, subvectors, tableBytes, trainedOn }
 * (kind 'none': float32 rows; trained false: fewer than 1,024 rows so far, searched exactly).
 */
function quantization(s) {
  const q = s.engine.quantInfo(s.h);
  return { kind: q.kind, trained: q.trained, codeBytes: q.codeBytes, subvectors: q.subvectors,
    tableBytes: q.tableBytes, trainedOn: q.trainedOn };
}

/** The committed image (Collection.export): a store's bytes verbatim, checked; a plain index materialized. */
export async function exportImage(s) {
  if (!s.store) {
    const m = await materialize(s);
    try {
      s.engine.storeCheckpoint(m.st);
      const info = s.engine.storeInfo(m.st);
      return checkedImage(s.engine, m.st, () => trimmed(s.engine.ioMemBytes(m.io), info.bytes), 'the image built in memory');
    } finally {
      dropMaterialized(s.engine, m);
    }
  }
  // The bytes are re-checked against the commit this handle holds (worker/image.js): a file may
  // have changed under a read-only handle; appends beyond its commit do not matter.
  const info = s.engine.storeInfo(s.store);
  if (s.fsb) return checkedImage(s.engine, s.store, () => s.dev.slice(0, info.bytes), s.path);
  if (s.dev instanceof MemoryDevice) return checkedImage(s.engine, s.store, () => s.dev.slice(0, info.bytes), 'the store in memory');
  if (s.dev) return checkedImage(s.engine, s.store, () => s.N.nb.readCommitted(s.dev, info.bytes), `the file ${s.path}`);
  return checkedImage(s.engine, s.store, () => trimmed(s.engine.ioMemBytes(s.memIo), info.bytes), 'the store in memory');
}

/** Collection.exportTo: the committed image, written to a file under that file's writer lock. */
export async function exportTo(s, out, overwrite) {
  const img = await exportImage(s);
  const N = await nodeBackend('exportTo');
  const path = await N.nb.writeImageFile(N, out, img, overwrite);
  return { path, bytes: img.length };
}

export async function snapshot(s) {
  let bytes;
  if (s.store) {
    bytes = snapshotOf(s.engine, s.store);
  } else {
    const m = await materialize(s);
    try {
      bytes = snapshotOf(s.engine, m.st);
    } finally {
      dropMaterialized(s.engine, m);
    }
  }
  return { cid: await sha256Hex(bytes), bytes };
}

/**
 * Compact the store onto a JS device, which it lives on from then on; the old device is closed
 * (an OPFS access handle must be, before its file is swapped).
 */
function compactOnto(s, dev) {
  const e = s.engine;
  const ref = e.ioFromDevice(dev);
  try {
    e.storeCompact(s.store, ref.io);
  } catch (err) {
    e.ioFree(ref);
    if (err?.poisoned) poison(s, err);
    throw err;
  }
  e.ioFree(s.ref);
  s.dev.close();
  s.dev = dev;
  s.ref = ref;
  s.h = e.storeIndex(s.store);
}

/**
 * Automatic compaction (docs/format.md §6): after a write, a store whose file exceeds its live
 * size by more than AUTO_COMPACT.ratio and AUTO_COMPACT.minBytes is compacted. The live size is
 * estimated from the committed directory (segment headers and payloads, less the share of VEC
 * bytes that deleted rows hold) plus the fixed overhead the last compaction of this handle showed;
 * right after a compaction the estimate equals the file, so a compaction never triggers another.
 */
export const AUTO_COMPACT = Object.freeze({ ratio: 1.25, minBytes: 64 * 1024 });

export function wantsCompaction(s) {
  if (!s.store || s.readOnly || s.replica || s.poisoned || s.autoCompact === false) return false;
  const e = s.engine;
  const info = e.storeInfo(s.store);
  const live = liveEstimate(s, info) + (s.compactOverhead ?? 0);
  return info.bytes > live * AUTO_COMPACT.ratio && info.bytes - live > AUTO_COMPACT.minBytes;
}

function liveEstimate(s, info) {
  let dir = 0, vec = 0;
  for (const seg of s.engine.storeDir(s.store, info.dirCount)) {
    dir += 64 + seg.length;
    if (seg.typeName === 'vec') vec += seg.length;
  }
  const dead = info.loaded > 0 ? vec * Math.min(1, info.deleted / info.loaded) : 0;
  return dir - dead;
}

/** Record an automatic compaction's outcome (status().autoCompaction). */
export function compacted(s, result, err) {
  const a = (s.autoCompaction ??= { runs: 0, bytesReclaimed: 0, lastError: null });
  if (err) {
    a.lastError = `${String(err?.message ?? err)} (automatic compaction is off for this handle: call compact() or reopen)`;
    s.autoCompact = false; // one failure stops retries on every write; compact() still works
    return;
  }
  a.runs++;
  a.bytesReclaimed += result.bytesBefore - result.bytesAfter;
  a.lastError = null;
}

/**
 * An automatic compaction whose image could not take the file's name: the file is unchanged and
 * still ours (its device open, its lock held), so the store is opened on it again and the image
 * dropped; the write that asked for the compaction was acknowledged, and its handle goes on.
 * @returns {boolean} false when the reopen failed (the caller poisons the handle)
 */
function backToFile(s, err) {
  const e = s.engine;
  let store;
  try {
    store = e.storeOpen(s.ref.io, null, 0, null);
  } catch {
    return false;
  }
  e.storeClose(s.store); // the store on the image, which is deleted below
  e.ioFree(err.ref);
  err.dev.close();
  try { s.N.fs.rmSync(`${s.path}.compact.tmp`, { force: true }); } catch { /* removed by the next compaction or open */ }
  if (s.lock) s.lock.adoptNext(s.dev.stat()); // gives up the image's identity claim
  s.store = store;
  s.h = e.storeIndex(store);
  adoptConfig(s);
  reloadIdMaps(s);
  return true;
}

export async function compact(s, auto = false) {
  writable(s, 'compact');
  if (!s.store) {
    throw einval(`compact: collection '${s.name}' lives in memory without an .rvf store, so there is no file to ` +
      'compact; open a file with createDatabase({ path }) or openCollection(path)');
  }
  const e = s.engine;
  const bytesBefore = e.storeInfo(s.store).bytes;
  e.storeSetTime(s.store, nowNs());
  if (s.fsb) {
    // A browser store: the image goes to a device whose first settle() replaces the stored
    // bytes in one step (an IndexedDB transaction, an OPFS swap file).
    compactOnto(s, s.fsb.compactDevice(s.name, s.dev));
    await settle(s);
  } else if (s.dev instanceof MemoryDevice) {
    compactOnto(s, new MemoryDevice());
    s.shipReopen = true;
  } else if (s.dev) {
    let moved;
    try {
      moved = await s.N.nb.compactFile(s.N, e, s.store, s.path, s.lock ? { dev: s.dev, lock: s.lock } : null);
    } catch (err) {
      if (err?.poisoned) poison(s, err);   // out of memory once the store had moved (vl_store_compact)
      if (err?.renameFailed && !(auto && backToFile(s, err))) {
        // The store now lives on the temporary file: keep its device for close(), stop here.
        s.extraDevs.push({ dev: err.dev, ref: err.ref });
        poison(s, err);
      }
      if (err?.replaced) {
        // The file at s.path is the compacted one and the store lives on it; only the rename's
        // durability is in doubt, so take no more writes (poison) but hold the right device.
        e.ioFree(s.ref);
        s.dev.close();
        s.dev = err.dev;
        s.ref = err.ref;
        s.h = e.storeIndex(s.store);
        poison(s, err);
      }
      throw err;
    }
    e.ioFree(s.ref);
    s.dev.close();
    s.dev = moved.dev;
    s.ref = moved.ref;
  } else {
    const io = e.ioMemOpen(new Uint8Array(0));
    try {
      e.storeCompact(s.store, io);
    } catch (err) {
      e.ioMemFree(io);
      if (err?.poisoned) poison(s, err);
      throw err;
    }
    e.ioMemFree(s.memIo);
    s.memIo = io;
  }
  // Compaction may replace the store's in-memory index (a graph without tombstones).
  s.h = e.storeIndex(s.store);
  const after = e.storeInfo(s.store);
  s.compactOverhead = Math.max(0, after.bytes - liveEstimate(s, after)); // see AUTO_COMPACT
  return { bytesBefore, bytesAfter: after.bytes, commit: commitInfo(s) };
}

/** A child store (Collection.derive): a new state of the same session; `adopt` registers it. */
export async function derive(s, path, adoptState) {
  // the child shares the engine memory its parent's budgets bound: it is held to them too
  const adopt = (c) => { c.budget = s.budget ?? 0; c.db = s.db ?? null; return adoptState(c); };
  const N = path === undefined ? null : await nodeBackend('derive');
  const fileId = await randomBytes(16);
  live(s); // the awaits above may have let a close() in
  const e = s.engine;
  const m = s.store ? null : await materialize(s);
  const parent = m ? m.st : s.store;
  const idKind = s.idKind ?? s.configIdKind;
  try {
    if (path === undefined && s.ship) {
      // A pooled child lives on a device whose appended bytes can be shipped to replicas.
      const dev = new MemoryDevice();
      const ref = e.ioFromDevice(dev);
      let child;
      try {
        child = e.storeDerive(parent, ref.io, fileId);
      } catch (err) {
        e.ioFree(ref);
        throw err;
      }
      return adopt(storeCollection(e, s.impl, child, { dev, ref, name: `${s.name}-child`, readOnly: false, createIdKind: idKind }));
    }
    if (path === undefined) {
      const io = e.ioMemOpen(new Uint8Array(0));
      let child;
      try {
        child = e.storeDerive(parent, io, fileId);
      } catch (err) {
        e.ioMemFree(io);
        throw err;
      }
      return adopt(storeCollection(e, s.impl, child, { memIo: io, name: `${s.name}-child`, readOnly: false, createIdKind: idKind }));
    }
    const holder = { s: null };
    const f = await N.nb.createChildFile(N, e, path, (err) => { if (holder.s) holder.s.lockLost = err; });
    let child;
    try {
      if (!m) live(s); // closed or poisoned meanwhile
      // s.store, not parent: an automatic compaction that could not rename reopened the store
      // on its file meanwhile and closed the one parent names (backToFile)
      child = e.storeDerive(m ? parent : s.store, f.ref.io, fileId);
    } catch (err) {
      N.nb.abandonFile(N, e, f);
      throw err;
    }
    holder.s = storeCollection(e, s.impl, child, {
      dev: f.dev, ref: f.ref, lock: f.lock, path: f.path, N, name: basename(f.path), readOnly: false, createIdKind: idKind,
    });
    return adopt(holder.s);
  } finally {
    if (m) dropMaterialized(e, m);
  }
}

export function segments(s) {
  if (!s.store) return [];
  return s.engine.storeDir(s.store, s.engine.storeInfo(s.store).dirCount);
}

export async function status(s) {
  const base = {
    name: s.name, path: s.path, backend: s.fsb ? s.fsb.kind : s.path ? 'node' : 'memory', persistent: Boolean(s.store),
    readOnly: s.readOnly, dimension: s.dim, metric: s.metric, index: s.kind, idType: s.idKind,
  };
  if (!s.store) {
    // The identity its images (export/snapshot) and derived children will carry.
    s.fileId ??= await randomBytes(16);
    live(s);
    const st = s.engine.stats(s.h);
    return {
      ...base, epoch: 0, fileId: toHex(s.fileId), parentId: null, lineageDepth: 0, count: st.live, deleted: 0,
      segments: 0, bytes: 0, indexLoaded: false, rowsInsertedOnOpen: 0, openCost: null, lock: null, recovered: null,
    };
  }
  const i = s.engine.storeInfo(s.store);
  return {
    ...base, epoch: i.epoch, fileId: i.fileId, parentId: i.parentId, lineageDepth: i.lineageDepth,
    count: i.live, deleted: i.deleted, segments: i.dirCount, bytes: i.bytes,
    indexLoaded: i.indexLoaded, rowsInsertedOnOpen: i.rowsInsertedOnOpen, openCost: i.openCost,
    lock: s.fsb ? (s.lock ? { held: true, ours: true, holder: s.lock.holder } : null)
      : s.path ? s.N.nb.lockStatus(s.N, s.path, s.lock) : null,
    recovered: s.recovered ? { ...s.recovered } : null,
    cache: s.cache ? { ...s.cacheStatus } : null,
    autoCompaction: { runs: 0, bytesReclaimed: 0, lastError: null, ...s.autoCompaction },
  };
}

export async function verify(s) {
  if (s.store) {
    const r = s.engine.storeVerify(s.store);
    const extra = await recoveryProblems(s);
    // rows of both id kinds (another tool's rows): the string-id maps cannot be built
    if (s.idKind === 'string' || s.idMapsPending) {
      try { void s.strToId; } catch (e) { if (e instanceof VecliteError && e.code === 'ECORRUPT') extra.push(e.message); else throw e; }
    }
    if (extra.length) { r.problems.push(...extra); r.ok = false; }
    return r;
  }
  try {
    s.engine.checkIndex(s.h);
    return { ok: true, problems: [], witness: { entries: 0, intact: true } };
  } catch (e) {
    if (!(e instanceof VecliteError) || e.code !== 'ECORRUPT') throw e;
    return { ok: false, problems: [e.message], witness: { entries: 0, intact: true } };
  }
}

export async function discardRecovered(s) {
  if (!s.path || !s.N) {
    s.recovered = null;
    return { removed: [] };
  }
  if (s.readOnly) {
    throw new VecliteError('EREADONLY', 'discardRecovered: this handle is read-only; open the store writable to remove its saved tails');
  }
  const { discardSaved } = await import('../idb/recovered-tail.js');
  const removed = discardSaved(s.N, s.path);
  s.recovered = null;
  return { removed };
}

export async function refresh(s) {
  const r = await refreshState(s);
  return { ...r, dim: s.dim, metric: s.metric };
}

/**
 * A replica catches up with its writer (message 'apply'): a store in memory receives the bytes
 * its writer appended (or a whole new image after a compaction), a file replica reads them from
 * its file; then only what is new is applied (vl_store_refresh).
 */
export async function apply(s, a) {
  if (!s.replica) throw einval(`apply: collection '${s.name}' is not a replica`);
  if (a.tail?.reopen) {
    swapStore(s, openImage(s.engine, a.tail.reopen, true));
    return { epoch: s.engine.storeInfo(s.store).epoch, dim: s.dim };
  } else if (a.tail) {
    s.dev.extend(a.tail.from, a.tail.bytes);
  }
  const r = await refreshState(s);
  return { epoch: r.epoch, dim: s.dim };
}

export function close(s, why) {
  if (!s.h) return null;
  s.stopFollow?.();
  s.detach?.();
  const err = release(s, why);
  if (err) throw err;
  return null;
}
