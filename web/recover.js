// web/recover.js — salvage: read every intact segment of a damaged .rvf file and write the rows it
// holds into a NEW store (recoverCollection; the CLI's `veclite recover` and the fallback of
// `veclite verify` when a file cannot be opened). README.md "Nothing is dropped silently" describes the behaviour.
//
// How it fits: this module reads bytes itself (the segment layout is simple: 64-byte headers back
// to back from offset 0, each with a CRC-32 content hash of its payload; see src/rvf.c for the
// layout) and writes the output through the public API of web/index.js (openCollection +
// insertBatch), so the output is an ordinary veclite store that verifies and opens anywhere.
// It never writes the source. It runs in any runtime for bytes; paths need Node.
//
// Replay rules (file order; the newest intact record of an id wins):
// - VEC rows upsert. Complete VEC segments count even when no MANIFEST commits them (a torn
//   commit, a damaged manifest): salvage keeps what was written, the open does not.
// - JOURNAL entries delete (row and metadata): a row deleted after it was written stays deleted.
// - A MANIFEST's deleted list deletes the ids it adds to the previous intact manifest's list (a
//   fallback for a damaged JOURNAL; a restated old delete never kills a row upserted since).
// - META: a snapshot replaces all metadata and file metadata; a delta's records replace or remove
//   one id's metadata. Field names come from every intact META's schema entries.
// - Saved tails (`<file>.recovered-<epoch>-<offset>-<ms>`, idb/recovered-tail.js) beside a source
//   path are replayed at the offset they were cut from, so their rows sit between the commits
//   before and after that point (before everything when the file was compacted since).
// - A segment whose hash does not verify, or that does not parse, is skipped and reported; bytes
//   that are no segment at all are reported as unreadable ranges.

import { VecliteError, einval } from '../worker/errors.js';
import { ID_FIELD, TAG, decodeRecord, utf8 } from '../worker/metadata.js';

const MAGIC = 0x52564653;
const HDR = 64;
const SEG = { VEC: 1, INDEX: 2, JOURNAL: 4, MANIFEST: 5, META: 7, WITNESS: 0x0a };
const TYPE_NAMES = { 1: 'vec', 2: 'index', 4: 'journal', 5: 'manifest', 7: 'meta', 0x0a: 'witness' };
const METRIC_NAMES = ['euclidean', 'dotProduct', 'cosine'];
const ID_KIND_KEY = 'js.idType';
const BATCH = 1000;

// ---- CRC-32 (IEEE, reflected 0xEDB88320), the segment content hash ---------------------------------

let CRC_TABLE = null;
function crc32(b, start, end) {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[i] = c >>> 0;
    }
  }
  let c = 0xFFFFFFFF;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 0xFF] ^ (c >>> 8);
  return (c ^ 0xFFFFFFFF) >>> 0;
}

const rotl = (x, n) => (n === 0 ? x : ((x << n) | (x >>> (32 - n))) >>> 0);

// ---- segment scan -----------------------------------------------------------------------------------

/**
 * A plausible segment header at p (magic, version 1, payload inside the bytes), or null.
 * @returns {{ type: number, segId: bigint, len: number, algo: number, comp: number } | null}
 */
function headerAt(b, dv, p) {
  if (p + HDR > b.length || dv.getUint32(p, true) !== MAGIC || b[p + 4] !== 1) return null;
  const len = dv.getBigUint64(p + 0x10, true);
  if (len > BigInt(b.length - p - HDR)) return null;
  return { type: b[p + 5], segId: dv.getBigUint64(p + 8, true), len: Number(len), algo: b[p + 0x20], comp: b[p + 0x21] };
}

/** How many payload bytes a scan of n bytes may hash at most. */
export function scanBudget(n) {
  return 4 * n + (64 << 20);
}

/** Why a hash was not checked: the scan's budget of hashed bytes ran out (see scanSegments). */
const OVER_BUDGET = 'not checked: the scan hashed as much as its budget allows (a file of mostly forged headers)';

