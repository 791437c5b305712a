// worker/values.js — reading ids, vectors and options: the checks both sides of the protocol make.
//
// The facade (web/) runs them on a user's arguments before anything is sent; a session runs
// the id checks again on what it receives (a session trusts no sender). Pure functions: no
// engine, no state.
//
// Invariants:
// - Numeric ids are u64: a number must be a safe integer, larger ids come as bigint; an id is
//   never rounded. String ids are 1..1024 UTF-8 bytes of well-formed text.
// - Vectors are copied as float32 and every component must stay finite after the conversion;
//   the squared length must be at most 2^125 (MAX_SQUARED_NORM), so no distance overflows.

import { VecliteError, einval, plural } from './errors.js';
import { describe, utf8Length, wellFormed } from './metadata.js';

export const MAX_ID_BYTES = 1024;
export const U64_MAX = 0xFFFFFFFFFFFFFFFFn;
export const TWO32 = 4294967296;

// ---- small helpers ------------------------------------------------------------------------------

export function checkKeys(obj, allowed, where, what = 'option') {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw einval(`${where}: unknown ${what} '${k}'; allowed: ${allowed.join(', ')}`);
    }
  }
}

/**
 * The name of a batch's row in messages ("insertBatch[3]"; just "insert" for insert's one row):
 * one reusable object per call whose text is built only when a message is. A template string per
 * row was a third of a bulk load's JavaScript garbage. The checks take it where they take a
 * `where` string, and only ever interpolate it, right away.
 */
export class RowName {
  constructor(where, n, single) {
    this.where = where;
    this.single = n === 1 && where === single;
    this.i = 0;
  }

  at(i) {
    this.i = i;
    return this;
  }

  toString() {
    return this.single ? this.where : `${this.where}[${this.i}]`;
  }
}

/** Text of an arbitrary thrown value, without letting a hostile one throw again. */
export function errText(e) {
  try {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } catch {
    return 'an unreadable exception';
  }
}

/**
 * Run fn, which only reads and validates user input. A VecliteError passes through; any other
 * exception (a revoked Proxy, a getter that throws, a stack overflow on a hostile structure)
 * becomes EINVAL, so bad input never surfaces as a raw TypeError.
 * @template T
 * @param {string} where
 * @param {() => T} fn
 * @returns {T}
 */
export function inspect(where, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VecliteError) throw e;
    throw new VecliteError('EINVAL',
      `${where}: the argument could not be read (${errText(e)}); pass plain objects, arrays and typed arrays`,
      { cause: e });
  }
}

export function intIn(v, lo, hi, where) {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw einval(`${where} must be an integer from ${lo} to ${hi} (got ${typeof v === 'number' ? v : describe(v)})`);
  }
  return v;
}

/** Internal (lo, hi) pair -> public numeric id (number if safe, else bigint). */
export function numericId(lo, hi) {
  return hi < 0x200000 ? hi * TWO32 + lo : (BigInt(hi) << 32n) | BigInt(lo);
}

export function idText(id) {
  return typeof id === 'string' ? JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id) : String(id);
}

/**
 * Write a numeric id into pairs[2i], pairs[2i+1]; throws EINVAL for anything that is not a
 * non-negative safe integer or a bigint in 0..2^64-1.
 */
export function putNumeric(id, pairs, i, where) {
  if (typeof id === 'number') {
    if (!Number.isInteger(id)) {
      throw einval(`${where}: numeric id ${id} is not a whole number; ids are integers from 0 to 2^53-1 ` +
        '(or bigints up to 2^64-1), or strings in a collection of string ids');
    }
    if (id < 0) {
      throw einval(`${where}: numeric id ${id} is negative; ids are non-negative integers (0 to 2^53-1, or bigints up to 2^64-1)`);
    }
    if (id > Number.MAX_SAFE_INTEGER) {
      throw einval(`${where}: numeric id ${id} is above 2^53-1, where a JavaScript number cannot hold every integer ` +
        '(this one may already have lost digits); pass ids above 2^53-1 as bigints, written exactly ' +
        '(e.g. 1152921504606846977n or BigInt("1152921504606846977"), not BigInt(a number))');
    }
    pairs[2 * i] = id >>> 0;
    pairs[2 * i + 1] = Math.floor(id / TWO32);
  } else {
    if (id < 0n || id > U64_MAX) throw einval(`${where}: bigint id ${id} is outside 0..2^64-1`);
    pairs[2 * i] = Number(id & 0xFFFFFFFFn);
    pairs[2 * i + 1] = Number(id >> 32n);
  }
}

/**
 * EINVAL for an id of the other kind than collection `name`'s (`kind`: 'number' or 'string'),
 * telling the user how to give it correctly: a string of digits in a numeric collection is to
 * be passed as the number (or bigint); a number in a string collection as its string; other
 * ids need a collection of their kind (createCollection idType). `writing`: an insert, which
 * would mix the kinds; `batchFirst`: the kind was set by the first row of this batch (the
 * collection had none yet).
 */
