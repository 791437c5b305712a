// worker/metadata.js — metadata objects <-> the engine's record format (src/veclite.h):
//
//     u16 n_fields | n_fields x { u16 field_id | u8 tag | value }        (little-endian)
//     NULL 0 (-) | STR 1 u32 len+UTF-8 | BYTES 2 u32 len+bytes | I64 3 8B | U64 4 8B
//     F64 5 8B IEEE | BOOL 6 1B | JSON 7 u32 len+UTF-8 JSON text
//
// Mapping of top-level values (docs/api.md §5): string -> STR, finite number -> F64
// (integers too), boolean -> BOOL, null -> NULL, bigint -> I64 (negative) / U64, Uint8Array ->
// BYTES, plain arrays/objects -> JSON text. Decoding inverts it exactly: I64/U64 come back as
// bigint, BYTES as a fresh Uint8Array, JSON through JSON.parse.
//
// Invariants:
// - prepareMetadata() validates everything (types, key names, NaN, lone surrogates, cycles,
//   toJSON hooks) and recordSize() gives the exact encoded size, both before any byte is
//   written or any field name is registered in the engine, so bad input never changes a
//   collection.
// - Keys starting with '$' are reserved ('$id' carries string ids); undefined values are
//   skipped, as JSON.stringify does.
// - ByteWriter is shared with worker/filter.js, which encodes filter operands the same way.

import { einval, VecliteError } from './errors.js';

/** Metadata tags (VL_TAG_* of veclite.h; checked against the engine's constants at load). */
export const TAG = Object.freeze({ NULL: 0, STR: 1, BYTES: 2, I64: 3, U64: 4, F64: 5, BOOL: 6, JSON: 7 });

/** The reserved field carrying a string id. */
export const ID_FIELD = '$id';

/** Most bytes a record may have (VL_MAX_META_BYTES). */
export const MAX_RECORD_BYTES = 16 << 20;
/** Most UTF-8 bytes in a field name (VL_MAX_FIELD_NAME). */
export const MAX_FIELD_NAME = 1024;

const U64_MAX = 0xFFFFFFFFFFFFFFFFn;
const I64_MIN = -0x8000000000000000n;
const encoder = new TextEncoder();
// ignoreBOM: a string that starts with U+FEFF keeps it (the default decoder strips a leading BOM)
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
/** UTF-8 bytes -> string, a leading U+FEFF kept (part of a name or value, not a byte-order mark). */
export const utf8 = (b) => decoder.decode(b);

const isWellFormed = typeof String.prototype.isWellFormed === 'function'
  ? (s) => s.isWellFormed()
  : (s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/.test(s);

/**
 * UTF-8 byte length of a string (no allocation).
 * @param {string} s
 * @returns {number}
 */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.length) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

/**
 * Whether a string survives a UTF-8 round trip (no lone surrogates).
 * @param {string} s
 * @returns {boolean}
 */
export function wellFormed(s) {
  return isWellFormed(s);
}

/** @param {unknown} v */
export function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** "a" or "an" before a word, by its sound: a vowel takes "an", except a "you" sound (Uint8Array, URL). */
function article(word) {
  return /^[aeioAEIO]|^[uU](?!int|ni|s[aeiu]|RL|RI)/.test(word) ? `an ${word}` : `a ${word}`;
}

/**
 * A short description of a value for error messages, grammatical after "got" or "is":
 * 'undefined', 'null', 'an array', 'an object' (plain), 'a Map' / 'an ArrayBuffer' (a class's
 * instance), 'the number 1.5', 'the string "abc"' (first 40 characters), 'the bigint 5n',
 * 'the boolean true', 'a function', 'a symbol'. Never throws (a revoked Proxy is 'an object').
 */
export function describe(v) {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number': return `the number ${v}`;
    case 'string': return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'bigint': return `the bigint ${v}n`;
    case 'boolean': return `the boolean ${v}`;
    case 'function': return 'a function';
    case 'symbol': return 'a symbol';
    default: break;
  }
  try {
    if (Array.isArray(v)) return 'an array';
    const name = v.constructor?.name;
    return typeof name === 'string' && name !== '' && name !== 'Object' ? article(name) : 'an object';
  } catch {
    return 'an object';
  }
}