/** 'ok', or why the payload of the segment at p does not verify. Spends budget.left. */
function hashCheck(b, dv, p, h, budget) {
  if (h.algo !== 0 || h.comp !== 0) return `checksum algorithm ${h.algo} / compression ${h.comp} not supported`;
  let zero = true;
  for (let i = 0; i < 16; i++) if (b[p + 0x28 + i]) { zero = false; break; }
  if (zero) return 'ok'; // "unset" (an all-zero content hash)
  if (budget.left < h.len) return OVER_BUDGET;
  budget.left -= h.len;
  const c = crc32(b, p + HDR, p + HDR + h.len);
  for (let i = 0; i < 4; i++) {
    if (dv.getUint32(p + 0x28 + 4 * i, true) !== rotl(c, 8 * i)) return 'content hash mismatch';
  }
  return 'ok';
}

/** The next offset > p where an intact segment starts, or b.length. */
function resync(b, dv, p, budget) {
  for (let q = p + 1; q + HDR <= b.length; q++) {
    if (b[q] !== 0x53 || b[q + 1] !== 0x46 || b[q + 2] !== 0x56 || b[q + 3] !== 0x52) continue;
    const h = headerAt(b, dv, q);
    if (h && hashCheck(b, dv, q, h, budget) === 'ok') return q;
  }
  return b.length;
}

/**
 * Walk the bytes from offset 0: every segment that is whole and hash-valid, every damaged one
 * (plausible header, payload fails its hash), and the ranges that are neither.
 * @param {Uint8Array} b
 * @returns {{ intact: { offset: number, type: number, segId: bigint, len: number }[],
 *   damaged: { offset: number, type: number, typeName: string, length: number, reason: string }[],
 *   unreadable: { from: number, to: number }[], hashedBytes: number }} hashedBytes: payload bytes
 *   hashed, at most scanBudget(b.length)
 */
export function scanSegments(b) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const intact = [], damaged = [], unreadable = [];
  // Hashing is the cost: a well-formed file hashes each byte once; forged headers whose lengths
  // overlap could make a naive resync hash O(n²) bytes. The budget bounds the work at a few
  // passes over the file; past it, hashes go unchecked and are reported so.
  const budgetStart = scanBudget(b.length);
  const budget = { left: budgetStart };
  let p = 0;
  while (p < b.length) {
    const h = headerAt(b, dv, p);
    if (!h) {
      const q = resync(b, dv, p, budget);
      unreadable.push({ from: p, to: q });
      p = q;
      continue;
    }
    const why = hashCheck(b, dv, p, h, budget);
    const end = p + HDR + h.len;
    if (why === 'ok') {
      intact.push({ offset: p, type: h.type, segId: h.segId, len: h.len });
      p = end;
      continue;
    }
    damaged.push({ offset: p, type: h.type, typeName: TYPE_NAMES[h.type] ?? `0x${h.type.toString(16)}`, length: HDR + h.len, reason: why });
    // Trust the length only when an intact segment (or the end) follows it.
    const nh = end < b.length ? headerAt(b, dv, end) : null;
    if (end === b.length || (nh && hashCheck(b, dv, end, nh, budget) === 'ok')) {
      p = end;
    } else {
      const q = resync(b, dv, p, budget);
      if (q > end) unreadable.push({ from: end, to: q });
      p = q;
    }
  }
  return { intact, damaged, unreadable, hashedBytes: budgetStart - budget.left };
}

// ---- payload parsers (each throws a plain Error on a malformed payload) -----------------------------

function parseVec(b, dv, off, len) {
  if (len < 6) throw new Error('VEC payload too short');
  const dim = dv.getUint16(off, true), count = dv.getUint32(off + 2, true);
  if (dim === 0 || 6 + count * (8 + 4 * dim) > len) throw new Error(`VEC payload of ${len} bytes cannot hold ${count} rows of ${dim}`);
  const rows = [];
  let p = off + 6;
  for (let i = 0; i < count; i++) {
    const id = dv.getBigUint64(p, true);
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) v[j] = dv.getFloat32(p + 8 + 4 * j, true);
    rows.push([id, v]);
    p += 8 + 4 * dim;
  }
  return { dim, rows };
}

