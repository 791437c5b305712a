// worker/config.js — reading a collection configuration against the engine's published limits
// and enums, and checking that the JS mirrors of those enums match the loaded engine.
//
// Invariants: a config is read completely (every key known, every value in range) before
// anything is created; the result holds both the public names and the engine's numbers.

import { ERROR_CODES, einval } from './errors.js';
import { TAG, describe, isPlainObject, utf8Length, wellFormed } from './metadata.js';
import { CMP, NO_FIELD, OP } from './filter.js';
import { checkKeys, intIn, putNumeric } from './values.js';

export const METRICS = Object.freeze({ cosine: 'COSINE', euclidean: 'L2', dotProduct: 'DOT' });
const COLLECTION_KEYS = ['dimension', 'metric', 'index', 'idType', 'maxElements', 'memoryBudgetMB', 'quantization', 'text'];
const HNSW_KEYS = ['type', 'm', 'efConstruction', 'ef', 'seed'];

/**
 * A memoryBudgetMB option in bytes (0: none). Any positive number of MiB up to the 4 GB
 * WebAssembly memory; a budget applies to the engine memory of what it is set on.
 */
export function budgetBytes(mb, where) {
  if (mb === undefined || mb === null) return 0;
  if (typeof mb !== 'number' || !Number.isFinite(mb) || mb <= 0 || mb > 4096) {
    throw einval(`${where}: memoryBudgetMB must be a number of MiB above 0 and at most 4096 (got ${describe(mb)})`);
  }
  return Math.floor(mb * 1048576);
}

export function parseCollectionConfig(config, C) {
  if (!isPlainObject(config)) {
    throw einval(`createCollection(name, config): config must be an object like { dimension: 384 } (got ${describe(config)})`);
  }
  checkKeys(config, COLLECTION_KEYS, 'createCollection config');
  const L = C.limits;
  if (config.dimension === undefined) throw einval('createCollection: config.dimension is required (1..65535)');
  const dim = intIn(config.dimension, 1, L.MAX_DIM, 'createCollection: dimension');
  const metric = config.metric ?? 'cosine';
  if (!Object.hasOwn(METRICS, metric)) {
    throw einval(`createCollection: metric must be 'cosine', 'euclidean' or 'dotProduct' (got ${typeof metric === 'string' ? `'${metric}'` : describe(metric)})`);
  }
  const idx = config.index ?? { type: 'hnsw' };
  if (!isPlainObject(idx)) throw einval(`createCollection: index must be { type: 'hnsw', ... } or { type: 'flat' } (got ${describe(idx)})`);
  const type = idx.type ?? 'hnsw';
  let kind, m = 0, efC = 0, ef = 0, seedLo = 42, seedHi = 0;
  if (type === 'flat') {
    checkKeys(idx, ['type'], "createCollection: index { type: 'flat' }");
    kind = 'flat';
  } else if (type === 'hnsw') {
    checkKeys(idx, HNSW_KEYS, "createCollection: index { type: 'hnsw' }");
    kind = 'hnsw';
    if (idx.m !== undefined) m = intIn(idx.m, 2, L.MAX_M, 'createCollection: index.m');
    if (idx.efConstruction !== undefined) efC = intIn(idx.efConstruction, 1, L.MAX_EF, 'createCollection: index.efConstruction');
    if (idx.ef !== undefined) ef = intIn(idx.ef, 1, L.MAX_EF, 'createCollection: index.ef');
    if (idx.seed !== undefined) {
      const pair = new Uint32Array(2);
      if (typeof idx.seed !== 'number' && typeof idx.seed !== 'bigint') {
        throw einval(`createCollection: index.seed must be a non-negative integer or bigint (got ${describe(idx.seed)})`);
      }
      putNumeric(idx.seed, pair, 0, 'createCollection: index.seed');
      seedLo = pair[0];
      seedHi = pair[1];
    }
  } else {
    throw einval(`createCollection: index.type must be 'hnsw' or 'flat' (got ${describe(type)})`);
  }
  let idKind = null;
  if (config.idType !== undefined) {
    if (config.idType !== 'string' && config.idType !== 'number') {
      throw einval(`createCollection: idType must be 'string' or 'number' (got ${describe(config.idType)})`);
    }
    idKind = config.idType;
  }
  const maxElements = config.maxElements === undefined ? 0
    : intIn(config.maxElements, 1, 0xFFFFFFFF, 'createCollection: maxElements');
  const budget = budgetBytes(config.memoryBudgetMB, 'createCollection');
  const quant = parseQuantization(config.quantization, dim, 'createCollection');
  if (quant.kind !== 'none' && kind === 'flat') {
    throw einval(`createCollection: quantization '${quant.kind}' needs the hnsw index (a flat index compares every float32 row)`);
  }
  const text = parseTextOption(config.text, 'createCollection');
  return {
    dim, metric, kind, idKind, maxElements, budget, quant, text,
    c: {
      dim, metric: C.metrics[METRICS[metric]], kind: C.kinds[kind === 'flat' ? 'FLAT' : 'HNSW'],
      m, efConstruction: efC, ef, seedLo, seedHi,
    },
  };
}

