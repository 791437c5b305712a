// worker/session.js — a session: one engine and everything that lives in it (databases,
// collections, their id maps, field names, devices and writer locks), driven by the messages of
// worker/protocol.js. The same code runs in the caller's thread (worker/inline.js), in a module
// Web Worker and in a Node worker_threads worker (worker/host.js).
//
// Invariants:
// - handle() never throws: every outcome is a reply { id, result } or { id, error } (the error
//   as { code, message, outcome? }).
// - Handles (db, col) are small integers this session hands out; a closed collection keeps its
//   handle, so later calls on it get ECLOSED with the reason, never "no such handle".
// - Opens of one name share one promise; a delete of a name finishes before a create or get of
//   that name starts (the per-name #opening / #deleting chains of a database).
// - The engine is disposed when the last database or collection of the session is released.

import { VecliteError, einval, readOnlyDatabase } from './errors.js';
import { errorToWire } from './protocol.js';
import { loadEngine } from './engine.js';
import { checkName, parseCollectionConfig } from './config.js';
import { intIn } from './values.js';
import { describe } from './metadata.js';
import { live, settle } from './rows.js';
import { applyText, textMismatch } from './text.js';
import {
  basename, dropEngine, indexCollection, nodeBackend, openImage, randomBytes, release, retain, storeCollection,
} from './stores.js';
import * as C from './collection.js';
import * as T from './toolbox.js';
import { afterWrite, rebuildCache, reconcile, storeMetadata } from './hybrid.js';
import { MemoryDevice } from '../idb/memory-device.js';
import { branchBytesError } from '../idb/branch-parent.js';

export class Session {
  /** @type {import('./bind.js').Engine|null} */
  engine = null;
  impl = 'wasm';
  #seq = 0;
  /** @type {Map<number, any>} */
  #dbs = new Map();
  /** @type {Map<number, any>} */
  #cols = new Map();
  /** A pooled session: its writes report commits, its replicas follow them. */
  pooled = false;

  /**
   * Handle one request; resolves to its reply (never rejects).
   * @param {{ id: number, type: string, args: any }} msg
   */
  async handle(msg) {
    try {
      const fn = this.#handlers[msg.type];
      if (!fn) throw einval(`unknown message type ${JSON.stringify(String(msg.type))}`);
      const result = await fn(msg.args ?? {});
      return { id: msg.id, result: result === undefined ? null : result };
    } catch (e) {
      return { id: msg.id, error: errorToWire(e) };
    }
  }

  /**
   * The dimension and metric of a collection right now, synchronously (an in-thread facade's
   * getters use it: a following read-only handle may take a dimension from its writer at any
   * time), or null for an unknown or closed handle.
   */
  peek(handle) {
    const s = this.#cols.get(handle);
    return s && s.h ? { dim: s.dim, metric: s.metric } : null;
  }

