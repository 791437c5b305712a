// tests/js/model.test.js — a seeded, model-based randomized test through the public API. A JS Map
// id -> { vector, metadata } (the model) is kept beside a file-backed collection while random
// operations run on both: insert (record and positional forms), insertBatch (ids repeated inside a
// batch: the last row wins; a batch with one bad row is EINVAL and changes nothing), update
// (vector, metadata, both, merge), delete (present and absent ids, arrays), deleteWhere, clear,
// bursts of writes sent without waiting, search with and without filters (equality, ranges, $in,
// $nin, $ne, $exists, $contains, $or, $not, dotted paths, JS predicates), threshold, mmr with
// lambda 1, hybrid and keyword search, searchBatch, get, getMany, count, ids() paging (also with
// writes between pages), compact() and the automatic compaction, close + reopen (openCollection on
// the file, or a new createDatabase), a read-only reader (openCollection readOnly or a readOnly
// database) kept open across steps and refresh()ed, and export() -> openCollection(bytes).
// Oracle: the model, with a float64 brute-force k-NN (helpers.js bruteForce / assertExact) and its
// own filter evaluator (docs/api.md §5: bytewise string order, numbers and bigints compared
// numerically, dotted keys read against the field names ever stored). Invariants: on a flat index
// every search is exact (ties tolerated by distance) and every hit's metadata is the model's; on
// HNSW (also scalar-quantized, whose reported distances are exact after the re-rank) every hit is
// a live row passing the filter at its exact distance and mean recall@k >= 0.9 at ef 200;
// get/getMany return the model's vector bit for bit and its metadata; count() and ids() equal the
// model's ids; every keyword hit holds the query word and, when k covers them, the hits are
// exactly the model's documents holding it; a hybrid hit has a text score iff it holds the word;
// verify() is clean at the end. Variants: numeric, bigint and string ids; euclidean, cosine and
// dotProduct; flat / hnsw / hnsw + scalar (trained before or during the run); a text field; 96
// dimensions (automatic compactions); worker sessions (workers: 1).
// Default: 2 seeds of the flat variants, 1 of the others, 600 operations each (about 15 s);
// VECLITE_MODEL_OPS=N (operations per run) and VECLITE_MODEL_SEEDS=N (seeds per variant) hunt
// longer; VECLITE_MODEL_SEED_BASE=N shifts every seed; VECLITE_MODEL_DEBUG=1 prints each run's row
// count, automatic compactions and quantizer (and a failure's whole operation log);
// VECLITE_MODEL_TRACE=1 prints every operation and search as it runs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection } from '../../web/index.js';
import { bruteForce, assertExact, dist64, scoreOf, mulberry32, rejectsWith } from './helpers.js';

const OPS = Number(process.env.VECLITE_MODEL_OPS) || 600;
const SEEDS = Number(process.env.VECLITE_MODEL_SEEDS) || 2;
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-model-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta', 'eta', 'theta'];
// bytewise (UTF-8) order differs from JS string order for 'ｚ' (U+FF5A) and '😀' (a surrogate pair)
const STRS = ['a', 'b', 'c', 'd', 'e', 'é', 'ｚ', '😀', 'a\u0000b', ''];

// ---- the model's filter evaluator (docs/api.md §5) ------------------------------------------------

/**
 * A filter key read against the field names the collection has ever stored (docs/api.md §5 dotted
 * paths): a field of exactly that name wins, else the longest dot-separated prefix naming a field,
 * the rest a path inside it; else a missing field.
 */
