// worker/stores.js — opening, refreshing and releasing a session's collection states: stores on
// a device (a file through idb/, bytes in memory) and plain in-memory indexes (docs/workers.md §2).
//
// Invariants:
// - On open, the state is rebuilt from the store: field names, string ids from each record's
//   '$id', the id kind from the rows (or the 'js.idType' file metadata written when idType was
//   fixed up front).
// - A read-only file state follows its writer with refreshState: only what was appended since is
//   read (vl_store_refresh); a file replaced under it (compacted) is reopened.
// - release() frees everything once: a writable store writes its graph checkpoint, then the
//   device is closed and the writer lock released; later calls see ECLOSED.
// - An engine is shared by a session's database states, collections and derived children; it is
//   disposed when the last of them is released.

import { VecliteError, einval, plural } from './errors.js';
import { ID_FIELD, decodeRecord } from './metadata.js';
import { idText, numericId } from './values.js';
import { live, nameOf, sidOf, storeWrite } from './rows.js';
import { liveIdPages } from './search.js';
import { MemoryDevice } from '../idb/memory-device.js';

/** File-metadata key holding a collection's id kind ('string' | 'number'), set when it is fixed up front. */
export const ID_KIND_KEY = 'js.idType';
/** File-metadata key holding a collection's maxElements (decimal), set when it was created with one. */
export const MAX_ELEMENTS_KEY = 'js.maxElements';
export const METRIC_NAMES = ['euclidean', 'dotProduct', 'cosine']; // by VL_METRIC_* value (= MANIFEST byte)
export const utf8 = (str) => new TextEncoder().encode(str);

/** Engines are shared by a Database and its collections (and derived children): count users. */
export function retain(engine) {
  engine.users = (engine.users ?? 0) + 1;
}

export function dropEngine(engine) {
  if (!engine || engine.disposed) return;
  engine.users -= 1;
  if (engine.users <= 0) engine.dispose();
}

