// web/index.d.ts — hand-written types for veclite's public API (web/index.js).
// Kept in step with docs/api.md; tests/types/usage.ts type-checks every member.

/** The stable error codes of {@link VecliteError}. */
export type VecliteErrorCode =
  | 'EINVAL' | 'ENOTFOUND' | 'ELOCK' | 'EREADONLY' | 'ECORRUPT' | 'EVERSION' | 'EBACKEND'
  | 'EBUDGET' | 'ECLOSED' | 'EIO';

/**
 * Every failure veclite reports. `message` says what went wrong and what to do.
 * - EINVAL: bad argument (wrong dimension, NaN, empty id, bad filter, wrong type...)
 * - ENOTFOUND: no such id or collection
 * - ELOCK: another writer holds the store (the message names its pid and host)
 * - EREADONLY: a write on a read-only handle
 * - ECORRUPT: stored bytes are damaged, or the file is not an .rvf
 * - EVERSION: the file needs a newer veclite (the message names the feature)
 * - EBACKEND: backend or engine build unavailable (the message says how to enable it)
 * - EBUDGET: out of WebAssembly memory
 * - ECLOSED: the database or collection was closed or deleted
 * - EIO: the storage device failed; after a failed durable write every call on that handle
 *   rejects with EIO until it is reopened
 */
export class VecliteError extends Error {
  constructor(code: VecliteErrorCode, message: string, options?: { cause?: unknown });
  readonly name: 'VecliteError';
  readonly code: VecliteErrorCode;
  /**
   * On an EIO from a write that failed while committing: 'notWritten' when the write was rolled
   * back (a reopen never shows it), 'unknown' when the rollback failed too (a reopen shows the
   * whole write or none of it). Absent on other errors.
   */
  readonly outcome?: 'notWritten' | 'unknown';
}

/**
 * A vector id: a string (1..1024 UTF-8 bytes), a non-negative safe integer, or a bigint in
 * 0..2^64-1. Numeric ids come back as `number` when they are at most
 * `Number.MAX_SAFE_INTEGER`, else as `bigint` (never rounded).
 */
export type Id = string | number | bigint;

/** A vector: exactly `dimension` finite components. */
export type Vector = Float32Array | Float64Array | readonly number[];

/** JSON data stored inside a metadata value (round-trips through JSON text). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A top-level metadata value: string, finite number, boolean, null, bigint (64-bit, signed or
 * unsigned), Uint8Array (bytes) or JSON data (plain arrays/objects, which round-trip through
 * JSON text; values with a toJSON method are rejected). Keys must not start with '$'.
 */
export type MetadataValue = string | number | boolean | null | bigint | Uint8Array | JsonValue[]
  | { [key: string]: JsonValue };

/** Metadata of one vector. */
export type Metadata = { [key: string]: MetadataValue };

/** An operand of $eq, $ne and $in: any metadata value. */
export type FilterValue = MetadataValue;

/**
 * An operand of $lt/$le/$lte/$gt/$ge/$gte/$range: numbers and bigints compare numerically
 * (exactly, across the two), strings and Uint8Array bytes lexicographically.
 */
export type OrderedValue = number | bigint | string | Uint8Array;

/**
 * Conditions on one field. Several operators in one object must all hold. Operands are never
 * `undefined` (the `$${string}` signature rejects `{ $eq: undefined }`).
 */
export type FieldOperators = {
  $eq?: FilterValue;
  $ne?: FilterValue;
  $lt?: OrderedValue;
  $le?: OrderedValue;
  $lte?: OrderedValue;
  $gt?: OrderedValue;
  $ge?: OrderedValue;
  $gte?: OrderedValue;
  /** The field equals one of the values (an empty list matches nothing). */
  $in?: readonly FilterValue[];
  /**
   * NOT IN: the field equals none of the values; a row without the field matches (like $ne).
   * An empty list matches every row.
   */
  $nin?: readonly FilterValue[];
  /** lo <= field <= hi */
  $range?: readonly [OrderedValue, OrderedValue];
  /** The field is present (true) or absent (false). */
  $exists?: boolean;
  /**
   * A string field that holds this string (bytewise substring; '' is in every string), or a
   * JSON array field with an element equal to this scalar (numbers numerically). False for a
   * missing field or any other pairing.
   */
  $contains?: ContainsValue;
} & { [op: `$${string}`]: FilterValue | readonly FilterValue[] };

/** An operand of $contains: a scalar (objects, arrays and bytes are EINVAL). */
export type ContainsValue = string | number | bigint | boolean | null;

/** Operator names, which never name a field or a key of a JSON equality operand. */
type NoOperators = {
  $eq?: never; $ne?: never; $lt?: never; $le?: never; $lte?: never; $gt?: never; $ge?: never;
  $gte?: never; $in?: never; $nin?: never; $range?: never; $exists?: never; $contains?: never;
};

/**
 * A JSON object compared for equality (`{ field: { a: 1 } }`). Its keys must not start with
 * '$': such an object is read as {@link FieldOperators}. To compare with a JSON object that has
 * '$' keys, use `{ field: { $eq: {...} } }`.
 */