function parseJournal(b, dv, off, len) {
  if (len < 16) throw new Error('JOURNAL payload too short');
  const n = dv.getUint32(off, true);
  if (16 + n * 12 > len) throw new Error(`JOURNAL payload cannot hold ${n} entries`);
  const ids = [];
  for (let i = 0; i < n; i++) {
    const e = off + 16 + 12 * i;
    if (b[e] === 1) ids.push(dv.getBigUint64(e + 4, true));
  }
  return ids;
}

function parseManifest(b, dv, off, len) {
  if (len < 24) throw new Error('MANIFEST payload too short');
  const epoch = dv.getUint32(off, true), dim = dv.getUint16(off + 4, true);
  const segCount = dv.getUint32(off + 14, true), metric = b[off + 19];
  let p = off + 22 + segCount * 25;
  if (p + 4 > off + len) throw new Error('MANIFEST directory runs past the payload');
  const n = dv.getUint32(p, true);
  p += 4;
  if (p + 8 * n > off + len) throw new Error('MANIFEST deleted list runs past the payload');
  const deleted = new Set();
  for (let i = 0; i < n; i++) deleted.add(dv.getBigUint64(p + 8 * i, true));
  return { epoch, dim, metric, deleted };
}

const META_MAGIC = 'RVFMETA\0';
const META_DONE = 'RVFDONE\0';
const ascii = (b, p, n) => String.fromCharCode(...b.subarray(p, p + n));

/** Bytes of one tagged value at p. */
function valueLen(dv, tag, p) {
  switch (tag) {
    case TAG.NULL: return 0;
    case TAG.STR: case TAG.BYTES: case TAG.JSON: return 4 + dv.getUint32(p, true);
    case TAG.I64: case TAG.U64: case TAG.F64: return 8;
    case TAG.BOOL: return 1;
    default: throw new Error(`unknown value tag ${tag}`);
  }
}

async function sha256(bytes) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

/** The META payload (src/store_meta.c): head, schema names, file metadata, records. */
async function parseMeta(b, dv, off, len) {
  const end = off + len;
  if (len < 40 + 8 + 32 || ascii(b, off, 8) !== META_MAGIC) throw new Error('META magic missing');
  if (ascii(b, end - 40, 8) !== META_DONE) throw new Error('META terminator missing');
  const digest = await sha256(b.slice(off, end - 32));
  if (digest && digest.some((x, i) => x !== b[end - 32 + i])) throw new Error('META SHA-256 mismatch');
  if (dv.getUint16(off + 8, true) !== 1) throw new Error(`META version ${dv.getUint16(off + 8, true)} not supported`);
  const snapshot = (dv.getUint16(off + 10, true) & 1) === 1;
  const ns = dv.getUint32(off + 28, true), nf = dv.getUint32(off + 32, true), nr = dv.getUint32(off + 36, true);
  let p = off + 40;
  const lim = end - 40;
  const need = (n) => { if (p + n > lim) throw new Error('META section runs past the payload'); };
  const names = [], fileMeta = [], records = [];
  for (let i = 0; i < ns; i++) {
    need(6);
    const fid = dv.getUint16(p, true), l = dv.getUint16(p + 4, true);
    need(6 + l);
    names.push([fid, utf8(b.subarray(p + 6, p + 6 + l))]);
    p += 6 + l;
  }
  for (let i = 0; i < nf; i++) {
    need(2);
    const kl = dv.getUint16(p, true);
    need(2 + kl + 4);
    const key = utf8(b.subarray(p + 2, p + 2 + kl));
    const vl = dv.getUint32(p + 2 + kl, true);
    need(6 + kl + vl);
    fileMeta.push([key, b.slice(p + 6 + kl, p + 6 + kl + vl)]);
    p += 6 + kl + vl;
  }
  for (let i = 0; i < nr; i++) {
    need(13);
    const id = dv.getBigUint64(p, true), op = b[p + 8], n = dv.getUint32(p + 9, true);
    p += 13;
    const start = p;
    for (let f = 0; f < n; f++) {
      need(3);
      p += 3;
      const l = valueLen(dv, b[p - 1], p);
      need(l);
      p += l;
    }
    if (n > 0xFFFF) throw new Error('META record has too many fields');
    // Re-frame as the engine's in-memory record: u16 n | fields (what decodeRecord reads).
    const rec = new Uint8Array(2 + p - start);
    rec[0] = n & 0xFF; rec[1] = n >>> 8;
    rec.set(b.subarray(start, p), 2);
    records.push([id, op, rec]);
  }
  return { snapshot, names, fileMeta, records };
}

