// idb/browser-store.js — a browser database backend for a session: the collections of one
// veclite database in OPFS files (idb/opfs-store.js) or IndexedDB chunks (idb/indexeddb-store.js),
// each writer under the browser lease (idb/lease.js) (docs/browser.md).
//
// The session sees one interface for both kinds:
//   checkName(name, where)  list()  exists(name)  remove(name)
//   open(engine, name, { readOnly, createCfg, mustCreate, lease, onLockLost })
//     -> { store, dev, ref, lock, path, created }
//   compactDevice(name, dev) a fresh device whose first settle() replaces the store atomically
//                           (dev: the store's device now, whose IndexedDB head it goes on from)
//   close()                 once its stores are closed: its notice channels and IndexedDB connection
// Devices may be asynchronous (a mirror): the session awaits dev.settle() before a write resolves.
//
// Invariants:
// - A writable open takes the lease before it reads a byte, and gives it back if the open fails.
// - Read-only opens take no lease; their device pulls what the writer appended (refresh).
// - A collection is created (its first commit durable) before open() resolves.

import { VecliteError, einval } from '../worker/errors.js';
import { NAME_RE } from './node-store.js';
import { acquireLease } from './lease.js';
import * as O from './opfs-store.js';
import * as I from './indexeddb-store.js';
import { MemoryDevice } from './memory-device.js';
import { MirrorDevice } from './mirror-device.js';

/** Which browser backends this runtime offers. */
export function browserBackends() {
  return { opfs: O.opfsAvailable(), indexeddb: I.indexedDbAvailable() };
}