function lookup(md, key, fields) {
  let f = null;
  if (fields.has(key)) f = key;
  else {
    for (let i = key.lastIndexOf('.'); i > 0; i = key.lastIndexOf('.', i - 1)) {
      if (fields.has(key.slice(0, i))) { f = key.slice(0, i); break; }
    }
  }
  if (f === null || !Object.prototype.hasOwnProperty.call(md, f)) return { found: false };
  let v = md[f];
  if (f === key) return { found: true, v };
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return { found: false };
  for (const seg of key.slice(f.length + 1).split('.')) {
    if (v === null || typeof v !== 'object') return { found: false };
    if (Array.isArray(v) ? !/^(0|[1-9][0-9]*)$/.test(seg) || Number(seg) >= v.length : !Object.prototype.hasOwnProperty.call(v, seg)) return { found: false };
    v = v[seg];
  }
  return { found: true, v };
}
const isNum = (a) => typeof a === 'number' || typeof a === 'bigint';
const comparable = (a, b) => (isNum(a) && isNum(b)) || (typeof a === 'string' && typeof b === 'string');
const cmp = (a, b) => (typeof a === 'string' ? Buffer.compare(Buffer.from(a), Buffer.from(b)) : a < b ? -1 : a > b ? 1 : 0);
function eq(found, v, x) {
  if (!found) return false;
  if (typeof x === 'boolean' || typeof v === 'boolean') return v === x;
  return comparable(v, x) && v == x; // eslint-disable-line eqeqeq -- number == bigint numerically
}
function matchOp(md, key, op, fields) {
  const { found, v } = lookup(md, key, fields);
  if (op === null || typeof op !== 'object') return eq(found, v, op);
  return Object.entries(op).every(([o, x]) => {
    switch (o) {
      case '$eq': return eq(found, v, x);
      case '$ne': return !eq(found, v, x);
      case '$lt': return found && comparable(v, x) && cmp(v, x) < 0;
      case '$lte': return found && comparable(v, x) && cmp(v, x) <= 0;
      case '$gt': return found && comparable(v, x) && cmp(v, x) > 0;
      case '$gte': return found && comparable(v, x) && cmp(v, x) >= 0;
      case '$range': return found && comparable(v, x[0]) && cmp(v, x[0]) >= 0 && cmp(v, x[1]) <= 0;
      case '$in': return x.some((y) => eq(found, v, y));
      case '$nin': return !x.some((y) => eq(found, v, y));
      case '$exists': return found === x;
      case '$contains': return found && (typeof v === 'string' ? v.includes(x) : Array.isArray(v) && v.some((e) => e === x));
      default: throw new Error(`model: operator ${o}`);
    }
  });
}
/** Field names ever stored (set by run(): one collection at a time). */
let FIELDS = new Set();
function matches(md, f) {
  return Object.entries(f).every(([k, c]) => {
    if (k === '$and') return c.every((g) => matches(md, g));
    if (k === '$or') return c.some((g) => matches(md, g));
    if (k === '$not') return !matches(md, c);
    return matchOp(md, k, c, FIELDS);
  });
}

// ---- random data ----------------------------------------------------------------------------------

function gen(rnd, DIM, dotted) {
  const int = (n) => Math.floor(rnd() * n);
  const pick = (a) => a[int(a.length)];
  return {
    int, pick,
    vector() {
      const v = new Float32Array(DIM);
      // a few coarse vectors make exact ties and duplicates; the rest are fine-grained
      const coarse = rnd() < 0.15;
      do {
        for (let j = 0; j < DIM; j++) v[j] = coarse ? int(3) - 1 : (rnd() * 2 - 1);
      } while (v.every((x) => x === 0));
      return v;
    },
    metadata() {
      const md = {};
      if (rnd() < 0.9) md.c = rnd() < 0.1 ? 'two' : int(5);
      if (rnd() < 0.9) md.x = Math.round((rnd() * 20 - 10) * 8) / 8;
      if (rnd() < 0.8) md.s = pick(STRS);
      if (rnd() < 0.5) md.flag = rnd() < 0.5;
      if (rnd() < 0.3) md.j = { a: int(4), b: pick(STRS) };
      if (rnd() < 0.2) md.big = rnd() < 0.5 ? BigInt(int(6)) : (1n << 62n) + BigInt(int(3));
      if (rnd() < 0.1) md.bytes = Uint8Array.from({ length: int(4) }, () => int(256));
      if (rnd() < 0.1) md.nul = null;
      if (rnd() < 0.1) md.arr = [pick(STRS), int(3)];
      if (dotted && rnd() < 0.05) md['j.a'] = int(4); // a top-level field named like the path j.a
      if (rnd() < 0.85) {
        const n = 1 + int(5);
        const word = () => (rnd() < 0.2 ? pick(WORDS).toUpperCase() : pick(WORDS));
        md.txt = rnd() < 0.05 ? int(100) : Array.from({ length: n }, word).join(rnd() < 0.5 ? ' ' : ', ');
      }
      return md;
    },
    patch() {
      const p = {};
      if (rnd() < 0.5) p.c = int(5);
      if (rnd() < 0.3) p.s = null;            // removes the key
      if (rnd() < 0.3) p.x = Math.round(rnd() * 64) / 8;
      if (rnd() < 0.3) p.txt = pick(WORDS) + ' ' + pick(WORDS);
      if (rnd() < 0.2) p.flag = undefined;    // ignored
      return p;
    },
    filter() {
      const opts = [
        () => ({ c: int(5) }),
        () => ({ c: { $gte: int(5) } }),
        () => ({ c: { $ne: int(5) } }),
        () => ({ x: { $range: [int(10) - 8, int(10)] } }),
        () => ({ x: { $lt: int(10) - 5 } }),
        () => ({ s: { $in: [pick(STRS), pick(STRS)] } }),
        () => ({ s: { $nin: [pick(STRS)] } }),
        () => ({ flag: rnd() < 0.5 }),
        () => ({ j: { $exists: rnd() < 0.5 } }),
        () => ({ 'j.a': { $lte: int(4) } }),
        () => ({ 'j.b': pick(STRS) }),
        () => ({ 'arr.0': { $gte: pick(STRS) } }),
        () => ({ s: { $lt: pick(STRS) } }),
        () => ({ $or: [{ c: int(5) }, { s: pick(STRS) }] }),
        () => ({ $not: { c: { $gt: int(5) } } }),
        () => ({ c: { $gte: 1 }, s: { $in: [pick(STRS), pick(STRS), pick(STRS)] } }),
        () => ({ s: { $gt: pick(STRS) } }),
        () => ({ c: 'two' }),
        () => ({ big: { $gte: int(6) } }),
        () => ({ big: { $lt: 1n << 62n } }),
        () => ({ arr: { $contains: pick(STRS) } }),
        () => ({ nul: { $exists: true } }),
        () => ({ x: { $gte: -3, $lte: 3 }, c: { $in: [0, 1, 2, 'two'] } }),
      ];
      return pick(opts)();
    },
  };
}