// ---- replay -----------------------------------------------------------------------------------------

/**
 * Replay the intact segments of one or more byte streams (see the rules at the top).
 * @param {{ name: string, bytes: Uint8Array, at: number }[]} streams the source first (at 0), then
 *   saved tails with the offset they were cut from (-1: before everything)
 */
async function replay(streams) {
  const st = {
    rows: new Map(), meta: new Map(), names: new Map(), fileMeta: new Map(), dim: 0, metric: null,
    epoch: null, prevDeleted: new Set(), journalDeletes: 0, manifestDeletes: 0,
    damaged: [], unreadable: [], intact: 0, vecRows: 0, ignoredRows: 0,
  };
  const items = [];
  streams.forEach((s, si) => {
    const r = scanSegments(s.bytes);
    const where = (off) => (si === 0 ? off : `${s.name}@${off}`);
    for (const d of r.damaged) st.damaged.push({ ...d, source: s.name, offset: where(d.offset) });
    for (const u of r.unreadable) st.unreadable.push({ source: s.name, from: where(u.from), to: where(u.to), bytes: u.to - u.from });
    for (const seg of r.intact) {
      items.push({ seg, s, si, key: si === 0 ? seg.offset : s.at, sub: si === 0 ? 1 : 0 });
    }
  });
  items.sort((a, b) => a.key - b.key || a.sub - b.sub || a.si - b.si || a.seg.offset - b.seg.offset);
  for (const { seg, s, si } of items) {
    const b = s.bytes, dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const off = seg.offset + HDR;
    try {
      switch (seg.type) {
        case SEG.VEC: {
          const v = parseVec(b, dv, off, seg.len);
          if (st.dim && v.dim !== st.dim) throw new Error(`VEC dimension ${v.dim} differs from the store's ${st.dim}`);
          st.dim ||= v.dim;
          for (const [id, vec] of v.rows) st.rows.set(id, vec);
          st.vecRows += v.rows.length;
          break;
        }
        case SEG.JOURNAL:
          for (const id of parseJournal(b, dv, off, seg.len)) {
            if (st.rows.delete(id)) st.journalDeletes++;
            st.meta.delete(id);
          }
          break;
        case SEG.MANIFEST: {
          const m = parseManifest(b, dv, off, seg.len);
          if (st.dim && m.dim !== st.dim) throw new Error(`MANIFEST dimension ${m.dim} differs from the rows' ${st.dim}`);
          st.dim ||= m.dim;
          st.metric = m.metric;
          st.epoch = m.epoch;
          for (const id of m.deleted) {
            if (st.prevDeleted.has(id)) continue;
            if (st.rows.delete(id)) st.manifestDeletes++;
            st.meta.delete(id);
          }
          st.prevDeleted = m.deleted;
          break;
        }
        case SEG.META: {
          const m = await parseMeta(b, dv, off, seg.len);
          if (m.snapshot) { st.meta.clear(); st.fileMeta.clear(); }
          for (const [fid, name] of m.names) st.names.set(fid, name);
          for (const [k, v] of m.fileMeta) {
            if (v.length) st.fileMeta.set(k, v);
            else st.fileMeta.delete(k);
          }
          for (const [id, op, rec] of m.records) {
            if (op === 0) st.meta.set(id, rec);
            else st.meta.delete(id);
          }
          break;
        }
        default: break; // INDEX, WITNESS, ... carry no rows
      }
      st.intact++;
    } catch (e) {
      st.damaged.push({
        source: s.name, offset: si === 0 ? seg.offset : `${s.name}@${seg.offset}`, type: seg.type,
        typeName: TYPE_NAMES[seg.type] ?? `0x${seg.type.toString(16)}`, length: HDR + seg.len, reason: e.message,
      });
    }
  }
  return st;
}

