// web/cli/readers.js — streaming input readers for `veclite ingest` (JSON array, NDJSON, CSV,
// .fvecs) and the query-vector reader of `veclite query --vector-file`.
//
// Every reader is an async generator over an input file (or stdin) read in 1 MiB chunks: it
// never holds the whole file, only the current chunk and the row being assembled, so a 1 GB
// NDJSON or CSV file ingests in constant memory. Each yield is one chunk's worth of rows,
// `{ items, pos }`, where items are `{ id, vector, metadata? }` objects ready for
// Collection.insertBatch and pos[i] is the source position of items[i] (a line, element or row
// number, named by `unit`) so an error can name the line it came from.
//
// Invariants:
// - Malformed input is a VecliteError EINVAL whose message starts with the file name and the
//   line (or element, or row): "data.csv line 17: ...". Nothing is half-yielded: a row is
//   either complete and checked or the generator throws.
// - Ids and metadata integers are exact: JSON integer literals beyond ±(2^53-1) are parsed as
//   BigInt (parseJsonExact; JSON.parse alone would round them), CSV metadata cells likewise; text ids (CSV, command line) that are all digits become numbers,
//   or bigints above 2^53-1, never rounded. Digit strings with leading zeros stay strings in
//   auto mode ("007" is a name, not the number 7).
// - Input text must be UTF-8; a leading byte-order mark is skipped.
// - .fvecs vectors are read little-endian, as the format (TEXMEX) defines them.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VecliteError } from '../../worker/errors.js';

const CHUNK = 1 << 20;
const U64_MAX = 0xFFFFFFFFFFFFFFFFn;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const META_NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const META_INT_RE = /^-?(?:0|[1-9]\d*)$/;
const LITTLE_ENDIAN = os.endianness() === 'LE';

const einval = (m) => new VecliteError('EINVAL', m);

/** Format names by file extension. */
const EXTENSIONS = { '.json': 'json', '.ndjson': 'ndjson', '.jsonl': 'ndjson', '.csv': 'csv', '.fvecs': 'fvecs' };

/**
 * The input format of a file from its extension, or null if the extension says nothing.
 * @param {string} file
 * @returns {'json'|'ndjson'|'csv'|'fvecs'|null}
 */
export function detectFormat(file) {
  return EXTENSIONS[path.extname(file).toLowerCase()] ?? null;
}

// ---- sources ------------------------------------------------------------------------------------

/**
 * An input: a file path, or '-' for stdin. `total` is its size in bytes (null for stdin and
 * pipes), `read` the bytes consumed so far.
 * @typedef {{ name: string, total: number|null, read: number, chunks(): AsyncGenerator<Buffer> }} Input
 */

function ioError(e, name) {
  if (e instanceof VecliteError) return e;
  if (e && e.code === 'ENOENT') return new VecliteError('ENOTFOUND', `${name} does not exist`);
  if (e && e.code === 'EISDIR') return einval(`${name} is a directory, not a data file`);
  if (e && e.code === 'EACCES') return new VecliteError('EIO', `${name}: permission denied`);
  return new VecliteError('EIO', `${name}: ${e && e.message ? e.message : String(e)}`, { cause: e });
}

/**
 * Open an input for streaming.
 * @param {string} file a path, or '-' for stdin
 * @param {{ stdin?: NodeJS.ReadableStream }} [opts]
 * @returns {Promise<Input>}
 */
export async function openInput(file, { stdin = process.stdin } = {}) {
  if (file === '-') {
    const input = {
      name: 'stdin', total: null, read: 0,
      async * chunks() {
        try {
          for await (const b of stdin) {
            const buf = typeof b === 'string' ? Buffer.from(b) : b;
            input.read += buf.length;
            yield buf;
          }
        } catch (e) {
          throw ioError(e, 'stdin');
        }
      },
    };
    return input;
  }
  let st;
  try {
    st = await fs.promises.stat(file);
  } catch (e) {
    throw ioError(e, file);
  }
  if (st.isDirectory()) throw einval(`${file} is a directory, not a data file`);
  const input = {
    name: file, total: st.isFile() ? st.size : null, read: 0,
    async * chunks() {
      const stream = fs.createReadStream(file, { highWaterMark: CHUNK });
      try {
        for await (const b of stream) {
          input.read += b.length;
          yield b;
        }
      } catch (e) {
        throw ioError(e, file);
      } finally {
        stream.destroy();
      }
    },
  };
  return input;
}