export function idKindError(where, name, kind, id, writing, batchFirst = false) {
  const has = batchFirst ? `the batch's first id gives collection '${name}'` : `collection '${name}' has`;
  const mix = writing ? '; a collection cannot mix string and numeric ids' : '';
  if (kind === 'number') {
    const digits = typeof id === 'string' && /^(0|[1-9][0-9]*)$/.test(id);
    let fix;
    if (digits && Number(id) <= Number.MAX_SAFE_INTEGER) fix = `pass it as the number ${id}, not the string "${id}"`;
    else if (digits && BigInt(id) < 2n ** 64n) fix = `pass it as the bigint ${id}n, not the string "${id}"`;
    else {
      fix = 'give a numeric id (an integer from 0 to 2^53-1, or a bigint up to 2^64-1); for string ids use a ' +
        "collection created with idType: 'string' (or whose first insert had a string id)";
    }
    return einval(`${where}: ${has} numeric ids, and this id is ${describe(id)}; ${fix}${mix}`);
  }
  const text = typeof id === 'bigint' ? `${id}` : typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? `${id}` : null;
  const fix = text !== null ? `pass it as the string "${text}"`
    : 'give a string id';
  return einval(`${where}: ${has} string ids, and this id is ${describe(id)}; ${fix}` +
    (writing ? "; for numeric ids use a collection created with idType: 'number' (or whose first insert had a numeric id)" : '') +
    mix);
}

export function idKindOf(id, where) {
  const t = typeof id;
  if (t === 'string') {
    if (id.length === 0) throw einval(`${where}: id must not be empty`);
    if (!wellFormed(id)) throw einval(`${where}: string id contains a lone UTF-16 surrogate`);
    if (id.length * 3 > MAX_ID_BYTES && utf8Length(id) > MAX_ID_BYTES) {
      throw einval(`${where}: string id is ${utf8Length(id)} UTF-8 bytes; at most ${MAX_ID_BYTES}`);
    }
    return 'string';
  }
  if (t === 'number' || t === 'bigint') return 'number';
  throw einval(`${where}: id must be a string, a non-negative integer or a bigint (got ${describe(id)})`);
}

/** The element count of a typed array, from the intrinsic %TypedArray%.prototype.length getter. */
const typedLength = Function.prototype.call.bind(
  Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Int8Array.prototype), 'length').get);

/**
 * Copy one vector into out[off..off+dim) as float32 and check every component is finite and the
 * squared length at most MAX_SQUARED_NORM (checkNorm). Every vector the JS API takes (insert,
 * insertBatch, update, search, searchBatch) comes through here.
 */
export function putVector(vec, out, off, dim, where, name) {
  if (vec instanceof Float32Array || Array.isArray(vec) || vec instanceof Float64Array) {
    // A real typed array is copied whole by set(), by its own length: that length is read through
    // the intrinsic getter, which a subclass cannot override (set() would otherwise write past
    // the row, and out may be the engine's whole heap). Anything else claiming to be one (a
    // Proxy) is read element by element, like an array.
    const view = ArrayBuffer.isView(vec) && !Array.isArray(vec);
    const len = view ? typedLength(vec) : vec.length;
    if (len !== dim) {
      throw einval(`${where}: vector has ${plural(len, 'component')} but collection '${name}' has dimension ${dim}`);
    }
    if (view) {
      out.set(vec, off);
    } else {
      for (let j = 0; j < dim; j++) {
        const x = vec[j];
        if (typeof x !== 'number') {
          throw einval(`${where}: vector component ${j} is ${describe(x)}, not a number`);
        }
        out[off + j] = x;
      }
    }
    for (let j = off, end = off + dim; j < end; j++) {
      const x = out[j];
      if (x - x !== 0) {
        const orig = vec[j - off];
        throw einval(`${where}: vector component ${j - off} is ${orig}` +
          (Number.isFinite(orig) ? ', which overflows a 32-bit float' : '') + '; every component must be finite');
      }
    }
    checkNorm(out, off, dim, where);
    return;
  }
  throw einval(`${where}: vector must be a Float32Array or an array of numbers (got ${describe(vec)})`);
}

/**
 * The largest squared length a vector may have: 2^125. Distances are float32 sums in the engine:
 * with ||a||², ||b||² <= 2^125, ||a - b||² <= 4 * 2^125 = 2^127 and |a . b| <= 2^125, every partial
 * sum stays below FLT_MAX (about 2^128) with room for rounding, so no distance is Infinity and the
 * order of results is kept. The same bound for every metric (cosine too), so a vector valid in
 * one collection is valid in all.
 */
export const MAX_SQUARED_NORM = 2 ** 125;

/**
 * EINVAL when the float32 vector v[off..off+dim) is too long for its distances to fit a float32
 * (MAX_SQUARED_NORM); its components are finite already.
 */
export function checkNorm(v, off, dim, where) {
  let ss = 0;
  for (let j = off, end = off + dim; j < end; j++) ss += v[j] * v[j];
  if (ss > MAX_SQUARED_NORM) {
    throw einval(`${where}: vector is too long: its squared length ${ss.toPrecision(3)} exceeds 2^125 ` +
      `(${MAX_SQUARED_NORM.toPrecision(3)}; a length above about ${Math.sqrt(MAX_SQUARED_NORM).toPrecision(2)}), so ` +
      'distances to it would overflow 32-bit floats and lose their order; scale the vectors down ' +
      '(by the same factor for all of them: cosine ignores length, and euclidean and dot-product order is kept)');
  }
}

/**
 * EINVAL when the float32 vector v[off..off+dim) has no cosine direction — the engine's
 * check_vector (src/index.c) mirrored exactly: sum of squares in double must be > 0 and
 * (float)(1 / sqrt(sum)) a positive finite float.
 */
export function checkCosine(v, off, dim, where) {
  let ss = 0;
  for (let j = off, end = off + dim; j < end; j++) ss += v[j] * v[j];
  if (!(ss > 0)) throw einval(`${where}: vector is all zeros; cosine similarity needs a non-zero vector`);
  const inv = Math.fround(1 / Math.sqrt(ss));
  if (!(inv > 0) || !Number.isFinite(inv)) throw einval(`${where}: vector has a norm outside the float range`);
}