/** createCollection's `text` option -> the field name, or null. */
export function parseTextOption(t, where) {
  if (t === undefined || t === null) return null;
  if (!isPlainObject(t) || Object.keys(t).some((k) => k !== 'field') || typeof t.field !== 'string') {
    throw einval(`${where}: text must be { field: 'name' }, the metadata field indexed for keyword search (got ${describe(t)})`);
  }
  const n = utf8Length(t.field);
  if (n < 1 || n > 1024 || t.field.startsWith('$')) {
    throw einval(`${where}: text.field must be a metadata field name of 1..1024 UTF-8 bytes not starting with '$' (got ${describe(t.field)})`);
  }
  return t.field;
}

/**
 * A quantization option: 'none' (default), 'scalar', 'product', or { type: 'product',
 * subvectors } (product codes of `subvectors` bytes; default about dimension / 5).
 * @returns {{ kind: 'none'|'scalar'|'product', subvectors: number }}
 */
export function parseQuantization(q, dim, where) {
  if (q === undefined || q === null || q === 'none') return { kind: 'none', subvectors: 0 };
  if (q === 'scalar' || q === 'product') return { kind: q, subvectors: 0 };
  if (isPlainObject(q) && (q.type === 'scalar' || q.type === 'product' || q.type === 'none')) {
    checkKeys(q, q.type === 'product' ? ['type', 'subvectors'] : ['type'], `${where}: quantization`);
    const subvectors = q.subvectors === undefined ? 0 : intIn(q.subvectors, 1, dim, `${where}: quantization.subvectors`);
    return { kind: q.type, subvectors };
  }
  throw einval(`${where}: quantization must be 'none', 'scalar', 'product' or { type: 'product', subvectors } ` +
    `(got ${typeof q === 'string' ? `'${q}'` : describe(q)})`);
}

export function checkName(name, where) {
  if (typeof name !== 'string' || name.length === 0) {
    throw einval(`${where}: collection name must be a non-empty string (got ${describe(name)})`);
  }
  if (!wellFormed(name) || utf8Length(name) > 255) {
    throw einval(`${where}: collection name must be well-formed text of at most 255 UTF-8 bytes`);
  }
}

/** Engine error codes the binding reports as another code (worker/bind.js _check). */
export const FOLDED_CODES = Object.freeze(['ENOMEM', 'EFATAL']);

/** Checks the JS mirrors of the engine's enums against what the engine publishes. */
export function checkConstants(C) {
  // The error codes a caller sees are the engine's published ones (worker/errors.js), except the
  // two the binding folds into others (ENOMEM -> EBUDGET, EFATAL -> EIO).
  for (const k of ERROR_CODES) if (!Number.isInteger(C.errors[k])) return `error code ${k}`;
  for (const k of Object.keys(C.errors)) if (k !== 'OK' && !ERROR_CODES.includes(k) && !FOLDED_CODES.includes(k)) return `error code ${k}`;
  for (const [k, v] of Object.entries(TAG)) if (C.tags[k] !== v) return `tag ${k}`;
  for (const [k, v] of Object.entries(OP)) if (C.filterOps[k] !== v) return `filter op ${k}`;
  for (const [k, v] of Object.entries(CMP)) if (C.cmp[k] !== v) return `comparison ${k}`;
  if (C.limits.MAX_FIELDS !== NO_FIELD) return 'MAX_FIELDS';
  return null;
}