/** UTF-8 text of an input, chunk by chunk (BOM skipped; invalid UTF-8 is EINVAL). */
async function* textChunks(input) {
  const dec = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const b of input.chunks()) {
      const t = dec.decode(b, { stream: true });
      if (t) yield t;
    }
    const t = dec.decode();
    if (t) yield t;
  } catch (e) {
    if (e instanceof TypeError && /decode|encoded/i.test(e.message)) {
      throw einval(`${input.name} is not valid UTF-8 text (near byte ${input.read}); is it a binary file? (use --format fvecs for .fvecs)`);
    }
    throw e;
  }
}

// ---- ids ------------------------------------------------------------------------------------------

/**
 * An id written as text (CSV cell, command-line argument).
 * @param {string} s
 * @param {'string'|'number'|null} mode null: all digits without a leading zero → number, else string
 * @param {string} where for messages
 * @returns {string|number|bigint}
 */
export function textId(s, mode, where) {
  if (s === '') throw einval(`${where}: id is empty`);
  if (mode === 'string') return s;
  if (mode === null && !/^(?:0|[1-9]\d*)$/.test(s)) return s;
  if (!/^\d+$/.test(s)) {
    throw einval(`${where}: id '${s.length > 40 ? `${s.slice(0, 40)}…` : s}' is not a non-negative integer, and the ids are numeric; ` +
      'pass --id-type string if they are names');
  }
  const b = BigInt(s);
  if (b > U64_MAX) throw einval(`${where}: id ${s} is larger than 2^64-1`);
  return b <= MAX_SAFE ? Number(b) : b;
}

/** The id mode used to read text ids: explicit, else the collection's, else from the first id. */
function autoMode(first) {
  return /^(?:0|[1-9]\d*)$/.test(first) ? 'number' : 'string';
}

/**
 * Apply an explicit --id-type to an id that JSON or a row number gave us.
 * @param {string|number|bigint} id
 * @param {'string'|'number'|undefined} idType
 * @param {string} where
 */
function castId(id, idType, where) {
  if (!idType) return id;
  if (idType === 'string') return typeof id === 'string' ? id : String(id);
  if (typeof id === 'string') return textId(id, 'number', where);
  return id;
}

/** Vector field names tried, in order, when no --vector-field is given. */
export const VECTOR_FIELDS = ['vector', 'embedding', 'values'];

const BIG_TAG = `\u0000veclite-bigint-${Math.random().toString(36).slice(2)}:`;
const BIG_TAG_JSON = JSON.stringify(BIG_TAG).slice(1, -1);
const LONG_DIGITS_RE = /\d{16}/;

/**
 * JSON.parse, except that integer literals outside ±(2^53-1) become BigInt instead of a rounded
 * number. Such literals (outside strings) are rewritten into tagged strings before parsing and
 * turned back into BigInt by a reviver; text without 16 digits in a row takes the plain path.
 * @param {string} text
 */
export function parseJsonExact(text) {
  if (!LONG_DIGITS_RE.test(text)) return JSON.parse(text);
  let out = '';
  let last = 0;
  let any = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {                                     // a string: skip it whole
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 34) j += text.charCodeAt(j) === 92 ? 2 : 1;
      i = j;
    } else if (c === 45 || (c >= 48 && c <= 57)) {     // - or a digit: a number literal
      let j = i + 1;
      while (j < n && /[\d.eE+-]/.test(text[j])) j++;
      const lit = text.slice(i, j);
      if (/^-?(?:0|[1-9]\d*)$/.test(lit) && !Number.isSafeInteger(Number(lit))) {
        out += `${text.slice(last, i)}"${BIG_TAG_JSON}${lit}"`;
        last = j;
        any = true;
      }
      i = j - 1;
    }
  }
  if (!any) return JSON.parse(text);
  out += text.slice(last);
  return JSON.parse(out, (k, v) => (typeof v === 'string' && v.startsWith(BIG_TAG) ? BigInt(v.slice(BIG_TAG.length)) : v));
}