// ---- one run --------------------------------------------------------------------------------------

/** JSON text for messages (bigints as 12n). */
const js = (x) => JSON.stringify(x, (k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v));
const sameVec = (a, b) => a.length === b.length && a.every((x, j) => Object.is(x, b[j]));
/** Metadata as the API returns it: without undefined keys (-0 stays -0). */
const plain = (md) => Object.fromEntries(Object.entries(md).filter(([, v]) => v !== undefined));

async function run({ seed, ops = OPS, index = 'flat', quantization, idType = 'number', metric = 'euclidean',
  text = false, workers = 0, bulk = 0, dim = 8, bigIds = false, expectTrained = false, idSpace }) {
  const DIM = dim;
  const rnd = mulberry32(seed);
  const g = gen(rnd, DIM, seed % 3 === 0);
  FIELDS = new Set();
  const dir = fs.mkdtempSync(path.join(ROOT, `s${seed}-`));
  const name = 'm';
  const file = path.join(dir, `${name}.rvf`);
  const ID_SPACE = idSpace ?? Math.max(150, Math.floor(bulk * 1.2));
  // bigIds: numeric ids past 2^53, which come back as bigint (docs/api.md §3)
  const mkId = (n) => (idType === 'string' ? `k${n}` : bigIds ? (1n << 60n) + BigInt(n) : n);
  const randId = () => mkId(g.int(ID_SPACE));
  const hnsw = index === 'hnsw';
  const ef = 200;
  const config = {
    dimension: DIM, metric, idType,
    index: hnsw ? { type: 'hnsw', m: 16, efConstruction: 200, ef } : { type: 'flat' },
    ...(quantization ? { quantization } : {}),
    ...(text ? { text: { field: 'txt' } } : {}),
  };
  const model = new Map();
  const log = [];
  if (process.env.VECLITE_MODEL_TRACE) log.push = (...a) => { for (const x of a) process.stderr.write(`[${seed}] ${x}\n`); return Array.prototype.push.apply(log, a); };
  let db = await createDatabase({ path: dir, ...(workers ? { workers } : {}) });
  let col = await db.createCollection(name, config);
  let recallSum = 0, recallN = 0;
  const where = () => `seed ${seed} (${js({ index, quantization, idType, metric, text, workers })}) after ops:\n  ${log.slice(process.env.VECLITE_MODEL_DEBUG ? 0 : -8).join('\n  ')}`;

  function view() {
    const ids = [...model.keys()];
    const rows = ids.map((id) => model.get(id).vector);
    const at = new Map(ids.map((id, i) => [id, i]));
    return { ids, rows, rowOf: (id) => { assert.ok(at.has(id), `hit ${id} not in the model`); return at.get(id); } };
  }

  async function checkSearch(c, q, { k, filter, includeVectors }) {
    const { ids, rows, rowOf } = view();
    const pred = filter ? (i) => matches(model.get(ids[i]).metadata, filter) : () => true;
    const want = bruteForce(metric, q, rows, k, pred);
    const asPredicate = filter && rnd() < 0.15;
    if (process.env.VECLITE_MODEL_TRACE) process.stdout.write(`# search ${js({ q: [...q], k, filter, asPredicate, includeVectors })}\n`);
    const f = asPredicate ? (md) => matches(md, filter) : filter;
    const hits = await c.search(q, { k, ...(filter ? { filter: f } : {}), ...(hnsw ? { ef: Math.max(ef, k) } : {}),
      ...(includeVectors ? { includeVectors: true } : {}) });
    for (const h of hits) {
      const m = model.get(h.id);
      assert.ok(m, `hit ${h.id} is not live in the model; ${where()}`);
      if (filter) assert.ok(matches(m.metadata, filter), `hit ${h.id} ${js(m.metadata)} fails ${js(filter)}; ${where()}`);
      assert.deepEqual(h.metadata, plain(m.metadata), `hit ${h.id} metadata; ${where()}`);
      if (includeVectors) assert.ok(sameVec(h.vector, m.vector), `hit ${h.id} vector; ${where()}`);
    }
    if (!hnsw) {
      if (!asPredicate && want.length > 1 && rnd() < 0.3) {
        // threshold between two oracle scores, well apart: exactly the hits above it
        const r = g.int(want.length - 1);
        const a = scoreOf(metric, want[r].d), b = scoreOf(metric, want[r + 1].d);
        if (a - b > 1e-3) {
          const t = (a + b) / 2;
          const th = await c.search(q, { k, threshold: t, includeMetadata: false, ...(filter ? { filter } : {}) });
          assert.equal(th.length, r + 1, `threshold ${t}: ${th.length} hits, want ${r + 1}; ${where()}`);
          assert.ok(th.every((h) => h.score >= t && h.metadata === undefined), `threshold hits; ${where()}`);
        }
      }
      try {
        assertExact(hits, want, rowOf, metric, q, rows);
      } catch (e) {
        e.message += `\n filter ${js(filter)} k ${k}; ${where()}`;
        throw e;
      }
    } else {
      // every reported distance is exact (scalar: re-ranked with the float32 rows)
      for (const h of hits) {
        const d = dist64(metric, q, model.get(h.id).vector);
        assert.ok(Math.abs(h.distance - d) <= 1e-4 * Math.max(1, Math.abs(d)), `hit ${h.id} distance ${h.distance} vs ${d}; ${where()}`);
      }
      for (let r = 1; r < hits.length; r++) assert.ok(hits[r].distance >= hits[r - 1].distance - 1e-6, `hits out of order; ${where()}`);
      assert.ok(hits.length <= want.length, `more hits than matching rows; ${where()}`);
      if (want.length) {
        // recall by distance: a hit counts when it is no farther than the k-th exact distance
        const kth = want[want.length - 1].d;
        const good = hits.filter((h) => dist64(metric, q, model.get(h.id).vector) <= kth + 1e-6 * Math.max(1, Math.abs(kth))).length;
        recallSum += Math.min(1, good / want.length);
        recallN++;
      }
    }
  }

  async function checkKeyword(c) {
    const w = g.pick(WORDS);
    const filter = rnd() < 0.3 ? g.filter() : undefined;
    const k = 50;
    const hits = await c.search(null, { text: w, k, ...(filter ? { filter } : {}) });
    const holds = (md) => typeof md.txt === 'string' && md.txt.toLowerCase().split(/[^a-z0-9]+/).includes(w);
    // hybrid: every hit live, passing the filter, at its exact distance; textScore > 0 only with the word
    const q = g.vector();
    const hy = await c.search(q, { text: w, k: 10, hybrid: { alpha: rnd() }, ...(filter ? { filter } : {}), ...(hnsw ? { ef } : {}) });
    for (const h of hy) {
      const m = model.get(h.id);
      assert.ok(m, `hybrid hit ${h.id} not live; ${where()}`);
      if (filter) assert.ok(matches(m.metadata, filter), `hybrid hit ${h.id} fails filter; ${where()}`);
      assert.equal(h.textScore > 0, holds(m.metadata), `hybrid hit ${h.id} textScore ${h.textScore} vs ${js(m.metadata.txt)}; ${where()}`);
      const d = dist64(metric, q, m.vector);
      assert.ok(Math.abs(h.distance - d) <= 1e-4 * Math.max(1, Math.abs(d)), `hybrid hit ${h.id} distance; ${where()}`);
    }
    const docs = [...model.entries()].filter(([, m]) => holds(m.metadata) && (!filter || matches(m.metadata, filter)));
    for (const h of hits) {
      const m = model.get(h.id);
      assert.ok(m, `keyword hit ${h.id} not live; ${where()}`);
      assert.ok(holds(m.metadata), `keyword hit ${h.id} ${js(m.metadata.txt)} lacks '${w}'; ${where()}`);
      if (filter) assert.ok(matches(m.metadata, filter), `keyword hit ${h.id} fails filter; ${where()}`);
      assert.ok(h.score > 0 && h.score === h.textScore, `keyword score; ${where()}`);
    }
    for (let r = 1; r < hits.length; r++) assert.ok(hits[r].score <= hits[r - 1].score, `keyword order; ${where()}`);
    if (docs.length <= k) {
      assert.deepEqual(new Set(hits.map((h) => h.id)), new Set(docs.map(([id]) => id)),
        `keyword '${w}' filter ${js(filter)}: hits vs documents; ${where()}`);
    } else assert.equal(hits.length, k);
  }

  async function checkGet(c, id) {
    const got = await c.get(id);
    const m = model.get(id);
    if (!m) { assert.equal(got, null, `get(${id}) of an absent id; ${where()}`); return; }
    assert.ok(got, `get(${id}) null but live in the model; ${where()}`);
    assert.equal(got.id, id);
    assert.ok(sameVec(got.vector, m.vector), `get(${id}) vector; ${where()}`);
    assert.deepEqual(got.metadata, plain(m.metadata), `get(${id}) metadata; ${where()}`);
  }

  async function checkAllIds(c) {
    assert.equal(await c.count(), model.size, `count; ${where()}`);
    const seen = [];
    let after;
    for (;;) {
      const page = await c.ids({ limit: 37, ...(after ? { after } : {}) });
      seen.push(...page.ids);
      if (!page.next) break;
      after = page.next;
    }
    assert.equal(seen.length, model.size, `ids() length; ${where()}`);
    assert.deepEqual(new Set(seen), new Set(model.keys()), `ids() set; ${where()}`);
  }

  /** ids() paged with writes between the pages: a row live throughout appears exactly once. */
  async function idsUnderWrites(c) {
    const start = new Set(model.keys());
    const touched = new Set();
    const everLive = new Set(model.keys());
    const seen = [];
    let after;
    for (;;) {
      const page = await c.ids({ limit: 7, ...(after ? { after } : {}) });
      seen.push(...page.ids);
      if (!page.next) break;
      after = page.next;
      const id = randId();
      touched.add(id);
      if (rnd() < 0.5) {
        const rec = record(id);
        await c.insert(rec);
        put(rec);
        everLive.add(id);
        seen.push(`(insert ${id})`);
      } else {
        await c.delete(id);
        model.delete(id);
        seen.push(`(delete ${id})`);
      }
    }
    const counts = new Map();
    for (const id of seen) if (!(typeof id === 'string' && id.startsWith('('))) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const id of start) {
      if (!touched.has(id)) assert.equal(counts.get(id), 1, `ids() under writes: ${id} seen ${counts.get(id) ?? 0} times; ${where()}`);
    }
    for (const [id, n] of counts) {
      assert.ok(everLive.has(id), `ids() under writes: ${id} never live; ${where()}`);
      // a string id deleted and inserted again between pages is a new row at the end of the
      // order, so it may appear twice (docs/api.md §2: such rows "may or may not appear")
      if (!touched.has(id)) assert.equal(n, 1, `ids() under writes: ${id} seen ${n} times (live at the start: ${start.has(id)}, written between pages: ${touched.has(id)}, pages ${js(seen)}); ${where()}`);
    }
  }

  async function quickCheck(c) {
    await checkAllIds(c);
    for (let t = 0; t < 3; t++) await checkSearch(c, g.vector(), { k: 1 + g.int(12), filter: rnd() < 0.5 ? g.filter() : undefined });
    for (let t = 0; t < 3; t++) await checkGet(c, randId());
    if (text) await checkKeyword(c);
  }

  const record = (id) => {
    const r = { id, vector: g.vector() };
    if (rnd() < 0.9) r.metadata = g.metadata();
    return r;
  };
  const put = (r) => {
    model.set(r.id, { vector: Float32Array.from(r.vector), metadata: r.metadata ?? {} });
    for (const k of Object.keys(r.metadata ?? {})) FIELDS.add(k);
  };

  // an optional bulk load (past the 1,024 rows a quantizer trains on)
  if (bulk) {
    const rows = Array.from({ length: bulk }, (_, i) => record(mkId(i)));
    for (let i = 0; i < rows.length; i += 500) await col.insertBatch(rows.slice(i, i + 500));
    rows.forEach(put);
    log.push(`bulk ${bulk}`);
  }

  let autoRuns = 0;
  const noteAuto = async () => { autoRuns += (await col.status()).autoCompaction?.runs ?? 0; };
  const reopenDb = async () => {
    await noteAuto();
    await db.close();
    db = await createDatabase({ path: dir, ...(workers ? { workers } : {}) });
    col = await db.getCollection(name);
    assert.ok(col, `getCollection after reopen; ${where()}`);
  };

  let maxSize = model.size;
  let reader = null, readerDb = null;
  const closeReader = async () => {
    if (readerDb) await readerDb.close(); else if (reader) await reader.close();
    reader = readerDb = null;
  };
  try {
    for (let step = 0; step < ops; step++) {
      maxSize = Math.max(maxSize, model.size);
      const r = rnd();
      if (r < 0.16) {
        const rec = record(randId());
        log.push(`insert ${rec.id}`);
        if (rnd() < 0.3) await col.insert(rec.id, rec.vector, rec.metadata);
        else await col.insert(rec);
        put(rec);
      } else if (r < 0.26) {
        const n = 1 + g.int(12);
        const batch = Array.from({ length: n }, () => record(randId()));
        if (n > 1 && rnd() < 0.5) batch.push(record(batch[g.int(n)].id)); // a repeated id: the last row wins
        if (rnd() < 0.1) {
          // one bad row: the whole batch is refused and nothing changes (docs/api.md §2)
          const bad = record(randId());
          const how = g.int(4);
          if (how === 0) bad.vector[g.int(DIM)] = NaN;
          else if (how === 1) bad.vector = bad.vector.subarray(1);
          else if (how === 2) bad.metadata = { $x: 1 };
          else bad.extra = 1;
          batch.splice(g.int(batch.length + 1), 0, bad);
          log.push(`insertBatch with a bad row (${how}) [${batch.map((b) => b.id).join(',')}]`);
          await rejectsWith(() => col.insertBatch(batch), 'EINVAL');
          await quickCheck(col);
          continue;
        }
        log.push(`insertBatch [${batch.map((b) => b.id).join(',')}]`);
        const written = await col.insertBatch(batch);
        assert.equal(written, new Set(batch.map((b) => b.id)).size, `insertBatch result; ${where()}`);
        batch.forEach(put);
      } else if (r < 0.36) {
        const id = randId();
        const kind = g.int(4);
        const m = model.get(id);
        const v = kind !== 1 ? g.vector() : undefined;
        const md = kind !== 0 ? (kind === 3 ? g.patch() : g.metadata()) : undefined;
        const merge = kind === 3;
        log.push(`update ${id} ${kind === 0 ? 'vector' : kind === 1 ? 'metadata' : kind === 2 ? 'both' : 'merge'}`);
        const ok = kind === 2 && rnd() < 0.3 ? await col.update(id, v, md)
          : await col.update(id, { ...(v ? { vector: v } : {}), ...(md ? { metadata: md } : {}) }, merge ? { merge: true } : undefined);
        assert.equal(ok, !!m, `update(${id}) result; ${where()}`);
        if (m) {
          if (v) m.vector = Float32Array.from(v);
          for (const [key, val] of Object.entries(md ?? {})) if (val !== undefined && val !== null) FIELDS.add(key);
          if (merge) {
            const nm = { ...m.metadata };
            for (const [key, val] of Object.entries(md)) {
              if (val === undefined) continue;
              if (val === null) delete nm[key]; else nm[key] = val;
            }
            m.metadata = nm;
          } else if (md) m.metadata = md;
        }
      } else if (r < 0.44) {
        if (rnd() < 0.6) {
          const id = randId();
          log.push(`delete ${id}`);
          assert.equal(await col.delete(id), model.has(id), `delete(${id}); ${where()}`);
          model.delete(id);
        } else {
          const ids = Array.from({ length: 1 + g.int(5) }, randId);
          log.push(`delete [${ids.join(',')}]`);
          const live = new Set(ids.filter((id) => model.has(id)));
          assert.equal(await col.delete(ids), live.size, `delete(ids); ${where()}`);
          for (const id of ids) model.delete(id);
        }
      } else if (r < 0.462 && !bulk && rnd() < 0.3) {
        log.push('clear');
        await col.clear();
        model.clear();
        await quickCheck(col);
      } else if (r < 0.47) {
        const lo = g.int(20) - 10;
        const f = { $and: [g.filter(), { c: g.int(5) }, { x: { $range: [lo, lo + 1] } }] }; // selective: the collection stays populated
        log.push(`deleteWhere ${js(f)}`);
        const gone = [...model.entries()].filter(([, m]) => matches(m.metadata, f)).map(([id]) => id);
        assert.equal(await col.deleteWhere(f), gone.length, `deleteWhere ${js(f)}; ${where()}`);
        for (const id of gone) model.delete(id);
      } else if (r < 0.64) {
        const filter = rnd() < 0.5 ? g.filter() : undefined;
        log.push(`search ${js(filter ?? null)}`);
        await checkSearch(col, g.vector(), { k: 1 + g.int(rnd() < 0.2 ? 40 : 12), filter, includeVectors: rnd() < 0.2 });
      } else if (r < 0.67) {
        const qs = [g.vector(), g.vector()];
        const filter = rnd() < 0.5 ? g.filter() : undefined;
        log.push(`searchBatch ${js(filter ?? null)}`);
        const res = await col.searchBatch(qs, { k: 5, ...(filter ? { filter } : {}), ...(hnsw ? { ef } : {}) });
        assert.equal(res.length, 2);
        const { ids, rows, rowOf } = view();
        const pred = filter ? (i) => matches(model.get(ids[i]).metadata, filter) : () => true;
        for (let t = 0; t < 2; t++) {
          if (!hnsw) assertExact(res[t], bruteForce(metric, qs[t], rows, 5, pred), rowOf, metric, qs[t], rows);
          else for (const h of res[t]) assert.ok(model.has(h.id) && pred(rowOf(h.id)), `searchBatch hit; ${where()}`);
        }
      } else if (r < 0.73) {
        log.push('get');
        await checkGet(col, randId());
        if (rnd() < 0.3) {
          const ids = Array.from({ length: 1 + g.int(4) }, randId);
          const many = await col.getMany(ids);
          assert.equal(many.length, ids.length);
          ids.forEach((id, i) => {
            const m = model.get(id);
            if (!m) assert.equal(many[i], null, `getMany ${id}; ${where()}`);
            else {
              assert.ok(many[i] && sameVec(many[i].vector, m.vector), `getMany ${id} vector; ${where()}`);
              assert.deepEqual(many[i].metadata, plain(m.metadata), `getMany ${id} metadata; ${where()}`);
            }
          });
        }
      } else if (r < 0.76) {
        if (rnd() < 0.3) {
          log.push('ids() under writes');
          await idsUnderWrites(col);
        } else {
          log.push('count/ids');
        }
        await checkAllIds(col);
      } else if (r < 0.79 && text) {
        log.push('keyword');
        await checkKeyword(col);
      } else if (r < 0.82 && dim < 64) { // with 96 dimensions the automatic compaction runs instead
        log.push('compact');
        await col.compact();
        await quickCheck(col);
      } else if (r < 0.86) {
        if (workers || rnd() < 0.4) {
          log.push('reopen (createDatabase)');
          await reopenDb();
        } else {
          log.push('reopen (openCollection)');
          await noteAuto();
          await db.close();
          db = null;
          col = await openCollection(file, hnsw ? { ef } : {});
        }
        await quickCheck(col);
        if (db === null) { // back to a database for the next steps
          await noteAuto();
          await col.close();
          db = await createDatabase({ path: dir, ...(workers ? { workers } : {}) });
          col = await db.getCollection(name);
        }
      } else if (r < 0.9) {
        // a read-only reader beside the writer, kept open across later steps (writes, compactions,
        // the writer's reopens) and brought up to date by refresh()
        if (!reader) {
          if (rnd() < 0.5) {
            log.push('reader: openCollection readOnly');
            reader = await openCollection(file, { readOnly: true, ...(hnsw ? { ef } : {}) });
          } else {
            log.push('reader: createDatabase readOnly');
            readerDb = await createDatabase({ path: dir, readOnly: true });
            reader = await readerDb.getCollection(name);
          }
          await quickCheck(reader);
          const rec = record(randId());
          await col.insert(rec);
          put(rec);
          const id = randId();
          await col.delete(id);
          model.delete(id);
          log.push(`  (insert ${rec.id}, delete ${id}, refresh)`);
          await reader.refresh();
          await quickCheck(reader);
        } else if (rnd() < 0.75) {
          log.push('reader: refresh');
          const rr = await reader.refresh();
          if (process.env.VECLITE_MODEL_TRACE) log.push(`  refreshed ${js(rr)}`);
          await quickCheck(reader);
        } else {
          log.push('reader: close');
          await closeReader();
        }
      } else if (r < 0.93) {
        log.push('export -> openCollection(bytes)');
        const bytes = await col.export();
        const mem = await openCollection(bytes, hnsw ? { ef } : {});
        try {
          await quickCheck(mem);
          // writes to the copy change only the copy
          const rec = record(randId());
          await mem.insert(rec);
        } finally {
          await mem.close();
        }
        await checkGet(col, randId());
      } else if (r < 0.95) {
        // a burst of writes sent without waiting: they run one at a time, in order
        const n = 2 + g.int(6);
        const calls = [];
        const desc = [];
        for (let t = 0; t < n; t++) {
          const id = randId();
          const kind = g.int(3);
          if (kind === 0) {
            const rec = record(id);
            calls.push(col.insert(rec));
            put(rec);
            desc.push(`insert ${id}`);
          } else if (kind === 1) {
            const v = g.vector();
            const live = model.has(id);
            calls.push(col.update(id, { vector: v }).then((ok) => assert.equal(ok, live, `burst update ${id}; ${where()}`)));
            if (live) model.get(id).vector = Float32Array.from(v);
            desc.push(`update ${id}`);
          } else {
            const live = model.has(id);
            calls.push(col.delete(id).then((ok) => assert.equal(ok, live, `burst delete ${id}; ${where()}`)));
            model.delete(id);
            desc.push(`delete ${id}`);
          }
        }
        log.push(`burst [${desc.join(', ')}]`);
        await Promise.all(calls);
        await quickCheck(col);
      } else {
        log.push('search (exact check)');
        const q = g.vector();
        await checkSearch(col, q, { k: 10 });
        if (!hnsw && !quantization) {
          // mmr with lambda 1 is the plain search (docs/api.md §4)
          const filter = rnd() < 0.5 ? g.filter() : undefined;
          const m = await col.search(q, { k: 6, mmr: { lambda: 1 }, ...(filter ? { filter } : {}) });
          const { ids, rows, rowOf } = view();
          const pred = filter ? (i) => matches(model.get(ids[i]).metadata, filter) : () => true;
          assertExact(m, bruteForce(metric, q, rows, 6, pred), rowOf, metric, q, rows);
        }
      }
    }
    // a final reopen sees everything
    log.push('final reopen');
    await reopenDb();
    await quickCheck(col);
    for (const id of [...model.keys()].slice(0, 40)) await checkGet(col, id);
    if (process.env.VECLITE_MODEL_DEBUG) {
      const st = await col.status();
      console.log(`seed ${seed}: ${model.size} rows, automatic compactions ${autoRuns + st.autoCompaction.runs}, quantization ${js((await col.stats()).quantization)}`);
    }
    if (expectTrained) assert.ok((await col.stats()).quantization.trained, `the run trained the quantizer (at most ${maxSize} rows)`);
    if (reader) {
      log.push('reader: final refresh');
      await reader.refresh();
      await quickCheck(reader);
    }
    const v = await col.verify();
    assert.ok(v.ok, `verify: ${js(v.problems)}; ${where()}`);
  } catch (e) {
    if (!String(e.message).includes('after ops:')) e.message += `\n at step: ${where()}`;
    throw e;
  } finally {
    await closeReader();
    if (db) await db.close(); else await col.close();
  }
  if (hnsw && recallN) {
    const mean = recallSum / recallN;
    assert.ok(mean >= 0.9, `mean recall@k ${mean.toFixed(3)} over ${recallN} searches; seed ${seed}`);
  }
}

