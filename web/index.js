// web/index.js — veclite's public JavaScript API (docs/api.md): a thin facade over sessions.
//
//   createDatabase() -> Database -> Collection (insert/search/get/update/delete/...)
//   openCollection(path | bytes) -> Collection
//
// Layering (docs/conventions.md §6, docs/workers.md): this file validates arguments (web/args.js
// reads them into plain data), sends one message per call to a session (worker/protocol.js) and
// shapes the results (scores, thresholds, hit objects). All engine state — handles, id maps,
// field names, devices, writer locks — lives in the session: in this thread (worker/inline.js,
// the default and the only host on workerd) or in workers (worker/pool.js, createDatabase({
// workers })). A Database or Collection object holds a client and a handle, nothing more.
//
// Invariants:
// - A rejected call changes nothing: arguments are read and checked here before anything is
//   sent, and the session checks everything that needs its state before the engine changes.
// - Every failure is a VecliteError: a session's errors cross as { code, message, outcome? }.
// - A resolved write is committed (durably, for a file) and visible to every later read, whichever
//   session of a pool serves it.
// - After close() (or deleteCollection, or the database's close) every call rejects with ECLOSED.

import { VecliteError, einval, readOnlyDatabase } from '../worker/errors.js';
import { describe, isPlainObject } from '../worker/metadata.js';
import { InlineClient } from '../worker/inline.js';
import { resolveWasm, simdSupported } from './loader.js';
import {
  checkKeys, cursorOf, hitsOf, inspect, intIn, plainCopy, readIds, readIdsOptions, readPatch, readQueries, readRows, releaseRows,
  readSearchOptions, readUpdateOptions,
} from './args.js';
import { parseFilter } from '../worker/filter.js';
import { budgetBytes } from '../worker/config.js';
import { predicateSearch } from './predicate.js';
import { holdFile, holdersExcept, releaseFile } from './handles.js';
import { kmeansResult, readCollectionKmeans, readIdSets, readKmeans, readSimilarity } from './toolbox.js';

export { VecliteError };
export { recoverCollection } from './recover.js';

/** Only this module constructs Database and Collection objects. */
const INTERNAL = Symbol('veclite.internal');

function notConstructible(what, how) {
  return new VecliteError('EINVAL', `${what} objects are not constructed directly: ${how}`);
}

/** Live pools, for getWasmInfo().workerPoolSize. @type {Set<any>} */
const POOLS = new Set();
/** Workers createDatabase uses when its config does not say (initWorkerPool). */
let defaultWorkers = 0;
/** Whether the last engine loaded has SIMD kernels; null before any load. @type {boolean|null} */
let lastLoadedSimd = null;
/** The storage backend of the last database created. @type {string|null} */
let lastBackend = null;

/**
 * Start a client: in-thread (workers 0) or a pool of worker sessions, each with an engine.
 * @returns {Promise<{ client: any, info: { implementation: string, limits: any } }>}
 */
async function startClient(o, workers) {
  const wasm = await resolveWasm(o);
  if (!workers) {
    const client = new InlineClient();
    const info = await client.call('open', wasm);
    lastLoadedSimd = info.implementation === 'wasm-simd';
    return { client, info };
  }
  const { Pool } = await import('../worker/pool.js');
  const pool = await Pool.start(workers, wasm);
  POOLS.add(pool);
  pool.onTerminate = () => POOLS.delete(pool);
  lastLoadedSimd = pool.info.implementation === 'wasm-simd';
  return { client: pool, info: pool.info };
}

/** Drop the session's own reference to its engine: from now on the engine lives as long as what was opened. */
function endSession(client) {
  client.call('end', {}).catch(() => {});
}

// ---- Collection -------------------------------------------------------------------------------

/**
 * A named set of vectors of one dimension and metric, with an index. Obtain one from
 * Database.createCollection / getCollection, openCollection or Collection.derive.
 */
export class Collection {
  #client;
  #col;
  #c;
  #closedWhy = null;
  #onClose;

  /** @hideconstructor */
  constructor(token, client, info, limits, onClose = null) {
    if (token !== INTERNAL) throw notConstructible('Collection', 'get one from db.createCollection(), db.getCollection() or openCollection()');
    this.#client = client;
    this.#col = info.col;
    this.#c = { name: info.name, dim: info.dim, metric: info.metric, limits, impl: info.impl, budget: info.budget ?? 0 };
    this.#onClose = onClose;
  }