/** A copy of a nested JSON value with bigints back as (rounded) numbers: nested metadata is JSON. */
function unBig(v) {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(unBig);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = unBig(x);
    return o;
  }
  return v;
}

/** A top-level metadata value: bigints stay exact, nested JSON stays JSON. */
function metaValue(v) {
  return v !== null && typeof v === 'object' ? unBig(v) : v;
}

/**
 * Parse one JSON row object (an NDJSON line or a JSON array element) into { id, vector,
 * metadata? }, by the field mapping (docs/api.md §11).
 * @param {string} text
 * @param {string} where
 * @param {'string'|'number'|undefined} idType
 * @param {{ idField?: string, vectorField?: string, metadataFields?: string[] }} [map]
 */
function jsonRow(text, where, idType, map = {}) {
  let obj;
  try {
    obj = parseJsonExact(text);
  } catch (e) {
    throw einval(`${where}: not valid JSON (${e.message})`);
  }
  const idField = map.idField ?? 'id';
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw einval(`${where}: expected an object { "${idField}": ..., "vector": [...], "metadata": {...} }`);
  }
  let id = obj[idField];
  if (id === undefined) throw einval(`${where}: no "${idField}" field (the id${map.idField ? '' : '; name another field with --id-field'})`);
  if (typeof id === 'number' && Number.isInteger(id) && !Number.isSafeInteger(id)) {
    throw einval(`${where}: id ${id} is above 2^53-1 and not written as plain digits, so it cannot be read exactly`);
  }
  if (typeof id === 'bigint' && id > U64_MAX) throw einval(`${where}: id ${id} is larger than 2^64-1`);
  if (id !== undefined) id = castId(id, idType, where);

  let vectorField = map.vectorField;
  if (vectorField === undefined) {
    const present = VECTOR_FIELDS.filter((f) => obj[f] !== undefined);
    if (present.length > 1) {
      throw einval(`${where}: the row has both "${present[0]}" and "${present[1]}"; say which is the vector with --vector-field`);
    }
    vectorField = present[0] ?? 'vector';
  }
  let vector = obj[vectorField];
  if (vector === undefined) {
    throw einval(`${where}: no vector: expected a ${map.vectorField ? `"${map.vectorField}"` : '"vector", "embedding" or "values"'} field` +
      `${map.vectorField ? '' : ' (or name the field with --vector-field)'}`);
  }
  if (Array.isArray(vector) && vector.some((x) => typeof x === 'bigint')) vector = vector.map((x) => (typeof x === 'bigint' ? Number(x) : x));

  let metadata;
  const nested = obj.metadata;
  if (nested !== undefined && nested !== null && typeof nested === 'object' && !Array.isArray(nested)) {
    metadata = {};
    for (const [k, v] of Object.entries(nested)) metadata[k] = metaValue(v);
  } else if (nested !== undefined) {
    metadata = nested;                                  // not an object: insertBatch names the mistake
  }
  if (map.metadataFields) {
    for (const f of map.metadataFields) {
      if (f === 'metadata' || obj[f] === undefined) continue;
      if (metadata === undefined) metadata = {};
      if (typeof metadata === 'object' && metadata !== null) metadata[f] = metaValue(obj[f]);
    }
  } else {
    const known = new Set([idField, vectorField, 'metadata']);
    const extra = Object.keys(obj).filter((k) => !known.has(k));
    if (extra.length) {
      throw einval(`${where}: unknown field${extra.length === 1 ? '' : 's'} ${extra.map((k) => `'${k}'`).join(', ')}; ` +
        `a row has ${idField}, ${map.vectorField ? vectorField : VECTOR_FIELDS.join('/')} and metadata — ` +
        `pass --metadata-fields ${extra.join(',')} to store ${extra.length === 1 ? 'it' : 'them'} as metadata` +
        `${map.vectorField === undefined && extra.length === 1 ? `, or --vector-field ${extra[0]} if it is the vector` : ''}`);
    }
  }
  const item = { id, vector };
  if (metadata !== undefined) item.metadata = metadata;
  return item;
}