// the flat variants run SEEDS seeds, the others SEEDS - 1 (at least one)
const BASE_SEED = Number(process.env.VECLITE_MODEL_SEED_BASE) || 0;
const seeds = (base, n = SEEDS) => Array.from({ length: Math.max(1, n) }, (_, i) => BASE_SEED + base + i);
const variants = [
  ['flat, numeric ids, euclidean', 1, SEEDS, {}],
  ['flat, string ids, cosine, text field', 101, SEEDS, { idType: 'string', metric: 'cosine', text: true }],
  ['hnsw, numeric ids, cosine, text field', 201, SEEDS - 1, { index: 'hnsw', metric: 'cosine', text: true }],
  ['hnsw, string ids, euclidean', 301, SEEDS - 1, { index: 'hnsw', idType: 'string' }],
  ['hnsw + scalar quantization, bulk past the training size', 401, SEEDS - 1,
    { index: 'hnsw', quantization: 'scalar', bulk: 1100, ops: Math.ceil(OPS / 2) }],
  ['flat, worker session (workers: 1)', 501, SEEDS - 1, { workers: 1, text: true }],
  ['flat, dotProduct, bigint ids, 96 dimensions (automatic compaction)', 601, SEEDS - 1,
    { metric: 'dotProduct', bigIds: true, dim: 96 }],
  ['hnsw + scalar quantization, trained during the run', 701, SEEDS - 1,
    { index: 'hnsw', quantization: 'scalar', bulk: 1000, idSpace: 3000, ops: Math.ceil(OPS / 2), text: true, expectTrained: true }],
  ['hnsw + scalar quantization, worker session', 801, SEEDS - 1,
    { index: 'hnsw', quantization: 'scalar', bulk: 1100, ops: Math.ceil(OPS / 3), workers: 1 }],
];
for (const [title, base, n, opts] of variants) {
  for (const seed of seeds(base, n)) test(`model: ${title}, seed ${seed}`, async () => run({ seed, ...opts }));
}