export type JsonEqualityObject = { [key: string]: JsonValue } & NoOperators & {
  $and?: never; $or?: never; $not?: never;
};

/** What a field name maps to in a {@link Filter}: a value (equality) or operators. */
export type FieldCondition =
  | string | number | boolean | null | bigint | Uint8Array | JsonValue[] | JsonEqualityObject
  | FieldOperators;

/**
 * A structured filter, evaluated inside the engine during graph search.
 * `{ field: value }` is equality; several keys in one object are ANDed. Objects nest at most
 * 64 levels deep. No value may be `undefined` (use null, or `{ $exists: false }`).
 * A key with dots (`'a.b.0'`) is a path into a JSON (object/array) field when the collection has
 * no field of that exact name: the longest dot-separated prefix that names a field is the field,
 * each later segment an object key or, on an array, a decimal index (docs/api.md §5).
 */
export type Filter = {
  $and?: readonly Filter[];
  $or?: readonly Filter[];
  $not?: Filter;
} & NoOperators & {   // field operators belong inside { field: { ... } }, not at this level
  [field: string]: FieldCondition | readonly Filter[] | Filter;
};

/**
 * A JS predicate filter. Must be synchronous; evaluated with widening, then an exact scan, so
 * the answer is exact even when few vectors match. At run time a non-boolean result counts by
 * its truthiness; a Promise (or any thenable) rejects the search with EINVAL.
 */
export type FilterPredicate = (metadata: Metadata, id: Id) => boolean;

/** Options of {@link Collection.search} and {@link Collection.searchBatch}. */
export interface SearchOptions {
  /** Results per query, 1..100000 (default 10). */
  k?: number;
  /** HNSW beam width for this query (default: the collection's `ef`); ignored by flat. */
  ef?: number;
  /** Structured filter or JS predicate. */
  filter?: Filter | FilterPredicate | null;
  /** Keep only hits with score >= threshold. */
  threshold?: number | null;
  /** Return each hit's stored vector (default false). */
  includeVectors?: boolean;
  /** Return each hit's metadata (default true). */
  includeMetadata?: boolean;
  /**
   * A quantized collection: how many of the walk's best candidates are re-ranked with their
   * float32 rows (1..ef; default for 'scalar': k + k/4, and up to 2k + 10 where the codes' error
   * leaves the order open; the whole beam for 'product'). Each is
   * one read of the store's file. Ignored without quantization.
   */
  rerank?: number;
  /**
   * Diversity: re-rank by maximal marginal relevance inside the engine. The search (filter
   * included) fetches `fetchK` candidates (an integer k..100000; default max(4k, 20)), then
   * picks k greedily by `lambda * sim(q, d) - (1 - lambda) * max sim(d, picked)` with the
   * metric's similarity (the hit `score`: cos, dot, 1 / (1 + L2)). `lambda` in [0, 1]
   * (default 0.5): 1 is the plain search, 0 maximal spread. Hits come in pick order.
   */
  mmr?: MmrOptions | null;
  /**
   * Keywords, ranked by BM25 over the collection's text field (CollectionConfig.text; EINVAL
   * without one, or for a text without a letter or digit). With a query vector: hybrid ranking
   * (`hybrid`), hits `{ id, score: fused, distance, textScore }`; with `search(null, { text })`:
   * keyword search, hits `{ id, score: BM25, textScore }`. Not with searchBatch, mmr or a JS
   * predicate filter.
   */
  text?: string | null;
  /**
   * Hybrid fusion: the vector ranking's and the BM25 ranking's best `fetchK` (k..100000, default
   * max(4k, 20)), each filtered, fused by `alpha / (60 + vectorRank) + (1 - alpha) / (60 +
   * textRank)` (alpha in [0, 1], default 0.5; a ranking that misses a row adds 0).
   */
  hybrid?: { alpha?: number; fetchK?: number } | null;
}

/** {@link SearchOptions.mmr}. */
export interface MmrOptions {
  lambda?: number;
  fetchK?: number;
}

/** One search hit. */
export interface SearchResult {
  id: Id;
  /** Similarity, higher is better: cos, dot, or 1 / (1 + L2). */
  score: number;
  /** The metric's distance, lower is better: 1 - cos, -dot, or L2. */
  distance: number;
  /** Present unless `includeMetadata: false` ({} when none was stored). */
  metadata?: Metadata;
  /** Present when `includeVectors: true`. */
  vector?: Float32Array;
  /** A search with `text`: the row's BM25 score (0 when it holds no query token). */
  textScore?: number;
}

/** A keyword search's hit (`search(null, { text })`): score is the BM25 score. */
export interface KeywordResult {
  id: Id;
  score: number;
  textScore: number;
  metadata?: Metadata;
  vector?: Float32Array;
}

/** One row to insert. Other keys are rejected with EINVAL (a typo never drops data). */
export interface VectorRecord {
  id: Id;
  vector: Vector;
  metadata?: Metadata | null;
}

/** A stored row, as returned by {@link Collection.get}. */
export interface StoredRecord {
  id: Id;
  vector: Float32Array;
  metadata: Metadata;
}

/** An opaque position in a collection's ids (a string: it may be stored and passed back later). */
export type IdsCursor = string & { readonly __idsCursor: unique symbol };