// ---- NDJSON ---------------------------------------------------------------------------------------

async function* ndjsonRows(input, { idType, map }) {
  let pieces = [];
  let lineNo = 0;
  const at = (n) => `${input.name} line ${n}`;
  const take = (line, items, pos) => {
    lineNo++;
    if (line.length && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
    if (line.trim() === '') return;
    items.push(jsonRow(line, at(lineNo), idType, map));
    pos.push(lineNo);
  };
  for await (const text of textChunks(input)) {
    const items = [], pos = [];
    let start = 0, nl;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      let line = text.slice(start, nl);
      if (pieces.length) {
        pieces.push(line);
        line = pieces.join('');
        pieces = [];
      }
      take(line, items, pos);
      start = nl + 1;
    }
    if (start < text.length) pieces.push(text.slice(start));
    if (items.length) yield { items, pos };
  }
  if (pieces.length) {
    const items = [], pos = [];
    take(pieces.join(''), items, pos);
    if (items.length) yield { items, pos };
  }
}

// ---- JSON array -----------------------------------------------------------------------------------

/**
 * Splits a JSON array into its elements' texts without parsing the whole document: tracks
 * string/escape state and bracket depth across chunks.
 */
class JsonArraySplitter {
  constructor(name) {
    this.name = name;
    this.state = 'start';     // start | between | element | end
    this.afterComma = false;
    this.depth = 0;
    this.inStr = false;
    this.esc = false;
    this.pieces = [];
    this.line = 1;
    this.elLine = 1;
    this.count = 0;
  }

  /** Feed text; pushes [elementText, index, line] into out. */
  push(text, out) {
    let elStart = this.state === 'element' ? 0 : -1;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.line++;
      if (this.state === 'element') {
        if (this.inStr) {
          if (this.esc) this.esc = false;
          else if (c === 92) this.esc = true;
          else if (c === 34) this.inStr = false;
          continue;
        }
        if (c === 34) this.inStr = true;
        else if (c === 123 || c === 91) this.depth++;
        else if (c === 125 || c === 93) {
          if (this.depth === 0) {                    // the array's closing ]
            if (c === 125) throw this.#bad('unbalanced }');
            this.#emit(text.slice(elStart, i), out);
            this.state = 'end';
          } else this.depth--;
        } else if (c === 44 && this.depth === 0) {
          this.#emit(text.slice(elStart, i), out);
          this.state = 'between';
          this.afterComma = true;
        }
        continue;
      }
      if (c === 32 || c === 10 || c === 13 || c === 9) continue;
      if (this.state === 'start') {
        if (c !== 91) throw this.#bad('expected a JSON array [ {...}, ... ] (for one object per line use --format ndjson)');
        this.state = 'between';
        this.afterComma = false;
      } else if (this.state === 'between') {
        if (c === 93) {
          if (this.afterComma) throw this.#bad('a comma before ] (JSON does not allow trailing commas)');
          this.state = 'end';
        } else if (c === 44) {
          throw this.#bad('an empty element (two commas)');
        } else {
          this.state = 'element';
          this.depth = 0;
          this.elLine = this.line;
          elStart = i;
          i--;                                        // re-read this char as part of the element
        }
      } else {
        throw this.#bad('data after the closing ] of the array');
      }
    }
    if (this.state === 'element' && elStart >= 0) this.pieces.push(text.slice(elStart));
  }

  end() {
    if (this.state === 'start') throw einval(`${this.name}: empty input; expected a JSON array`);
    if (this.state !== 'end') throw einval(`${this.name}: the JSON array is not closed (input ends inside element ${this.count})`);
  }

  #emit(tail, out) {
    this.pieces.push(tail);
    out.push([this.pieces.join(''), this.count, this.elLine]);
    this.pieces = [];
    this.count++;
  }

  #bad(what) {
    return einval(`${this.name} line ${this.line}: ${what}`);
  }
}