/** The Node backend (idb/node-store.js plus node:fs & co.), loaded on first use. */
export async function nodeBackend(where) {
  const nb = await import('../idb/node-store.js');
  try {
    return { ...(await nb.loadNode()), nb };
  } catch (e) {
    if (e instanceof VecliteError) throw new VecliteError(e.code, `${where}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** n random bytes from the platform's CSPRNG. */
export async function randomBytes(n) {
  const b = new Uint8Array(n);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(b);
  else (await import('node:crypto')).randomFillSync(b);
  return b;
}

/** Lowercase hex SHA-256 (WebCrypto: browsers, workers, workerd, Node >= 18). */
export async function sha256Hex(bytes) {
  const subtle = globalThis.crypto?.subtle ?? (await import('node:crypto')).webcrypto.subtle;
  return toHex(new Uint8Array(await subtle.digest('SHA-256', bytes)));
}

/** Lowercase hex of bytes. */
export function toHex(bytes) {
  let hex = '';
  for (const x of bytes) hex += x.toString(16).padStart(2, '0');
  return hex;
}

/** The first n bytes of a fresh copy (no second copy when it already has that length). */
export function trimmed(copy, n) {
  return copy.length === n ? copy : copy.slice(0, n);
}

/** File name without directories and without a trailing .rvf. */
export function basename(p) {
  const f = p.split(/[\\/]/).pop();
  return f.endsWith('.rvf') ? f.slice(0, -4) : f;
}

/** A compacted image of a store, with the compaction timestamp fixed at 0 (see snapshot()). */
export function snapshotOf(engine, store) {
  const io = engine.ioMemOpen(new Uint8Array(0));
  try {
    engine.storeSetTime(store, 0n);
    engine.storeSnapshot(store, io);
    const bytes = engine.ioMemBytes(io);
    return bytes;
  } finally {
    engine.ioMemFree(io);
  }
}

/**
 * Write a plain in-memory collection into a fresh store on a memory device: its configuration,
 * text field, field names (in id order, so records keep their field ids), and every live row with its
 * record, in ascending id order with timestamps 0 — the same state always gives the same bytes.
 * @returns {Promise<{ st: number, io: number }>} free with dropMaterialized
 */
export async function materialize(s) {
  const e = s.engine;
  s.fileId ??= await randomBytes(16);
  live(s); // the await above may have let a close() in
  const io = e.ioMemOpen(new Uint8Array(0));
  let st = 0;
  try {
    st = e.storeOpen(io, e.config(s.h), e.C.storeFlags.CREATE, s.fileId);
    e.storeSetTime(st, 0n);
    if (s.configIdKind) e.storeFileMetaSet(st, ID_KIND_KEY, utf8(s.configIdKind));
    const text = e.textField(s.h); // the keyword-indexed field: set while the store is empty (worker/text.js)
    if (text !== null) e.storeSetText(st, text);
    const nf = e.fieldCount(s.h);
    for (let f = 0; f < nf; f++) {
      const got = e.storeField(st, utf8(e.fieldName(s.h, f)));
      if (got !== f) throw new VecliteError('EIO', `export: field ${f} became ${got} in the image; this is a bug in veclite`);
    }
    for (const page of liveIdPages(() => s)) {
      const n = page.length / 2;
      const g = e.getBatch(s.h, s.dim, n, page, true, true);
      const anyMeta = g.meta.bytes.length > 0;
      e.storeUpsert(st, n, page, g.vecs, anyMeta ? g.meta.bytes : null, anyMeta ? g.meta.off : null);
    }
    return { st, io };
  } catch (err) {
    if (st) e.storeClose(st);
    e.ioMemFree(io);
    throw err;
  }
}

export function dropMaterialized(engine, m) {
  engine.storeClose(m.st);
  engine.ioMemFree(m.io);
}

/**
 * Rebuild the JS side of an opened store: field names, the string-id maps (from each record's
 * '$id' field), the id kind and whether user metadata exists.
 */
export function loadIdMaps(s) {
  const e = s.engine;
  const nf = e.fieldCount(s.h);
  for (let f = 0; f < nf; f++) {
    const name = e.fieldName(s.h, f);
    s.fieldIds.set(name, f);
    s.fieldNames[f] = name;
  }
  const hasIdField = s.fieldIds.has(ID_FIELD);
  s.userMeta = nf > (hasIdField ? 1 : 0);
  const kindBytes = s.store ? e.storeFileMetaGet(s.store, ID_KIND_KEY) : null;
  const stored = kindBytes ? new TextDecoder().decode(kindBytes) : null;
  s.configIdKind = stored === 'string' || stored === 'number' ? stored : null;
  s.sidCache = null;
  if (!hasIdField) {
    // Without a '$id' field every live id is a number: counted, not walked.
    s.idKind = e.count(s.h) ? 'number' : s.configIdKind;
    s.nextSid = 1;
    s.idMapsPending = false;
    return;
  }
  // String ids: the kind from the first live row; the maps from the first call that needs them.
  const first = liveIdPages(() => s, 1).next().value;
  s.idKind = first ? (typeof sidOf(s, first, 0) === 'string' ? 'string' : 'number') : s.configIdKind;
  deferIdMaps(s);
  // a numeric first row beside a '$id' field: no later call would look for string ids, so the
  // walk (ECORRUPT for a file that mixes kinds) is done now
  if (s.idKind === 'number') void s.strToId;   // the first use: fills the maps
}


/*
 * The string-id maps (strToId, idToStr, nextSid) of a store with a '$id' field are built by the
 * first call that reads or writes them (a get, delete or insert by string id), not by the open:
 * walking every record in JS cost an open of 100,000 string ids ~200 ms more than the engine's
 * own open. Until then s.idMapsPending is true and a search names its hits from their records
 * (pendingSid). Accessors stand in for the three properties and replace themselves with the
 * built values on first use; a damaged file (ids of both kinds) fails that use, and every later one,
 * with the walk's ECORRUPT.
 */
const MAP_KEYS = ['strToId', 'idToStr', 'nextSid'];

function deferIdMaps(s) {
  s.idMapsPending = true;
  const fill = () => {
    dropIdMaps(s);
    try {
      walkIdMaps(s);
    } catch (err) {
      for (const k of MAP_KEYS) {
        Object.defineProperty(s, k, { configurable: true, enumerable: true, get() { throw err; }, set() { throw err; } });
      }
      throw err;
    }
  };
  for (const k of MAP_KEYS) {
    Object.defineProperty(s, k, {
      configurable: true, enumerable: true,
      get() { fill(); return s[k]; },
      set(v) { fill(); s[k] = v; },
    });
  }
}

/** Build the string-id maps from every live record; ECORRUPT for a file that mixes id kinds. */
function walkIdMaps(s) {
  const e = s.engine;
  let strings = 0, numbers = 0, maxSid = 0;
  const numeric = []; // the first few rows without a string id
  const nameFn = nameOf(s);
  for (const page of liveIdPages(() => s)) {
    const n = page.length / 2;
    const g = e.getBatch(s.h, s.dim, n, page, true, false);
    for (let i = 0; i < n; i++) {
      const sid = g.found[i] ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).sid : undefined;
      if (typeof sid === 'string') {
        const iid = numericId(page[2 * i], page[2 * i + 1]);
        if (typeof iid !== 'number') {
          throw new VecliteError('ECORRUPT', `collection '${s.name}': string id ${idText(sid)} has internal id ${iid}, ` +
            'above the range veclite assigns; the file was not written by veclite');
        }
        s.strToId.set(sid, iid);
        s.idToStr.set(iid, sid);
        if (iid > maxSid) maxSid = iid;
        strings++;
      } else {
        if (numbers++ < 5) numeric.push(numericId(page[2 * i], page[2 * i + 1]));
      }
    }
  }
  if (strings && numbers) {
    // veclite never writes this; another tool does (@ruvector/rvf-node's ingest writes numeric ids only)
    throw new VecliteError('ECORRUPT', `collection '${s.name}' mixes ${plural(strings, 'string id')} and ` +
      `${plural(numbers, 'row')} with only a numeric id (${numeric.join(', ')}${numbers > numeric.length ? ', ...' : ''}), ` +
      'which another tool (such as @ruvector/rvf-node, whose ingest writes numeric ids) added; a collection\'s ids are ' +
      'all strings or all numbers: delete those rows with the tool that wrote them, or salvage the string-id rows into ' +
      "a new store with recoverCollection / 'veclite recover' (which lists the numeric ones as lost)");
  }
  s.idKind = strings ? 'string' : numbers ? 'number' : s.configIdKind;
  s.nextSid = maxSid + 1;
}

/** Empty string-id maps, built or not (a close, a clear, a reload). */
export function dropIdMaps(s) {
  for (const k of MAP_KEYS) delete s[k];
  s.strToId = new Map();
  s.idToStr = new Map();
  s.nextSid = 1;
  s.idMapsPending = false;
  s.sidCache = null;
}

/** Forget the JS id maps and field names and rebuild them from the engine. */
export function reloadIdMaps(s) {
  dropIdMaps(s);
  s.fieldIds = new Map();
  s.fieldNames = [];
  loadIdMaps(s);
}

/**
 * Open an existing .rvf image held by a fresh JS memory device (a replica's copy, a pool writer's
 * restore): { store, dev, ref }; nothing is left allocated when the open fails.
 */
export function openImage(engine, bytes, readOnly) {
  const dev = new MemoryDevice(bytes);
  const ref = engine.ioFromDevice(dev);
  try {
    const store = engine.storeOpen(ref.io, null, readOnly ? engine.C.storeFlags.READONLY : 0, null);
    return { store, dev, ref };
  } catch (e) {
    engine.ioFree(ref);
    throw e;
  }
}

/**
 * Put a freshly opened store ({ store, dev, ref }) in place of the state's store (a replaced
 * file reopened, a replica's new image) and rebuild everything taken from the store.
 */
export function swapStore(s, opened) {
  const e = s.engine;
  e.storeClose(s.store);
  if (s.ref) e.ioFree(s.ref);
  s.dev.close();
  s.store = opened.store;
  s.ref = opened.ref;
  s.dev = opened.dev;
  s.h = e.storeIndex(s.store);
  adoptConfig(s);
  reloadIdMaps(s);
}

/**
 * Bring a read-only file state to its writer's newest commit (Collection.refresh).
 * @returns {Promise<{ epoch: number, changed: boolean, added: number, deleted: number, reopened: boolean }>}
 */
export async function refreshState(s) {
  const e = s.engine;
  const same = { epoch: 0, changed: false, added: 0, deleted: 0, reopened: false };
  if (!s.store) throw einval(`refresh: collection '${s.name}' is not a stored collection`);
  if (!s.dev) {
    throw einval(`refresh: collection '${s.name}' is not a file handle (bytes or memory); only a file handle follows its writer`);
  }
  if (!s.readOnly) return { ...same, epoch: e.storeInfo(s.store).epoch }; // a writer is always current
  if (s.fsb) {
    // A browser store: pull what the writer appended; a store that shrank was replaced (compacted).
    const len = await s.dev.pull();
    live(s);
    if (len < 0) {
      const dev = await s.fsb.reopenDevice(s.name);
      const ref = e.ioFromDevice(dev);
      let store;
      try {
        store = e.storeOpen(ref.io, null, e.C.storeFlags.READONLY, null);
      } catch (err) {
        e.ioFree(ref);
        throw err;
      }
      swapStore(s, { store, dev, ref });
      return { epoch: e.storeInfo(s.store).epoch, changed: true, added: 0, deleted: 0, reopened: true };
    }
  }
  let replaced = false;
  if (s.path && s.N) try {
    const { fs } = s.N;
    const a = fs.statSync(s.path, { bigint: true }), b = s.dev.stat();
    replaced = a.ino !== b.ino || a.dev !== b.dev;
  } catch { /* the file is being replaced: refresh what the handle has */ }
  if (replaced) {
    const opened = await s.N.nb.openFileStore(s.N, e, s.path, { readOnly: true, createCfg: null });
    if (!s.store) {
      // closed while the new file was being opened: that store is nobody's, close it here
      e.storeClose(opened.store);
      e.ioFree(opened.ref);
      opened.dev.close();
      throw new VecliteError('ECLOSED', `refresh: ${s.closedWhy || `collection '${s.name}' was closed`}`);
    }
    swapStore(s, opened);
    return { epoch: e.storeInfo(s.store).epoch, changed: true, added: 0, deleted: 0, reopened: true };
  }
  const r = e.storeRefresh(s.store);
  s.h = e.storeIndex(s.store);
  // A browser follower keeps only what its store accepted as committed: bytes of a commit in
  // flight (or one its writer then rolled back) are pulled again next time.
  if (s.fsb) s.dev.cut?.(e.storeInfo(s.store).bytes);
  if (r.status === 2) {
    adoptConfig(s);
    reloadIdMaps(s);
  } else if (r.status === 1) {
    const nf = e.fieldCount(s.h);
    for (let f = s.fieldNames.length; f < nf; f++) {
      const name = e.fieldName(s.h, f);
      s.fieldIds.set(name, f);
      s.fieldNames[f] = name;
    }
    s.userMeta = nf > (s.fieldIds.has(ID_FIELD) ? 1 : 0);
    if (s.idMapsPending) {
      // the maps are not built yet: they will be from the refreshed rows. The strings cached for
      // searches are dropped (a writer that reopened may give a deleted row's internal id to a
      // new string); the kind of a store that had no row may change.
      s.sidCache = null;
      if (!s.idKind && s.fieldIds.has(ID_FIELD)) {
        const up = e.storeRefreshIds(s.store, 0);
        if (up.length) s.idKind = typeof sidOf(s, up, 0) === 'string' ? 'string' : 'number';
      } else if (!s.idKind && r.added) {
        s.idKind = 'number';
      }
      return { epoch: r.epoch, changed: true, added: r.added, deleted: r.deleted, reopened: false };
    }
    const del = e.storeRefreshIds(s.store, 1);
    for (let i = 0; i < del.length; i += 2) {
      const iid = numericId(del[i], del[i + 1]);
      const sid = s.idToStr.get(iid);
      if (sid !== undefined) { s.idToStr.delete(iid); s.strToId.delete(sid); }
    }
    if (s.fieldIds.has(ID_FIELD)) {
      const up = e.storeRefreshIds(s.store, 0);
      const nameFn = nameOf(s);
      for (let o = 0; o < up.length; o += 2 * 1024) {
        const page = up.subarray(o, Math.min(up.length, o + 2 * 1024));
        const n = page.length / 2;
        const g = e.getBatch(s.h, s.dim, n, page, true, false);
        for (let i = 0; i < n; i++) {
          const sid = g.found[i] ? decodeRecord(g.meta.bytes, g.meta.off[i], g.meta.off[i + 1], nameFn).sid : undefined;
          if (typeof sid !== 'string') continue;
          const iid = numericId(page[2 * i], page[2 * i + 1]);
          // an internal id its writer gave anew (its row deleted since, not listed as deleted):
          // the string it had no longer names it
          const old = s.idToStr.get(iid);
          if (old !== undefined && old !== sid && s.strToId.get(old) === iid) s.strToId.delete(old);
          s.strToId.set(sid, iid);
          s.idToStr.set(iid, sid);
          if (typeof iid === 'number' && iid >= s.nextSid) s.nextSid = iid + 1;
        }
      }
      if (s.strToId.size) s.idKind = 'string';
    } else if (r.added) {
      s.idKind ??= 'number';
    }
  }
  return { epoch: r.epoch, changed: r.status !== 0, added: r.added, deleted: r.deleted, reopened: r.status === 2 };
}

/** verify() problems for bytes an open did not load, and for tails saved beside the file. */
export async function recoveryProblems(s) {
  const out = [];
  const r = s.recovered;
  if (r && r.savedTo === null) {
    out.push(`${plural(r.discardedBytes, 'byte')} after the last intact commit (epoch ${r.epoch}) ${r.discardedBytes === 1 ? 'was' : 'were'} not loaded` +
      (s.path ? '; a writable open saves them beside the file before writing' : '') +
      "; salvage their rows with recoverCollection / 'veclite recover'");
  }
  if (s.path && s.N) {
    const { listSaved } = await import('../idb/recovered-tail.js');
    for (const t of listSaved(s.N, s.path)) {
      out.push(`${plural(t.discardedBytes, 'byte')} after the commit of epoch ${t.epoch} ${t.discardedBytes === 1 ? 'was' : 'were'} not loaded and ${t.discardedBytes === 1 ? 'is' : 'are'} kept in ${t.savedTo}; ` +
        "salvage their rows with recoverCollection / 'veclite recover', then call discardRecovered()");
    }
  }
  return out;
}

/**
 * The state of a collection over an opened store.
 * @param {import('../worker/bind.js').Engine} engine
 * @param {string} impl 'wasm-simd' | 'wasm'
 * @param {number} store the vl_store handle (owned from now on: closed by release)
 * @param {{ name: string, readOnly: boolean, dev?: any, ref?: any, lock?: any, path?: string,
 *   memIo?: number, N?: any, createIdKind?: string|null, defaultEf?: number,
 *   detach?: () => void, readOnlyWhy?: string }} o
 *   readOnlyWhy: why a read-only state is read-only, for EREADONLY messages (worker/rows.js writable)
 */
export function storeCollection(engine, impl, store, o) {
  retain(engine);
  const s = {
    engine, impl, h: engine.storeIndex(store), store, name: o.name, dim: 0, metric: 'cosine', kind: 'hnsw',
    idKind: null, configIdKind: null, strToId: new Map(), idToStr: new Map(), nextSid: 1, userMeta: false,
    fieldIds: new Map(), fieldNames: [], closedWhy: '', readOnly: o.readOnly, dev: o.dev ?? null,
    ref: o.ref ?? null, memIo: o.memIo ?? 0, lock: o.lock ?? null, path: o.path ?? null, N: o.N ?? null,
    poisoned: null, lockLost: null, defaultEf: o.defaultEf ?? 0, detach: o.detach ?? null, extraDevs: [],
    fileId: null, recovered: o.recovered ?? null, fsb: o.fsb ?? null, readOnlyWhy: o.readOnlyWhy ?? null,
    ownFsb: o.ownFsb === true, // a store opened alone closes its browser backend (its connection) with it
  };
  try {
    const info = adoptConfig(s);
    loadIdMaps(s);
    if (o.createIdKind && !s.configIdKind && !s.readOnly && info.live === 0) {
      storeWrite(s, () => engine.storeFileMetaSet(store, ID_KIND_KEY, utf8(o.createIdKind)));
      s.configIdKind = o.createIdKind;
      s.idKind ??= o.createIdKind;
    }
    // A collection's capacity (createCollection({ maxElements })) is kept in the store, so every
    // later open of it enforces it too.
    if (o.createQuant && o.createQuant.kind !== 'none' && !s.readOnly && info.live === 0) {
      storeWrite(s, () => engine.storeSetQuant(store, o.createQuant.kind, o.createQuant.subvectors));
    }
    const cap = engine.storeFileMetaGet(store, MAX_ELEMENTS_KEY);
    if (cap) s.maxElements = Number(new TextDecoder().decode(cap)) || 0;
    if (o.createMaxElements && !s.maxElements && !s.readOnly && info.live === 0) {
      storeWrite(s, () => engine.storeFileMetaSet(store, MAX_ELEMENTS_KEY, utf8(String(o.createMaxElements))));
      s.maxElements = o.createMaxElements;
    }
  } catch (e) {
    release(s, 'it failed to open');
    throw e;
  }
  return s;
}

/**
 * The state of a plain in-memory collection (a vl_index, no store) made from a parsed config
 * (worker/config.js parseCollectionConfig).
 */
export function indexCollection(engine, impl, cfg, name) {
  const h = engine.indexNew(cfg.c);
  retain(engine);
  return {
    engine, impl, h, store: 0, name, dim: cfg.dim, metric: cfg.metric, kind: cfg.kind, idKind: cfg.idKind,
    configIdKind: cfg.idKind, strToId: new Map(), idToStr: new Map(), nextSid: 1, userMeta: false,
    fieldIds: new Map(), fieldNames: [], closedWhy: '', readOnly: false, dev: null, ref: null, memIo: 0,
    lock: null, path: null, N: null, poisoned: null, lockLost: null, defaultEf: 0, extraDevs: [], fileId: null,
    recovered: null, detach: null,
  };
}

/**
 * Take dimension, metric and index type from the store (at open, and when a refresh reopened or
 * reloaded it: the file may now be another store). @returns the store's info
 */
export function adoptConfig(s) {
  const info = s.engine.storeInfo(s.store);
  const cfg = s.engine.config(s.h);
  s.dim = info.dim;
  s.metric = METRIC_NAMES[info.metric] ?? 'euclidean';
  s.kind = cfg.kind === s.engine.C.kinds.FLAT ? 'flat' : 'hnsw';
  return info;
}

/**
 * Free a collection's engine resources (checkpointing a writable store), close its device and
 * release its lock. Idempotent.
 * @returns {VecliteError|null} a failed graph checkpoint (nothing committed is lost)
 */
export function release(s, why) {
  if (!s.h) return null;
  // A following read-only state stops polling its file however it is released (its close, its
  // database's close, a delete), not only through close().
  s.stopFollow?.();
  s.stopFollow = null;
  let err = null;
  if (s.store) {
    if (s.lock && s.dev && !s.lockLost && !s.poisoned) {
      // The close checkpoint writes too: not into a file that moved, nor under a lost lock.
      try {
        if (s.fsb) s.lock.check();
        else s.N.nb.checkWriter(s.dev, s.lock);
      } catch (e) { s.lockLost = e; }
    }
    if (s.lockLost && s.dev) s.dev.refuseWrites(s.lockLost);
    // Hybrid mode: the close checkpoint is a commit too; a cache in sync follows it to its epoch.
    let cacheEpoch = null, cacheFileId = null, cacheBytes = null;
    if (s.cache && !s.readOnly && !s.lockLost && !s.poisoned && s.cacheStatus?.epoch === s.engine.storeInfo(s.store).epoch) {
      try {
        s.engine.storeCheckpoint(s.store);
        ({ epoch: cacheEpoch, fileId: cacheFileId, bytes: cacheBytes } = s.engine.storeInfo(s.store));
      } catch { /* storeClose reports it */ }
    }
    err = s.engine.storeClose(s.store);
    if (s.lockLost) err = null; // the checkpoint was refused on purpose; nothing committed is lost
    if (s.ref) s.engine.ioFree(s.ref);
    if (s.memIo) s.engine.ioMemFree(s.memIo);
    for (const x of s.extraDevs) {
      s.engine.ioFree(x.ref);
      x.dev.close();
    }
    if (s.fsb) {
      // A browser store: its last bytes (the close checkpoint) become durable, then the lease
      // is given back; the session awaits s.closing before close() resolves.
      const { dev, lock, cache, name, fsb, ownFsb } = s;
      s.closing = (async () => {
        let settled = true;
        try {
          // Without Web Locks, a writer whose lease was taken over since its last write learns it
          // here, and leaves its close checkpoint unwritten: the new writer's store is not its.
          await lock?.ensure();
          await dev?.settle?.();
        } catch { settled = false; /* committed writes were settled when they resolved */ }
        if (cache && settled && cacheEpoch !== null) {
          await s.cacheChain; // the cache updates of earlier writes first
          await cache.apply(name, {}, cacheEpoch, cacheFileId, cacheBytes).catch(() => {});
        }
        dev?.close();
        await lock?.release();
        if (ownFsb) fsb.close();
      })();
    } else {
      if (s.dev) s.dev.close();
      if (s.lock) s.lock.release();
    }
  } else {
    s.engine.indexFree(s.h);
  }
  if (s.poisoned) err = null; // already reported; the close itself succeeded
  s.h = 0;
  s.store = 0;
  s.ref = null;
  s.memIo = 0;
  s.dev = null;
  s.lock = null;
  s.extraDevs = [];
  s.closedWhy = `collection '${s.name}': ${why}`;
  dropIdMaps(s);
  dropEngine(s.engine);
  return err;
}