export interface IdsOptions {
  /** Start after this position: the `next` of a previous page (null or absent: from the start). */
  after?: IdsCursor | null;
  /** Ids per page, 1..100000 (default 1000). */
  limit?: number;
}

export interface IdsPage {
  ids: Id[];
  /** The cursor of the following page, or null when this page was the last. */
  next: IdsCursor | null;
}

export interface UpdateOptions {
  /**
   * Merge the patch's metadata into the stored metadata instead of replacing it (shallow): a
   * key of the patch replaces the stored value, a key set to `null` is removed, a key set to
   * `undefined` is ignored, and every other stored key stays. Read, merge and write happen in
   * one session message (atomic per call). `metadata: null` or `{}` leaves it unchanged.
   */
  merge?: boolean;
}

export type Metric = 'cosine' | 'euclidean' | 'dotProduct';

export interface HnswIndexConfig {
  type?: 'hnsw';
  /** Links per node per layer, 2..256 (default 16). */
  m?: number;
  /** Build beam width, 1..100000 (default 200). */
  efConstruction?: number;
  /** Default search beam width, 1..100000 (default 64). */
  ef?: number;
  /** Level RNG seed (default 42): same seed + same inserts = same graph. */
  seed?: number | bigint;
}

export interface FlatIndexConfig {
  type: 'flat';
}

export interface CollectionConfig {
  /** 1..65535 */
  dimension: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** Default { type: 'hnsw' }. */
  index?: HnswIndexConfig | FlatIndexConfig;
  /** Fix the id kind up front; otherwise the first insert decides. */
  idType?: 'string' | 'number';
  /** Capacity: inserts that would take the collection past it reject with EBUDGET. */
  maxElements?: number;
  /**
   * Memory budget of this collection's engine memory in MiB (0 < n <= 4096): an insert that
   * would exceed it rejects with EBUDGET before anything is read into the engine. Not stored in
   * the file: give it again when you reopen.
   */
  memoryBudgetMB?: number;
  /**
   * Keep the vectors as codes (hnsw only; chosen at creation, kept in the store):
   * 'scalar' one byte per dimension, 'product' about dimension / 5 bytes (or `subvectors`).
   * Trained once the collection holds 1,024 rows; searches walk the codes and re-rank the best
   * candidates with the float32 rows, which stay in the store's file (reported distances are
   * exact). Default 'none'.
   */
  quantization?: Quantization;
  /**
   * Index one metadata field for keyword search (BM25) and hybrid ranking (SearchOptions.text):
   * chosen at creation, kept in the store (file metadata `veclite.text`); the keyword index is
   * built from the rows at every open. Rows whose field is missing or not a string are not
   * keyword-searchable.
   */
  text?: { field: string };
}

export type Quantization = 'none' | 'scalar' | 'product' | { type: 'none' | 'scalar' } | { type: 'product'; subvectors?: number };

/** stats().quantization */
export interface QuantizationInfo {
  kind: 'none' | 'scalar' | 'product';
  /** false until the collection has held 1,024 rows (until then float32 rows, exact search). */
  trained: boolean;
  /** Bytes per vector in memory once trained. */
  codeBytes: number;
  /** Product codes: sub-vectors (bytes per code). */
  subvectors: number;
  /** The quantizer's own tables (offsets, or the 256-centroid codebook). */
  tableBytes: number;
  /** Rows it was trained on in this session; 0 when it came from the file. */
  trainedOn: number;
}

export interface CollectionStats {
  count: number;
  dimension: number;
  metric: Metric;
  index: { type: 'hnsw'; m: number; efConstruction: number; ef: number } | { type: 'flat' };
  /** Bytes the engine holds for this collection (vectors, graph, metadata, maps; for a file-backed
   * store also the file layer's bookkeeping: its directory and an entry per loaded id). */
  memoryBytes: number;
  /** memoryBytes / count (0 when empty). */
  bytesPerVector: number;
  /** Deleted or superseded nodes still routing in the graph. */
  tombstones: number;
  implementation: 'wasm-simd' | 'wasm';
  nodes: number;
  vectorBytes: number;
  graphBytes: number;
  metadataBytes: number;
  maxLevel: number;
  /** Registered metadata field names. */
  fields: number;
  idType: 'string' | 'number' | null;
  quantization: QuantizationInfo;
  /** The keyword-indexed metadata field (CollectionConfig.text), or null. */
  text: string | null;
}

/** One entry of the committed segment directory ({@link Collection.segments}). */
export interface SegmentInfo {
  /** Segment id (a bigint only above 2^53 - 1). */
  id: number | bigint;
  /** Segment type byte (docs/format.md §3): 1 vec, 2 index, 4 journal, 7 meta, 10 witness, ... */
  type: number;
  /** 'vec', 'index', 'journal', 'manifest', 'meta', 'witness', ... or 'unknown'. */
  typeName: string;
  /** File offset of the 64-byte segment header. */
  offset: number;
  /** Payload bytes after the header. */
  length: number;
}

