// idb/indexeddb-store.js — .rvf stores kept in IndexedDB: the same byte stream as a file, as
// append-only chunks plus a committed length, so the format, the crash semantics and export()
// are those of a file (docs/browser.md §2).
//
// One IndexedDB database per veclite database, named `veclite:<path>`, with object stores
//   chunks   key [collection, offset]  -> Uint8Array        the bytes appended at that offset
//   heads    key collection            -> { length, gen }  the committed length; gen changes when
//            bytes below it are rewritten, and is random for a store made anew
// A commit puts its new chunk and the new length in ONE transaction: either both are durable or
// neither (a closed or crashed page loses at most the write whose promise had not resolved).
// Compaction replaces every chunk and the length in one transaction too.
//
// Invariants:
// - A transaction whose request throws at once is aborted, so no part of it commits.
// - Loading reads the chunks below the committed length only; chunks at or past it (a rolled-back
//   write) are ignored and deleted by the next commit.
// - A writer's commit checks, in its transaction, that the head is still the one it loaded or last
//   committed: two writers (a lease taken over while a write was in flight) never both commit on
//   the same head, so neither overwrites a write the other acknowledged.
// - Errors are VecliteErrors: EBACKEND where IndexedDB is missing, EIO when a transaction fails
//   (QuotaExceededError says so).

import { VecliteError } from '../worker/errors.js';
import { MirrorDevice } from './mirror-device.js';

const VERSION = 1;

/** Whether this runtime has IndexedDB. */
export function indexedDbAvailable() {
  return typeof globalThis.indexedDB?.open === 'function';
}

/** An IDBRequest as a promise. */
export function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** A transaction's completion as a promise (rejects when it aborts or fails). */
export function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
    tx.onerror = () => reject(tx.error ?? new Error('transaction failed'));
  });
}

/** A failed IndexedDB operation as a VecliteError. */
export function idbError(e, what) {
  if (e instanceof VecliteError) return e;
  const quota = e?.name === 'QuotaExceededError';
  return new VecliteError('EIO', `${what}: IndexedDB failed (${e?.name ?? 'Error'}: ${e?.message ?? e})` +
    (quota ? '; the browser refused more storage for this site: free some, or ask for navigator.storage.persist()' : ''), { cause: e });
}

/**
 * Open (creating) the IndexedDB database of a veclite database.
 * @param {string} path the veclite database's name
 * @returns {Promise<IDBDatabase>}
 */
export async function openIdbDatabase(path) {
  if (!indexedDbAvailable()) {
    throw new VecliteError('EBACKEND', "backend 'indexeddb' needs IndexedDB, and this runtime has none; " +
      "use backend 'memory' (keep export() bytes yourself) or, in Node, a path (files)");
  }
  const r = indexedDB.open(`veclite:${path}`, VERSION);
  r.onupgradeneeded = () => {
    const db = r.result;
    if (!db.objectStoreNames.contains('chunks')) db.createObjectStore('chunks');
    if (!db.objectStoreNames.contains('heads')) db.createObjectStore('heads');
  };
  try {
    const db = await req(r);
    db.onversionchange = () => db.close();
    return db;
  } catch (e) {
    throw idbError(e, `opening the IndexedDB database of '${path}'`);
  }
}

const range = (name) => IDBKeyRange.bound([name, 0], [name, Infinity]);

/** The generation of a collection's bytes (changes when they are rewritten from 0). */
export async function genOf(db, name) {
  try {
    const h = await req(db.transaction('heads').objectStore('heads').get(name));
    return h?.gen ?? 0;
  } catch (e) {
    throw idbError(e, `reading collection '${name}'`);
  }
}

/** The committed length of a collection, or -1 when it has none. */
export async function headOf(db, name) {
  try {
    const h = await req(db.transaction('heads').objectStore('heads').get(name));
    return h ? h.length : -1;
  } catch (e) {
    throw idbError(e, `reading collection '${name}'`);
  }
}

/** The collections of a database (committed heads), sorted. */
export async function listNames(db) {
  try {
    const keys = await req(db.transaction('heads').objectStore('heads').getAllKeys());
    return keys.map(String).sort();
  } catch (e) {
    throw idbError(e, 'listing collections');
  }
}

/** The committed bytes of a collection (empty when it has none). */
export async function loadBytes(db, name) {
  return (await loadStore(db, name)).bytes;
}

/** The committed bytes of a collection and the head they are at: { bytes, head: { length, gen } }. */
async function loadStore(db, name) {
  let length, gen, chunks, keys;
  try {
    const tx = db.transaction(['heads', 'chunks']);
    const h = await req(tx.objectStore('heads').get(name));
    length = h ? h.length : 0;
    gen = h?.gen ?? 0;
    const cs = tx.objectStore('chunks');
    [keys, chunks] = await Promise.all([req(cs.getAllKeys(range(name))), req(cs.getAll(range(name)))]);
  } catch (e) {
    throw idbError(e, `reading collection '${name}'`);
  }
  const out = new Uint8Array(length);
  let covered = 0;
  for (let i = 0; i < keys.length; i++) {
    const off = keys[i][1];
    const c = chunks[i];
    if (off >= length) continue;
    if (off !== covered) {
      throw new VecliteError('ECORRUPT', `collection '${name}': IndexedDB holds no bytes for ${covered}..${off} below its committed length ${length}`);
    }
    const n = Math.min(c.length, length - off);
    out.set(c.subarray(0, n), off);
    covered = off + n;
  }
  if (covered !== length) {
    throw new VecliteError('ECORRUPT', `collection '${name}': IndexedDB holds ${covered} of its ${length} committed bytes`);
  }
  return { bytes: out, head: { length, gen } };
}

