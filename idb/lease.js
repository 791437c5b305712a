// idb/lease.js — the browser writer lease: one writer per store across the pages and workers of
// an origin (docs/browser.md §3).
//
// Two parts, like the Node lock (a kernel-held claim plus a lock file):
// - a Web Lock `veclite:<key>` (navigator.locks, where present), requested with ifAvailable and
//   held until release: the browser grants it to one holder at a time and frees it the moment the
//   holding page or worker closes or crashes — the proof of death the lease record cannot give;
// - a lease record { holder, heartbeatAt, epoch } in IndexedDB (database `veclite-leases`),
//   refreshed every heartbeatMs (10 s) and stale after staleMs (30 s) (both options), which names
//   the holder in ELOCK messages and guards runtimes without Web Locks.
//
// Invariants:
// - Taking the lease is one readwrite transaction on the record (read, judge, put): two pages
//   racing never both win. With the Web Lock held, a previous record is provably dead and is
//   taken over at once; without Web Locks, only a record older than staleMs (or dated more than
//   staleMs in the future: a clock that jumped) is taken over.
// - A holder whose heartbeat finds the record taken by someone else has lost the lease: check()
//   throws ELOCK from then on, so no write lands under someone else's lease.
// - release() deletes the record if it is still ours and frees the Web Lock; idempotent.

import { VecliteError } from '../worker/errors.js';
import { done, req } from './indexeddb-store.js';

const DB = 'veclite-leases';

let dbPromise = null;
function leaseDb() {
  if (!dbPromise) {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore('leases');
    dbPromise = req(r).then((db) => {
      db.onversionchange = () => { db.close(); dbPromise = null; };
      return db;
    });
    dbPromise.catch(() => { dbPromise = null; });
  }
  return dbPromise;
}