/** JSON.stringify would call v.toJSON(), so v would not come back as itself. */
function checkNoToJson(v, where) {
  if (typeof v.toJSON === 'function') {
    throw einval(`${where} has a toJSON method (own or inherited), so its JSON text would not round-trip; ` +
      'store the plain data instead (e.g. the result of calling toJSON yourself)');
  }
}

/**
 * Check that v is JSON data (plain objects, arrays, strings, finite numbers, booleans, null)
 * that survives JSON.stringify + JSON.parse unchanged (no toJSON hooks, no cycles).
 */
function checkJson(v, where, seen, depth) {
  if (v === null) return;
  if (typeof v === 'string' || typeof v === 'boolean') {
    if (typeof v === 'string' && !isWellFormed(v)) throw einval(`${where}: a string contains a lone UTF-16 surrogate`);
    checkNoToJson(v, where);   // only if String/Boolean.prototype.toJSON was added
    return;
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw einval(`${where}: ${v} cannot be stored (only finite numbers round-trip)`);
    checkNoToJson(v, where);
    return;
  }
  if (depth > 256) throw einval(`${where}: nested more than 256 levels deep`);
  if (Array.isArray(v) || isPlainObject(v)) {
    checkNoToJson(v, where);
    if (seen.has(v)) throw einval(`${where}: contains a cycle`);
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) checkJson(v[i], `${where}[${i}]`, seen, depth + 1);
    } else {
      for (const k of Object.keys(v)) {
        if (!isWellFormed(k)) throw einval(`${where}: a key contains a lone UTF-16 surrogate`);
        const x = v[k];
        if (x === undefined) throw einval(`${where}.${k} is undefined, which JSON cannot store; remove it or use null`);
        checkJson(x, `${where}.${k}`, seen, depth + 1);
      }
    }
    seen.delete(v);
    return;
  }
  throw einval(`${where} is ${describe(v)}; nested metadata must be JSON data (objects, arrays, strings, finite numbers, booleans, null)`);
}

/**
 * Classify one value into [tag, payload] (payload: string for STR/JSON, number for F64,
 * bigint for I64/U64, boolean, Uint8Array, or null). Shared with the filter compiler.
 * @param {unknown} v
 * @param {string} where for error messages
 * @returns {[number, any]}
 */
export function classifyValue(v, where) {
  switch (typeof v) {
    case 'string':
      if (!isWellFormed(v)) throw einval(`${where}: the string contains a lone UTF-16 surrogate and would not round-trip through UTF-8`);
      return [TAG.STR, v];
    case 'number':
      if (!Number.isFinite(v)) throw einval(`${where} is ${v}; only finite numbers can be stored or compared`);
      return [TAG.F64, v];
    case 'boolean':
      return [TAG.BOOL, v];
    case 'bigint':
      if (v < 0n) {
        if (v < I64_MIN) throw einval(`${where}: bigint ${v} is below -2^63`);
        return [TAG.I64, v];
      }
      if (v > U64_MAX) throw einval(`${where}: bigint ${v} is above 2^64-1`);
      return [TAG.U64, v];
    case 'object':
      if (v === null) return [TAG.NULL, null];
      if (v instanceof Uint8Array && ArrayBuffer.isView(v)) return [TAG.BYTES, v];
      if (Array.isArray(v) || isPlainObject(v)) {
        checkJson(v, where, new Set(), 0);
        return [TAG.JSON, JSON.stringify(v)];
      }
      throw einval(`${where} is ${describe(v)}; use a string, number, boolean, null, bigint, Uint8Array, or plain object/array`);
    default:
      throw einval(`${where} is ${describe(v)}; use a string, number, boolean, null, bigint, Uint8Array, or plain object/array`);
  }
}

/** "insertBatch[3]: metadata.tag" for messages, built only when one is (as RowName, values.js). */
class FieldName {
  constructor(where) {
    this.where = where;
    this.key = '';
  }