/** The writer lock of a file as {@link Collection.status} reports it. */
export interface LockStatus {
  pid: number | null;
  host: string | null;
  writerId: string | null;
  /** Last heartbeat (ms since the epoch), or null when the lock file cannot be parsed. */
  refreshedAt: number | null;
  /** CRC and version check out. */
  valid: boolean;
  /** This handle holds it. */
  ours: boolean;
}

/** State of a collection's store ({@link Collection.status}). */
/** {@link CollectionStatus.openCost}: where an open's time went, in milliseconds. */
export interface OpenCost {
  /** Device reads (the bytes from the file into WebAssembly memory). */
  readMs: number;
  /** Content hashes (CRC-32 of every segment read) and the META digests and checks. */
  verifyMs: number;
  /** Manifest, directory, id map and deleted list. */
  idMapMs: number;
  /** Rows into the index: into their graph nodes, or inserted when no INDEX covers them. */
  rowsMs: number;
  /** The INDEX segment decoded and imported as the graph (repaired when nodes lack rows). */
  graphMs: number;
  /** Metadata decoded and applied. */
  metadataMs: number;
  /** The whole engine open. */
  totalMs: number;
}

export interface CollectionStatus {
  name: string;
  /** Canonical absolute path of the .rvf file (symlinks resolved), or null in memory. */
  path: string | null;
  backend: Backend;
  /** False for a plain in-memory collection of a memory Database (no .rvf store). */
  persistent: boolean;
  readOnly: boolean;
  /** Manifest epoch: +1 per commit. */
  epoch: number;
  /** 32 hex digits (for a plain in-memory collection: the id its export() images carry). */
  fileId: string | null;
  /** The parent's fileId (zeros for a root file), or null without a store. */
  parentId: string | null;
  lineageDepth: number;
  /** Live vectors. */
  count: number;
  /** Deleted ids whose rows are still in the file (0 after compact). */
  deleted: number;
  /** Entries in the committed directory. */
  segments: number;
  /** Committed size in bytes. */
  bytes: number;
  dimension: number;
  metric: Metric;
  index: 'hnsw' | 'flat';
  idType: 'string' | 'number' | null;
  /** True when the open loaded the HNSW graph from the file instead of rebuilding it. */
  indexLoaded: boolean;
  /** Rows the open had to insert into the graph (0 when the persisted graph covered them all). */
  rowsInsertedOnOpen: number;
  /**
   * What the engine's open of this store cost, in milliseconds (null: not a store). Each phase
   * excludes the reads and hashes done inside it; totalMs is the whole engine open (the JS around it
   * — device, lock, id maps — is not included). Diagnostics: figures, never a contract.
   */
  openCost: OpenCost | null;
  /** The file's writer lock (null: none, or not a file). */
  lock: LockStatus | null;
  /** Bytes after the last intact commit that the open did not load (null: none). See {@link RecoveredTail}. */
  recovered: RecoveredTail | null;
  /**
   * Hybrid mode (cache: 'indexeddb'): the metadata cache's epoch (equal to `epoch` when in sync),
   * its row count, whether the last open rebuilt it ('behind': the store was ahead; 'ahead': the
   * cache claimed a newer epoch and the store was trusted; 'replaced': the cache was of another
   * store of that name), and a warning; null without a cache.
   */
  cache: { epoch: number | null; rows: number; rebuilt: 'behind' | 'ahead' | 'replaced' | null; warning: string | null } | null;
  /**
   * Compactions this handle ran on its own after writes (the file had outgrown its live size by
   * more than 25% and 64 KiB), the bytes they reclaimed, and the last one's error (null: none;
   * after an error this handle compacts only when compact() is called).
   */
  autoCompaction: { runs: number; bytesReclaimed: number; lastError: string | null };
}

/**
 * Bytes after the last intact commit (a torn commit, or whole segments in front of a damaged
 * MANIFEST). A writable file open saves them beside the file before any write can cut them
 * (`<file>.recovered-<epoch>-<offset>-<ms>`); later opens keep reporting the newest saved file
 * until {@link Collection.discardRecovered}. Salvage their rows with {@link recoverCollection}.
 */
export interface RecoveredTail {
  /** The committed epoch the open fell back to. */
  epoch: number;
  /** How many bytes were not loaded. */
  discardedBytes: number;
  /** Where they are kept; null for read-only opens and in-memory stores (nothing saved). */
  savedTo: string | null;
}

/** A segment {@link recoverCollection} could not use. offset: a number in the source, or "<saved tail>@<offset>". */
export interface DamagedSegment {
  source: string;
  offset: number | string | null;
  type: number;
  typeName: string;
  length: number;
  reason: string;
}