function randomId() {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** Who this holder is, for ELOCK messages. */
function whoAmI() {
  const where = typeof globalThis.WorkerGlobalScope !== 'undefined' ? 'a worker' : 'a page';
  const url = globalThis.location?.href ?? '';
  return `${where}${url ? ` of ${url}` : ''}`;
}

function describeHolder(rec, now) {
  const age = Math.round((now - rec.heartbeatAt) / 1000);
  return `${rec.holder.who} (lease ${rec.holder.id}, heartbeat ${age >= 0 ? `${age} s ago` : `${-age} s in the future`})`;
}

/**
 * Take the writer lease of `key`. Rejects with ELOCK naming the holder when another live writer
 * has it.
 * @param {string} key e.g. 'opfs:docs/items'
 * @param {{ heartbeatMs?: number, staleMs?: number, epoch?: number, who?: string, onLost?: (e: VecliteError) => void }} [o]
 *   who: how ELOCK messages name this holder (default: this page or worker and its URL)
 */
export async function acquireLease(key, o = {}) {
  const heartbeatMs = o.heartbeatMs ?? 10_000;
  const staleMs = o.staleMs ?? 30_000;
  if (typeof globalThis.indexedDB?.open !== 'function') {
    throw new VecliteError('EBACKEND', 'the browser writer lease needs IndexedDB, which this runtime lacks');
  }
  const me = { id: randomId(), who: o.who ?? whoAmI(), since: Date.now() };
  const name = `veclite:${key}`;
  // 1. The Web Lock: held until release() resolves `free`.
  let free = null;
  let webLock = false;
  if (typeof globalThis.navigator?.locks?.request === 'function') {
    const got = await new Promise((resolve, reject) => {
      navigator.locks.request(name, { ifAvailable: true }, (lock) => {
        if (!lock) { resolve(false); return undefined; }
        resolve(true);
        return new Promise((r) => { free = r; });
      }).catch(reject);
    });
    if (!got) {
      const rec = await readRecord(key).catch(() => null);
      throw new VecliteError('ELOCK', `${key}: another writer holds this store` +
        (rec ? `: ${describeHolder(rec, Date.now())}` : ' (a page or worker of this origin)') +
        `; close it there, or open it read-only: openCollection('${key.slice(key.indexOf(':') + 1)}', { backend: '${key.slice(0, key.indexOf(':'))}', readOnly: true })`);
    }
    webLock = true;
  }
  // 2. The record, judged and taken in one transaction.
  try {
    const db = await leaseDb();
    const tx = db.transaction('leases', 'readwrite', { durability: 'strict' });
    const st = tx.objectStore('leases');
    const rec = await req(st.get(key));
    const now = Date.now();
    if (rec && rec.holder.id !== me.id && !webLock && Math.abs(now - rec.heartbeatAt) <= staleMs) {
      tx.abort();
      throw new VecliteError('ELOCK', `${key}: another writer holds this store: ${describeHolder(rec, now)}; ` +
        `it is taken over once its heartbeat is ${staleMs / 1000} s old`);
    }
    st.put({ holder: me, heartbeatAt: now, epoch: o.epoch ?? rec?.epoch ?? 0 }, key);
    await done(tx);
  } catch (e) {
    free?.();
    if (e instanceof VecliteError) throw e;
    throw new VecliteError('EIO', `${key}: the writer lease could not be recorded (${e?.name}: ${e?.message ?? e})`, { cause: e });
  }
  return new Lease(key, me, heartbeatMs, free, o.onLost, webLock);
}

/** The lease record of a key, or null. */
export async function readRecord(key) {
  const db = await leaseDb();
  return (await req(db.transaction('leases').objectStore('leases').get(key))) ?? null;
}

class Lease {
  #key;
  #me;
  #free;
  #timer = null;
  #lost = null;
  #released = false;
  #onLost;
  #webLock;
  #epoch;

  constructor(key, me, heartbeatMs, free, onLost, webLock) {
    this.#key = key;
    this.#me = me;
    this.#free = free;
    this.#onLost = onLost;
    this.#webLock = webLock;
    this.#timer = setInterval(() => { this.heartbeat().catch(() => {}); }, heartbeatMs);
  }

  /** Record the store epoch the holder committed (written with the next heartbeat). */
  noteEpoch(epoch) { this.#epoch = epoch; }

  /**
   * Before a write: without a Web Lock (nothing proves the others wait), re-read the record and
   * refresh it, so a holder that was too slow to beat learns it lost the lease before it writes
   * (ELOCK) instead of after. With the Web Lock held this costs nothing.
   */
  async ensure() {
    this.check();
    if (this.#webLock) return;
    try {
      await this.heartbeat();
    } catch (e) {
      throw new VecliteError('EIO', `${this.#key}: the writer lease could not be checked before this write ` +
        `(IndexedDB failed: ${e?.name ?? 'Error'}: ${e?.message ?? e}); nothing was written: try the write again`, { cause: e });
    }
    this.check();
  }

  get holder() { return this.#me; }

  /** Refresh heartbeatAt (and the epoch when given); loses the lease if the record is not ours. */
  async heartbeat(epoch) {
    if (this.#released || this.#lost) return;
    const db = await leaseDb();
    const tx = db.transaction('leases', 'readwrite');
    const st = tx.objectStore('leases');
    const rec = await req(st.get(this.#key));
    if (!rec || rec.holder.id !== this.#me.id) {
      tx.abort();
      this.#lose(rec ? `the lease was taken over by ${describeHolder(rec, Date.now())}` : 'the lease record was removed');
      return;
    }
    st.put({ ...rec, heartbeatAt: Date.now(), epoch: epoch ?? this.#epoch ?? rec.epoch }, this.#key);
    await done(tx).catch(() => {});
  }

  #lose(why) {
    this.#lost = new VecliteError('ELOCK', `${this.#key}: this writer lost its lease (${why}); reopen to write`);
    this.#onLost?.(this.#lost);
  }

  /** Throw ELOCK if the lease was lost. */
  check() {
    if (this.#lost) throw this.#lost;
  }

  /** Give the lease up (idempotent). */
  async release() {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    try {
      const db = await leaseDb();
      const tx = db.transaction('leases', 'readwrite');
      const st = tx.objectStore('leases');
      const rec = await req(st.get(this.#key));
      if (rec && rec.holder.id === this.#me.id) st.delete(this.#key);
      await done(tx);
    } catch { /* the record goes stale by itself */ }
    this.#free?.();
  }
}