  of(key) {
    this.key = key;
    return this;
  }

  toString() {
    return `${this.where}: metadata.${this.key}`;
  }
}

/** A row without metadata: one shared, frozen empty list (not an array per row). */
const NO_METADATA = Object.freeze([]);

/**
 * Validate a metadata object into a list of entries: [name, tag, payload, name, tag, payload, ...].
 * undefined/null metadata gives an empty list.
 * @param {unknown} meta
 * @param {string} where for error messages
 * @returns {any[]}
 */
export function prepareMetadata(meta, where) {
  if (meta === undefined || meta === null) return NO_METADATA;
  if (!isPlainObject(meta)) {
    throw einval(`${where}: metadata must be a plain object (got ${describe(meta)})`);
  }
  const out = [];
  const at = new FieldName(where);
  for (const key of Object.keys(meta)) {
    const v = meta[key];
    if (v === undefined) continue;
    if (key.length === 0) throw einval(`${where}: metadata keys must not be empty`);
    if (key.charCodeAt(0) === 36 /* $ */) {
      throw einval(`${where}: metadata key "${key}" starts with '$', which veclite reserves (e.g. $id for string ids); rename it`);
    }
    if (!isWellFormed(key)) throw einval(`${where}: metadata key contains a lone UTF-16 surrogate`);
    if (utf8Length(key) > MAX_FIELD_NAME) {
      throw einval(`${where}: metadata key "${key.slice(0, 32)}…" is longer than ${MAX_FIELD_NAME} UTF-8 bytes`);
    }
    const [tag, payload] = classifyValue(v, at.of(key));
    // bytes stay the caller's until copied (slice() would share a Buffer's): a queued write reads them later
    out.push(key, tag, tag === TAG.BYTES ? new Uint8Array(payload) : payload);
  }
  if (out.length / 3 > 65535) throw einval(`${where}: metadata has more than 65535 fields`);
  return out;
}

/** Encoded size of one value (as classified by classifyValue), tag byte excluded. */
function valueSize(tag, payload) {
  switch (tag) {
    case TAG.NULL: return 0;
    case TAG.STR: case TAG.JSON: return 4 + utf8Length(payload);
    case TAG.BYTES: return 4 + payload.length;
    case TAG.BOOL: return 1;
    default: return 8;   // I64, U64, F64
  }
}

/**
 * Bytes writeRecord() will produce for these entries (plus a '$id' field when sid is a
 * string). Field ids are a fixed 2 bytes, so the size is known before any field name is
 * registered in the engine.
 * @param {any[]} entries from prepareMetadata
 * @param {string} [sid] the string id carried in '$id', if any
 * @returns {number}
 */
export function recordSize(entries, sid) {
  let n = 2;
  if (sid !== undefined) n += 3 + 4 + utf8Length(sid);
  for (let i = 0; i < entries.length; i += 3) n += 3 + valueSize(entries[i + 1], entries[i + 2]);
  return n;
}

/**
 * Throw EINVAL when a record of `bytes` bytes is over the engine's limit.
 * @param {number} bytes @param {string} where
 */
export function checkRecordSize(bytes, where) {
  if (bytes > MAX_RECORD_BYTES) {
    throw einval(`${where}: metadata record is ${bytes} bytes; at most ${MAX_RECORD_BYTES} bytes (16 MiB) per vector`);
  }
}

/**
 * A growable little-endian byte buffer.
 */