async function* jsonArrayRows(input, { idType, map }) {
  const sp = new JsonArraySplitter(input.name);
  for await (const text of textChunks(input)) {
    const els = [];
    sp.push(text, els);
    if (!els.length) continue;
    const items = [], pos = [];
    for (const [t, idx, line] of els) {
      items.push(jsonRow(t, `${input.name} element ${idx} (line ${line})`, idType, map));
      pos.push(idx);
    }
    yield { items, pos };
  }
  sp.end();
}

// ---- CSV ------------------------------------------------------------------------------------------

const START = 0, UNQUOTED = 1, QUOTED = 2, QUOTE_IN_QUOTED = 3;

/**
 * RFC 4180 records from text chunks: comma-separated, fields optionally in double quotes ("" is
 * a quote inside them; quoted fields may hold commas and newlines), records end at LF, CRLF or CR.
 */
export class CsvSplitter {
  constructor(name) {
    this.name = name;
    this.state = START;
    this.pieces = [];
    this.record = [];
    this.line = 1;
    this.recLine = 1;
    this.skipLF = false;
  }

  /** Feed text; pushes [fields, line] for every complete record into out. */
  push(text, out) {
    let seg = 0;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (this.skipLF) {
        this.skipLF = false;
        if (c === 10) { seg = i + 1; continue; }
      }
      switch (this.state) {
        case START:
          if (c === 34) {
            this.state = QUOTED;
            seg = i + 1;
            break;
          }
          this.state = UNQUOTED;
          seg = i;
          // falls through: this char belongs to an unquoted field
        case UNQUOTED:
          if (c === 44) {
            this.#field(text.slice(seg, i));
            this.state = START;
          } else if (c === 10 || c === 13) {
            this.#field(text.slice(seg, i));
            this.#record(out, c);
          }
          break;
        case QUOTED:
          if (c === 34) {
            this.pieces.push(text.slice(seg, i));
            this.state = QUOTE_IN_QUOTED;
          } else if (c === 10) this.line++;
          break;
        case QUOTE_IN_QUOTED:
          if (c === 34) {
            this.pieces.push('"');
            seg = i + 1;
            this.state = QUOTED;
          } else if (c === 44) {
            this.#field('');
            this.state = START;
          } else if (c === 10 || c === 13) {
            this.#field('');
            this.#record(out, c);
          } else {
            throw einval(`${this.name} line ${this.line}: unexpected character '${text[i]}' after a closing quote ` +
              '(a quote inside a quoted field is written "")');
          }
          break;
      }
    }
    if (this.state === UNQUOTED || this.state === QUOTED) this.pieces.push(text.slice(seg));
  }

  /** End of input: flush the last record (no trailing newline needed). */
  end(out) {
    if (this.state === QUOTED) throw einval(`${this.name} line ${this.recLine}: a quoted field is not closed`);
    if (this.state === UNQUOTED || this.state === QUOTE_IN_QUOTED || this.record.length) {
      this.#field('');
      this.#record(out, 0);
    }
  }

  #field(tail) {
    if (this.pieces.length) {
      this.pieces.push(tail);
      this.record.push(this.pieces.join(''));
      this.pieces = [];
    } else {
      this.record.push(tail);
    }
  }

  #record(out, c) {
    const r = this.record;
    this.record = [];
    this.state = START;
    if (!(r.length === 1 && r[0].trim() === '')) out.push([r, this.recLine]);   // skip blank lines
    if (c === 13) this.skipLF = true;
    if (c === 10 || c === 13) this.line++;
    this.recLine = this.line;
  }
}