/** Result of {@link recoverCollection}. */
export interface RecoverReport {
  source: string;
  /** The new store's path (null when built in memory or for dryRun). */
  out: string | null;
  /** Saved tails beside the source that were replayed. */
  savedTails: string[];
  dimension: number | null;
  metric: Metric | null;
  /** Epoch of the newest intact MANIFEST (null: none). */
  epoch: number | null;
  idType: 'string' | 'number' | null;
  /** Rows written to the new store (dryRun: rows that would be). */
  rows: number;
  withMetadata: number;
  /** Rows found in intact segments after replay. */
  found: number;
  /** Rows removed by JOURNAL entries and manifest deleted lists during the replay. */
  deletesApplied: number;
  segments: { intact: number; damaged: number };
  damaged: DamagedSegment[];
  /** Byte ranges that hold no intact segment. */
  unreadable: { source: string; from: number | string; to: number | string; bytes: number }[];
  /** Rows found but not written (lost string id, invalid vector...). */
  lostRows: { id: Id; reason: string }[];
  /** The new store's .rvf bytes when out was null (undefined otherwise). */
  bytes?: Uint8Array;
  /** True when nothing was damaged, unreadable or lost. */
  ok: boolean;
}

/** Result of {@link Collection.verify}. */
export interface VerifyResult {
  ok: boolean;
  /** One line per problem found. */
  problems: string[];
  /** The WITNESS audit chain. */
  witness: { entries: number; intact: boolean };
}

/** Result of {@link Collection.snapshot}. */
export interface Snapshot {
  /** Lowercase hex SHA-256 of `bytes`: it names these bytes, not the set of rows they hold. */
  cid: string;
  /** A compacted .rvf image of the committed state. */
  bytes: Uint8Array;
}

export class Collection {
  private constructor();
  readonly name: string;
  readonly dimension: number;
  readonly metric: Metric;
  /** Insert or replace (upsert) one vector. */
  insert(record: VectorRecord): Promise<void>;
  /** The seed's form: insert(id, vector, metadata?). */
  insert(id: Id, vector: Vector, metadata?: Metadata): Promise<void>;
  /**
   * Insert or replace many vectors atomically (all or nothing). Resolves to the number of
   * distinct ids written: an id given several times counts once, and its last row wins.
   */
  insertBatch(records: readonly VectorRecord[]): Promise<number>;
  /** The k nearest neighbours of one query, best first. */
  search(vector: Vector, options?: SearchOptions): Promise<SearchResult[]>;
  /** Keyword search: BM25 over the collection's text field, no vector (SearchOptions.text). */
  search(vector: null, options: SearchOptions & { text: string }): Promise<KeywordResult[]>;
  /** Several queries at once (one engine call); one result list per query. */
  searchBatch(vectors: readonly Vector[], options?: SearchOptions): Promise<SearchResult[][]>;
  /** The stored row, or null. */
  get(id: Id): Promise<StoredRecord | null>;
  /**
   * Several rows in one call, in the order given: each the stored row, or null where the id is
   * absent. A repeated id is returned at each of its places.
   */
  getMany(ids: readonly Id[]): Promise<(StoredRecord | null)[]>;
  /**
   * Live ids a page at a time, in ascending internal order (numeric ids: ascending; string ids:
   * the order of their first insert). Pass `next` back as `after` for the following page; it
   * is null after the last page.
   */
  ids(options?: IdsOptions): Promise<IdsPage>;
  /**
   * Scores (higher is more similar, the convention of {@link SearchResult.score}) of every pair
   * of stored ids in the collection's metric: idsA.length x (idsB ?? idsA).length, row-major.
   * An absent id is ENOTFOUND.
   */
  similarityMatrix(idsA: readonly Id[], idsB?: readonly Id[] | null): Promise<Float32Array>;
  /** k-means over the live rows, computed in the engine; `ids[i]` is the id of row i. */
  kmeans(k: number, options?: CollectionKmeansOptions): Promise<KmeansResult & { ids: Id[] }>;
  /**
   * Delete every row whose metadata matches a structured filter (`{}` matches every row), in
   * one durable write. Resolves to how many rows were deleted.
   */
  deleteWhere(filter: Filter): Promise<number>;
  /**
   * Change the vector and/or the metadata. The metadata is replaced, or with `{ merge: true }`
   * merged into the stored metadata (see {@link UpdateOptions}).
   * Resolves true if the id existed and was updated, false (changing nothing) if it is absent.
   */
  update(id: Id, patch: { vector?: Vector; metadata?: Metadata | null }, options?: UpdateOptions): Promise<boolean>;
  /** The seed's form: update(id, vector, metadata?) — a null vector keeps the stored one. */
  update(id: Id, vector: Vector | null, metadata?: Metadata): Promise<boolean>;
  /** Delete one id: resolves to whether it was live. */
  delete(id: Id): Promise<boolean>;
  /** Delete many ids: resolves to how many were live. */
  delete(ids: readonly Id[]): Promise<number>;
  /** Number of live vectors. */
  count(): Promise<number>;
  /** Remove every vector (configuration kept). */
  clear(): Promise<void>;
  stats(): Promise<CollectionStats>;
  /**
   * A self-contained .rvf image of the committed state: a store's committed bytes verbatim (a
   * plain in-memory collection builds one on demand). Open it with {@link openCollection}.
   */
  export(): Promise<Uint8Array>;
  /**
   * Node: write the committed image to a file, under that file's writer lock (ELOCK while a live
   * writer holds it), through a synced temporary sibling renamed over it. EINVAL if the file
   * exists, unless overwrite.
   */
  exportTo(path: string, options?: { overwrite?: boolean }): Promise<{ path: string; bytes: number }>;
  /**
   * A compacted image and its SHA-256 (hex). The cid identifies exactly these bytes: equal cids
   * mean equal bytes, hence an equal state. The same rows reached by different histories may give
   * different bytes and cids (the persisted graph depends on the handle's insert history, the witness
   * chain and compaction record on the file's history). Any commit (including a graph checkpoint close() may write)
   * changes the cid; snapshotting again without a commit gives the same bytes.
   */
  snapshot(): Promise<Snapshot>;
  /**
   * Rewrite the file without dead rows (temp file, fsync, rename, fsync dir). EREADONLY on a
   * read-only handle; EINVAL for a plain in-memory collection.
   */
  compact(): Promise<{ bytesBefore: number; bytesAfter: number }>;
  /** A child store (lineage: parentId = this fileId, depth + 1): a new file, or memory without a path. */
  derive(path?: string): Promise<Collection>;
  /** The committed segment directory. */
  segments(): Promise<SegmentInfo[]>;
  status(): Promise<CollectionStatus>;
  /** Re-read and check the whole store; problems are reported, not thrown (also unloaded and saved tails). */
  verify(): Promise<VerifyResult>;
  /**
   * Remove the tails saved beside the file (status().recovered), after salvaging them. The only
   * call that deletes them. EREADONLY on a read-only file handle.
   */
  discardRecovered(): Promise<{ removed: string[] }>;
  /** Hybrid mode: a row's metadata from the IndexedDB cache, or null. EINVAL without a cache. */
  cachedMetadata(id: Id): Promise<Metadata | null>;
  /** Hybrid mode: rebuild the metadata cache from the store. */
  rebuildCache(): Promise<{ rows: number; epoch: number }>;
  /**
   * Bring a read-only file handle to its writer's newest commit, reading only what was appended
   * since (a replaced/compacted file is reopened: reopened true). A writable file handle is always
   * current (changed false); a store opened from bytes: EINVAL.
   */
  refresh(): Promise<RefreshResult>;
  /** Persist the graph (writable stores), close the file and release the writer lock. Idempotent. */
  close(): Promise<void>;
}

