// worker/filter.js — compiles a structured metadata filter (docs/api.md §5) into the engine's
// prefix-encoded filter program (src/veclite.h), which the C core evaluates during graph search.
//
//   { field: value }                          CMP EQ
//   { field: { $eq|$ne|$lt|$le|$lte|$gt|$ge|$gte: v } }   CMP (several operators = AND)
//   { field: { $in: [v, ...] } }              IN            (empty list: matches nothing)
//   { field: { $nin: [v, ...] } }             NOT IN        (a row without the field matches,
//                                                            like $ne; empty list: matches all)
//   { field: { $range: [lo, hi] } }           AND(GE lo, LE hi), inclusive
//   { field: { $exists: true|false } }        EXISTS / NOT EXISTS
//   { field: { $contains: v } }               CONTAINS: a string field holding the string v, or
//                                             a JSON array field with an element equal to v
//                                             (v: string, number, bigint, boolean or null)
//   { 'a.b.0': ... }                          any of the above on the value at path b.0 inside
//                                             the JSON field a (PATH prefix, see emit)
//   { $and: [...] } { $or: [...] } { $not: {...} }   ($and: [] matches all, $or: [] nothing)
//   several keys in one object                AND
//
// Program bytes (little-endian): TRUE 0 | AND 1 u16 n exprs | OR 2 u16 n exprs | NOT 3 expr |
// EXISTS 4 u16 field | CMP 5 u8 cmp u16 field u8 tag value | IN 6 u16 field u16 n {u8 tag value} |
// CONTAINS 7 u16 field u8 tag value | PATH 8 u8 nseg {u16 len, UTF-8 bytes} leaf.
//
// Dotted keys (docs/api.md §5): a key is resolved when the program is emitted, against the names
// the collection has stored. A name it has, dots and all, is that top-level field. Otherwise, for
// a key with dots, the longest dot-separated prefix that names a stored field is the field and
// the rest is a path inside its JSON value (segments split at every '.'; an empty segment is the
// empty key). A key with no such prefix is a missing field.
//
// Invariants:
// - Compiling never registers a field name: a field the collection has never seen compiles to
//   the id NO_FIELD (0xFFFF, above every real id since ids are < VL_MAX_FIELDS), which no record
//   holds, so comparisons on it are false and $ne / $exists:false are true — exactly the
//   semantics of a missing field.
// - Every malformed filter is rejected here with an EINVAL message that names the problem; the
//   engine checks the bytes again (vl_filter_check) and never trusts them.

import { einval } from './errors.js';
import { ByteWriter, TAG, classifyValue, describe, isPlainObject } from './metadata.js';

const encoder = new TextEncoder();

/** Filter opcodes and comparison operators (VL_F_*, VL_CMP_* of veclite.h). */
export const OP = Object.freeze({
  TRUE: 0, AND: 1, OR: 2, NOT: 3, EXISTS: 4, CMP: 5, IN: 6, CONTAINS: 7, PATH: 8,
});
export const CMP = Object.freeze({ EQ: 0, NE: 1, LT: 2, LE: 3, GT: 4, GE: 5 });

/** Field id used for names the collection has never stored. */
export const NO_FIELD = 0xFFFF;

/** Deepest nesting of program nodes (VL_FILTER_MAX_DEPTH). */
export const MAX_DEPTH = 64;

/** Most segments of a path after the field (VL_FILTER_MAX_PATH). */
export const MAX_PATH = 64;

const CMP_OPS = {
  $eq: CMP.EQ, $ne: CMP.NE, $lt: CMP.LT, $le: CMP.LE, $lte: CMP.LE,
  $gt: CMP.GT, $ge: CMP.GE, $gte: CMP.GE,
};
const FIELD_OPS = [...Object.keys(CMP_OPS), '$in', '$nin', '$range', '$exists', '$contains'];

// An expression tree is built first (so depth and counts are known), then serialised.
// Nodes: [OP.TRUE] [OP.AND|OR, children[]] [OP.NOT, child] [OP.EXISTS, fid]
//        [OP.CMP, cmp, fid, tag, payload] [OP.IN, fid, [[tag, payload], ...]]
//        [OP.CONTAINS, fid, tag, payload]   (fid: the key as written, resolved by emit)
const TRUE_NODE = [OP.TRUE];
const FALSE_NODE = [OP.NOT, TRUE_NODE];

function isOperatorObject(v) {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  if (keys.length === 0) return false;
  const ops = keys.filter((k) => k.startsWith('$')).length;
  if (ops === 0) return false;
  if (ops !== keys.length) {
    throw einval(`filter: an object mixes operators and plain keys (${keys.join(', ')}); ` +
      'use { field: { $op: value } } or compare a JSON value with { field: { $eq: {...} } }');
  }
  return true;
}

function orderable(tag, where, op) {
  if (tag === TAG.NULL || tag === TAG.BOOL || tag === TAG.JSON) {
    throw einval(`${where}: ${op} needs a number, bigint, string or Uint8Array operand (booleans, null and JSON values only support $eq/$ne/$in)`);
  }
}