  /** The collection's name. */
  get name() { return this.#c.name; }
  /** Vector dimension (0 for an rvf-node store that has none yet: its first insert sets it). */
  get dimension() { return this.#now().dim; }
  /** 'cosine' | 'euclidean' | 'dotProduct' */
  get metric() { return this.#now().metric; }

  /**
   * What the facade knows of the collection, brought up to date from an in-thread session (a
   * following read-only handle can change dimension and metric between calls); a pool's
   * collections change them only through calls whose replies say so.
   */
  #now() {
    const p = this.#closedWhy ? null : this.#client.peek?.(this.#col);
    if (p) {
      this.#c.dim = p.dim;
      this.#c.metric = p.metric;
    }
    return this.#c;
  }

  /** Mark closed from outside (its database closed, or it was deleted). */
  _closed(why) { this.#closedWhy ??= why; }

  #live() {
    if (this.#closedWhy) throw new VecliteError('ECLOSED', this.#closedWhy);
  }

  #send(type, args = {}) {
    return this.#client.call(type, { col: this.#col, ...args });
  }

  /**
   * Insert or replace one vector: insert({ id, vector, metadata? }), or the seed's form
   * insert(id, vector, metadata?).
   */
  async insert(item, ...rest) {
    this.#live();
    const t = typeof item;
    if (t === 'string' || t === 'number' || t === 'bigint') { // insert(id, vector, metadata?)
      item = { id: item, vector: rest[0], ...(rest[1] === undefined ? {} : { metadata: rest[1] }) };
    }
    const rows = inspect('insert', () => readRows(this.#now(), [item], 'insert'));
    const r = await this.#send('insert', { ...rows, where: 'insert' });
    this.#c.dim = r.dim;
  }

  /**
   * Insert or replace many vectors atomically (all or nothing); the last row of a repeated id wins.
   * @returns {Promise<number>} how many distinct ids were written
   */
  async insertBatch(items) {
    this.#live();
    const rows = inspect('insertBatch', () => {
      if (!Array.isArray(items)) throw einval(`insertBatch expects an array of { id, vector, metadata? } (got ${describe(items)})`);
      if (items.length > 0xFFFFFFFF) throw einval('insertBatch: too many items for one batch');
      return items.length ? readRows(this.#now(), items, 'insertBatch', this.#client.inThread === true) : null;
    });
    if (!rows) return 0;
    let r;
    try {
      const sent = this.#send('insert', { ...rows, where: 'insertBatch' });
      rows.vecs.settle?.();   // still the call's turn: vectors the session has not taken are copied now
      r = await sent;
    } finally {
      releaseRows(rows);
    }
    this.#c.dim = r.dim;
    return r.written;
  }

  /** k nearest neighbours of one query, best first. */
  async search(vector, options) {
    this.#live();
    const o = inspect('search', () => readSearchOptions(this.#c.limits, options));
    if (this.#now().dim === 0) return [];
    if ((vector === null || vector === undefined) && o.text !== null) {
      // keyword search: BM25 over the collection's text field, no vector (docs/api.md §4)
      if (options.hybrid != null) throw new VecliteError('EINVAL', 'search: hybrid fuses a vector ranking with the keywords; give a query vector (or leave hybrid out for a keyword search)');
      const r = await this.#send('search', { queries: null, nq: 1, options: wire(o) });
      return hitsOf(r, 0, this.#c.metric, this.#c.dim, o);
    }
    const q = inspect('search', () => readQueries(this.#c, [vector], 1, 'search'));
    if (o.predicate) return predicateSearch(this.#client, this.#col, this.#c, q, o, () => this.#live());
    const r = await this.#send('search', { queries: q, nq: 1, options: wire(o) });
    return hitsOf(r, 0, this.#c.metric, this.#c.dim, o);
  }

  /** Several queries at once (one engine call, or one per session of a pool). */
  async searchBatch(vectors, options) {
    this.#live();
    const [o, nq] = inspect('searchBatch', () => {
      if (!Array.isArray(vectors)) throw einval(`searchBatch expects an array of query vectors (got ${describe(vectors)})`);
      const o = readSearchOptions(this.#c.limits, options);
      if (o.text !== null) throw einval('searchBatch does not take text: run one search(vector, { text }) per query');
      return [o, vectors.length];
    });
    if (nq === 0) return [];
    if (this.#now().dim === 0) return Array.from({ length: nq }, () => []);
    if (nq * this.#c.dim * 4 > 0xF0000000) {
      throw new VecliteError('EBUDGET', `searchBatch: ${nq} queries of dimension ${this.#c.dim} exceed the 4 GB WebAssembly memory in one call; split the batch`);
    }
    const flat = inspect('searchBatch', () => readQueries(this.#c, vectors, nq, 'searchBatch'));
    if (o.predicate) {
      const rows = [];
      const d = this.#c.dim;
      for (let q = 0; q < nq; q++) rows.push(await predicateSearch(this.#client, this.#col, this.#c, flat.slice(q * d, (q + 1) * d), o, () => this.#live()));
      return rows;
    }
    const r = await this.#send('search', { queries: flat, nq, options: wire(o) });
    const rows = new Array(nq);
    for (let q = 0; q < nq; q++) rows[q] = hitsOf(r, q, this.#c.metric, this.#c.dim, o);
    return rows;
  }

  /** The stored vector and metadata of an id, or null. */
  async get(id) {
    this.#live();
    inspect('get', () => readIds(id, 'get'));
    return this.#send('get', { id });
  }

  /**
   * Several ids at once, in the order given (one message, one engine read): each the stored
   * { id, vector, metadata }, or null where the id is absent.
   */
  async getMany(ids) {
    this.#live();
    const a = inspect('getMany', () => {
      if (!Array.isArray(ids)) throw einval(`getMany expects an array of ids (got ${describe(ids)})`);
      return readIds(ids, 'getMany');
    });
    if (a.ids.length === 0) return [];
    return this.#send('getMany', { ids: a.ids });
  }

  /**
   * Live ids, a page at a time, in ascending internal order: ids({ after?, limit? }) ->
   * { ids, next }. Pass `next` as `after` for the following page; next is null after the last.
   */
  async ids(options) {
    this.#live();
    const o = inspect('ids', () => readIdsOptions(options));
    const r = await this.#send('ids', o);
    return { ids: r.ids, next: r.next ? cursorOf(r.next) : null };
  }

  /**
   * Delete every row whose metadata matches a structured filter, in one durable write.
   * @returns {Promise<number>} how many rows were deleted
   */
  async deleteWhere(filter) {
    this.#live();
    const f = inspect('deleteWhere', () => {
      if (typeof filter === 'function') throw einval('deleteWhere takes a structured filter object; a JavaScript predicate cannot run in the session');
      if (!isPlainObject(filter)) throw einval(`deleteWhere expects a filter object (got ${describe(filter)}); use {} to match every row`);
      return parseFilter(filter);
    });
    const r = await this.#send('deleteWhere', { filter: f });
    return r.deleted;
  }

  /**
   * Change the vector and/or replace the metadata of an existing id: update(id, { vector?,
   * metadata? }, { merge? }), or the seed's form update(id, vector, metadata?) (a null vector
   * keeps it). With merge: true the new metadata is merged into the stored one (docs/api.md).
   * @returns {Promise<boolean>} true if the id existed and was updated, false if it is absent
   */
  async update(id, patch, ...rest) {
    this.#live();
    const p = inspect('update', () => {
      const seedForm = patch === null || Array.isArray(patch) || ArrayBuffer.isView(patch) || (rest.length > 0 && !isPlainObject(patch));
      if (!seedForm) {
        const o = readUpdateOptions(rest);
        return { ...readPatch(this.#now(), id, patch), ...o };
      }
      const pt = { ...(patch === null || patch === undefined ? {} : { vector: patch }), ...(rest[0] === undefined ? {} : { metadata: rest[0] }) };
      return readPatch(this.#now(), id, pt);
    });
    try {
      await this.#send('update', p);
      return true;
    } catch (e) {
      if (e.code === 'ENOTFOUND') return false;
      throw e;
    }
  }

  /** Delete one id (-> whether it was live) or an array of ids (-> how many were live). */
  async delete(ids) {
    this.#live();
    const a = inspect('delete', () => readIds(ids));
    const r = await this.#send('delete', a);
    return a.many ? r.deleted : r.deleted > 0;
  }

  /**
   * Scores (docs/api.md §4: higher is better) of every pair of stored ids, in the collection's
   * metric: a Float32Array of idsA.length x idsB.length, row-major (idsB defaults to idsA).
   */
  async similarityMatrix(idsA, idsB) {
    this.#live();
    const a = inspect('similarityMatrix', () => readIdSets(idsA, idsB));
    if (a.idsA.length === 0 || (a.idsB && a.idsB.length === 0)) return new Float32Array(0);
    return this.#send('similarityMatrix', a);
  }

  /**
   * k-means over the live rows (docs/api.md §12): { centroids, assignments, sizes, ids, inertia,
   * iterations, emptyClusters, reseeded }; assignments[i] is the cluster of ids[i].
   */
  async kmeans(k, options) {
    this.#live();
    const a = inspect('kmeans', () => readCollectionKmeans(k, options));
    return kmeansResult(await this.#send('kmeans', a));
  }

  /** Number of live vectors. */
  async count() { this.#live(); return this.#send('count'); }

  /** Remove every vector (the configuration stays). */
  async clear() { this.#live(); await this.#send('clear'); }

  /** { count, dimension, metric, index, memoryBytes, bytesPerVector, tombstones, implementation, ... } */
  async stats() { this.#live(); return this.#send('stats'); }

  /** A self-contained .rvf image of the committed state (docs/api.md §6). */
  async export() { this.#live(); return this.#send('export'); }

  /**
   * Write the committed image to a file (Node): under that file's writer lock, to a temporary
   * sibling that is synced and renamed over it, then the directory synced. EINVAL if the file
   * exists, unless overwrite.
   * @returns {Promise<{ path: string, bytes: number }>}
   */
  async exportTo(path, options = {}) {
    this.#live();
    const o = inspect('exportTo', () => {
      if (typeof path !== 'string' || path.length === 0) throw einval(`exportTo(path): path must be a non-empty string (got ${describe(path)})`);
      if (!isPlainObject(options)) throw einval(`exportTo(path, options): options must be an object (got ${describe(options)})`);
      checkKeys(options, ['overwrite'], 'exportTo options');
      if (options.overwrite !== undefined && typeof options.overwrite !== 'boolean') throw einval('exportTo: overwrite must be true or false');
      return { overwrite: options.overwrite === true };
    });
    return this.#send('exportTo', { path, overwrite: o.overwrite });
  }

  /** A compacted image and its SHA-256 content id: { cid, bytes }. */
  async snapshot() { this.#live(); return this.#send('snapshot'); }

  /** Rewrite the store without dead rows: { bytesBefore, bytesAfter }. */
  async compact() {
    this.#live();
    const r = await this.#send('compact');
    return { bytesBefore: r.bytesBefore, bytesAfter: r.bytesAfter };
  }

  /** A child store (same configuration and field names, no vectors), at path or in memory. */
  async derive(path) {
    this.#live();
    if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
      throw einval(`derive(path): path must be a non-empty string or undefined (got ${describe(path)})`);
    }
    const hold = path !== undefined && isNode ? holdFile(path, 'a derive(path) child handle', null) : null;
    let info;
    try {
      info = await this.#send('derive', { path });
    } catch (e) {
      releaseFile(hold);
      throw e;
    }
    if (hold && info.path) hold.path = info.path;
    const child = new Collection(INTERNAL, this.#client, info, this.#c.limits, () => releaseFile(hold));
    if (hold) hold.owner = child;
    return child;
  }

  /** The committed segment directory, in file order ([] for a plain in-memory collection). */
  async segments() { this.#live(); return this.#send('segments'); }

  /** State of the store: epoch, ids, counts, bytes, lock, recovered, ... */
  async status() { this.#live(); return this.#send('status'); }

  /** Re-read the committed state and check it against memory: { ok, problems, witness }. */
  async verify() { this.#live(); return this.#send('verify'); }

  /** Remove the tails a recovery saved beside the file: { removed }. */
  async discardRecovered() { this.#live(); return this.#send('discardRecovered'); }

  /**
   * Hybrid mode: a row's metadata from the IndexedDB cache (null when the cache has no such row),
   * without asking the engine. EINVAL for a collection without a cache.
   */
  async cachedMetadata(id) {
    this.#live();
    inspect('cachedMetadata', () => readIds(id, 'cachedMetadata'));
    return this.#send('cachedMetadata', { id });
  }

  /** Hybrid mode: rebuild the metadata cache from the store: { rows, epoch }. */
  async rebuildCache() {
    this.#live();
    return this.#send('rebuildCache');
  }

  /** Bring a read-only file handle to its writer's newest commit. */
  async refresh() {
    this.#live();
    const r = await this.#send('refresh');
    this.#c.dim = r.dim;
    this.#c.metric = r.metric;
    return { epoch: r.epoch, changed: r.changed, added: r.added, deleted: r.deleted, reopened: r.reopened };
  }

  /**
   * Close: a writable store persists its graph, then the device is closed and the lock
   * released. Later calls reject with ECLOSED; closing twice is harmless.
   */
  async close() {
    if (this.#closedWhy) return;
    this.#closedWhy = `collection '${this.#c.name}': it was closed; open it again to use it`;
    this.#onClose?.(this);
    try {
      await this.#send('close');
    } catch (e) {
      if (e.code !== 'ECLOSED') throw e;
    }
  }
}

/** The options a session needs (the predicate and threshold stay here). */
function wire(o) {
  return {
    k: o.k, ef: o.ef, filter: o.filter, includeMetadata: o.includeMetadata, includeVectors: o.includeVectors, rerank: o.rerank, mmr: o.mmr,
    text: o.text, hybrid: o.hybrid,
  };
}

// ---- Database ---------------------------------------------------------------------------------

/**
 * A database: named collections in one session — in memory, or (with a path) one `<name>.rvf`
 * file per collection in a directory.
 */
export class Database {
  #client;
  #db;
  #info;
  #path;
  #closed = false;
  /** @type {Map<number, Collection>} one object per open collection handle */
  #objects = new Map();

  #backend;
  /** createCollection(name) defaults from createDatabase({ dimensions, metric, m, efConstruction, maxElements }) */
  #defaults;
  #readOnly;
  /** @type {Map<Collection, import('./handles.js').Hold>} the file each collection object holds (web/handles.js) */
  #holds = new Map();

  /** @hideconstructor */
  constructor(token, client, db, info, path, backend, defaults = {}, readOnly = false) {
    if (token !== INTERNAL) throw notConstructible('Database', 'create one with createDatabase()');
    this.#defaults = defaults;
    this.#readOnly = readOnly;
    this.#client = client;
    this.#db = db;
    this.#info = info;
    this.#path = path;
    this.#backend = backend;
    lastBackend = backend;
  }

  /** Where the collections live: 'memory', 'node' (files), 'opfs' or 'indexeddb'. */
  get backend() { return this.#backend; }

  #live(what) {
    if (this.#closed) throw new VecliteError('ECLOSED', `${what}: the database is closed; create a new one with createDatabase()`);
  }

  #object(info, hold = null) {
    let col = this.#objects.get(info.col);
    if (col) {
      releaseFile(hold); // that object already holds the file
      return col;
    }
    if (hold && info.path) hold.path = info.path;
    col = new Collection(INTERNAL, this.#client, info, this.#info.limits, (c) => {
      if (this.#objects.get(info.col) === c) this.#objects.delete(info.col);
      this.#drop(c);
    });
    this.#objects.set(info.col, col);
    if (hold) this.#holds.set(col, hold);
    return col;
  }

  #drop(col) {
    releaseFile(this.#holds.get(col));
    this.#holds.delete(col);
  }

  /**
   * Send a message that opens collection `name`; its file is entered in web/handles.js before
   * the message goes (a file database), so a delete from another object sees it at once.
   */
  async #open(type, name, args) {
    const hold = this.#backend === 'node'
      ? holdFile(`${this.#path}/${name}.rvf`, this.#readOnly
        ? `a collection of a read-only createDatabase({ path: ${JSON.stringify(this.#path)}, readOnly: true })`
        : `a collection of another createDatabase({ path: ${JSON.stringify(this.#path)} })`, this)
      : null;
    let info;
    try {
      info = await this.#client.call(type, args);
    } catch (e) {
      releaseFile(hold);
      throw e;
    }
    if (info === null) {
      releaseFile(hold);
      return null;
    }
    return this.#object(info, hold);
  }

  /** EREADONLY for a write on a read-only database. */
  #writable(what) {
    if (this.#readOnly) throw readOnlyDatabase(what, this.#path);
  }

  /** Whether the database was opened with readOnly: true (every write rejects with EREADONLY). */
  get readOnly() { return this.#readOnly; }

  /** 'wasm-simd' or 'wasm': the engine build this database runs on. */
  get implementation() { return this.#info.implementation; }
  /** The directory of a file database, or null in memory. */
  get path() { return this.#path; }
  /** Worker sessions serving this database (0: in this thread). */
  get workers() { return this.#client.workers; }

  /** Diagnostics (docs/workers.md §5): the worker pool behind this database, or null in-thread. */
  get [Symbol.for('veclite.pool')]() { return this.#client.workers === undefined || this.#client instanceof InlineClient ? null : this.#client; }

  /** Create a collection (in a file database: `<name>.rvf`, under its writer lock). */
  async createCollection(name, config) {
    this.#live('createCollection');
    this.#writable('createCollection');
    const cfg = inspect('createCollection', () => {
      const c = plainCopy(config, 'createCollection: config');
      if (c !== undefined && (c === null || typeof c !== 'object' || Array.isArray(c))) return c; // refused with its own message
      // the database's defaults (createDatabase({ dimensions, metric, m, efConstruction, maxElements })) fill what config leaves out
      const d = this.#defaults;
      const out = { ...(c ?? {}) };
      if (out.dimension === undefined && d.dimension !== undefined) out.dimension = d.dimension;
      if (out.metric === undefined && d.metric !== undefined) out.metric = d.metric;
      if (out.maxElements === undefined && d.maxElements !== undefined) out.maxElements = d.maxElements;
      if (out.quantization === undefined && d.quantization !== undefined && (out.index?.type ?? 'hnsw') === 'hnsw') {
        out.quantization = d.quantization;
      }
      if (out.index === undefined && (d.m !== undefined || d.efConstruction !== undefined)) {
        out.index = { type: 'hnsw', ...(d.m === undefined ? {} : { m: d.m }), ...(d.efConstruction === undefined ? {} : { efConstruction: d.efConstruction }) };
      }
      if (out.dimension === undefined && c === undefined) {
        throw einval('createCollection(name): give a config like { dimension: 384 }, or createDatabase({ dimensions }) for every collection');
      }
      return out;
    });
    const n = nameArg(name, 'createCollection');
    return this.#open('createCollection', n, { db: this.#db, name: n, config: cfg });
  }

  /**
   * An existing collection (a file or browser database opens its store as its writer), or null
   * when there is none of that name.
   */
  async getCollection(name) {
    this.#live('getCollection');
    const n = nameArg(name, 'getCollection');
    return this.#open('getCollection', n, { db: this.#db, name: n, maxElements: this.#defaults.maxElements });
  }

  /** Names of all collections. */
  async listCollections() {
    this.#live('listCollections');
    return this.#client.call('listCollections', { db: this.#db });
  }

  /**
   * Delete a collection: close it (its object then rejects with ECLOSED) and remove its stored
   * data — the `<name>.rvf` file (Node), the OPFS file or IndexedDB records (browsers). Refused
   * with ELOCK, changing nothing, while another writer holds the store, or while another object of
   * this realm has the file open (an openCollection handle, a collection of another database, a
   * derive child: web/handles.js); EREADONLY on a read-only database.
   * @returns {Promise<boolean>} true if it existed, false if there was none of that name
   */
  async deleteCollection(name) {
    this.#live('deleteCollection');
    this.#writable('deleteCollection');
    const n = nameArg(name, 'deleteCollection');
    const holders = this.#backend === 'node' ? holdersExcept(this) : undefined;
    if (!(await this.#client.call('deleteCollection', { db: this.#db, name: n, holders }))) return false;
    for (const col of this.#objects.values()) {
      if (col.name === name) {
        col._closed(`collection '${name}': collection '${name}' was deleted`);
        this.#drop(col);
      }
    }
    return true;
  }

  /**
   * The seed's database statistics, over the collections open in this database:
   * { vectorCount, dimensions, metric, memoryUsage, indexSize, quantization, simdEnabled, collections }.
   */
  async stats() {
    this.#live('stats');
    let vectorCount = 0, memoryUsage = 0, indexSize = 0;
    const per = [];
    for (const col of this.#objects.values()) {
      let st;
      try { st = await col.stats(); } catch (e) { if (e.code === 'ECLOSED') continue; throw e; }
      vectorCount += st.count;
      memoryUsage += st.memoryBytes;
      indexSize += st.graphBytes;
      per.push({ name: col.name, count: st.count, dimension: st.dimension, metric: st.metric, quantization: st.quantization.kind });
    }
    const one = per.length === 1 ? per[0] : null;
    return {
      vectorCount, memoryUsage, indexSize,
      dimensions: this.#defaults.dimension ?? one?.dimension ?? null,
      metric: this.#defaults.metric ?? one?.metric ?? null,
      quantization: this.#defaults.quantization ?? (per.length === 1 ? per[0].quantization : 'none'),
      simdEnabled: this.#info.implementation === 'wasm-simd',
      collections: per,
    };
  }

  /** Close every collection and free the engine (and a pool's workers). */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const col of this.#objects.values()) col._closed(`collection '${col.name}': the database is closed; create a new one with createDatabase()`);
    for (const h of this.#holds.values()) releaseFile(h);
    this.#holds.clear();
    try {
      await this.#client.call('closeDatabase', { db: this.#db });
    } finally {
      this.#client.terminate();
    }
  }
}

/**
 * A collection name as sent. Strings and other primitives go as they are (the session checks
 * them and names what it got); an object or function cannot be a name and is refused here.
 */
function nameArg(name, where) {
  return inspect(where, () => {
    if (typeof name === 'function' || typeof name === 'symbol' || (typeof name === 'object' && name !== null)) {
      throw einval(`${where}: collection name must be a non-empty string (got ${describe(name)})`);
    }
    return name;
  });
}

// ---- entry points -----------------------------------------------------------------------------

const BROWSER_BACKENDS = ['opfs', 'indexeddb'];
const isNode = typeof globalThis.process === 'object' && typeof globalThis.process?.versions?.node === 'string';

/** Which storage this runtime offers (feature detection only; nothing is opened). */
function available() {
  return {
    opfs: typeof globalThis.navigator?.storage?.getDirectory === 'function',
    indexeddb: typeof globalThis.indexedDB?.open === 'function',
    node: isNode,
  };
}

/** EBACKEND for a backend this runtime cannot give (never a silent fallback). */
function backendError(where, backend) {
  const shown = typeof backend === 'string' ? `'${backend}'` : describe(backend);
  if (backend === 'opfs') {
    return new VecliteError('EBACKEND', `${where}: backend 'opfs' needs the Origin Private File System (navigator.storage.getDirectory in a ` +
      "secure context: https or localhost), which this runtime lacks; use 'indexeddb' or 'memory'");
  }
  if (backend === 'indexeddb') {
    return new VecliteError('EBACKEND', `${where}: backend 'indexeddb' needs IndexedDB, which this runtime lacks; ` +
      "use 'memory' (keep collection.export() bytes yourself) or, in Node, a path (files)");
  }
  if (backend === 'node') {
    return new VecliteError('EBACKEND', `${where}: backend 'node' stores files through node:fs and needs Node.js; in a browser use ` +
      "'opfs' or 'indexeddb'");
  }
  return new VecliteError('EBACKEND', `${where}: there is no backend ${shown}; the backends are 'memory', 'node' (files, Node.js), ` +
    "'opfs' and 'indexeddb' (browsers)");
}

/**
 * The seed's collection defaults of createDatabase: dimensions, metric, m, efConstruction and
 * maxElements, and quantization ('none', 'scalar', 'product'), become what createCollection(name)
 * uses when its config leaves them out; the values themselves are checked by createCollection.
 */
function seedDefaults(config) {
  const d = {};
  if (config.dimensions !== undefined) d.dimension = intIn(config.dimensions, 1, 65535, 'createDatabase: dimensions');
  if (config.metric !== undefined) {
    if (!['cosine', 'euclidean', 'dotProduct'].includes(config.metric)) {
      throw einval(`createDatabase: metric must be 'cosine', 'euclidean' or 'dotProduct' (got ${describe(config.metric)})`);
    }
    d.metric = config.metric;
  }
  if (config.m !== undefined) d.m = intIn(config.m, 2, 1024, 'createDatabase: m');
  if (config.efConstruction !== undefined) d.efConstruction = intIn(config.efConstruction, 1, 100000, 'createDatabase: efConstruction');
  if (config.maxElements !== undefined) d.maxElements = intIn(config.maxElements, 1, 0xFFFFFFFF, 'createDatabase: maxElements');
  if (config.quantization !== undefined && config.quantization !== null) {
    if (!['none', 'scalar', 'product'].includes(config.quantization)) {
      throw einval(`createDatabase: quantization must be 'none', 'scalar' or 'product' (got ${typeof config.quantization === 'string' ? `'${config.quantization}'` : describe(config.quantization)})`);
    }
    d.quantization = config.quantization;
  }
  return plainCopy(d, 'createDatabase');
}

/** The build initialize({ simd }) chose for later databases. @type {boolean|undefined} */
let defaultSimd;

/** Where createDatabase() without a path or backend keeps its data (enableIndexedDb). @type {object|null} */
let defaultStorage = null;

/** Lease options for a browser store, naming this page (or worker) as the holder. */
function leaseFor(o) {
  if (!BROWSER_BACKENDS.includes(o.backend)) return undefined;
  const where = typeof globalThis.WorkerGlobalScope !== 'undefined' ? 'a worker' : 'a page';
  const url = globalThis.location?.href;
  return { ...o.lease, who: url ? `${where} of ${url}` : where };
}

function workersArg(v, where) {
  if (v === undefined) return defaultWorkers;
  if (!Number.isInteger(v) || v < 0 || v > 64) throw einval(`${where}: workers must be an integer from 0 (in this thread) to 64 (got ${describe(v)})`);
  return v;
}

/**
 * Load the engine and create a database: in memory (the default), or with `path` a directory of
 * `<name>.rvf` files. `workers: n` runs it in n worker sessions (one writer, n-1 read replicas).
 * With `readOnly: true` (Node files) the folder's collections open read-only, without writer locks.
 * @param {{ simd?: boolean, wasmModule?: WebAssembly.Module, backend?: 'memory'|'node', path?: string, workers?: number, readOnly?: boolean }} [config]
 * @returns {Promise<Database>}
 */
export async function createDatabase(config = {}) {
  const o = inspect('createDatabase', () => {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw einval(`createDatabase(config): config must be an object (got ${describe(config)})`);
    }
    checkKeys(config, ['simd', 'wasmModule', 'backend', 'path', 'workers', 'lease', 'cache',
      'dimensions', 'metric', 'm', 'efConstruction', 'quantization', 'simdEnabled', 'maxElements', 'readOnly', 'follow',
      'memoryBudgetMB'], 'createDatabase config');
    const budget = budgetBytes(config.memoryBudgetMB, 'createDatabase');
    if (config.readOnly !== undefined && typeof config.readOnly !== 'boolean') {
      throw einval(`createDatabase: readOnly must be true or false (got ${describe(config.readOnly)})`);
    }
    if (config.follow !== undefined && config.follow !== false && config.readOnly !== true) {
      throw einval('createDatabase: follow needs a read-only database ({ path, readOnly: true, follow: true })');
    }
    const followMs = followArg(config.follow, 'createDatabase');
    const defaults = seedDefaults(config);
    if (config.simdEnabled !== undefined && typeof config.simdEnabled !== 'boolean') {
      throw einval(`createDatabase: simdEnabled must be true or false (got ${describe(config.simdEnabled)})`);
    }
    if (config.simd !== undefined && config.simdEnabled !== undefined && config.simd !== config.simdEnabled) {
      throw einval('createDatabase: simd and simdEnabled disagree; give one of them');
    }
    const storage = config.path === undefined && config.backend === undefined ? defaultStorage : null;
    if (storage) config = { ...config, ...storage };
    if (config.cache !== undefined && config.cache !== 'indexeddb') {
      throw einval(`createDatabase: cache must be 'indexeddb' (hybrid mode) or left out (got ${describe(config.cache)})`);
    }
    const path = config.path;
    if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
      throw einval(`createDatabase: path must be a non-empty string naming a directory (Node) or a database (browsers) (got ${describe(path)})`);
    }
    const have = available();
    // Without a backend: a path is a directory in Node; in a browser the best storage there is.
    const backend = config.backend ?? (path === undefined ? 'memory'
      : isNode ? 'node' : have.opfs ? 'opfs' : have.indexeddb ? 'indexeddb' : 'memory');
    let lease;
    if (config.lease !== undefined) {
      if (!isPlainObject(config.lease)) throw einval(`createDatabase: lease must be { heartbeatMs?, staleMs? } (got ${describe(config.lease)})`);
      checkKeys(config.lease, ['heartbeatMs', 'staleMs'], 'createDatabase lease');
      lease = {};
      if (config.lease.heartbeatMs !== undefined) lease.heartbeatMs = intIn(config.lease.heartbeatMs, 10, 3_600_000, 'createDatabase: lease.heartbeatMs');
      if (config.lease.staleMs !== undefined) lease.staleMs = intIn(config.lease.staleMs, 20, 86_400_000, 'createDatabase: lease.staleMs');
      const hb = lease.heartbeatMs ?? 10_000, st = lease.staleMs ?? 30_000;
      if (hb * 2 > st) {
        throw einval(`createDatabase: lease.heartbeatMs (${hb}) must be at most half of lease.staleMs (${st}), or a live writer looks stale`);
      }
    }
    // OPFS writes synchronously only inside a worker: a page's main thread hosts its session in one.
    const inPage = !isNode && typeof globalThis.WorkerGlobalScope === 'undefined' && typeof globalThis.Worker === 'function';
    const workers = config.workers === undefined && backend === 'opfs' && inPage && defaultWorkers === 0
      ? 1 : workersArg(config.workers, 'createDatabase');
    return {
      backend, simd: config.simd ?? config.simdEnabled ?? defaultSimd, wasmModule: config.wasmModule, path, workers, lease, cache: config.cache, defaults,
      readOnly: config.readOnly === true, followMs, budget,
      defaulted: config.backend === undefined && path !== undefined && !isNode,
    };
  });
  if (!['memory', 'node', ...BROWSER_BACKENDS].includes(o.backend)) throw backendError('createDatabase', o.backend);
  if (o.readOnly) {
    if (o.backend === 'memory') {
      throw einval('createDatabase: readOnly needs a stored database to read ({ path, readOnly: true }); a memory database starts empty, so it would have nothing to read');
    }
    if (o.backend !== 'node') {
      throw einval(`createDatabase: readOnly databases are available with the Node file backend only, not '${o.backend}' yet; ` +
        `in a browser open each collection read-only with openCollection('<database>/<collection>', { backend: '${o.backend}', readOnly: true })`);
    }
    if (o.workers > 1) {
      throw einval('createDatabase: read replicas of a readOnly database are not available; use workers: 0 or 1 (a read-only database never writes, so replicas would have nothing to follow)');
    }
  }
  if (o.backend !== 'memory' && !available()[o.backend]) throw backendError('createDatabase', o.backend);
  if (o.backend === 'memory' && o.path !== undefined && !o.defaulted) {
    throw einval("createDatabase: a path needs a storage backend ('node' files in Node, 'opfs' or 'indexeddb' in a browser); " +
      'leave out backend, or leave out path for memory');
  }
  if (o.backend !== 'memory' && o.path === undefined) {
    throw einval(`createDatabase: backend '${o.backend}' needs path: ${o.backend === 'node' ? 'the directory that holds the collection files' : 'the name of the database'}`);
  }
  if (o.cache && o.backend !== 'opfs') {
    throw (o.backend === 'indexeddb' || o.backend === 'node' || o.backend === 'memory'
      ? einval(`createDatabase: hybrid mode (cache: 'indexeddb') keeps vectors in .rvf files in OPFS; backend '${o.backend}' cannot have it`)
      : backendError('createDatabase', o.backend));
  }
  if (o.cache && !available().indexeddb) throw backendError('createDatabase', 'indexeddb');
  if (BROWSER_BACKENDS.includes(o.backend) && o.workers > 1) {
    throw einval(`createDatabase: read replicas of '${o.backend}' databases are not available yet; use workers: 0 or 1`);
  }
  const { client, info } = await startClient(o, o.workers);
  try {
    const r = await client.call('createDatabase', o.backend === 'memory' ? { budget: o.budget || undefined }
      : { path: o.path, backend: o.backend === 'node' ? undefined : o.backend, lease: leaseFor(o), cache: o.cache, readOnly: o.readOnly || undefined,
        followMs: o.followMs || undefined, budget: o.budget || undefined });
    return new Database(INTERNAL, client, r.db, info, r.path, r.backend, o.defaults, o.readOnly);
  } catch (e) {
    client.terminate();
    throw e;
  } finally {
    if (!o.workers) endSession(client);
  }
}

/** The polling interval of a follow option (0: no following). */
function followArg(f, where) {
  if (f === undefined || f === false) return 0;
  if (f === true) return 200;
  if (isPlainObject(f) && Object.keys(f).every((k) => k === 'intervalMs') && Number.isInteger(f.intervalMs ?? 200) &&
    (f.intervalMs ?? 200) >= 1 && (f.intervalMs ?? 200) <= 3600000) return f.intervalMs ?? 200;
  throw einval(`${where}: follow must be true, false or { intervalMs: 1..3600000 } (got ${describe(f)})`);
}

const OPEN_KEYS = ['readOnly', 'backend', 'create', 'ef', 'simd', 'wasmModule', 'follow', 'memoryBudgetMB'];

/**
 * Open one .rvf store directly: a file path (backend 'node'; the writer lock is taken unless
 * readOnly) or the bytes of an image (backend 'memory').
 * @returns {Promise<Collection>}
 */
export async function openCollection(source, options = {}) {
  const o = inspect('openCollection', () => {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw einval(`openCollection(source, options): options must be an object (got ${describe(options)})`);
    }
    checkKeys(options, OPEN_KEYS, 'openCollection options');
    const isPath = typeof source === 'string';
    const isBytes = source instanceof Uint8Array;
    if (!isPath && !isBytes) {
      throw einval(`openCollection: source must be a file path (string) or the bytes of an .rvf image (Uint8Array) (got ${describe(source)})`);
    }
    if (isPath && source.length === 0) throw einval('openCollection: the path is empty');
    if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') {
      throw einval(`openCollection: readOnly must be true or false (got ${describe(options.readOnly)})`);
    }
    if (options.create !== undefined && !isPlainObject(options.create)) {
      throw einval(`openCollection: create must be a collection config like { dimension: 384 } (got ${describe(options.create)})`);
    }
    const backend = options.backend ?? (isPath ? 'node' : 'memory');
    if (options.follow !== undefined && options.follow !== false && (options.readOnly !== true || !isPath)) {
      throw einval('openCollection: follow needs a read-only file handle ({ readOnly: true, follow: true })');
    }
    const followMs = followArg(options.follow, 'openCollection');
    return {
      followMs, isPath, backend, readOnly: options.readOnly === true,
      create: options.create === undefined ? undefined : plainCopy(options.create, 'openCollection: create'),
      ef: options.ef, simd: options.simd, wasmModule: options.wasmModule,
      budget: budgetBytes(options.memoryBudgetMB, 'openCollection'),
    };
  });
  if (o.backend !== 'memory' && !['node', ...BROWSER_BACKENDS].includes(o.backend)) throw backendError('openCollection', o.backend);
  if (BROWSER_BACKENDS.includes(o.backend)) {
    if (!available()[o.backend]) throw backendError('openCollection', o.backend);
    if (!o.isPath) throw einval(`openCollection: a '${o.backend}' store is named by '<database>/<collection>', not by bytes`);
  }
  if (o.isPath && o.backend === 'memory') {
    throw einval("openCollection: a path needs backend 'node'; for an in-memory copy read the file yourself and pass its bytes");
  }
  if (!o.isPath && o.backend === 'node') {
    throw einval("openCollection: bytes open with backend 'memory'; to work on a file pass its path");
  }
  const { client, info } = await startClient(o, 0);
  const hold = o.backend === 'node'
    ? holdFile(source, o.readOnly ? 'a read-only openCollection(path, { readOnly: true }) handle' : 'an openCollection(path) handle (a writer)', null)
    : null;
  try {
    const colInfo = await client.call('openCollection', {
      source, readOnly: o.readOnly, create: o.create, ef: o.ef, followMs: o.followMs, budget: o.budget || undefined,
      backend: BROWSER_BACKENDS.includes(o.backend) ? o.backend : undefined, lease: leaseFor(o),
    });
    if (hold && colInfo.path) hold.path = colInfo.path;
    const col = new Collection(INTERNAL, client, colInfo, info.limits, () => releaseFile(hold));
    if (hold) hold.owner = col;
    return col;
  } catch (e) {
    releaseFile(hold);
    throw e;
  } finally {
    endSession(client);
  }
}

/**
 * Copy every collection of one browser database into another, byte for byte — typically an
 * IndexedDB-only database into OPFS .rvf files for hybrid mode (docs/browser.md §5). Idempotent
 * (an identical target is 'unchanged'), never deletes or changes its source, never overwrites a
 * different target ('conflict'). dryRun: report only; verify: check each target against its source.
 * @param {{ from: { backend: 'indexeddb'|'opfs', path: string }, to: { backend: 'indexeddb'|'opfs', path: string },
 *   dryRun?: boolean, verify?: boolean }} options
 * @returns {Promise<object>} the report (index.d.ts MigrateReport)
 */
export async function migrate(options) {
  const o = inspect('migrate', () => {
    if (!isPlainObject(options)) throw einval(`migrate(options): options must be an object (got ${describe(options)})`);
    checkKeys(options, ['from', 'to', 'dryRun', 'verify'], 'migrate options');
    const side = (v, what) => {
      if (!isPlainObject(v)) throw einval(`migrate: ${what} must be { backend, path } (got ${describe(v)})`);
      checkKeys(v, ['backend', 'path'], `migrate ${what}`);
      if (!BROWSER_BACKENDS.includes(v.backend)) throw einval(`migrate: ${what}.backend must be 'indexeddb' or 'opfs' (got ${describe(v.backend)})`);
      if (typeof v.path !== 'string' || !v.path) throw einval(`migrate: ${what}.path must name a database`);
      return { backend: v.backend, path: v.path };
    };
    for (const b of ['dryRun', 'verify']) {
      if (options[b] !== undefined && typeof options[b] !== 'boolean') throw einval(`migrate: ${b} must be true or false`);
    }
    return { from: side(options.from, 'from'), to: side(options.to, 'to'), dryRun: options.dryRun === true, verify: options.verify === true };
  });
  for (const s of [o.from, o.to]) if (!available()[s.backend]) throw backendError('migrate', s.backend);
  const { client } = await startClient({}, 0);
  try {
    return await client.call('migrate', { ...o, lease: leaseFor({ backend: o.to.backend }) });
  } finally {
    endSession(client);
  }
}

/** Run one toolbox message in a session of its own (in this thread). */
async function toolboxCall(type, load, msg) {
  const { client } = await startClient(load, 0);
  try {
    return await client.call(type, msg);
  } finally {
    endSession(client);
  }
}

/**
 * Scores of every pair (a[i], b[j]) as a Float32Array of a.length x b.length, row-major, in the
 * search API's convention for the metric (docs/api.md §12): cosine -> cos, dotProduct -> dot,
 * euclidean -> 1 / (1 + L2). a and b are arrays of vectors, or flat Float32Arrays with
 * { dimension }; b null or omitted means a. The third argument is a metric name (default
 * 'cosine') or { metric, dimension, simd, wasmModule }.
 * @returns {Promise<Float32Array>}
 */
export async function similarityMatrix(a, b, options) {
  const r = inspect('similarityMatrix', () => readSimilarity(a, b, options));
  if (r.msg.na === 0 || r.msg.nb === 0) return new Float32Array(0);
  return toolboxCall('similarityMatrix', r.load, r.msg);
}

/**
 * k-means (Lloyd, k-means++ or random init, seeded) of vectors or of a Collection's live rows
 * (docs/api.md §12).
 * @returns {Promise<{ centroids: Float32Array, assignments: Uint32Array, sizes: Uint32Array,
 *   inertia: number, iterations: number, emptyClusters: number, reseeded: number, ids?: any[] }>}
 */
export async function kmeans(vectors, k, options) {
  if (vectors instanceof Collection) return vectors.kmeans(k, options);
  const r = inspect('kmeans', () => readKmeans(vectors, k, options));
  return kmeansResult(await toolboxCall('kmeans', r.load, r.msg));
}

/**
 * Set how many worker sessions databases created from now on use when their config does not
 * say (0: in this thread, the default). n workers = one writer and n-1 read replicas.
 * @param {number} n
 * @returns {Promise<{ workers: number }>}
 */
export async function initWorkerPool(n) {
  defaultWorkers = workersArg(n, 'initWorkerPool');
  return { workers: defaultWorkers };
}

/** 'wasm-simd' | 'wasm': the build last loaded, or before any load the one that would load. */
function buildName() {
  return (lastLoadedSimd ?? simdSupported()) ? 'wasm-simd' : 'wasm';
}

/**
 * The implementation in use (the seed's shape): { type: 'wasm', build: 'wasm-simd' | 'wasm',
 * simd } — type is always 'wasm' (veclite has no native addon); build names the engine build,
 * the last one loaded or, before any load, the one that would load. String(getImplementation())
 * is the build.
 */
export function getImplementation() {
  const build = buildName();
  // toString is not enumerable, so the object survives structuredClone / postMessage (a worker
  // reporting its implementation) and deepEqual compares just the data.
  const impl = { type: 'wasm', build, simd: build === 'wasm-simd' };
  Object.defineProperty(impl, 'toString', { value: () => build });
  return Object.freeze(impl);
}

/**
 * Load the engine now instead of on the first createDatabase (the seed's initialize): compiles
 * the build this runtime will use, so a later createDatabase starts at once.
 * @param {{ simd?: boolean, wasmModule?: WebAssembly.Module }} [options]
 * @returns {Promise<{ type: 'wasm', build: string, simd: boolean }>}
 */
export async function initialize(options = {}) {
  const o = inspect('initialize', () => {
    if (!isPlainObject(options)) throw einval(`initialize(options): options must be an object (got ${describe(options)})`);
    checkKeys(options, ['simd', 'wasmModule'], 'initialize options');
    return { simd: options.simd, wasmModule: options.wasmModule };
  });
  const r = await resolveWasm(o);
  lastLoadedSimd = r.simd;
  if (o.simd !== undefined) defaultSimd = o.simd; // the build later createDatabase calls load too
  return getImplementation();
}

/**
 * The seed's enableIndexedDb(name): databases created from now on without a path or backend keep
 * their collections in the IndexedDB database `name` (docs/browser.md). Resolves false, changing
 * nothing, where IndexedDB is missing (Node).
 * @param {string} name
 * @returns {Promise<boolean>}
 */
export async function enableIndexedDb(name) {
  if (typeof name !== 'string' || name.length === 0) throw einval(`enableIndexedDb(name): name must be a non-empty string (got ${describe(name)})`);
  if (!available().indexeddb) return false;
  defaultStorage = { backend: 'indexeddb', path: name };
  return true;
}

/**
 * What this runtime offers the engine. workerPoolSize: worker sessions running now.
 * @returns {{ simdEnabled: boolean, simdSupported: boolean, workerPoolSize: number,
 *   indexedDbEnabled: boolean, opfsEnabled: boolean }}
 */
export function getWasmInfo() {
  let workers = 0;
  for (const p of POOLS) workers += p.workers;
  return {
    simdEnabled: buildName() === 'wasm-simd',
    simdSupported: simdSupported(),
    workerPoolSize: workers,
    indexedDbEnabled: available().indexeddb,
    opfsEnabled: available().opfs,
    backend: lastBackend,
  };
}
