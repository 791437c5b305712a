// tests/types/usage.ts — exercises the whole public API through web/index.d.ts; checked (never
// run) by `tsc -p tests/types` in tests/js/types.test.js. Lines marked @ts-expect-error must fail
// to type-check: they prove the types reject misuse.
import {
  createDatabase, enableIndexedDb, getImplementation, getWasmInfo, initialize, initWorkerPool, migrate, openCollection, recoverCollection, VecliteError,
  type RecoverReport, type RecoveredTail, type RefreshResult,
  type Collection, type CollectionStats, type CollectionStatus, type Database, type Filter, type Id, type Metadata,
  type SegmentInfo, type Snapshot, type VerifyResult, type LockStatus, type OpenCollectionOptions,
  type SearchOptions, type SearchResult, type StoredRecord, type VecliteErrorCode, type WasmInfo,
  type IdsPage, type IdsOptions, type IdsCursor, type UpdateOptions, type QuantizationInfo,
  similarityMatrix, kmeans, type KmeansResult,
  type KeywordResult, type MmrOptions,
} from 'veclite';
import * as direct from '../../web/index.js';

async function main(): Promise<void> {
  const impl: 'wasm-simd' | 'wasm' = getImplementation().build;
  const info: WasmInfo = getWasmInfo();
  const flags: boolean[] = [info.simdEnabled, info.simdSupported, info.indexedDbEnabled, info.opfsEnabled];
  const pool: number = info.workerPoolSize;

  const db: Database = await createDatabase();
  await createDatabase({ simd: false, backend: 'memory' });
  const mod = await WebAssembly.compile(new Uint8Array(0));
  await direct.createDatabase({ wasmModule: mod });
  await createDatabase({ backend: 'indexeddb', path: 'docs', lease: { heartbeatMs: 5000, staleMs: 15000 } });
  // @ts-expect-error there is no backend 'sqlite'
  await createDatabase({ backend: 'sqlite' });
  const fileDb: Database = await createDatabase({ path: '/tmp/db', backend: 'node' });
  const roDb: Database = await createDatabase({ path: '/tmp/db', readOnly: true, follow: { intervalMs: 100 } });
  const isRo: boolean = roDb.readOnly;
  void isRo;
  // @ts-expect-error readOnly is a boolean
  await createDatabase({ path: '/tmp/db', readOnly: 'yes' });
  const dir: string | null = fileDb.path;
  // @ts-expect-error path is a string
  await createDatabase({ path: 1 });
  const dbImpl: 'wasm-simd' | 'wasm' = db.implementation;

  const docs: Collection = await db.createCollection('docs', {
    dimension: 384,
    metric: 'cosine',
    index: { type: 'hnsw', m: 16, efConstruction: 200, ef: 64, seed: 42 },
  });
  await db.createCollection('flat', { dimension: 3, metric: 'euclidean', index: { type: 'flat' }, idType: 'number', text: { field: 'body' } });
  await db.createCollection('dot', { dimension: 3, metric: 'dotProduct', index: { seed: 1n } });
  // @ts-expect-error unknown metric
  await db.createCollection('bad', { dimension: 3, metric: 'manhattan' });
  // config may leave out what createDatabase's defaults give (checked at run time)
  await db.createCollection('bad', { metric: 'cosine' });
  // @ts-expect-error getCollection may resolve null
  const again: Collection = await db.getCollection('docs');
  const names: string[] = await db.listCollections();
  await db.deleteCollection('flat');

  const v = new Float32Array(384);
  await docs.insert({ id: 'a', vector: v, metadata: { lang: 'en', year: 2021, tags: ['x'], big: 2n ** 64n - 1n } });
  await docs.insert({ id: 7, vector: [1, 2, 3] });
  await docs.insert({ id: 2n ** 63n, vector: Array.from(v), metadata: { raw: new Uint8Array(2), none: null } });
  // @ts-expect-error vectors are numbers
  await docs.insert({ id: 1, vector: ['1'] });
  // @ts-expect-error metadata values cannot be functions
  await docs.insert({ id: 1, vector: v, metadata: { f: () => 1 } });
  const n: number = await docs.insertBatch([{ id: 'b', vector: v }, { id: 'c', vector: v, metadata: { k: 1 } }]);
  // @ts-expect-error unknown item keys are rejected (a typo must not drop metadata)
  await docs.insert({ id: 1, vector: v, metdata: { k: 1 } });

  const filter: Filter = {
    lang: 'en',
    year: { $gte: 2020, $lt: 2030 },
    $or: [{ tags: { $in: ['x', 'y'] } }, { score: { $range: [0.5, 1] } }],
    $not: { draft: { $exists: true } },
  };
  const field: string = 'lang';
  const dynamic: Filter = { [field]: 'en', $and: [{ [field]: { $in: ['en', 'de'] } }] };
  const eqJson: Filter = { obj: { nested: [1, 'x'] }, other: { $eq: { $dollar: 1 } }, bytes: { $lt: new Uint8Array(1) } };
  // @ts-expect-error undefined is not a filter value (use null or { $exists: false })
  const undefField: Filter = { lang: undefined };
  // @ts-expect-error operands are never undefined
  const undefOperand: Filter = { lang: { $eq: undefined } };
  // @ts-expect-error $lt needs a number, bigint, string or Uint8Array
  const boolLt: Filter = { flag: { $lt: true } };
  // @ts-expect-error $range bounds are ordered values, not null
  const nullRange: Filter = { year: { $range: [null, null] } };
  // @ts-expect-error $and takes an array of filters
  const undefAnd: Filter = { $and: undefined };
  // @ts-expect-error JSON objects do not order
  const jsonGt: Filter = { year: { $gt: { y: 1 } } };
  // @ts-expect-error $in values are never undefined
  const undefIn: Filter = { year: { $in: [1, undefined] } };
  // @ts-expect-error predicates are synchronous
  const asyncPred: SearchOptions = { filter: async () => true };
  void [dynamic, eqJson, undefField, undefOperand, boolLt, nullRange, undefAnd, jsonGt, undefIn, asyncPred];
  const opts: SearchOptions = { k: 10, ef: 64, filter, threshold: 0.2, includeVectors: true, includeMetadata: true };
  const hits: SearchResult[] = await docs.search(v, opts);
  for (const h of hits) {
    const id: Id = h.id;
    const s: number = h.score + h.distance;
    const m: Metadata | undefined = h.metadata;
    const vec: Float32Array | undefined = h.vector;
    void [id, s, m, vec];
  }
  await docs.search(v, { filter: (meta, id) => meta.lang === 'en' && id !== 'b' });
  await docs.search([1, 2, 3]);
  // @ts-expect-error k is a number
  await docs.search(v, { k: '10' });
  const rows: SearchResult[][] = await docs.searchBatch([v, v], { k: 3, includeMetadata: false });
  const mmr: MmrOptions = { lambda: 0.5, fetchK: 40 };
  const diverse: SearchResult[] = await docs.search(v, { k: 5, mmr });
  const hybrid: SearchResult[] = await docs.search(v, { text: 'red apple', hybrid: { alpha: 0.7 } });
  const keyword: KeywordResult[] = await docs.search(null, { text: 'red apple', k: 5 });
  const bm: number | undefined = hybrid[0]?.textScore;
  // @ts-expect-error a keyword search needs text
  await docs.search(null, { k: 5 });
  // @ts-expect-error a keyword hit has no distance
  void keyword[0].distance;
  void [diverse, keyword, bm];

  const rec: StoredRecord | null = await docs.get('a');
  if (rec) {
    const f: Float32Array = rec.vector;
    const md: Metadata = rec.metadata;
    void [f, md];
  }
  await docs.update('a', { vector: v });
  await docs.update('a', { metadata: { lang: 'de' } });
  await docs.update(7, { metadata: null });
  await docs.update('a', { metadata: { lang: 'fr', old: null } }, { merge: true });
  // @ts-expect-error merge is a boolean
  await docs.update('a', { metadata: {} }, { merge: 'yes' });
  const recs: (StoredRecord | null)[] = await docs.getMany(['a', 'b']);
  // @ts-expect-error getMany takes an array
  await docs.getMany('a');
  let page: IdsPage = await docs.ids({ limit: 100 });
  while (page.next !== null) page = await docs.ids({ after: page.next, limit: 100 });
  const pageIds: Id[] = page.ids;
  // @ts-expect-error a cursor is only what ids() returned
  await docs.ids({ after: 'c1:0:5' });
  const removed: number = await docs.deleteWhere({ lang: { $nin: ['en', 'de'] } });
  await docs.search([1, 0], { filter: { 'meta.tags': { $contains: 'news' }, 'meta.rank.0': { $gt: 2 } } });
  // @ts-expect-error $contains takes a scalar, not an array
  await docs.search([1, 0], { filter: { tags: { $contains: ['news'] } } });
  // @ts-expect-error deleteWhere takes a structured filter, not a predicate
  await docs.deleteWhere((meta: Metadata) => meta.lang === 'en');
  const idsOpts: IdsOptions = { after: null as IdsCursor | null };
  const uo: UpdateOptions = { merge: false };
  void [recs, pageIds, removed, idsOpts, uo];
  const one: boolean = await docs.delete('a');
  const many: number = await docs.delete(['b', 'c']);
  const count: number = await docs.count();
  await docs.clear();
  const st: CollectionStats = await docs.stats();
  const bpv: number = st.bytesPerVector + st.memoryBytes + st.tombstones + st.count + st.dimension;
  if (st.index.type === 'hnsw') void [st.index.m, st.index.efConstruction, st.index.ef];
  const name: string = docs.name + docs.dimension + docs.metric;

  try {
    await docs.insert({ id: '', vector: v });
  } catch (e) {
    if (e instanceof VecliteError) {
      const code: VecliteErrorCode = e.code;
      const nm: 'VecliteError' = e.name;
      const msg: string = e.message;
      void [code, nm, msg];
    }
  }
  const err = new VecliteError('EINVAL', 'x');
  // @ts-expect-error not a veclite error code
  const badCode: VecliteErrorCode = 'ENOPE';
  // ---- persistence ----
  const opts2: OpenCollectionOptions = { readOnly: true, backend: 'node', ef: 64 };
  const file: Collection = await openCollection('/tmp/x.rvf', opts2);
  const mem: Collection = await openCollection(new Uint8Array(0), {
    create: { dimension: 3, metric: 'euclidean', index: { type: 'flat' }, idType: 'string' },
  });
  // @ts-expect-error a source is a path or bytes
  await openCollection(42);
  await openCollection('docs/items', { backend: 'opfs', readOnly: true, follow: true });
  // @ts-expect-error there is no backend 'sqlite'
  await openCollection('/tmp/x.rvf', { backend: 'sqlite' });
  const img: Uint8Array = await file.export();
  const snap: Snapshot = await file.snapshot();
  const cid: string = snap.cid;
  const sbytes: Uint8Array = snap.bytes;
  const sizes: { bytesBefore: number; bytesAfter: number } = await mem.compact();
  const child: Collection = await file.derive('/tmp/child.rvf');
  const memChild: Collection = await file.derive();
  const segs: SegmentInfo[] = await file.segments();
  for (const sg of segs) void [sg.id, sg.type, sg.typeName, sg.offset, sg.length];
  const stat: CollectionStatus = await file.status();
  const fid: string | null = stat.fileId;
  const depth: number = stat.lineageDepth + stat.epoch + stat.count + stat.deleted + stat.bytes + stat.segments;
  const loaded: boolean = stat.indexLoaded;
  const lk: LockStatus | null = stat.lock;
  if (lk) void [lk.pid, lk.host, lk.ours, lk.refreshedAt];
  const recTail: RecoveredTail | null = stat.recovered;
  if (recTail) void [recTail.epoch, recTail.discardedBytes, recTail.savedTo?.length];
  const gone: string[] = (await file.discardRecovered()).removed;
  const rep: RecoverReport = await recoverCollection('/tmp/x.rvf', '/tmp/y.rvf');
  const salvaged: number = rep.rows + rep.damaged.length + rep.unreadable.length + rep.lostRows.length;
  const memRep: Uint8Array | undefined = (await recoverCollection(new Uint8Array(0), null, { dryRun: true })).bytes;
  // @ts-expect-error out is a path or null
  await recoverCollection('/tmp/x.rvf', 5);
  void [gone, salvaged, memRep];
  const ver: VerifyResult = await file.verify();
  const problems: string[] = ver.problems;
  const intact: boolean = ver.witness.intact && ver.ok;
  // @ts-expect-error status is read-only data, not a method argument
  await file.status(1);
  await child.close();
  await memChild.close();
  await file.close();
  await mem.close();
  await fileDb.close();
  void [dir, img, cid, sbytes, sizes, fid, depth, loaded, problems, intact];
  await db.close();
  void [impl, flags, pool, dbImpl, again, names, n, rows, one, many, count, bpv, name, err, badCode];
}