  /**
   * Run a write on a collection, then wait until it is durable: a browser store's device may
   * keep it in memory until settle() commits it (idb/mirror-device.js).
   */
  async #write(a, fn, change = {}) {
    const s0 = this.#col(a);
    // A collection's writes run one at a time, each to its end (durable, cached, noticed, and
    // compacted if it asks for it): an asynchronous device must not have a commit in flight while
    // the next write — a compaction that switches devices, a hybrid cache update that reads rows
    // back — runs, and a file compaction awaits its lock claim with the store already on the
    // compacted image: a write, close or delete let in there would commit to, or close, a file
    // that never takes the name (#quiesce).
    // With none queued or running the write starts at once, in this call (a read sent after it
    // sees it, as before writes were queued).
    const prev = s0.writeBusy ? s0.writeTurn : null;
    let done;
    s0.writeTurn = new Promise((r) => { done = r; });
    s0.writeBusy = (s0.writeBusy ?? 0) + 1;
    try {
      if (prev) await prev;
      return await this.#writeNow(live(s0), fn, change);
    } finally {
      s0.writeBusy--;
      done();
    }
  }

  /** The collection of a request once no write of it is queued or running. */
  async #settled(a) {
    const s = this.#col(a);
    if (s.writeBusy) await this.#quiesce(s);
    return this.#col(a);
  }

  /**
   * Wait until no write of s is queued or running (see #write): a write queued while we wait is
   * waited for too, so the caller's next synchronous step (a release) follows every write.
   */
  async #quiesce(s) {
    while (s.writeBusy) await s.writeTurn;
  }

  async #writeNow(s, fn, change) {
    if (s.fsb && s.lock) {
      await s.lock.ensure(); // the browser lease, re-checked where Web Locks are absent
      live(s); // a close() may have come in meanwhile
    }
    let r = fn(s);
    if (r && typeof r.then === 'function') r = await r;
    // The epoch this write committed, read before any await lets another write in.
    const epoch = s.store ? this.engine.storeInfo(s.store).epoch : 0;
    const settled = settle(s);
    let cached = null;
    if (s.cache) {
      // hybrid mode: the store first, then the cache — cache updates in commit order
      cached = (s.cacheChain ?? Promise.resolve()).then(() => settled).then(() => afterWrite(s, change, epoch));
      s.cacheChain = cached.catch(() => {});
    }
    await settled;
    if (cached) await cached;
    if (s.fsb && s.lock) s.lock.noteEpoch(epoch);
    if (s.fsb) s.fsb.notify(s.name, epoch);
    if (!change.maintenance && C.wantsCompaction(s)) {
      // The write is committed; now keep the file near its live size. A failure here is the
      // compaction's, not the write's: status() reports it, and a collection the failure left
      // unusable refuses the next write with the reason (poison).
      try {
        const c = await this.#writeNow(s, (x) => C.compact(x, true), { maintenance: true });
        C.compacted(s, c);
        if (r && typeof r === 'object' && 'commit' in r) r.commit = c.commit; // replicas follow the new image
      } catch (e) {
        C.compacted(s, null, e);
      }
    }
    return r;
  }

  #engineNow(what) {
    if (!this.engine) throw einval(`${what}: this session has no engine; send 'open' first`);
    return this.engine;
  }

  #col(a) {
    const s = this.#cols.get(a.col);
    if (!s) throw new VecliteError('EINVAL', 'not a veclite Collection of this session');
    return live(s);
  }

  #db(a, what) {
    const d = this.#dbs.get(a.db);
    if (!d) throw new VecliteError('EINVAL', 'not a veclite Database of this session');
    if (d.closed) throw new VecliteError('ECLOSED', `${what}: the database is closed; create a new one with createDatabase()`);
    return d;
  }

  /** getCollection: an open collection, one being opened, or a file/browser store opened now. */
  async #getCollection(a) {
    const d = this.#db(a, 'getCollection');
    const name = a.name;
    this.#checkDbName(d, name, 'getCollection');
    if (d.deleting.has(name)) {
      await this.#deletesDone(d, name);
      this.#db(a, 'getCollection');
    }
    const s = d.cols.get(name);
    if (s) return this.#info(s);
    const pending = d.opening.get(name);
    if (pending) return pending;
    if (d.fsb && (await d.fsb.exists(name))) {
      return this.#openIn(d, name, async () => this.#fsbState(d, name, { readOnly: false, createCfg: null }, null));
    }
    if (d.dir) {
      const N = d.N;
      const file = this.#file(d, name);
      if (N.nb.holdsCollection(N, file)) {
        return this.#openIn(d, name, async () => {
          const lost = { s: null };
          const opened = await N.nb.openFileStore(N, this.engine, file, {
            readOnly: d.readOnly, createCfg: null,
            onLockLost: (e) => { if (lost.s) lost.s.lockLost = e; },
          });
          lost.s = this.#fileState(d, name, opened, null);
          if (d.readOnly && d.followMs) {
            const { startFollow } = await import('./follow.js');
            const { refreshState } = await import('./stores.js');
            const s = lost.s;
            s.stopFollow = startFollow(N.fs, opened.path, d.followMs, () => (s.h ? refreshState(s) : null));
          }
          return lost.s;
        });
      }
    }
    return null; // none of that name (the seed's getCollection)
  }

  /** Give a collection state a handle and describe it for the facade. */
  #adoptState(s) {
    if (!s.handle) {
      s.handle = ++this.#seq;
      this.#cols.set(s.handle, s);
      if (this.pooled && !s.readOnly) {
        s.ship = true;
        s.shipped = s.store ? this.engine.storeInfo(s.store).bytes : 0;
      }
    }
    return this.#info(s);
  }

  #info(s) {
    return {
      col: s.handle, name: s.name, dim: s.dim, metric: s.metric, readOnly: s.readOnly, path: s.path, impl: s.impl,
      budget: C.budgetOf(s),
      epoch: s.store ? this.engine.storeInfo(s.store).epoch : 0,
    };
  }

  #handlers = {
    open: async (a) => {
      if (this.engine) throw einval('open: this session already has an engine');
      this.engine = await loadEngine(a);
      this.impl = this.engine.isa === 'simd128' ? 'wasm-simd' : 'wasm';
      this.pooled = a.pooled === true;
      retain(this.engine); // the session's own reference, dropped by 'end'
      return { implementation: this.impl, limits: { ...this.engine.C.limits } };
    },
    end: () => {
      if (this.engine) dropEngine(this.engine);
      return null;
    },

    // ---- databases ----
    createDatabase: async (a) => {
      let N = null, dir = null, fsb = null;
      let cache = null;
      if (a.backend === 'opfs' || a.backend === 'indexeddb') {
        const { browserBackend } = await import('../idb/browser-store.js');
        fsb = await browserBackend(a.backend, a.path, a.lease);
        if (a.cache === 'indexeddb') cache = await (await import('../idb/metadata-cache.js')).openCache(fsb.kind, fsb.path);
      } else if (a.path !== undefined) {
        N = await nodeBackend('createDatabase');
        // a read-only database opens an existing folder and creates nothing
        dir = a.readOnly ? N.nb.existingDir(N, a.path) : N.nb.ensureDir(N, a.path);
      }
      retain(this.engine);
      const d = {
        handle: ++this.#seq, dir, N, fsb, cache, cols: new Map(), opening: new Map(), deleting: new Map(), closed: false,
        readOnly: a.readOnly === true && dir !== null, followMs: a.followMs ?? 0, budget: a.budget ?? 0,
      };
      this.#dbs.set(d.handle, d);
      return { db: d.handle, path: fsb ? fsb.path : dir, backend: fsb ? fsb.kind : dir ? 'node' : 'memory' };
    },
    createCollection: async (a) => {
      const d = this.#db(a, 'createCollection');
      if (d.readOnly) throw readOnlyDatabase('createCollection', d.dir);
      this.#checkDbName(d, a.name, 'createCollection');
      const name = a.name;
      if (d.deleting.has(name)) {
        await this.#deletesDone(d, name);
        this.#db(a, 'createCollection');
      }
      if (d.cols.has(name) || d.opening.has(name)) {
        throw einval(`createCollection: collection '${name}' already exists; use getCollection('${name}') or deleteCollection it first`);
      }
      const cfg = parseCollectionConfig(a.config, this.engine.C);
      const withCap = (s) => {
        s.maxElements ||= cfg.maxElements; s.budget = cfg.budget;
        applyText(s, cfg.text); // the keyword-indexed field, kept in the store (worker/text.js)
        return s;
      };
      if (d.fsb) {
        return this.#openIn(d, name, async () => withCap(await this.#fsbState(d, name, { readOnly: false, createCfg: cfg.c, mustCreate: true }, cfg.idKind, cfg.maxElements, cfg.quant)));
      }
      if (d.dir) {
        const N = d.N;
        return this.#openIn(d, name, async () => {
          const lost = { s: null };
          const opened = await N.nb.openFileStore(N, this.engine, this.#file(d, name), {
            readOnly: false, createCfg: cfg.c, mustCreate: true,
            onLockLost: (e) => { if (lost.s) lost.s.lockLost = e; },
          });
          lost.s = withCap(this.#fileState(d, name, opened, cfg.idKind, cfg.maxElements, cfg.quant));
          return lost.s;
        });
      }
      if (this.pooled || cfg.quant.kind !== 'none') {
        // A pooled database keeps each collection as a store in memory, so its replicas can
        // follow the bytes it appends; a quantized collection re-ranks with the float32 rows
        // its store keeps (in memory, here).
        return this.#openIn(d, name, async () => {
          const dev = new MemoryDevice();
          const ref = this.engine.ioFromDevice(dev);
          let st;
          try {
            st = this.engine.storeOpen(ref.io, cfg.c, this.engine.C.storeFlags.CREATE, await randomBytes(16));
          } catch (e) {
            this.engine.ioFree(ref);
            throw e;
          }
          return withCap(storeCollection(this.engine, this.impl, st, {
            name, readOnly: false, dev, ref, createIdKind: cfg.idKind, createMaxElements: cfg.maxElements, createQuant: cfg.quant, detach: this.#detacher(d, name),
          }));
        });
      }
      const s = indexCollection(this.engine, this.impl, cfg, name);
      withCap(s);
      s.db = d;
      s.detach = this.#detacher(d, name);
      d.cols.set(name, s);
      return this.#adoptState(s);
    },
    getCollection: async (a) => {
      const info = await this.#getCollection(a);
      if (info === null) return null;
      // a database's maxElements default applies to the collections it opens
      const s = this.#cols.get(info.col);
      if (a.maxElements && s && !s.maxElements) s.maxElements = a.maxElements;
      return info;
    },
    restoreCollection: async (a) => {
      // A pool's new writer takes over a collection of a memory database from a replica's image.
      const d = this.#db(a, 'restoreCollection');
      const name = a.name;
      if (d.dir || !this.pooled) throw einval('restoreCollection: only a pooled memory database restores collections from images');
      if (d.cols.has(name) || d.opening.has(name)) throw einval(`restoreCollection: collection '${name}' already exists`);
      return this.#openIn(d, name, async () => {
        const { store, dev, ref } = openImage(this.engine, a.bytes, false);
        return storeCollection(this.engine, this.impl, store, { name, readOnly: false, dev, ref, detach: this.#detacher(d, name) });
      });
    },
    listCollections: (a) => {
      const d = this.#db(a, 'listCollections');
      if (d.fsb) return d.fsb.list();
      if (d.dir) return d.N.nb.listDir(d.N, d.dir);
      return [...d.cols.keys()];
    },
    deleteCollection: (a) => {
      const d = this.#db(a, 'deleteCollection');
      if (d.readOnly) throw readOnlyDatabase('deleteCollection', d.dir);
      const name = a.name;
      this.#checkDbName(d, name, 'deleteCollection');
      const holders = Array.isArray(a.holders) ? a.holders : [];
      const prev = d.deleting.get(name);
      const p = (async () => {
        if (prev) await prev.catch(() => {});
        return this.#delete(d, name, holders);
      })();
      d.deleting.set(name, p);
      const done = () => { if (d.deleting.get(name) === p) d.deleting.delete(name); };
      p.then(done, done);
      return p;
    },
    closeDatabase: async (a) => {
      const d = this.#dbs.get(a.db);
      if (!d || d.closed) return null;
      d.closed = true;
      await Promise.allSettled([...d.opening.values(), ...d.deleting.values()]);
      await Promise.all([...d.cols.values()].filter((s) => s.writeBusy).map((s) => this.#quiesce(s)));
      let first = null;
      for (const s of d.cols.values()) {
        const err = release(s, 'the database is closed; create a new one with createDatabase()');
        first ??= err;
      }
      const closing = [...d.cols.values()].map((s) => s.closing);
      d.cols.clear();
      await Promise.all(closing);
      d.fsb?.close();   // its IndexedDB connection and notice channels
      d.cache?.close();
      dropEngine(this.engine);
      if (first) throw first;
      return null;
    },

    // ---- single stores ----
    openCollection: async (a) => {
      const s = await this.#openStore(a);
      s.budget = a.budget ?? 0;
      return this.#adoptState(s);
    },
    openReplica: async (a) => {
      let s;
      if (a.path !== undefined) {
        const N = await nodeBackend('openReplica');
        const opened = await N.nb.openFileStore(N, this.engine, a.path, { readOnly: true, createCfg: null });
        s = storeCollection(this.engine, this.impl, opened.store, {
          name: a.name, readOnly: true, dev: opened.dev, ref: opened.ref, path: opened.path, N, defaultEf: a.ef ?? 0,
        });
      } else {
        const { store, dev, ref } = openImage(this.engine, a.bytes, true);
        s = storeCollection(this.engine, this.impl, store, { name: a.name, readOnly: true, dev, ref, defaultEf: a.ef ?? 0 });
      }
      s.replica = true;
      return this.#adoptState(s);
    },
    apply: (a) => C.apply(this.#col(a), a),

    // ---- collections ----
    insert: (a) => this.#write(a, (s) => C.insert(s, a), { puts: a.ids }),
    update: (a) => this.#write(a, (s) => C.update(s, a), { puts: [a.id] }),
    delete: (a) => this.#write(a, (s) => C.remove(s, a), { deletes: a.ids }),
    deleteWhere: (a) => {
      const change = { deletes: [] }; // filled with the public ids the write removes
      return this.#write(a, (s) => C.deleteWhere(s, a, change.deletes), change);
    },
    clear: (a) => this.#write(a, (s) => C.clear(s), { clear: true }),
    rebuildCache: async (a) => {
      // after the writes in flight: rows read from the engine before their commit is durable
      // would put into the cache a write the store may yet fail to keep
      const s = await this.#settled(a);
      if (!s.cache) throw einval(`rebuildCache: collection '${s.name}' has no metadata cache; open its database with cache: 'indexeddb'`);
      return rebuildCache(s);
    },
    cachedMetadata: async (a) => {
      const s = this.#col(a);
      if (!s.cache) throw einval(`cachedMetadata: collection '${s.name}' has no metadata cache; open its database with cache: 'indexeddb'`);
      if (s.cacheMissed) return storeMetadata(s, a.id); // the cache is behind: the store answers
      const m = await s.cache.get(s.name, a.id);
      return m === undefined ? null : m;
    },
    search: (a) => C.search(this.#col(a), a),
    scanPage: (a) => C.scanPage(this.#col(a), a.after, a.pageSize),
    rank: (a) => C.rank(this.#col(a), a.query, a.pairs, a.options),
    get: (a) => C.get(this.#col(a), a),
    getMany: (a) => C.getMany(this.#col(a), a),
    ids: (a) => C.ids(this.#col(a), a),
    count: (a) => { const s = this.#col(a); return s.engine.count(s.h); },
    stats: (a) => C.stats(this.#col(a)),
    // An export reads the store's device: not while a write (an automatic compaction) has the
    // store on an image that has not taken the file's name yet (#write).
    export: async (a) => C.exportImage(await this.#settled(a)),
    exportTo: async (a) => C.exportTo(await this.#settled(a), a.path, a.overwrite === true),
    migrate: async (a) => (await import('./migrate.js')).migrate(this.engine, a),
    similarityMatrix: (a) => (a.col ? T.collectionSimilarity(this.#col(a), a) : T.similarity(this.#engineNow('similarityMatrix'), a)),
    kmeans: (a) => (a.col ? T.collectionKmeans(this.#col(a), a) : T.kmeans(this.#engineNow('kmeans'), a)),
    salvageRead: async (a) => {
      const N = await nodeBackend('recoverCollection');
      const { readSalvage } = await import('../idb/recovered-tail.js');
      return readSalvage(N, a.path, a.out);
    },
    snapshot: (a) => C.snapshot(this.#col(a)),
    compact: (a) => this.#write(a, (s) => C.compact(s)),
    derive: (a) => C.derive(this.#col(a), a.path, (s) => this.#adoptState(s)),
    segments: (a) => C.segments(this.#col(a)),
    status: (a) => C.status(this.#col(a)),
    verify: (a) => C.verify(this.#col(a)),
    discardRecovered: (a) => C.discardRecovered(this.#col(a)),
    refresh: (a) => C.refresh(this.#col(a)),
    close: async (a) => {
      const s = this.#cols.get(a.col);
      if (!s) throw new VecliteError('EINVAL', 'not a veclite Collection of this session');
      // (with no write in flight it closes at once: a read-only handle's pending refresh gets ECLOSED)
      if (s.writeBusy) await this.#quiesce(s);
      try {
        return C.close(s, 'it was closed; open it again to use it');
      } finally {
        await s.closing; // a browser store: its last bytes made durable, its lease released
      }
    },
  };

  // ---- database helpers ----

  #checkDbName(d, name, where) {
    if (d.fsb) return d.fsb.checkName(name, where);
    if (!d.dir) return checkName(name, where);
    if (typeof name !== 'string' || !d.N.nb.NAME_RE.test(name)) {
      throw einval(`${where}: collection name ${typeof name === 'string' ? JSON.stringify(name) : describe(name)} cannot be ` +
        'a file name: use 1..128 characters of A-Z a-z 0-9 _ . - starting with a letter, digit or _');
    }
  }

  #file(d, name) {
    return d.N.path.join(d.dir, `${name}.rvf`);
  }

  #detacher(d, name) {
    const f = () => { if (d.cols.get(name)?.detach === f) d.cols.delete(name); };
    return f;
  }

  /** Open a collection of a browser database (OPFS / IndexedDB) as a state. */
  async #fsbState(d, name, o, createIdKind, createMaxElements = 0, createQuant = null) {
    const lost = { s: null };
    const opened = await d.fsb.open(this.engine, name, { ...o, onLockLost: (e) => { if (lost.s) lost.s.lockLost = e; } });
    lost.s = storeCollection(this.engine, this.impl, opened.store, {
      name, readOnly: o.readOnly, dev: opened.dev, ref: opened.ref, lock: opened.lock, path: opened.path,
      fsb: d.fsb, createIdKind: opened.created ? createIdKind : null, createMaxElements: opened.created ? createMaxElements : 0,
      createQuant: opened.created ? createQuant : null, detach: this.#detacher(d, name),
    });
    await settle(lost.s);
    if (d.cache) {
      lost.s.cache = d.cache;
      await reconcile(lost.s);
    }
    return lost.s;
  }

  #fileState(d, name, opened, createIdKind, createMaxElements = 0, createQuant = null) {
    return storeCollection(this.engine, this.impl, opened.store, {
      name, readOnly: d.readOnly, readOnlyWhy: d.readOnly ? `belongs to the database at ${d.dir}, opened with readOnly: true` : undefined,
      dev: opened.dev, ref: opened.ref, lock: opened.lock, path: opened.path, N: d.N,
      createIdKind, createMaxElements, createQuant, recovered: opened.recovered, detach: this.#detacher(d, name),
    });
  }

  /** Open a collection of database d under one shared promise; resolves to its Info. */
  #openIn(d, name, open) {
    const p = (async () => {
      const s = await open();
      if (d.closed) {
        release(s, 'the database was closed while it opened');
        throw new VecliteError('ECLOSED', 'the database was closed while the collection opened');
      }
      d.cols.set(name, s);
      s.db = d; // its database's memory budget covers it
      return this.#adoptState(s);
    })();
    d.opening.set(name, p);
    const done = () => { if (d.opening.get(name) === p) d.opening.delete(name); };
    p.then(done, done);
    return p;
  }

  async #deletesDone(d, name) {
    for (let p; (p = d.deleting.get(name));) await p.catch(() => {});
  }

  async #delete(d, name, holders) {
    const pending = d.opening.get(name);
    if (pending) await pending.catch(() => {});
    if (d.dir && holders.length) {
      // another object of the caller's realm has this file open (web/handles.js): refuse before
      // anything is closed or removed
      const file = this.#file(d, name);
      const h = d.N.nb.heldBy(d.N, file, holders);
      if (h) {
        // a writer holding it also holds its lock file: name that too (pid, host, lock path)
        const lockHeld = await d.N.nb.writerLockHeld(d.N, file);
        throw new VecliteError('ELOCK', `deleteCollection: collection '${name}' (${file}) is open in this process by ` +
          `${h.kind}; close that handle first, then delete the collection${lockHeld ? ` (${lockHeld})` : ''}`);
      }
    }
    const s = d.cols.get(name);
    if (s) {
      d.cols.delete(name);
      if (s.writeBusy) await this.#quiesce(s);
      release(s, `collection '${name}' was deleted`);
    }
    if (d.fsb) {
      if (s) await s.closing;
      const removed = await d.fsb.remove(name);
      await d.cache?.drop(name);
      return removed || Boolean(s);
    }
    if (d.dir) return (await d.N.nb.deleteFile(d.N, this.#file(d, name))) || Boolean(s);
    return Boolean(s); // whether there was a collection of that name
  }

  /** openCollection: a file (node) or the bytes of an image (memory). */
  async #openStore(o) {
    const engine = this.engine;
    const cfg = o.create === undefined ? null : parseCollectionConfig(o.create, engine.C);
    const ef = o.ef === undefined ? 0 : intIn(o.ef, 1, engine.C.limits.MAX_EF, 'openCollection: ef');
    let s;
    if (o.backend === 'opfs' || o.backend === 'indexeddb') {
      // 'db/name': collection `name` of the browser database `db`
      const cut = o.source.lastIndexOf('/');
      if (cut <= 0 || cut === o.source.length - 1) {
        throw einval(`openCollection: a '${o.backend}' store is named '<database>/<collection>' (got ${JSON.stringify(o.source)})`);
      }
      const { browserBackend } = await import('../idb/browser-store.js');
      const fsb = await browserBackend(o.backend, o.source.slice(0, cut), o.lease);
      const name = o.source.slice(cut + 1);
      fsb.checkName(name, 'openCollection');
      const lost = { s: null };
      let opened;
      try {
        opened = await fsb.open(engine, name, {
          readOnly: o.readOnly, createCfg: cfg ? cfg.c : null, onLockLost: (e) => { if (lost.s) lost.s.lockLost = e; },
        });
      } catch (e) {
        fsb.close();
        throw e;
      }
      s = storeCollection(engine, this.impl, opened.store, {
        name, readOnly: o.readOnly, dev: opened.dev, ref: opened.ref, lock: opened.lock, path: opened.path, fsb, ownFsb: true,
        createIdKind: opened.created ? cfg?.idKind : null, createQuant: opened.created ? cfg?.quant : null, defaultEf: ef,
      });
      lost.s = s;
      await settle(s);
      if (o.followMs) {
        const { refreshState } = await import('./stores.js');
        s.stopFollow = fsb.follow(name, o.followMs, () => (s.h ? refreshState(s) : null));
      }
    } else if (typeof o.source === 'string') {
      const N = await nodeBackend('openCollection');
      const lost = { s: null };
      const opened = await N.nb.openFileStore(N, engine, o.source, {
        readOnly: o.readOnly, createCfg: cfg ? cfg.c : null,
        onLockLost: (e) => { if (lost.s) lost.s.lockLost = e; },
      });
      s = storeCollection(engine, this.impl, opened.store, {
        name: basename(opened.path), readOnly: o.readOnly, dev: opened.dev, ref: opened.ref, lock: opened.lock,
        path: opened.path, N, createIdKind: opened.created ? cfg?.idKind : null, createQuant: opened.created ? cfg?.quant : null, defaultEf: ef,
        recovered: opened.recovered,
      });
      lost.s = s;
      if (o.followMs) {
        const { startFollow } = await import('./follow.js');
        const { refreshState } = await import('./stores.js');
        s.stopFollow = startFollow(N.fs, opened.path, o.followMs, () => (s.h ? refreshState(s) : null));
      }
    } else {
      const bytes = o.source;
      if (o.readOnly && cfg && bytes.length === 0) {
        throw einval('openCollection: cannot create a store in empty bytes read-only; leave out readOnly');
      }
      const io = engine.ioMemOpen(bytes);
      let store;
      try {
        const branchErr = bytes.length ? branchBytesError(engine, io) : null;
        if (branchErr) throw branchErr;
        const creating = bytes.length === 0 && cfg !== null;
        const flags = (o.readOnly ? engine.C.storeFlags.READONLY : 0) | (creating ? engine.C.storeFlags.CREATE : 0);
        store = engine.storeOpen(io, creating ? cfg.c : null, flags, creating ? await randomBytes(16) : null);
      } catch (e) {
        engine.ioMemFree(io);
        if (e instanceof VecliteError && e.code === 'ENOTFOUND' && !/branch\(\) child/.test(e.message)) {
          throw bytes.length === 0
            ? new VecliteError('ENOTFOUND', 'openCollection: the bytes are empty; pass create: { dimension, ... } to create a store in memory', { cause: e })
            : new VecliteError('ECORRUPT', `openCollection: the bytes are not an .rvf image (${e.message})`, { cause: e });
        }
        throw e;
      }
      // Bytes past the last intact commit: reported (the caller still holds them), nothing saved.
      const info = engine.storeInfo(store);
      const recovered = bytes.length > info.bytes
        ? { epoch: info.epoch, discardedBytes: bytes.length - info.bytes, savedTo: null } : null;
      s = storeCollection(engine, this.impl, store, {
        name: 'memory', readOnly: o.readOnly, memIo: io, createIdKind: cfg?.idKind,
        createQuant: bytes.length === 0 ? cfg?.quant : null, defaultEf: ef, recovered,
      });
    }
    if (cfg && (s.dim !== cfg.dim || s.metric !== cfg.metric)) {
      release(s, 'it did not match the create configuration');
      throw einval(`openCollection: the store exists with dimension ${s.dim} and metric '${s.metric}', but create asks for ` +
        `dimension ${cfg.dim} and metric '${cfg.metric}'; leave out create to open it as it is`);
    }
    const q = cfg ? engine.quantInfo(s.h).kind : null;
    if (cfg && q !== cfg.quant.kind) {
      release(s, 'it did not match the create configuration');
      throw einval(`openCollection: the store exists with quantization '${q}', but create asks for '${cfg.quant.kind}'; ` +
        'the quantization of a store is chosen when it is created; leave out create to open it as it is');
    }
    if (cfg && q === 'product' && cfg.quant.subvectors) {
      // the store's sub-vectors: trained, or asked for at its creation (0: the default, about dim / 5)
      const have = engine.quantInfo(s.h).subvectors || Math.max(1, Math.floor((s.dim + 2) / 5));
      if (have !== cfg.quant.subvectors) {
        release(s, 'it did not match the create configuration');
        throw einval(`openCollection: the store exists with product quantization of ${have} sub-vectors, but create asks ` +
          `for ${cfg.quant.subvectors}; the quantization of a store is chosen when it is created; leave out create to open it as it is`);
      }
    }
    const textErr = cfg ? textMismatch(s, cfg.text) : null;
    if (textErr) {
      release(s, 'it did not match the create configuration');
      throw textErr;
    }
    return s;
  }
}
