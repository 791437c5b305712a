// worker/rows.js — a session's collection state and its write path: id maps, field names,
// encoding rows for the engine, and committing them (docs/workers.md §2).
//
// A collection state `s` is a plain object owned by one session (worker/stores.js makes it):
//   engine, h (vl_index), store (vl_store or 0), name, dim, metric, kind, idKind, configIdKind,
//   strToId / idToStr (string id <-> internal u64 id), nextSid, userMeta, fieldIds / fieldNames,
//   readOnly, dev / ref / memIo / lock / path / N (device, writer lock, Node modules), poisoned,
//   lockLost, closedWhy, defaultEf, recovered, follow (a replica's catch-up source).
//
// Invariants:
// - Validation happens before anything changes: a refused write leaves the collection, its
//   field names and its id maps exactly as they were; batches are all or nothing. Everything the
//   engine would refuse (ids, record sizes, the field-name limit, the staging budget) is checked
//   before the first engine call that has an effect (registering a field name).
// - String ids are mapped to internal u64 ids from a counter and stored in each record under
//   '$id'; numeric ids go to the engine unchanged; a collection never mixes the two.
// - Store writes commit durably inside the engine call (the device syncs before it returns). A
//   failed durable write poisons the state: every later call is EIO until it is reopened.

import { VecliteError, einval, plural } from './errors.js';
import { upsertLayout } from './bind.js';
import { ByteWriter, ID_FIELD, checkRecordSize, decodeRecord, describe, recordSize, writeRecord } from './metadata.js';
import { NO_FIELD } from './filter.js';
import { RowName, TWO32, idKindError, idKindOf, idText, numericId, putNumeric } from './values.js';

/** The state if it can be used; ECLOSED / EIO otherwise. */
export function live(s) {
  if (!s) throw new VecliteError('EINVAL', 'not a veclite Collection');
  if (!s.h) throw new VecliteError('ECLOSED', s.closedWhy);
  if (s.poisoned) throw new VecliteError('EIO', s.poisoned);
  return s;
}

/** Field id of a registered name, or NO_FIELD. */
export function knownField(s, name) {
  const id = s.fieldIds.get(name);
  return id === undefined ? NO_FIELD : id;
}

/**
 * Names in `names` the collection has not registered yet; throws EINVAL (before anything is
 * registered) when they would take the collection past the engine's field-name limit.
 */
function freshFields(s, names, where) {
  const fresh = [];
  for (const name of names) if (!s.fieldIds.has(name)) fresh.push(name);
  if (fresh.length) {
    const max = s.engine.C.limits.MAX_FIELDS;
    const have = s.engine.fieldCount(s.h);
    if (have + fresh.length > max) {
      throw einval(`${where}: ${fresh.length} new metadata field name(s) would exceed the limit of ${max} per ` +
        `collection (${have} in use); reuse existing field names`);
    }
  }
  return fresh;
}

/**
 * Register (get or create) field names in the engine. Call only after everything else about
 * the write has been validated: a registered name stays, even if the write is then refused.
 */
function registerFields(s, names) {
  const enc = new TextEncoder();
  for (const name of names) {
    if (s.fieldIds.has(name)) continue;
    const bytes = enc.encode(name);
    const id = s.store ? s.engine.storeField(s.store, bytes) : s.engine.field(s.h, bytes);
    s.fieldIds.set(name, id);
    s.fieldNames[id] = name;
  }
}

/** Field id -> name, asking the engine for names this state has not seen yet. */
export function nameOf(s) {
  return (fid) => {
    let n = s.fieldNames[fid];
    if (n === undefined) {
      n = s.engine.fieldName(s.h, fid);
      s.fieldNames[fid] = n;
      s.fieldIds.set(n, fid);
    }
    return n;
  };
}