async function followUsage(): Promise<void> {
  const r = await openCollection('/tmp/x.rvf', { readOnly: true, follow: { intervalMs: 100 } });
  const res: RefreshResult = await r.refresh();
  const flags: [number, boolean, number, number, boolean] = [res.epoch, res.changed, res.added, res.deleted, res.reopened];
  void flags;
  await r.close();
}

void main;
void followUsage;

async function workersUsage(): Promise<void> {
  const set: { workers: number } = await initWorkerPool(2);
  const db = await createDatabase({ workers: 2 });
  const n: number = db.workers;
  const where: 'memory' | 'node' | 'opfs' | 'indexeddb' = db.backend;
  void where;
  const col = await db.createCollection('w', { dimension: 3 });
  const rows = await col.searchBatch([[1, 2, 3], new Float32Array(3)], { k: 2 });
  const out: { path: string; bytes: number } = await col.exportTo('/tmp/w.rvf', { overwrite: true });
  void [set, n, rows, out];
  await db.close();
}

void workersUsage;

async function hybridUsage(): Promise<void> {
  const db = await createDatabase({ backend: 'opfs', path: 'docs', cache: 'indexeddb' });
  const col = (await db.getCollection('items')) ?? await db.createCollection('items', { dimension: 3 });
  const m = await col.cachedMetadata('a');
  const r: { rows: number; epoch: number } = await col.rebuildCache();
  const st = await col.status();
  const rebuilt: 'behind' | 'ahead' | 'replaced' | null | undefined = st.cache?.rebuilt;
  const rep = await migrate({ from: { backend: 'indexeddb', path: 'old' }, to: { backend: 'opfs', path: 'docs' }, verify: true });
  const noop: boolean = rep.noop;
  void [m, r, rebuilt, noop];
  // @ts-expect-error hybrid mode has one cache kind
  await createDatabase({ backend: 'opfs', path: 'docs', cache: 'localStorage' });
  await db.close();
}