/** Interpret the header row. */
function csvLayout(header, name, map = {}) {
  const cols = header.map((h) => h.trim());
  const seen = new Set();
  for (const c of cols) {
    if (c === '') throw einval(`${name} line 1: the header has an empty column name`);
    if (seen.has(c)) throw einval(`${name} line 1: the header names column '${c}' twice`);
    seen.add(c);
  }
  const idName = map.idField ?? 'id';
  const idCol = map.idField ? cols.indexOf(map.idField) : cols.findIndex((c) => c.toLowerCase() === 'id');
  if (idCol < 0) {
    throw einval(`${name} line 1: the header has no '${idName}' column (expected: id, v0, v1, ... or id, vector, ...` +
      `${map.idField ? '' : '; name the id column with --id-field'})`);
  }
  let vecCol;
  if (map.vectorField) {
    vecCol = cols.indexOf(map.vectorField);
    if (vecCol < 0) throw einval(`${name} line 1: the header has no '${map.vectorField}' column (--vector-field)`);
  } else {
    const found = VECTOR_FIELDS.map((f) => cols.findIndex((c) => c.toLowerCase() === f)).filter((j) => j >= 0);
    if (found.length > 1) {
      throw einval(`${name} line 1: the header has both '${cols[found[0]]}' and '${cols[found[1]]}'; say which is the vector with --vector-field`);
    }
    vecCol = found.length ? found[0] : -1;
  }
  const comps = [];
  cols.forEach((c, j) => {
    const m = /^v(\d+)$/.exec(c);
    if (m) comps.push([Number(m[1]), j]);
  });
  if (vecCol >= 0 && comps.length && !map.vectorField) {
    throw einval(`${name} line 1: the header has both a 'vector' column and component columns (v0, v1, ...); use one`);
  }
  if (vecCol < 0 && !comps.length) {
    throw einval(`${name} line 1: the header has no vector columns: give v0..vN (one per component) or one 'vector' column holding a JSON array`);
  }
  comps.sort((a, b) => a[0] - b[0]);
  if (vecCol >= 0) comps.length = 0;
  comps.forEach(([k], i) => {
    if (k !== i) throw einval(`${name} line 1: vector columns must be v0..v${comps.length - 1} without gaps (v${i} is missing)`);
  });
  const compCols = comps.map(([, j]) => j);
  const vecSet = new Set(compCols);
  const meta = [];
  if (map.metadataFields) {
    for (const f of map.metadataFields) {
      const j = cols.indexOf(f);
      if (j < 0) throw einval(`${name} line 1: the header has no '${f}' column (--metadata-fields)`);
      meta.push([f, j]);
    }
  } else {
    cols.forEach((c, j) => {
      if (j !== idCol && j !== vecCol && !vecSet.has(j)) meta.push([c, j]);
    });
  }
  return { width: cols.length, idCol, vecCol, compCols, meta };
}

/**
 * A metadata cell: numbers stay numbers (exact integers beyond 2^53 as bigint), true/false
 * (any case) become booleans, other text stays text.
 */
function csvMetaValue(s) {
  const low = s.length <= 5 ? s.toLowerCase() : '';
  if (low === 'true') return true;
  if (low === 'false') return false;
  if (META_NUMBER_RE.test(s)) {
    if (META_INT_RE.test(s)) {
      const n = Number(s);
      if (Number.isSafeInteger(n)) return n;
      const b = BigInt(s);
      if (b >= -(1n << 63n) && b <= U64_MAX) return b;
      return s;
    }
    const n = Number(s);
    if (Number.isFinite(n)) return n;
  }
  return s;
}