function fieldNode(name, cond, fid, where) {
  if (!isOperatorObject(cond)) {
    if (cond === undefined) throw einval(`${where} is undefined; use null, or { $exists: false }`);
    const [tag, payload] = classifyValue(cond, where);
    return [OP.CMP, CMP.EQ, fid, tag, payload];
  }
  const parts = [];
  for (const op of Object.keys(cond)) {
    const arg = cond[op];
    const w = `${where}.${op}`;
    if (op in CMP_OPS) {
      if (arg === undefined) throw einval(`${w} is undefined`);
      const [tag, payload] = classifyValue(arg, w);
      if (CMP_OPS[op] !== CMP.EQ && CMP_OPS[op] !== CMP.NE) orderable(tag, w, op);
      parts.push([OP.CMP, CMP_OPS[op], fid, tag, payload]);
    } else if (op === '$in' || op === '$nin') {
      if (!Array.isArray(arg)) throw einval(`${w} must be an array of values (got ${describe(arg)})`);
      if (arg.length > 65535) throw einval(`${w} has ${arg.length} values; at most 65535`);
      if (arg.length === 0) { parts.push(op === '$in' ? FALSE_NODE : TRUE_NODE); continue; }
      const inNode = [OP.IN, fid, arg.map((v, i) => {
        if (v === undefined) throw einval(`${w}[${i}] is undefined`);
        return classifyValue(v, `${w}[${i}]`);
      })];
      parts.push(op === '$in' ? inNode : [OP.NOT, inNode]); // NOT IN: a missing field matches
    } else if (op === '$range') {
      if (!Array.isArray(arg) || arg.length !== 2) throw einval(`${w} must be [low, high] (inclusive)`);
      const lo = classifyValue(arg[0], `${w}[0]`), hi = classifyValue(arg[1], `${w}[1]`);
      orderable(lo[0], `${w}[0]`, '$range');
      orderable(hi[0], `${w}[1]`, '$range');
      parts.push([OP.AND, [[OP.CMP, CMP.GE, fid, lo[0], lo[1]], [OP.CMP, CMP.LE, fid, hi[0], hi[1]]]]);
    } else if (op === '$contains') {
      if (arg === undefined) throw einval(`${w} is undefined; use a string, number, bigint, boolean or null`);
      const [tag, payload] = classifyValue(arg, w);
      if (tag === TAG.JSON || tag === TAG.BYTES) {
        throw einval(`${w} must be a string (substring of a string field) or a number, bigint, boolean or null ` +
          `(element of an array field); got ${describe(arg)}`);
      }
      parts.push([OP.CONTAINS, fid, tag, payload]);
    } else if (op === '$exists') {
      if (typeof arg !== 'boolean') throw einval(`${w} must be true or false (got ${describe(arg)})`);
      parts.push(arg ? [OP.EXISTS, fid] : [OP.NOT, [OP.EXISTS, fid]]);
    } else {
      throw einval(`${where}: unknown operator ${op}; use one of ${FIELD_OPS.join(' ')}`);
    }
  }
  return parts.length === 1 ? parts[0] : [OP.AND, parts];
}

function listNode(op, arr, where, depth) {
  if (!Array.isArray(arr)) throw einval(`${where} must be an array of filters (got ${describe(arr)})`);
  if (arr.length > 65535) throw einval(`${where} has more than 65535 filters`);
  if (arr.length === 0) return op === OP.AND ? TRUE_NODE : FALSE_NODE;
  const kids = arr.map((f, i) => exprNode(f, `${where}[${i}]`, depth));
  return kids.length === 1 ? kids[0] : [op, kids];
}

/**
 * depth: how many filter objects enclose f, f included (the root is 1). Checked on the way
 * down, so a hostile nesting (20000 x $not) fails after MAX_DEPTH levels instead of
 * overflowing the JS stack.
 */
function exprNode(f, where, depth) {
  if (depth > MAX_DEPTH) {
    throw einval(`filter nests deeper than ${MAX_DEPTH} levels (at ${where.length > 80 ? `${where.slice(0, 80)}…` : where}); ` +
      'flatten $and/$or chains and remove double $not');
  }
  if (!isPlainObject(f)) throw einval(`${where} must be a plain object (got ${describe(f)})`);
  const parts = [];
  for (const key of Object.keys(f)) {
    const v = f[key];
    if (key === '$and') parts.push(listNode(OP.AND, v, `${where}.$and`, depth + 1));
    else if (key === '$or') parts.push(listNode(OP.OR, v, `${where}.$or`, depth + 1));
    else if (key === '$not') parts.push([OP.NOT, exprNode(v, `${where}.$not`, depth + 1)]);
    else if (key.startsWith('$')) {
      throw einval(`${where}: unknown operator ${key} at this level; use $and, $or, $not or a field name`);
    } else {
      if (key.length === 0) throw einval(`${where}: empty field name`);
      parts.push(fieldNode(key, v, key, `${where}.${key}`)); // the name, resolved by emit
    }
  }
  if (parts.length === 0) return TRUE_NODE;
  return parts.length === 1 ? parts[0] : [OP.AND, parts];
}