void hybridUsage;

async function seedUsage(): Promise<void> {
  const impl = await initialize();
  const t: 'wasm' = impl.type;
  const on: boolean = await enableIndexedDb('mydb');
  const db = await createDatabase({ dimensions: 3, metric: 'cosine', m: 16, efConstruction: 200, maxElements: 1000, simdEnabled: true, quantization: 'none' });
  const col = await db.createCollection('docs');
  await col.insert('a', [1, 2, 3], { lang: 'en' });
  const ok: boolean = await col.update('a', [3, 2, 1], { lang: 'de' });
  const missing: Collection | null = await db.getCollection('nope');
  const gone: boolean = await db.deleteCollection('nope');
  const st = await db.stats();
  const n: number = st.vectorCount;
  void [t, on, ok, missing, gone, n];
  const q = await db.createCollection('codes', { dimension: 3, quantization: { type: 'product', subvectors: 1 } });
  const qi: QuantizationInfo = (await q.stats()).quantization;
  const kind: 'none' | 'scalar' | 'product' = qi.kind;
  const trained: boolean = qi.trained;
  void [kind, trained, await q.search([1, 2, 3], { k: 1, rerank: 4 })];
  // @ts-expect-error 'int8' is not a quantization ('none', 'scalar' or 'product')
  await db.createCollection('bad', { dimension: 3, quantization: 'int8' });
  // @ts-expect-error 'pq' is not a quantization ('none', 'scalar' or 'product')
  await createDatabase({ quantization: 'pq' });
  await db.close();
}

void seedUsage;

async function toolboxUsage(col: Collection): Promise<void> {
  const m: Float32Array = await similarityMatrix([[1, 0], [0, 1]], null, 'euclidean');
  const m2: Float32Array = await similarityMatrix(new Float32Array(4), new Float32Array(2), { metric: 'dotProduct', dimension: 2 });
  const cm: Float32Array = await col.similarityMatrix(['a', 'b'], ['c']);
  const r: KmeansResult = await kmeans([[1, 2], [3, 4]], 2, { seed: 7n, init: 'random', iterations: 10, tolerance: 0 });
  const c: Float32Array = r.centroids;
  const a: Uint32Array = r.assignments;
  const viaCol: Id[] = (await kmeans(col, 3, { metric: 'cosine' })).ids;
  const viaMethod: Id[] = (await col.kmeans(3)).ids;
  // @ts-expect-error dotProduct has no centroid: k-means takes euclidean or cosine
  await kmeans([[1, 2]], 1, { metric: 'dotProduct' });
  // @ts-expect-error 'kmeans++' is not an init ('k-means++' or 'random')
  await col.kmeans(2, { init: 'kmeans++' });
  void [m, m2, cm, c, a, viaCol, viaMethod];
}

void toolboxUsage;