const publicNum = (id) => (id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id);

/** The rows to write: { id, vector, metadata } and the ones that cannot be written. */
function rowsOf(st) {
  const nameOf = (fid) => st.names.get(fid) ?? `_field${fid}`;
  const kindBytes = st.fileMeta.get(ID_KIND_KEY);
  let idType = kindBytes ? new TextDecoder().decode(kindBytes) : null;
  const out = [], lost = [];
  const decoded = new Map();
  let strings = 0;
  for (const [id, rec] of st.meta) {
    if (!st.rows.has(id)) continue;
    try {
      const d = decodeRecord(rec, 0, rec.length, nameOf);
      decoded.set(id, d);
      if (typeof d.sid === 'string') strings++;
    } catch (e) {
      lost.push({ id: publicNum(id), reason: `metadata record does not decode: ${e.message}` });
    }
  }
  if (strings) idType = 'string';
  if (idType !== 'string') idType = st.rows.size ? 'number' : idType;
  for (const [id, vector] of st.rows) {
    const d = decoded.get(id);
    const metadata = d && Object.keys(d.meta).length ? d.meta : undefined;
    if (idType === 'string') {
      if (typeof d?.sid !== 'string') {
        lost.push({ id: publicNum(id), reason: 'its string id was in a damaged or missing META segment' });
        continue;
      }
      out.push({ id: d.sid, vector, metadata });
    } else {
      out.push({ id: publicNum(id), vector, metadata });
    }
  }
  return { out, lost, idType };
}

async function readSource(source, out) {
  if (source instanceof Uint8Array) return { name: 'bytes', streams: [{ name: 'bytes', bytes: source, at: 0 }], outExists: null };
  if (typeof source !== 'string' || !source) {
    throw einval('recoverCollection: source must be a file path or the bytes of an .rvf file');
  }
  const { InlineClient } = await import('../worker/inline.js');
  const got = await new InlineClient().call('salvageRead', { path: source, out });
  const abs = got.name;
  const bytes = got.bytes;
  const streams = [{ name: abs, bytes, at: 0 }];
  const fileScan = scanSegments(bytes);
  // Where a saved tail was cut: right after an intact MANIFEST of the tail's epoch (and the
  // WITNESS segments a writer keeps after it). An offset alone means nothing once the file was
  // compacted or grew back past it.
  const cutAt = new Map(); // offset -> epoch of the manifest the run after it belongs to
  const byOffset = new Map(fileScan.intact.map((x) => [x.offset, x]));
  for (const m of fileScan.intact) {
    if (m.type !== SEG.MANIFEST || m.len < 4) continue;
    const epoch = new DataView(bytes.buffer, bytes.byteOffset + m.offset + HDR, 4).getUint32(0, true);
    let end = m.offset + HDR + m.len;
    cutAt.set(end, epoch);
    for (let w = byOffset.get(end); w && w.type === SEG.WITNESS; w = byOffset.get(end)) {
      end = w.offset + HDR + w.len;
      cutAt.set(end, epoch);
    }
  }
  for (const sv of got.tails) { // oldest first
    // Compacted since (no commit of its epoch ends at the cut): replay the tail before everything.
    const at = cutAt.get(sv.offset) === sv.epoch ? sv.offset : -1;
    streams.push({ name: sv.savedTo, bytes: sv.bytes, at });
  }
  return { name: abs, streams, outExists: got.outExists };
}

/**
 * Salvage every row (with its metadata and string id) of the intact segments of an .rvf file
 * into a new store. The source is never modified. See the top of this file for the rules.
 * @param {string|Uint8Array} source a path (Node; saved tails beside it are included) or bytes
 * @param {string|null} [out] path of the new store (must not exist); null/undefined: build it in
 *   memory and return its bytes
 * @param {{ dryRun?: boolean }} [options] dryRun: only report, write nothing
 * @returns {Promise<object>} see index.d.ts RecoverReport
 */