/** Resolve an id for a read/delete: returns true and fills pairs[2i..] or false (absent). */
export function resolveId(s, id, pairs, i, where) {
  const kind = idKindOf(id, where);
  if (s.idKind && kind !== s.idKind) {
    throw idKindError(where, s.name, s.idKind, id, false);
  }
  if (kind === 'string') {
    const iid = s.strToId.get(id);
    if (iid === undefined) return false;
    pairs[2 * i] = iid >>> 0;
    pairs[2 * i + 1] = Math.floor(iid / TWO32);
    return true;
  }
  putNumeric(id, pairs, i, where);
  return true;
}

/** The '$id' of the live row at id pair index i of pairs (undefined: none), from its record. */
export function sidOf(s, pairs, i) {
  const g = s.engine.getBatch(s.h, s.dim, 1, pairs.subarray(2 * i, 2 * i + 2), true, false);
  return g.found[0] ? decodeRecord(g.meta.bytes, g.meta.off[0], g.meta.off[1], nameOf(s)).sid : undefined;
}

/**
 * The string id of internal id n (at pair index i of pairs) while the id maps are not built yet:
 * read from its record and remembered (until the store changes: worker/stores.js). One record
 * read per id suits a search's k hits; a caller naming many rows (a scan, a huge k) pays for
 * PENDING_READS single reads at most, then the maps are built (one walk) and used.
 */
export function pendingSid(s, pairs, i, n) {
  const c = (s.sidCache ??= new Map());
  let sid = c.get(n);
  if (sid === undefined) {
    if ((s.sidReads = (s.sidReads ?? 0) + 1) > PENDING_READS) return s.idToStr.get(n);   // builds the maps
    sid = sidOf(s, pairs, i);
    if (typeof sid !== 'string') return s.idToStr.get(n);   // a row without a string id: the walk names it or fails ECORRUPT
    c.set(n, sid);
  }
  return sid;
}
const PENDING_READS = 4096;

/** Public id of the internal id at pair index i. */
export function publicId(s, pairs, i) {
  const lo = pairs[2 * i], hi = pairs[2 * i + 1];
  const n = numericId(lo, hi);
  if (s.idKind === 'string') {
    const str = s.idMapsPending ? pendingSid(s, pairs, i, n) : s.idToStr.get(n);
    if (str !== undefined) return str;
  }
  return n;
}

/**
 * Encode rows the facade has read (web/args.js readRows: public ids, one float32 matrix, and
 * metadata as prepareMetadata entries) for one vl_index_upsert, plus the id-map changes to
 * commit after it succeeds. The vectors' dimension is checked against the collection's (a
 * dimension-0 store takes it from this first write).
 */