export class ByteWriter {
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.dv = new DataView(this.buf.buffer);
    this.len = 0;
  }

  ensure(extra) {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }

  u8(v) { this.ensure(1); this.buf[this.len++] = v; }
  u16(v) { this.ensure(2); this.dv.setUint16(this.len, v, true); this.len += 2; }
  u32(v) { this.ensure(4); this.dv.setUint32(this.len, v, true); this.len += 4; }
  f64(v) { this.ensure(8); this.dv.setFloat64(this.len, v, true); this.len += 8; }
  i64(v) { this.ensure(8); this.dv.setBigInt64(this.len, v, true); this.len += 8; }
  u64(v) { this.ensure(8); this.dv.setBigUint64(this.len, v, true); this.len += 8; }
  bytes(b) { this.ensure(b.length); this.buf.set(b, this.len); this.len += b.length; }

  /** u32 length + UTF-8 text. */
  str(s) {
    const max = s.length * 3;
    this.ensure(4 + max);
    const at = this.len;
    const { written } = encoder.encodeInto(s, this.buf.subarray(at + 4, at + 4 + max));
    this.dv.setUint32(at, written, true);
    this.len = at + 4 + written;
  }

  /** One tagged value (as classified by classifyValue). */
  value(tag, payload) {
    switch (tag) {
      case TAG.NULL: break;
      case TAG.STR: case TAG.JSON: this.str(payload); break;
      case TAG.BYTES: this.u32(payload.length); this.bytes(payload); break;
      case TAG.I64: this.i64(payload); break;
      case TAG.U64: this.u64(payload); break;
      case TAG.F64: this.f64(payload); break;
      case TAG.BOOL: this.u8(payload ? 1 : 0); break;
      default: throw new Error(`unknown tag ${tag}`);
    }
  }

  /** A copy of the bytes written so far. */
  take() {
    return this.buf.slice(0, this.len);
  }
}

/**
 * Append one record to w.
 * @param {ByteWriter} w
 * @param {any[]} entries from prepareMetadata
 * @param {(name: string) => number} fieldId field id of a registered name
 * @param {number} [idFieldId] when >= 0, a leading '$id' STR field with value sid
 * @param {string} [sid]
 */
export function writeRecord(w, entries, fieldId, idFieldId = -1, sid = '') {
  const n = entries.length / 3 + (idFieldId >= 0 ? 1 : 0);
  const start = w.len;
  w.u16(n);
  if (idFieldId >= 0) {
    w.u16(idFieldId); w.u8(TAG.STR); w.str(sid);
  }
  for (let i = 0; i < entries.length; i += 3) {
    w.u16(fieldId(entries[i]));
    w.u8(entries[i + 1]);
    w.value(entries[i + 1], entries[i + 2]);
  }
  checkRecordSize(w.len - start, 'metadata');   // callers check recordSize() first; a safety net
}

function setKey(obj, key, value) {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/**
 * Decode one record.
 * @param {Uint8Array} bytes
 * @param {number} start
 * @param {number} end
 * @param {(fieldId: number) => string} nameOf
 * @returns {{ meta: Record<string, any>, sid: string|undefined }} user metadata ('$id' removed)
 *   and the string id if the record carried one
 */
export function decodeRecord(bytes, start, end, nameOf) {
  const meta = {};
  let sid;
  if (end - start < 2) return { meta, sid };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = start;
  const n = dv.getUint16(p, true); p += 2;
  for (let i = 0; i < n; i++) {
    const name = nameOf(dv.getUint16(p, true));
    const tag = bytes[p + 2];
    p += 3;
    let v;
    switch (tag) {
      case TAG.NULL: v = null; break;
      case TAG.STR: case TAG.JSON: case TAG.BYTES: {
        const len = dv.getUint32(p, true); p += 4;
        const sub = bytes.subarray(p, p + len); p += len;
        v = tag === TAG.BYTES ? sub.slice() : decoder.decode(sub);
        if (tag === TAG.JSON) v = JSON.parse(v);
        break;
      }
      case TAG.I64: v = dv.getBigInt64(p, true); p += 8; break;
      case TAG.U64: v = dv.getBigUint64(p, true); p += 8; break;
      case TAG.F64: v = dv.getFloat64(p, true); p += 8; break;
      case TAG.BOOL: v = bytes[p] !== 0; p += 1; break;
      default: throw new VecliteError('ECORRUPT', `metadata record has unknown tag ${tag}`);
    }
    if (name === ID_FIELD) sid = v;
    else setKey(meta, name, v);
  }
  return { meta, sid };
}
