// idb/metadata-cache.js — hybrid mode's metadata cache: each row's metadata of a store, kept in
// IndexedDB for lookups that need no engine, with the store epoch it reflects (docs/browser.md §4).
//
// The .rvf store is the source of truth. The cache is written after the store's commit is
// durable, in one transaction that also records the commit's epoch — the epoch the store committed
// in its manifest — so store and cache share one monotonic epoch. On open the session compares the
// two: a cache behind the store (a crash between the two writes, a writer without the cache) is
// rebuilt from the store; a cache ahead of it (a store restored from an older copy) is reported
// and rebuilt too — the store wins.
//
// IndexedDB database `veclite-cache:<backend>:<path>`:
//   rows    key [collection, idKey] -> { id, metadata }   idKey: 's<string id>' | 'n<decimal id>'
//   epochs  key collection          -> { epoch, rows, fileId, bytes }   fileId: the store it
//           reflects; bytes: that store's committed length at the epoch (the same epoch of another
//           history of the store — an older copy restored and written since — has another length)
//
// Invariants: every change (a write's rows and its epoch; a rebuild's rows and its epoch) is one
// transaction, so the cache is always some whole epoch of the store; errors are VecliteErrors.

import { done, idbError, req } from './indexeddb-store.js';

const idKey = (id) => (typeof id === 'string' ? `s${id}` : `n${id}`);

/**
 * Open the cache of one database.
 * @returns {Promise<MetadataCache>}
 */
export async function openCache(kind, path) {
  const r = indexedDB.open(`veclite-cache:${kind}:${path}`, 1);
  r.onupgradeneeded = () => {
    r.result.createObjectStore('rows');
    r.result.createObjectStore('epochs');
  };
  try {
    const db = await req(r);
    db.onversionchange = () => db.close();
    return new MetadataCache(db);
  } catch (e) {
    throw idbError(e, `opening the metadata cache of '${path}'`);
  }
}

const range = (name) => IDBKeyRange.bound([name, ''], [name, '\uffff']);

export class MetadataCache {
  #db;
  constructor(db) { this.#db = db; }

  /** { epoch, rows } the cache holds for a collection, or null. */
  async state(name) {
    try {
      return (await req(this.#db.transaction('epochs').objectStore('epochs').get(name))) ?? null;
    } catch (e) {
      throw idbError(e, `reading the metadata cache of '${name}'`);
    }
  }

  /**
   * Apply one committed write: `clear` first, then deletes, then puts ([id, metadata]), and the
   * epoch it brings the collection to, and the store's fileId and committed length — one
   * transaction.
   */
  async apply(name, { clear = false, deletes = [], puts = [] }, epoch, fileId, bytes) {
    let tx;
    try {
      tx = this.#db.transaction(['rows', 'epochs'], 'readwrite');
      const rows = tx.objectStore('rows');
      const epochs = tx.objectStore('epochs');
      if (clear) rows.delete(range(name));
      for (const id of deletes) rows.delete([name, idKey(id)]);
      for (const [id, metadata] of puts) rows.put({ id, metadata }, [name, idKey(id)]);
      const n = await req(rows.count(range(name)));
      epochs.put({ epoch, rows: n, fileId, bytes }, name);
      await done(tx);
    } catch (e) {
      try { tx?.abort(); } catch { /* finished */ }
      throw idbError(e, `writing the metadata cache of '${name}'`);
    }
  }

  /** Replace a collection's cache with rows ([id, metadata]) at an epoch — one transaction. */
  async rebuild(name, rows, epoch, fileId, bytes) {
    return this.apply(name, { clear: true, puts: rows }, epoch, fileId, bytes);
  }

  /** The cached metadata of an id, or undefined when the cache has no such row. */
  async get(name, id) {
    try {
      const v = await req(this.#db.transaction('rows').objectStore('rows').get([name, idKey(id)]));
      return v ? v.metadata : undefined;
    } catch (e) {
      throw idbError(e, `reading the metadata cache of '${name}'`);
    }
  }

  /** Forget a collection (deleteCollection). */
  async drop(name) {
    try {
      const tx = this.#db.transaction(['rows', 'epochs'], 'readwrite');
      tx.objectStore('rows').delete(range(name));
      tx.objectStore('epochs').delete(name);
      await done(tx);
    } catch (e) {
      throw idbError(e, `dropping the metadata cache of '${name}'`);
    }
  }

  /** Move the recorded epoch (tests simulate a cache ahead of its store with it). */
  async setEpoch(name, epoch) {
    const st = (await this.state(name)) ?? { rows: 0 };
    const tx = this.#db.transaction('epochs', 'readwrite');
    tx.objectStore('epochs').put({ ...st, epoch }, name);
    await done(tx);
  }

  close() { this.#db.close(); }
}