export function encodeRows(s, rows, where) {
  const { ids: pub, vecs, metas } = rows;
  const n = pub.length;
  const dim = n ? vecs.length / n : 0;
  if (s.dim && dim !== s.dim) {
    throw einval(`${where}: vector has ${plural(dim, 'component')} but collection '${s.name}' has dimension ${s.dim}`);
  }
  const ids = new Uint32Array(n * 2);
  const sids = s.idKind === 'string' || s.idKind === null ? new Array(n) : null;
  let kind = s.idKind;
  let anyMeta = false;
  let newStrings = null;
  const rw = new RowName(where, n, 'insert');
  for (let i = 0; i < n; i++) {
    const id = pub[i];
    const w = rw.at(i);
    const k = idKindOf(id, w);
    if (kind === null) kind = k;
    else if (k !== kind) {
      throw idKindError(w, s.name, kind, id, true, s.idKind === null);
    }
    if (k === 'string') {
      let iid = s.strToId.get(id);
      if (iid === undefined) {
        newStrings ??= new Map();
        iid = newStrings.get(id);
        if (iid === undefined) {
          iid = s.nextSid + newStrings.size;
          newStrings.set(id, iid);
        }
      }
      ids[2 * i] = iid >>> 0;
      ids[2 * i + 1] = Math.floor(iid / TWO32);
      sids[i] = id;
    } else {
      putNumeric(id, ids, i, w);
    }
    if (metas[i].length) anyMeta = true;
  }
  const withRecords = anyMeta || kind === 'string';
  let metaBytes = -1;
  const names = new Set();
  if (withRecords) {
    metaBytes = 0;
    for (let i = 0; i < n; i++) {
      if (!metas[i].length && kind !== 'string') continue;
      const size = recordSize(metas[i], kind === 'string' ? sids[i] : undefined);
      checkRecordSize(size, rw.at(i));
      metaBytes += size;
    }
    if (kind === 'string') names.add(ID_FIELD);
    for (const m of metas) for (let j = 0; j < m.length; j += 3) names.add(m[j]);
  }
  upsertLayout(n, vecs.length, metaBytes);   // EBUDGET now, not after registering names
  let written = n;
  if (n > 1) {
    // The (lo, hi) pairs read as u64 (every platform a typed array runs on is little-endian),
    // sorted in a copy: no object per row, as a Set of keys would make.
    const u = new BigUint64Array(ids.buffer.slice(ids.byteOffset, ids.byteOffset + n * 8)).sort();
    written = 1;
    for (let i = 1; i < n; i++) if (u[i] !== u[i - 1]) written++;
  }
  let meta = null, metaOff = null;
  if (withRecords) {
    freshFields(s, names, where);
    // ---- nothing below can be refused for the input's sake ----
    registerFields(s, names);
    const fid = (name) => s.fieldIds.get(name);
    const idFid = kind === 'string' ? s.fieldIds.get(ID_FIELD) : -1;
    const wr = new ByteWriter(Math.max(256, Math.min(metaBytes, 64 << 20)));
    metaOff = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) {
      metaOff[i] = wr.len;
      if (metas[i].length || idFid >= 0) writeRecord(wr, metas[i], fid, idFid, sids?.[i]);
    }
    metaOff[n] = wr.len;
    meta = wr.take();
  }
  return { n, ids, vecs, meta, metaOff, kind, newStrings, anyMeta, written };
}

/** Apply the id-map changes of rows the engine accepted. */
export function commitRows(s, r) {
  s.idKind = r.kind;
  if (r.newStrings) {
    for (const [str, iid] of r.newStrings) {
      s.strToId.set(str, iid);
      s.idToStr.set(iid, str);
    }
    s.nextSid += r.newStrings.size;
  }
  if (r.anyMeta) s.userMeta = true;
}

/** Throw unless the collection may be written: not a read-only handle, writer lock still ours. */
export function writable(s, what) {
  if (s.readOnly) {
    throw new VecliteError('EREADONLY', `${what}: collection '${s.name}' ${s.readOnlyWhy ?? 'was opened read-only'}; ` +
      'open it without readOnly to write (one writer at a time)');
  }
  if (s.lockLost) throw new VecliteError(s.lockLost.code === 'EREADONLY' ? 'EREADONLY' : 'ELOCK', `${what}: ${s.lockLost.message}`);
  if (s.lock && s.fsb) {
    s.lock.check(); // the browser lease (idb/lease.js)
  } else if (s.lock && s.dev) {
    // The file must still be the one at its path, under our lock ("database moved" rule).
    try {
      s.N.nb.checkWriter(s.dev, s.lock);
    } catch (e) {
      if (e?.code === 'EREADONLY' || e?.code === 'ELOCK') s.lockLost = e;
      throw new VecliteError(e?.code ?? 'EIO', `${what}: ${e?.message ?? e}`, { cause: e });
    }
  }
}

/** Current wall clock in ns, for WITNESS timestamps. */
export const nowNs = () => BigInt(Date.now()) * 1_000_000n;

/**
 * Run one committing store call. A failed durable write (EIO) poisons the collection: every
 * later call rejects with EIO until it is closed and reopened (the C store is poisoned too).
 * Failed means failed: the engine rolls a failed commit back (truncates the file to the previous
 * commit and syncs), so a rejected write is never visible after a reopen; when that rollback
 * fails too the error has `outcome: 'unknown'` (else `'notWritten'`) and says so (worker/bind.js
 * _checkStore).
 */