/** What Collection.refresh() applied. */
export interface RefreshResult {
  /** Manifest epoch now. */
  epoch: number;
  /** True if a newer commit was applied (or the file reopened). */
  changed: boolean;
  /** Rows upserted (new, changed or re-inserted ids); 0 when reopened. */
  added: number;
  /** Ids that stopped being live; 0 when reopened. */
  deleted: number;
  /** The store was reopened from the path (the file was replaced, e.g. compacted). */
  reopened: boolean;
}

export class Database {
  private constructor();
  /** The engine build this database runs on. */
  readonly implementation: 'wasm-simd' | 'wasm';
  /** Without config (or for what it leaves out): the createDatabase defaults (dimensions, metric, m, efConstruction, maxElements). */
  createCollection(name: string, config?: Partial<CollectionConfig>): Promise<Collection>;
  /** Resolves null if there is no collection of that name. */
  getCollection(name: string): Promise<Collection | null>;
  /** Names in creation order. */
  listCollections(): Promise<string[]>;
  /**
   * Deletes the collection's stored data from storage, for good: the `<name>.rvf` file (Node;
   * when that name is a symlink, only the link), the OPFS file or the IndexedDB records
   * (browsers). This database's object for it is closed first (it then rejects with ECLOSED).
   * Resolves true if it existed, false if there was none of that name.
   *
   * Refused, changing nothing: ELOCK while another writer (any process) holds the store, or while
   * another object of this JavaScript realm has the file open — an openCollection(path) handle
   * (writer or readOnly), a collection of another Database over the folder (also a read-only or
   * pooled one), a derive(path) child — by any name of the file (symlinks and `..` resolved); the
   * message names that handle's kind. Close it, then delete. EREADONLY on a read-only database.
   */
  deleteCollection(name: string): Promise<boolean>;
  /** The seed's statistics, over the collections open in this database. */
  stats(): Promise<DatabaseStats>;
  /** Closes every collection (persisting graphs, releasing locks); later calls reject with ECLOSED. Idempotent. */
  close(): Promise<void>;
  /** The directory of a file database, or null in memory. */
  readonly path: string | null;
  /** Opened with createDatabase({ path, readOnly: true }): every write rejects with EREADONLY. */
  readonly readOnly: boolean;
  /** Worker sessions serving this database: 0 in this thread, else 1 writer + (n-1) read replicas. */
  readonly workers: number;
  /** Where its collections live. */
  readonly backend: Backend;
}

/**
 * Where collections live: 'memory' everywhere, 'node' (files) in Node.js, 'opfs' (Origin Private
 * File System) and 'indexeddb' in browsers. An explicit backend the runtime lacks rejects with
 * EBACKEND; it never falls back.
 */
export type Backend = 'memory' | 'node' | 'opfs' | 'indexeddb';