function depthOf(node) {
  switch (node[0]) {
    case OP.AND: case OP.OR: {
      let d = 0;
      for (const k of node[1]) d = Math.max(d, depthOf(k));
      return d + 1;
    }
    case OP.NOT: return depthOf(node[1]) + 1;
    default: return 1;
  }
}

/**
 * The field id and path of a filter key (the rule atop this file).
 * @returns {[number, string[]|null]}
 */
function resolveKey(key, fieldId) {
  const id = fieldId(key);
  if (id !== NO_FIELD || !key.includes('.')) return [id, null];
  const segs = key.split('.');
  for (let i = segs.length - 1; i >= 1; i--) {
    const head = fieldId(segs.slice(0, i).join('.'));
    if (head === NO_FIELD) continue;
    const path = segs.slice(i);
    if (path.length > MAX_PATH) {
      throw einval(`filter key "${key.length > 80 ? `${key.slice(0, 80)}…` : key}" has a path of ${path.length} segments after ` +
        `field "${segs.slice(0, i).join('.')}"; at most ${MAX_PATH}`);
    }
    return [head, path];
  }
  return [NO_FIELD, null];
}

/** A leaf's field reference: the PATH prefix if the key has a path; returns the field id. */
function emitRef(w, key, fieldId) {
  const [id, path] = resolveKey(key, fieldId);
  if (path) {
    w.u8(OP.PATH);
    w.u8(path.length);
    for (const seg of path) {
      const b = encoder.encode(seg);
      if (b.length > 0xFFFF) throw einval(`filter key: path segment "${seg.slice(0, 40)}…" is longer than 65535 UTF-8 bytes`);
      w.u16(b.length);
      w.bytes(b);
    }
  }
  return id;
}

function emit(w, node, fieldId) {
  switch (node[0]) {
    case OP.TRUE: w.u8(OP.TRUE); break;
    case OP.AND: case OP.OR:
      w.u8(node[0]);
      w.u16(node[1].length);
      for (const k of node[1]) emit(w, k, fieldId);
      break;
    case OP.NOT: w.u8(OP.NOT); emit(w, node[1], fieldId); break;
    case OP.EXISTS: {
      const id = emitRef(w, node[1], fieldId);
      w.u8(OP.EXISTS); w.u16(id);
      break;
    }
    case OP.CMP: {
      const id = emitRef(w, node[2], fieldId);
      w.u8(OP.CMP); w.u8(node[1]); w.u16(id); w.u8(node[3]); w.value(node[3], node[4]);
      break;
    }
    case OP.IN: {
      const id = emitRef(w, node[1], fieldId);
      w.u8(OP.IN); w.u16(id); w.u16(node[2].length);
      for (const [tag, payload] of node[2]) { w.u8(tag); w.value(tag, payload); }
      break;
    }
    case OP.CONTAINS: {
      const id = emitRef(w, node[1], fieldId);
      w.u8(OP.CONTAINS); w.u16(id); w.u8(node[2]); w.value(node[2], node[3]);
      break;
    }
    default: throw new Error(`unknown node ${node[0]}`);
  }
}

/**
 * Read and check a structured filter without resolving field names: the result is plain data
 * (nested arrays of numbers, strings, bigints and Uint8Arrays) that crosses the message
 * protocol, or null when the filter matches everything. Every error a filter can have is found
 * here, so the facade rejects a bad filter before anything is sent.
 * @param {object} filter
 * @returns {any[]|null}
 */
export function parseFilter(filter) {
  const root = exprNode(filter, 'filter', 1);
  if (root === TRUE_NODE) return null;
  // The object nesting is at most MAX_DEPTH; operators and several keys add program levels
  // ($range, several operators or keys become AND nodes), so the program depth is checked too.
  const depth = depthOf(root);
  if (depth > MAX_DEPTH) {
    throw einval(`filter nests deeper than ${MAX_DEPTH} levels (its program is ${depth} levels deep); ` +
      'flatten $and/$or chains');
  }
  return root;
}

/**
 * The engine program of a parsed filter.
 * @param {any[]|null} tree from parseFilter
 * @param {(name: string) => number} fieldId the field's id, or NO_FIELD if the name is unknown
 * @returns {Uint8Array|null} null when the filter matches everything
 */
export function emitFilter(tree, fieldId) {
  if (tree === null) return null;
  const w = new ByteWriter(64);
  emit(w, tree, fieldId);
  return w.take();
}

/**
 * Compile a structured filter (parseFilter + emitFilter).
 * @param {object} filter
 * @param {(name: string) => number} fieldId the field's id, or NO_FIELD if the name is unknown
 * @returns {Uint8Array|null} the program, or null when the filter matches everything
 */
export function compileFilter(filter, fieldId) {
  return emitFilter(parseFilter(filter), fieldId);
}