export function storeWrite(s, fn) {
  try {
    s.engine.storeSetTime(s.store, nowNs());
    const r = fn();
    s.h = s.engine.storeIndex(s.store); // vl_store_index is re-read after every store call that changes state
    return r;
  } catch (e) {
    if (e instanceof VecliteError && e.code === 'EIO') poison(s, e);
    throw e;
  }
}

export function poison(s, e) {
  s.poisoned ??= `collection '${s.name}' is unusable after a failed durable write (${e.message}); ` +
    'close it and reopen it: the file holds every commit that completed' +
    (e.outcome === 'notWritten' ? ' and nothing of the failed write'
      : e.outcome === 'unknown' ? ', and the failed write either whole or not at all (its outcome is unknown)' : '');
}

export function engineUpsert(s, n, ids, vecs, meta, metaOff) {
  if (s.dim === 0 && n > 0 && s.store) {
    // A dimension-0 store: this first insert fixes the dimension (durable with its commit). A
    // facade's rows not copied yet are copied (checked) first: a vector refused while the store
    // takes them must not leave the dimension set with nothing written.
    if (!(vecs instanceof Float32Array)) vecs.fix();
    storeWrite(s, () => s.engine.storeSetDim(s.store, vecs.length / n));
    s.dim = vecs.length / n;
  }
  if (s.store) storeWrite(s, () => s.engine.storeUpsert(s.store, n, ids, vecs, meta, metaOff));
  else s.engine.upsert(s.h, n, ids, vecs, meta, metaOff);
}

export function engineSetMeta(s, n, ids, meta, metaOff) {
  if (s.store) storeWrite(s, () => s.engine.storeSetMeta(s.store, n, ids, meta, metaOff));
  else s.engine.setMeta(s.h, n, ids, meta, metaOff);
}

export function engineDelete(s, n, ids) {
  return s.store ? storeWrite(s, () => s.engine.storeDelete(s.store, n, ids)) : s.engine.deleteIds(s.h, n, ids);
}

export function engineClear(s) {
  if (s.store) storeWrite(s, () => s.engine.storeClear(s.store));
  else s.engine.clear(s.h);
}

/** ENOTFOUND for update() of an absent id. */
export function notFound(s, id) {
  return new VecliteError('ENOTFOUND', `update: no vector with id ${idText(id)} in collection '${s.name}'; use insert to add it`);
}

/** Size of update()'s new record (EINVAL when too large), checked before anything changes. */
export function updateRecordSize(s, id, entries) {
  if (!entries.length && s.idKind !== 'string') return 0;
  const recBytes = recordSize(entries, s.idKind === 'string' ? id : undefined);
  checkRecordSize(recBytes, 'update');
  return recBytes;
}

/**
 * Metadata record bytes for update(): the entries (prepareMetadata form) plus '$id' for a
 * string id. Registers field names (after the field-limit check): call it last.
 */
export function updateRecord(s, id, entries, recBytes) {
  const names = new Set();
  if (s.idKind === 'string') names.add(ID_FIELD);
  for (let j = 0; j < entries.length; j += 3) names.add(entries[j]);
  freshFields(s, names, 'update');
  registerFields(s, names);
  const w = new ByteWriter(Math.max(64, recBytes));
  const idFid = s.idKind === 'string' ? s.fieldIds.get(ID_FIELD) : -1;
  if (entries.length || idFid >= 0) writeRecord(w, entries, (n) => s.fieldIds.get(n), idFid, id);
  return w.take();
}

/**
 * Wait until what the state's device holds is durable (a browser store's mirror commits to
 * IndexedDB or OPFS); a failure poisons the state like a failed durable write.
 */
export async function settle(s) {
  const dev = s.dev;
  if (!dev?.settle) return;
  try {
    await dev.settle();
  } catch (e) {
    const err = e instanceof VecliteError && e.code !== 'EIO' ? e : new VecliteError('EIO', `collection '${s.name}': ${e?.message ?? e}`, { cause: e });
    err.outcome = 'notWritten';
    poison(s, err);
    throw err;
  }
}