export interface DatabaseConfig {
  /** Force the SIMD (true) or scalar (false) build; default: detect. */
  simd?: boolean;
  /** A pre-compiled veclite.wasm (required where byte compilation is forbidden, e.g. workerd). */
  wasmModule?: WebAssembly.Module;
  /**
   * Default: 'memory' without a path; with a path, 'node' in Node.js, and in a browser 'opfs',
   * else 'indexeddb', else 'memory' (db.backend and getWasmInfo().backend say which).
   */
  backend?: Backend;
  /** Browser writer lease timing (docs/browser.md §3): heartbeat every heartbeatMs (10 s), stale after staleMs (30 s). */
  lease?: { heartbeatMs?: number; staleMs?: number };
  /**
   * Node: a directory (created if missing) holding one `<name>.rvf` per collection; collection
   * names must then match /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.
   */
  path?: string;
  /**
   * Run the database in n workers (module Web Workers in browsers, worker_threads in Node): one
   * writer session and n-1 read replicas that follow its commits; reads are spread over all of
   * them and searchBatch splits its queries. 0 (the default, see initWorkerPool): this thread.
   */
  workers?: number;
  /** The seed's collection defaults: what createCollection(name) uses when its config leaves them out. */
  dimensions?: number;
  metric?: 'cosine' | 'euclidean' | 'dotProduct';
  m?: number;
  efConstruction?: number;
  /** Capacity of each collection: inserts past it reject with EBUDGET. */
  maxElements?: number;
  /**
   * Memory budget in MiB (0 < n <= 4096) for all of this database's open collections together:
   * an insert that would take them past it rejects with EBUDGET before anything is read into
   * the engine.
   */
  memoryBudgetMB?: number;
  /** Default quantization of createCollection (see CollectionConfig.quantization). */
  quantization?: 'none' | 'scalar' | 'product';
  /** The seed's name for simd. */
  simdEnabled?: boolean;
  /**
   * Hybrid mode (backend 'opfs' only): keep each row's metadata in an IndexedDB cache beside the
   * .rvf files, reconciled by epoch on open (docs/browser.md §4).
   */
  cache?: 'indexeddb';
  /**
   * Node file databases only: open an existing folder without creating anything or taking writer
   * locks (another process may hold them and write). getCollection opens each store read-only at
   * its newest commit; Collection.refresh() (or `follow`) brings it forward. Every write —
   * createCollection, deleteCollection, insert, update, delete, deleteWhere, clear, compact —
   * rejects with EREADONLY. EINVAL without a path (memory), with a browser backend (use
   * openCollection('<db>/<col>', { backend, readOnly: true }) there) or with workers > 1;
   * ENOTFOUND for a missing folder.
   */
  readOnly?: boolean;
  /** With readOnly: each collection refreshes itself when its file changes, as openCollection's follow. */
  follow?: boolean | { intervalMs?: number };
}

/** Load the engine and create a database: empty in memory, or over a directory of .rvf files. */
export function createDatabase(config?: DatabaseConfig): Promise<Database>;

export interface OpenCollectionOptions {
  /** Take no lock and refuse writes (EREADONLY). */
  readOnly?: boolean;
  /**
   * Read-only file handles: refresh() automatically when the file's size or identity changes,
   * polled every intervalMs (default 200) by an unref()ed timer; close() stops it.
   */
  follow?: boolean | { intervalMs?: number };
  /**
   * 'node' for a path (default), 'memory' for bytes (default); in a browser 'opfs' or 'indexeddb'
   * with source '<database>/<collection>' (readers there follow the writer's commit notices).
   */
  backend?: Backend;
  /** Create the store when the file does not exist (or the bytes are empty). */
  create?: CollectionConfig;
  /** Memory budget of this handle in MiB (see CollectionConfig.memoryBudgetMB). */
  memoryBudgetMB?: number;
  /** Default search beam width of this handle, 1..100000. */
  ef?: number;
  simd?: boolean;
  wasmModule?: WebAssembly.Module;
}

/**
 * Open one .rvf store: a file path (Node; the writer lock is taken unless readOnly) or the bytes
 * of an image (in memory; writes change only that copy — export() returns it).
 */
export function openCollection(source: string | Uint8Array, options?: OpenCollectionOptions): Promise<Collection>;

/**
 * Salvage every row, metadata record and string id of the intact segments of an .rvf file (and
 * the tails saved beside it) into a NEW store: out (a path that must not exist), or in memory
 * (out null: the report carries its bytes). The source is never modified.
 */
export function recoverCollection(source: string | Uint8Array, out?: string | null,
  options?: { dryRun?: boolean }): Promise<RecoverReport>;

/**
 * The number of workers databases created from now on use when their config does not say
 * (0..64; 0, the default, runs them in this thread).
 */
export function initWorkerPool(n: number): Promise<{ workers: number }>;

export interface MigrateReport {
  from: { backend: 'indexeddb' | 'opfs'; path: string };
  to: { backend: 'indexeddb' | 'opfs'; path: string };
  dryRun: boolean;
  collections: Array<{ name: string; bytes: number; action: 'copied' | 'would copy' | 'unchanged' | 'conflict';
    reason?: string; rows?: number; verified?: boolean; problems?: string[] }>;
  copied: number;
  unchanged: number;
  conflicts: number;
  /** Nothing was (or would be) copied. */
  noop: boolean;
}