export async function recoverCollection(source, out = null, options = {}) {
  if (out !== null && out !== undefined && (typeof out !== 'string' || !out)) {
    throw einval('recoverCollection: out must be a path for the new store, or null for bytes');
  }
  if (options === null || typeof options !== 'object') throw einval('recoverCollection: options must be an object');
  const dryRun = options.dryRun === true;
  const src = await readSource(source, typeof out === 'string' ? out : undefined);
  if (typeof out === 'string' && !dryRun) {
    const exists = src.outExists ?? (await import('../worker/inline.js').then(({ InlineClient }) =>
      new InlineClient().call('salvageRead', { out }))).outExists;
    if (exists) throw einval(`recoverCollection: ${out} already exists; recover into a new file`);
  }
  const st = await replay(src.streams);
  const { out: rows, lost, idType } = rowsOf(st);
  const report = {
    source: src.name, out: typeof out === 'string' && !dryRun ? out : null,
    savedTails: src.streams.slice(1).map((s) => s.name),
    dimension: st.dim || null, metric: st.metric === null ? null : METRIC_NAMES[st.metric] ?? null,
    epoch: st.epoch, idType: idType ?? null,
    rows: 0, withMetadata: 0, found: rows.length,
    deletesApplied: st.journalDeletes + st.manifestDeletes,
    segments: { intact: st.intact, damaged: st.damaged.length },
    damaged: st.damaged, unreadable: st.unreadable, lostRows: lost, bytes: undefined,
    ok: st.damaged.length === 0 && st.unreadable.length === 0 && lost.length === 0,
  };
  if (!st.dim) {
    if (dryRun) return report;
    throw new VecliteError('ECORRUPT', `recoverCollection: ${src.name} holds no intact VEC or MANIFEST segment: nothing to recover`);
  }
  if (st.metric === null) {
    // No intact manifest names the metric: euclidean is the only one that accepts any vector.
    report.metric = 'euclidean';
    report.damaged.push({ source: src.name, offset: null, type: SEG.MANIFEST, typeName: 'manifest', length: 0,
      reason: 'no intact MANIFEST: the metric is unknown; the recovered store uses euclidean' });
    report.ok = false;
  }
  if (dryRun) {
    report.rows = rows.length;
    report.withMetadata = rows.filter((r) => r.metadata).length;
    return report;
  }
  const { openCollection } = await import('./index.js');
  const create = { dimension: st.dim, metric: report.metric };
  if (idType) create.idType = idType;
  const textField = st.fileMeta.get('veclite.text'); // keyword search keeps its field (docs/format.md §4)
  if (textField?.length) create.text = { field: utf8(textField) };
  const col = typeof out === 'string'
    ? await openCollection(out, { create })
    : await openCollection(new Uint8Array(0), { create });
  try {
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH).map((r) => (r.metadata ? r : { id: r.id, vector: r.vector }));
      try {
        await col.insertBatch(batch);
        report.rows += batch.length;
      } catch (e) {
        if (!(e instanceof VecliteError) || e.code !== 'EINVAL') throw e;
        for (const r of batch) { // one bad row (NaN, zero vector under cosine...) must not sink the batch
          try {
            await col.insertBatch([r]);
            report.rows++;
          } catch (e1) {
            if (!(e1 instanceof VecliteError) || e1.code !== 'EINVAL') throw e1;
            lost.push({ id: typeof r.id === 'bigint' ? r.id.toString() : r.id, reason: e1.message });
          }
        }
      }
    }
    report.withMetadata = rows.filter((r) => r.metadata).length;
    if (typeof out !== 'string') report.bytes = await col.export();
  } finally {
    await col.close();
  }
  report.ok = report.ok && lost.length === 0;
  for (const l of lost) if (typeof l.id === 'bigint') l.id = l.id.toString();
  return report;
}