async function* csvRows(input, { idType, map }) {
  const sp = new CsvSplitter(input.name);
  let layout = null;
  let mode = idType ?? null;
  const rowsOf = (recs) => {
    const items = [], pos = [];
    for (const [f, line] of recs) {
      const where = `${input.name} line ${line}`;
      if (!layout) {
        layout = csvLayout(f, input.name, map);
        continue;
      }
      if (f.length !== layout.width) {
        throw einval(`${where}: ${f.length} fields, but the header has ${layout.width}`);
      }
      const rawId = f[layout.idCol];
      if (mode === null) mode = autoMode(rawId);
      const id = textId(rawId, mode, where);
      let vector;
      if (layout.vecCol >= 0) {
        try {
          vector = JSON.parse(f[layout.vecCol]);
        } catch (e) {
          throw einval(`${where}: the vector column is not a JSON array (${e.message})`);
        }
        if (!Array.isArray(vector)) throw einval(`${where}: the vector column must hold a JSON array of numbers`);
      } else {
        const cc = layout.compCols;
        vector = new Float64Array(cc.length);
        for (let j = 0; j < cc.length; j++) {
          const s = f[cc[j]].trim();
          if (!NUMBER_RE.test(s)) {
            throw einval(`${where}: v${j} is '${s.length > 30 ? `${s.slice(0, 30)}…` : s}', not a number`);
          }
          vector[j] = Number(s);
        }
      }
      const item = { id, vector };
      if (layout.meta.length) {
        const metadata = {};
        let any = false;
        for (const [name, j] of layout.meta) {
          const s = f[j];
          if (s === '') continue;
          metadata[name] = csvMetaValue(s);
          any = true;
        }
        if (any) item.metadata = metadata;
      }
      items.push(item);
      pos.push(line);
    }
    return { items, pos };
  };
  for await (const text of textChunks(input)) {
    const recs = [];
    sp.push(text, recs);
    const r = rowsOf(recs);
    if (r.items.length) yield r;
  }
  const recs = [];
  sp.end(recs);
  const r = rowsOf(recs);
  if (r.items.length) yield r;
  if (!layout) throw einval(`${input.name}: empty input; expected a header row (id, v0, v1, ... or id, vector, ...)`);
}

// ---- .fvecs ---------------------------------------------------------------------------------------

/** One .fvecs row (little-endian int32 dim, then dim float32) into a Float32Array. */
function fvecsVector(buf, off, dim) {
  const v = new Float32Array(dim);
  if (LITTLE_ENDIAN) new Uint8Array(v.buffer).set(buf.subarray(off, off + 4 * dim));
  else for (let j = 0; j < dim; j++) v[j] = buf.readFloatLE(off + 4 * j);
  return v;
}

/**
 * .fvecs rows as Float32Arrays, chunk by chunk: yields { vectors, first } (first = row number
 * of vectors[0]). Checks that every row has the first row's dimension and that the file does
 * not end inside a row.
 * @param {Input} input
 */
async function* fvecsVectors(input) {
  let pending = null;
  let dim = -1, rec = 0, row = 0;
  for await (const chunk of input.chunks()) {
    const b = pending ? Buffer.concat([pending, chunk]) : chunk;
    let off = 0;
    if (dim < 0) {
      if (b.length < 4) { pending = b; continue; }
      dim = b.readInt32LE(0);
      if (dim < 1 || dim > 65535) {
        throw einval(`${input.name}: not an .fvecs file (the first row says dimension ${dim}; expected 1..65535)`);
      }
      rec = 4 + 4 * dim;
      if (input.total !== null && input.total % rec !== 0) {
        throw einval(`${input.name}: size ${input.total} is not a multiple of the row size ${rec} (dimension ${dim}); ` +
          'the file is truncated or not .fvecs');
      }
    }
    const vectors = [];
    const first = row;
    while (b.length - off >= rec) {
      const d = b.readInt32LE(off);
      if (d !== dim) throw einval(`${input.name} row ${row}: dimension ${d}, but row 0 has ${dim}`);
      vectors.push(fvecsVector(b, off + 4, dim));
      off += rec;
      row++;
    }
    pending = off < b.length ? Buffer.from(b.subarray(off)) : null;
    if (vectors.length) yield { vectors, first, dim };
  }
  if (pending && pending.length) {
    throw einval(`${input.name}: ends inside row ${row} (${pending.length} of ${rec} bytes); the file is truncated`);
  }
}

/**
 * Total rows of an .fvecs file from its size and first row, or null when unknown.
 * @param {string} file
 * @returns {Promise<number|null>}
 */
export async function fvecsRowCount(file) {
  if (file === '-') return null;
  let fh;
  try {
    fh = await fs.promises.open(file, 'r');
    const { size } = await fh.stat();
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead < 4) return null;
    const dim = head.readInt32LE(0);
    if (dim < 1 || dim > 65535) return null;
    return Math.floor(size / (4 + 4 * dim));
  } catch {
    return null;
  } finally {
    await fh?.close();
  }
}