/**
 * The committed bytes from `from` on (a commit boundary the caller already holds), reading only
 * the chunks at or after it; null when the store was rewritten since the caller loaded it (its
 * generation `gen` changed, or it shrank below `from`): the caller reopens.
 */
export async function loadTail(db, name, from, gen) {
  let length, keys, chunks;
  try {
    const tx = db.transaction(['heads', 'chunks']);
    const h = await req(tx.objectStore('heads').get(name));
    length = h ? h.length : 0;
    if (length < from || (h?.gen ?? 0) !== gen) return null;
    const cs = tx.objectStore('chunks');
    const r = IDBKeyRange.bound([name, from], [name, Infinity]);
    [keys, chunks] = await Promise.all([req(cs.getAllKeys(r)), req(cs.getAll(r))]);
  } catch (e) {
    throw idbError(e, `reading collection '${name}'`);
  }
  const out = new Uint8Array(length - from);
  let covered = from;
  for (let i = 0; i < keys.length && covered < length; i++) {
    const off = keys[i][1];
    if (off !== covered) return null; // not a boundary we hold: the store was rewritten
    const n = Math.min(chunks[i].length, length - off);
    out.set(chunks[i].subarray(0, n), off - from);
    covered = off + n;
  }
  return covered === length ? out : null;
}

/**
 * The generation of a store made anew: random, so a follower that loaded a deleted store of the
 * same name (whose commit boundaries a new one may repeat) never takes its chunks for a tail.
 */
function freshGen() {
  const r = new Uint32Array(2);
  globalThis.crypto.getRandomValues(r);
  return r[0] * 65536 + (r[1] & 0xffff) + 1;
}

/** Abort a transaction whose requests failed to queue, so nothing it queued commits. */
function abort(tx) {
  try { tx?.abort(); } catch { /* already finished */ }
}

/**
 * Put bytes at `from` and the committed length, dropping chunks past it, in one transaction
 * (`from` 0 with a whole image replaces the store). With `expect` (the head this writer last
 * loaded or committed, updated here), a head that moved meanwhile — another writer committed —
 * refuses the commit with ELOCK before anything is written.
 */
export async function commit(db, name, from, bytes, length, expect) {
  let tx;
  try {
    tx = db.transaction(['heads', 'chunks'], 'readwrite', { durability: 'strict' });
    const cs = tx.objectStore('chunks');
    const heads = tx.objectStore('heads');
    const h = await req(heads.get(name));
    if (expect && ((h?.length ?? 0) !== expect.length || (h?.gen ?? 0) !== expect.gen)) {
      throw new VecliteError('ELOCK', `collection '${name}': another writer committed to it (or deleted it) since this one ` +
        'loaded it: its writer lease was taken over; nothing of this write was stored: reopen the collection to write');
    }
    cs.delete(IDBKeyRange.bound([name, from], [name, Infinity]));
    if (bytes.length) cs.put(bytes, [name, from]);
    // `gen` changes whenever bytes below the old length change (a rewrite from 0), and a store
    // made anew (never made, or deleted and made again) starts at a random one: followers holding
    // the old bytes must reopen instead of appending to them.
    const gen = h ? (h.gen ?? 0) + (from < h.length ? 1 : 0) : freshGen();
    heads.put({ length, gen }, name);
    await done(tx);
    if (expect) Object.assign(expect, { length, gen });
  } catch (e) {
    abort(tx); // a request that threw at once must not leave the chunk deletes to commit alone
    throw idbError(e, `committing collection '${name}'`);
  }
}

/** Replace a collection's bytes with an image, in one transaction (compaction). */
export async function replaceBytes(db, name, bytes) {
  let tx;
  try {
    tx = db.transaction(['heads', 'chunks'], 'readwrite', { durability: 'strict' });
    const h = await req(tx.objectStore('heads').get(name));
    tx.objectStore('chunks').delete(range(name));
    tx.objectStore('chunks').put(bytes, [name, 0]);
    tx.objectStore('heads').put({ length: bytes.length, gen: h ? (h.gen ?? 0) + 1 : freshGen() }, name);
    await done(tx);
  } catch (e) {
    abort(tx);
    throw idbError(e, `replacing collection '${name}'`);
  }
}

/** Remove a collection (chunks and head); whether it existed. */
export async function removeCollection(db, name) {
  try {
    const tx = db.transaction(['heads', 'chunks'], 'readwrite', { durability: 'strict' });
    const existed = (await req(tx.objectStore('heads').count(name))) > 0;
    tx.objectStore('chunks').delete(range(name));
    tx.objectStore('heads').delete(name);
    await done(tx);
    return existed;
  } catch (e) {
    throw idbError(e, `deleting collection '${name}'`);
  }
}

/**
 * A device over a collection's bytes: a mirror whose settle() commits to IndexedDB, fenced by the
 * head it loaded (dev.head, which a compaction's device shares: compactDevice).
 */
export async function idbDevice(db, name) {
  const { bytes, head } = await loadStore(db, name);
  const dev = new MirrorDevice(bytes, (from, b, length) => commit(db, name, from, b, length, head));
  dev.head = head;
  return dev;
}