/**
 * Copy every collection of one browser database into another, byte for byte (typically
 * IndexedDB → OPFS for hybrid mode). Idempotent; never changes its source; never overwrites a
 * target with other contents (reported as a conflict).
 */
export function migrate(options: { from: { backend: 'indexeddb' | 'opfs'; path: string };
  to: { backend: 'indexeddb' | 'opfs'; path: string }; dryRun?: boolean; verify?: boolean }): Promise<MigrateReport>;

/** The build in use: the last loaded, or before any load the one that would load. */
export interface Implementation {
  /** Always 'wasm': veclite has no native addon. */
  type: 'wasm';
  /** The engine build: the last loaded, or before any load the one that would load. */
  build: 'wasm-simd' | 'wasm';
  simd: boolean;
}

/** The implementation in use; String(getImplementation()) is the build. */
export function getImplementation(): Implementation;

/** Load (compile) the engine now rather than on the first createDatabase. */
export function initialize(options?: { simd?: boolean; wasmModule?: WebAssembly.Module }): Promise<Implementation>;

/**
 * Databases created from now on without a path or backend keep their collections in the
 * IndexedDB database `name`. Resolves false, changing nothing, where IndexedDB is missing.
 */
export function enableIndexedDb(name: string): Promise<boolean>;

export interface DatabaseStats {
  vectorCount: number;
  /** The createDatabase default, else the one open collection's, else null. */
  dimensions: number | null;
  metric: 'cosine' | 'euclidean' | 'dotProduct' | null;
  /** Bytes the engine holds for the open collections. */
  memoryUsage: number;
  /** Bytes of their HNSW graphs. */
  indexSize: number;
  /** The database's default, else that of its only open collection, else 'none'. */
  quantization: 'none' | 'scalar' | 'product';
  simdEnabled: boolean;
  collections: Array<{ name: string; count: number; dimension: number; metric: string }>;
}

export interface WasmInfo {
  simdEnabled: boolean;
  simdSupported: boolean;
  /** Worker sessions running now, over every live pool. */
  workerPoolSize: number;
  /** Whether this runtime has IndexedDB / the Origin Private File System. */
  indexedDbEnabled: boolean;
  opfsEnabled: boolean;
  /** The backend of the last database created (null before any). */
  backend: Backend | null;
}

/** What this runtime offers the engine. */
export function getWasmInfo(): WasmInfo;

/** A set of vectors: an array of vectors, or one flat array of n x dimension values (give `dimension`). */
export type VectorSet = readonly Vector[] | Float32Array | Float64Array;

export interface SimilarityMatrixOptions {
  /** Default 'cosine'. */
  metric?: Metric;
  /** Needed when a set is a flat Float32Array / Float64Array. */
  dimension?: number;
  /** Load this build (false: the scalar one). */
  simd?: boolean;
  wasmModule?: WebAssembly.Module;
}

/**
 * Scores of every pair (a[i], b[j]) as a Float32Array of a x b, row-major, in the score
 * convention of search for the metric: cosine -> cos, dotProduct -> dot, euclidean ->
 * 1 / (1 + L2). b null or omitted: a against itself. The third argument may be the metric name.
 */
export function similarityMatrix(a: VectorSet, b?: VectorSet | null, options?: Metric | SimilarityMatrixOptions): Promise<Float32Array>;

export interface CollectionKmeansOptions {
  /** Most Lloyd updates, 0..100000 (default 100). */
  iterations?: number;
  /** Seed of every random choice (default 42); the same seed gives the same result in both builds. */
  seed?: number | bigint;
  /** 'k-means++' (default; greedy, 2 + ln k candidates a step) or 'random' (k distinct rows). */
  init?: 'k-means++' | 'random';
  /** Stop once the centroids move less than tolerance x the mean per-dimension variance (default 1e-4; 0: until no row changes cluster). */
  tolerance?: number;
  /** 'euclidean' or 'cosine' (normalized rows, unit centroids). Default: the collection's metric; 'euclidean' for vectors. */
  metric?: 'euclidean' | 'cosine';
}

export interface KmeansOptions extends CollectionKmeansOptions {
  /** Needed when the vectors are a flat Float32Array / Float64Array. */
  dimension?: number;
  simd?: boolean;
  wasmModule?: WebAssembly.Module;
}

export interface KmeansResult {
  /** k x dimension, row-major. */
  centroids: Float32Array;
  /** The cluster of each row (0..k-1). */
  assignments: Uint32Array;
  /** Rows per cluster. */
  sizes: Uint32Array;
  /** Sum of squared L2 distances (euclidean) or of 1 - cos (cosine) to the assigned centroids. */
  inertia: number;
  /** Lloyd updates run. */
  iterations: number;
  /** Clusters with no row at the end (only when there are fewer distinct rows than k). */
  emptyClusters: number;
  /** Times an empty cluster was re-seeded with the farthest row. */
  reseeded: number;
}

/** k-means of vectors, or of a collection's live rows (then the result has `ids`). k is 1..the number of rows. */
export function kmeans(vectors: VectorSet, k: number, options?: KmeansOptions): Promise<KmeansResult>;
export function kmeans(collection: Collection, k: number, options?: CollectionKmeansOptions): Promise<KmeansResult & { ids: Id[] }>;