async function* fvecsRows(input, { idType, idOffset = 0 }) {
  const big = typeof idOffset === 'bigint';
  for await (const { vectors, first } of fvecsVectors(input)) {
    const items = new Array(vectors.length), pos = new Array(vectors.length);
    for (let i = 0; i < vectors.length; i++) {
      const row = first + i;
      let id = big ? idOffset + BigInt(row) : idOffset + row;
      if (!big && !Number.isSafeInteger(id)) id = BigInt(idOffset) + BigInt(row);
      if (typeof id === 'bigint' && id > U64_MAX) throw einval(`${input.name} row ${row}: id ${id} (row + --id-offset) is larger than 2^64-1`);
      items[i] = { id: castId(id, idType, `${input.name} row ${row}`), vector: vectors[i] };
      pos[i] = row;
    }
    yield { items, pos };
  }
}

// ---- entry points ---------------------------------------------------------------------------------

/** What a position number means, per format. */
export const POSITION_UNIT = { json: 'element', ndjson: 'line', csv: 'line', fvecs: 'row' };

/**
 * Rows of an input in the given format, chunk by chunk.
 * @param {Input} input
 * @param {'json'|'ndjson'|'csv'|'fvecs'} format
 * @param {{ idType?: 'string'|'number'|null, idOffset?: number|bigint }} [opts] idType: how
 *   to read text ids (CSV) and what to cast JSON/fvecs ids to (only when given explicitly for
 *   those; pass the collection's id type for CSV auto mode)
 * @returns {AsyncGenerator<{ items: object[], pos: number[] }>}
 */
export function readRows(input, format, opts = {}) {
  switch (format) {
    case 'ndjson': return ndjsonRows(input, opts);
    case 'json': return jsonArrayRows(input, opts);
    case 'csv': return csvRows(input, opts);
    case 'fvecs': return fvecsRows(input, opts);
    default: throw einval(`unknown input format '${format}'; use json, ndjson, csv or fvecs`);
  }
}

/**
 * Query vectors from a file: a JSON array of numbers (one query), a JSON array of arrays, NDJSON
 * (one array, or one object with a "vector", per line), or .fvecs (by extension).
 * @param {string} file
 * @returns {Promise<{ vectors: Array<number[]|Float32Array>, single: boolean }>}
 */
export async function readQueryVectors(file) {
  const input = await openInput(file);
  if (detectFormat(file) === 'fvecs') {
    const vectors = [];
    for await (const r of fvecsVectors(input)) vectors.push(...r.vectors);
    if (!vectors.length) throw einval(`${file}: no vectors`);
    return { vectors, single: false };
  }
  let text = '';
  for await (const t of textChunks(input)) text += t;
  const asVector = (v, where) => {
    if (Array.isArray(v)) return v;
    if (v && typeof v === 'object' && Array.isArray(v.vector)) return v.vector;
    throw einval(`${where}: expected an array of numbers (or an object with a "vector" array)`);
  };
  let doc;
  let isJson = true;
  try {
    doc = JSON.parse(text);
  } catch {
    isJson = false;
  }
  if (isJson) {
    if (Array.isArray(doc) && doc.length && doc.every((x) => typeof x === 'number')) return { vectors: [doc], single: true };
    if (doc && !Array.isArray(doc) && typeof doc === 'object') return { vectors: [asVector(doc, file)], single: true };
    if (!Array.isArray(doc) || !doc.length) throw einval(`${file}: expected a JSON array of numbers or of arrays`);
    return { vectors: doc.map((v, i) => asVector(v, `${file} element ${i}`)), single: false };
  }
  const vectors = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (!l) continue;
    let v;
    try {
      v = JSON.parse(l);
    } catch (e) {
      throw einval(`${file} line ${i + 1}: not valid JSON (${e.message})`);
    }
    vectors.push(asVector(v, `${file} line ${i + 1}`));
  }
  if (!vectors.length) throw einval(`${file}: no query vectors`);
  return { vectors, single: false };
}