function randomId(n) {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/**
 * The backend of database `path` of kind 'opfs' | 'indexeddb'.
 * @param {{ heartbeatMs?: number, staleMs?: number }} [leaseOptions]
 */
export async function browserBackend(kind, path, leaseOptions = {}) {
  // One spelling per database: every name derived from the path (OPFS directory, lease key,
  // notice channel, cache) must be the same for every way of writing it, so no empty, '.' or
  // '..' segment and no leading or trailing '/'.
  if (typeof path !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9._/-]{0,255}$/.test(path) ||
      path.split('/').some((p) => p === '' || p === '..' || p === '.')) {
    throw einval(`createDatabase: path ${JSON.stringify(path)} must name the database: 1..256 characters of A-Z a-z 0-9 _ . - ` +
      "and '/' between non-empty names (no '//', no '/' at either end, no '.' or '..' part)");
  }
  const place = kind === 'opfs' ? await O.opfsDirectory(path) : await I.openIdbDatabase(path);
  const label = (name) => `${kind}:${path}/${name}.rvf`;
  const leaseKey = (name) => `${kind}:${path}/${name}`;

  async function rawExists(name) {
    if (kind === 'opfs') return (await O.fileOf(place, name, false)) !== null;
    return (await I.headOf(place, name)) >= 0;
  }

  async function device(name, readOnly, create) {
    if (kind === 'opfs') {
      const fh = await O.fileOf(place, name, create);
      if (!fh) return null;
      return readOnly ? O.readOnlyDevice(fh, name) : O.writableDevice(fh, name);
    }
    if (!create && (await I.headOf(place, name)) < 0) return null;
    if (!readOnly) return I.idbDevice(place, name);
    const gen = await I.genOf(place, name);
    const dev = new MemoryDevice(await I.loadBytes(place, name));
    dev.refuseWrites(new VecliteError('EREADONLY', `${label(name)} is open read-only`));
    dev.pull = async () => {
      const tail = await I.loadTail(place, name, dev.size(), gen);
      if (tail === null) return -1; // rewritten (compacted): reopen
      if (tail.length) dev.extend(dev.size(), tail);
      return dev.size();
    };
    return dev;
  }

  async function readBytes(name) {
    if (kind === 'indexeddb') return I.loadBytes(place, name);
    const fh = await O.fileOf(place, name, false);
    if (!fh) throw new VecliteError('ENOTFOUND', `${label(name)} does not exist`);
    return O.readFileBytes(fh, name);
  }

  /** Commit notices between the writer and the readers of a store (same origin, any page or worker). */
  const channel = (name) => (typeof globalThis.BroadcastChannel === 'function' ? new BroadcastChannel(`veclite:${leaseKey(name)}`) : null);
  const notifiers = new Map();

  return {
    kind,
    path,
    label,
    /** Tell the readers of `name` that a commit landed (its epoch). */
    notify(name, epoch) {
      let ch = notifiers.get(name);
      if (ch === undefined) notifiers.set(name, (ch = channel(name)));
      ch?.postMessage({ epoch });
    },
    /**
     * Call `tick` after each commit notice for `name`, and every intervalMs in case a notice was
     * missed (another runtime, no BroadcastChannel); ticks never overlap. Returns stop().
     */
    follow(name, intervalMs, tick) {
      let running = false, again = false, stopped = false;
      const run = async () => {
        if (running) { again = true; return; }
        running = true;
        try {
          do { again = false; await tick(); } while (again && !stopped);
        } catch { /* the next notice or tick tries again */ } finally { running = false; }
      };
      const ch = channel(name);
      if (ch) ch.onmessage = () => { if (!stopped) run(); };
      const timer = setInterval(() => { if (!stopped) run(); }, intervalMs);
      return () => { stopped = true; clearInterval(timer); ch?.close(); };
    },
    /** After its stores are closed: the notice channels and the IndexedDB connection go too. */
    close() {
      for (const ch of notifiers.values()) ch?.close();
      notifiers.clear();
      if (kind === 'indexeddb') place.close();
    },
    checkName(name, where) {
      if (typeof name !== 'string' || !NAME_RE.test(name)) {
        throw einval(`${where}: collection name ${typeof name === 'string' ? JSON.stringify(name) : typeof name} cannot be ` +
          'a store name: use 1..128 characters of A-Z a-z 0-9 _ . - starting with a letter, digit or _');
      }
    },
    list: () => (kind === 'opfs' ? O.listNames(place) : I.listNames(place)),
    exists: rawExists,
    async remove(name) {
      const lease = await acquireLease(leaseKey(name), leaseOptions);
      try {
        return kind === 'opfs' ? await O.removeCollection(place, name) : await I.removeCollection(place, name);
      } finally {
        await lease.release();
      }
    },
    /** The committed bytes of a collection (a snapshot; no lease needed to read). */
    readBytes,
    /**
     * Write a whole image as collection `name`, under its lease, in one step (migrate) — only if,
     * with the lease held, the collection is absent or empty: a writer may have created it since
     * the caller looked. Returns null when written, else the bytes it holds (left as they are).
     */
    async writeImage(name, bytes) {
      const lease = await acquireLease(leaseKey(name), leaseOptions);
      try {
        const have = (await rawExists(name)) ? await readBytes(name) : null;
        if (have && have.length > 0) return have;
        if (kind === 'indexeddb') await I.replaceBytes(place, name, bytes);
        else await O.replaceBytes(await O.fileOf(place, name, true), name, bytes);
        return null;
      } finally {
        await lease.release();
      }
    },
    /** A fresh read-only device over the store as it is now (a replaced store reopened). */
    async reopenDevice(name) {
      const dev = await device(name, true, false);
      if (!dev) {
        throw new VecliteError('ENOTFOUND', `${label(name)} no longer exists (it was deleted): this read-only handle keeps ` +
          'what it last read; close it, and open the collection again once it exists');
      }
      return dev;
    },
    /**
     * A device for a compacted image: its first settle() writes the whole image from 0 (one
     * atomic replace), every later one only what was appended — the store lives on it from then on.
     * `old` is the store's device now: an IndexedDB commit is fenced by the head it stands on.
     */
    compactDevice(name, old) {
      const dev = new MirrorDevice(new Uint8Array(0), kind === 'opfs'
        ? async (from, bytes, length) => {
          try {
            await O.swapWrite(await O.fileOf(place, name, true), from, bytes, length);
          } catch (e) {
            throw O.opfsError(e, `writing ${name}.rvf`);
          }
        }
        : (from, bytes, length) => I.commit(place, name, from, bytes, length, old?.head));
      dev.head = old?.head; // the head the store's writer stands on (IndexedDB), moved by its commits
      return dev;
    },
    async open(engine, name, o) {
      const lease = o.readOnly ? null : await acquireLease(leaseKey(name), { ...leaseOptions, onLost: o.onLockLost });
      let dev = null, ref = null;
      try {
        const existed = await rawExists(name);
        if (!existed && !o.createCfg) {
          throw new VecliteError('ENOTFOUND', `${label(name)} does not exist; create it with createCollection`);
        }
        dev = await device(name, o.readOnly, !existed && Boolean(o.createCfg));
        if (!dev) throw new VecliteError('ENOTFOUND', `${label(name)} does not exist`);
        const empty = dev.size() === 0;
        if (o.mustCreate && !empty) throw einval(`${label(name)} already exists; open it with getCollection, or delete it first`);
        ref = engine.ioFromDevice(dev);
        const creating = empty && Boolean(o.createCfg);
        const flags = (o.readOnly ? engine.C.storeFlags.READONLY : 0) | (creating ? engine.C.storeFlags.CREATE : 0);
        const store = engine.storeOpen(ref.io, creating ? o.createCfg : null, flags, creating ? randomId(16) : null);
        try {
          await dev.settle?.();
        } catch (e) {
          engine.storeClose(store);
          throw e;
        }
        return { store, dev, ref, lock: lease, path: label(name), created: creating, recovered: null };
      } catch (e) {
        if (ref) engine.ioFree(ref);
        dev?.close();
        await lease?.release();
        throw e;
      }
    },
  };
}
