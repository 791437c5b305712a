// tests/js/text.test.js — keyword and hybrid search (docs/api.md §4 "text"): BM25 scores equal an
// independent BM25 written here (its own tokenizer); the fused ranking equals a brute-force
// fusion oracle (f64 vector ranks + oracle BM25 ranks, weighted reciprocal-rank fusion) on a flat
// index, with high recall on HNSW; filters apply inside both rankings; writes (update, merge,
// delete, clear) are reflected; the text field persists across reopen and @ruvector/rvf-node
// reads every row of such a file and appends to it; the keyword index stored in a TEXT segment
// gives a reopen the writer's answers bit for bit, a damaged one is rebuilt (the same answers,
// verify() names it), and rvf-node keeps the segment through its appends and compaction; bad
// input is EINVAL; a leading U+FEFF in a value, key, string id or the field name is kept.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createDatabase, openCollection, recoverCollection } from '../../web/index.js';
import { BASE, QUERIES, DIM, dist64, rejectsWith, mulberry32 } from './helpers.js';

const { RvfDatabase } = createRequire(import.meta.url)('@ruvector/rvf-node');
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-text-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

// ---- the oracle: its own tokenizer and BM25 -------------------------------------------------------

/** Separators (docs/api.md §4): ASCII but letters and digits, and Unicode punctuation/space blocks. */
function isSep(c) {
  if (c < 0x80) return !/[A-Za-z0-9]/.test(String.fromCharCode(c));
  const ranges = [[0x80, 0xBF], [0xD7, 0xD7], [0xF7, 0xF7], [0x2000, 0x206F], [0x2E00, 0x2E7F], [0x3000, 0x3003],
    [0x3008, 0x3011], [0x3014, 0x301F], [0xFE10, 0xFE1F], [0xFE30, 0xFE4F], [0xFEFF, 0xFEFF], [0xFF01, 0xFF0F],
    [0xFF1A, 0xFF20], [0xFF3B, 0xFF40], [0xFF5B, 0xFF65]];
  if (c === 0xAA || c === 0xB5 || c === 0xBA) return false;
  return ranges.some(([a, b]) => c >= a && c <= b);
}

/** Tokens: runs of non-separators; ASCII, Latin-1, basic Greek and Cyrillic capitals lowercased
 * (by String.prototype.toLowerCase, an independent table); <= 64 UTF-8 bytes. */
function tokens(s) {
  const out = [];
  let cur = '';
  const flush = () => {
    if (cur && Buffer.byteLength(cur, 'utf8') <= 64) out.push(cur);
    cur = '';
  };
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (isSep(c)) { flush(); continue; }
    const folds = (c >= 65 && c <= 90) || (c >= 0xC0 && c <= 0xDE && c !== 0xD7) || (c >= 0x391 && c <= 0x3A9 && c !== 0x3A2) ||
      (c >= 0x400 && c <= 0x42F);
    cur += folds ? ch.toLowerCase() : ch;
  }
  flush();
  return out;
}

/** BM25 (k1 1.2, b 0.75) of every document for the query; docs: Map id -> text (strings only). */
function bm25(docs, query) {
  const toks = new Map();
  let total = 0;
  for (const [id, text] of docs) {
    const t = tokens(text);
    if (t.length) { toks.set(id, t); total += t.length; }
  }
  const N = toks.size, avgdl = total / N;
  const q = [...new Set(tokens(query))];
  const df = new Map(q.map((w) => [w, [...toks.values()].filter((t) => t.includes(w)).length]));
  const scores = new Map();
  for (const [id, t] of toks) {
    let s = 0;
    for (const w of q) {
      const tf = t.filter((x) => x === w).length;
      if (!tf) continue;
      const idf = Math.log(1 + (N - df.get(w) + 0.5) / (df.get(w) + 0.5));
      s += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * t.length / avgdl));
    }
    if (s > 0) scores.set(id, s);
  }
  return [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]); // [[id, score]] best first
}

/** Weighted RRF of the two rankings' first fetchK, best first, ties by id: [[id, fused]]. */
function fuse(vecIds, textIds, fetchK, alpha) {
  const a = Math.fround(alpha), f = new Map();
  vecIds.slice(0, fetchK).forEach((id, r) => f.set(id, a / (60 + r + 1)));
  textIds.slice(0, fetchK).forEach((id, r) => f.set(id, (f.get(id) ?? 0) + (1 - a) / (60 + r + 1)));
  return [...f].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
}

const VOCAB = ['apple', 'Pie', 'car', 'ocean', 'wave', 'engine', 'red', 'blue', 'green', 'tart', 'Café', 'naïve', 'x9', 'OCEAN',
  '“Apple”', 'wave—engine', 'CAFÉ', 'ΩΜΕΓΑ', 'ωμεγα', 'ЖУК', 'жук', 'Ёлка', '日本、語', '🍎pie', 'red\u00a0car', '«ocean»', '５！'];
function bodyOf(rnd) {
  const n = 1 + Math.floor(rnd() * 7);
  const w = [];
  for (let i = 0; i < n; i++) w.push(VOCAB[Math.floor(rnd() * VOCAB.length)]);
  return w.join(rnd() < 0.5 ? ' ' : ', ');
}

async function corpus(n, { metric = 'cosine', index = { type: 'flat' }, db } = {}) {
  db ??= await createDatabase();
  const c = await db.createCollection('t', { dimension: DIM, metric, index, text: { field: 'body' } });
  const rnd = mulberry32(11);
  const rows = [], docs = new Map(), group = new Map();
  for (let i = 0; i < n; i++) {
    const metadata = { g: i % 4 };
    // every 10th row has no string body: missing, a number, or JSON
    if (i % 10 === 3) metadata.body = 42;
    else if (i % 10 === 7) metadata.body = { text: 'apple apple' };
    else if (i % 10 !== 5) { metadata.body = bodyOf(rnd); docs.set(i, metadata.body); }
    group.set(i, i % 4);
    rows.push({ id: i, vector: BASE[i], metadata });
  }
  await c.insertBatch(rows);
  return { db, c, docs, group };
}

function close(a, b, rel = 2e-6) { return Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)); }

test('keyword search: every BM25 score and the order equal an independent BM25 (folding, Unicode separators, non-strings ignored)', async () => {
  const { db, c, docs } = await corpus(300);
  for (const q of ['apple pie', 'OCEAN wave', 'Café', 'naïve engine x9', 'red, RED; red!', 'apple zebra', 'tart',
    '„APPLE“ café', 'Ωμέγα ωμεγα', 'жук ЁЛКА', '語', '🍎PIE', 'car…ocean', 'ｘ５']) {
    const want = bm25(docs, q);
    const got = await c.search(null, { text: q, k: 1000 });
    assert.equal(got.length, want.length, q);
    for (let i = 0; i < got.length; i++) {
      assert.ok(close(got[i].score, want[i][1]), `${q} #${i}: ${got[i].score} vs ${want[i][1]}`);
      assert.equal(got[i].textScore, got[i].score);
      assert.equal(got[i].distance, undefined);
      if (got[i].id !== want[i][0]) assert.ok(close(want.find((w) => w[0] === got[i].id)[1], want[i][1], 1e-9), `${q} #${i}: order`);
    }
    assert.ok(got.every((h) => docs.has(h.id)), 'only rows whose body is a string');
  }
  // k, threshold, filter inside the ranking
  const want = bm25(docs, 'apple').filter(([id]) => id % 4 === 2);
  const got = await c.search(null, { text: 'apple', k: 5, filter: { g: 2 } });
  assert.deepEqual(got.map((h) => h.id), want.slice(0, 5).map((w) => w[0]));
  assert.ok(got.every((h) => h.metadata.g === 2));
  assert.deepEqual(await c.search(null, { text: 'zebra' }), []);
  await db.close();
});

test('hybrid search equals a brute-force fusion oracle (flat; every metric; alpha 0, 0.3, 0.5, 1; filtered)', async () => {
  for (const metric of ['cosine', 'euclidean', 'dotProduct']) {
    const { db, c, docs } = await corpus(500, { metric });
    let checked = 0;
    for (const [qi, qv] of QUERIES.slice(0, 6).entries()) {
      const text = ['apple pie', 'ocean', 'red car engine', 'café naïve', 'green wave', 'tart x9'][qi];
      for (const alpha of [0, 0.3, 0.5, 1]) {
        for (const filter of [null, { g: { $in: [1, 3] } }]) {
          const keep = (id) => !filter || id % 4 === 1 || id % 4 === 3;
          const k = 10, fetchK = 40;
          const vec = [...Array(500).keys()].filter(keep).map((i) => [i, dist64(metric, qv, BASE[i])])
            .sort((a, b) => a[1] - b[1] || a[0] - b[0]).map((x) => x[0]);
          // corpus statistics (N, df, avgdl) cover every row; the filter only removes candidates
          const scored = bm25(docs, text).filter(([id]) => keep(id));
          const txt = scored.map((x) => x[0]);
          const want = fuse(vec, txt, fetchK, alpha).slice(0, k);
          const got = await c.search(qv, { k, text, hybrid: { alpha, fetchK }, ...(filter ? { filter } : {}) });
          assert.deepEqual(got.map((h) => h.id), want.map((w) => w[0]), `${metric} q${qi} alpha ${alpha} ${filter ? 'filtered' : ''}`);
          for (const [i, h] of got.entries()) {
            assert.ok(close(h.score, want[i][1], 1e-6));
            assert.ok(Math.abs(h.distance - dist64(metric, qv, BASE[h.id])) < 1e-4);
            const b = scored.find((x) => x[0] === h.id);
            assert.ok(close(h.textScore, b ? b[1] : 0), `textScore of ${h.id}`);
            assert.ok(keep(h.id));
          }
          checked++;
        }
      }
    }
    assert.equal(checked, 48);
    await db.close();
  }
});

test('hybrid on HNSW: recall@10 of the fused ranking against the oracle >= 0.9', async () => {
  const { db, c, docs } = await corpus(1500, { metric: 'euclidean', index: { type: 'hnsw' } });
  let hit = 0, total = 0;
  for (const [qi, qv] of QUERIES.slice(0, 20).entries()) {
    const text = VOCAB[qi % VOCAB.length];
    const vec = [...Array(1500).keys()].map((i) => [i, dist64('euclidean', qv, BASE[i])]).sort((a, b) => a[1] - b[1]).map((x) => x[0]);
    const want = new Set(fuse(vec, bm25(docs, text).map((x) => x[0]), 40, 0.5).slice(0, 10).map((w) => w[0]));
    const got = await c.search(qv, { k: 10, text, hybrid: { fetchK: 40 }, ef: 128 });
    hit += got.filter((h) => want.has(h.id)).length;
    total += want.size;
  }
  assert.ok(hit / total >= 0.9, `recall ${hit / total}`);
  await db.close();
});

test('writes are reflected: update (replace and merge), delete, deleteWhere, clear', async () => {
  const { db, c, docs } = await corpus(120);
  assert.deepEqual(await c.search(null, { text: 'zebra' }), []);
  await c.update(1, { metadata: { body: 'zebra zebra', g: 1 } });
  await c.update(2, { metadata: { body: 'a zebra here' } }, { merge: true });
  docs.set(1, 'zebra zebra');
  docs.set(2, 'a zebra here');
  assert.deepEqual((await c.search(null, { text: 'Zebra' })).map((h) => h.id), bm25(docs, 'zebra').map((x) => x[0]));
  await c.delete(1);
  docs.delete(1);
  const after1 = await c.search(null, { text: 'zebra apple', k: 200 });
  const want = bm25(docs, 'zebra apple');
  assert.deepEqual(after1.map((h) => h.id), want.map((x) => x[0]));
  assert.ok(after1.every((h, i) => close(h.score, want[i][1])));
  await c.deleteWhere({ g: 2 }); // row 2 is in group 2
  for (const id of [...docs.keys()]) if (id % 4 === 2) docs.delete(id);
  assert.deepEqual((await c.search(null, { text: 'zebra apple', k: 200 })).map((h) => h.id), bm25(docs, 'zebra apple').map((x) => x[0]));
  await c.clear();
  assert.deepEqual(await c.search(null, { text: 'apple' }), []);
  await c.insert({ id: 5, vector: BASE[5], metadata: { body: 'apple' } });
  assert.deepEqual((await c.search(null, { text: 'apple' })).map((h) => h.id), [5]);
  await db.close();
});

test('the text field persists: reopen (database and openCollection, read-only too), compact, derive; rvf-node reads every row', async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'p-'));
  const db = await createDatabase({ path: dir });
  const { c, docs } = await corpus(400, { db, index: { type: 'hnsw' } });
  await c.delete([0, 1, 2]);
  docs.delete(0); docs.delete(1); docs.delete(2);
  const before = await c.search(QUERIES[0], { text: 'apple ocean', k: 10 });
  const kw = await c.search(null, { text: 'apple ocean', k: 50 });
  assert.equal((await c.stats()).text, 'body');
  await db.close();
  const file = path.join(dir, 't.rvf');
  // rvf-node: the extra file-metadata key is skipped; every live row is read
  const rdb = RvfDatabase.openReadonly(file);
  try {
    assert.equal(rdb.status().totalVectors, 397);
    const all = rdb.query(BASE[10], 397, { efSearch: 500 });
    assert.deepEqual(all.map((h) => h.id).sort((a, b) => a - b), [...Array(400).keys()].slice(3));
  } finally { rdb.close(); }
  const db2 = await createDatabase({ path: dir });
  const c2 = await db2.getCollection('t');
  assert.equal((await c2.stats()).text, 'body');
  const kw2 = await c2.search(null, { text: 'apple ocean', k: 50 });
  const want = bm25(docs, 'apple ocean');
  assert.deepEqual(kw2.map((h) => h.id), want.slice(0, 50).map((x) => x[0]));
  assert.deepEqual(kw2, kw);
  assert.deepEqual(await c2.search(QUERIES[0], { text: 'apple ocean', k: 10 }), before);
  await c2.compact();
  assert.deepEqual((await c2.search(null, { text: 'apple ocean', k: 50 })).map((h) => h.id), kw2.map((h) => h.id));
  const child = await c2.derive(path.join(dir, 'child.rvf'));
  await child.insert({ id: 1, vector: BASE[1], metadata: { body: 'zebra' } });
  assert.deepEqual((await child.search(null, { text: 'zebra' })).map((h) => h.id), [1]);
  await child.close();
  await db2.close();
  const ro = await openCollection(file, { readOnly: true });
  assert.deepEqual((await ro.search(null, { text: 'apple ocean', k: 50 })).map((h) => h.id), kw2.map((h) => h.id));
  await ro.close();
  // create with another text field, or none, is EINVAL; the same one opens
  await rejectsWith(() => openCollection(file, { create: { dimension: DIM, index: { type: 'hnsw' }, text: { field: 'title' } } }), 'EINVAL', /text field 'body'/);
  await rejectsWith(() => openCollection(file, { create: { dimension: DIM, index: { type: 'hnsw' } } }), 'EINVAL', /text field 'body'.*none/);
  const same = await openCollection(file, { create: { dimension: DIM, index: { type: 'hnsw' }, text: { field: 'body' } } });
  assert.equal(await same.count(), 397);
  await same.close();
  // rvf-node appends rows (no metadata) to the file: veclite keeps its text field and documents
  const w = RvfDatabase.open(file);
  try { w.ingestBatch(Float32Array.from([...BASE[500], ...BASE[501]]), [500, 501]); } finally { w.close(); }
  const back = await openCollection(file, { readOnly: true });
  assert.equal(await back.count(), 399);
  assert.equal((await back.stats()).text, 'body');
  assert.deepEqual((await back.search(null, { text: 'apple ocean', k: 50 })).map((h) => h.id), kw2.map((h) => h.id));
  await back.close();
});

test('bad input: EINVAL with a clear message, nothing changed', async () => {
  const { db, c } = await corpus(40);
  const q = QUERIES[0];
  for (const [o, re] of [
    [{ text: '' }, /no searchable token/], [{ text: ' ,;- ' }, /no searchable token/], [{ text: 5 }, /text must be a string/],
    [{ hybrid: { alpha: 0.5 } }, /hybrid needs text/], [{ text: 'a', hybrid: { alpha: 2 } }, /alpha/],
    [{ text: 'a', hybrid: { alpha: NaN } }, /alpha/], [{ text: 'a', hybrid: { fetchK: 3 } }, /fetchK/],
    [{ text: 'a', hybrid: { other: 1 } }, /hybrid/], [{ text: 'a', mmr: {} }, /text and mmr/],
    [{ text: 'a', filter: () => true }, /predicate/], [{ text: 'x'.repeat(70000) }, /65536/],
    [{ text: 'apple\uD800' }, /lone UTF-16 surrogate/], [{ text: '\uDC00 pie', hybrid: {} }, /lone UTF-16 surrogate/],
  ]) {
    await rejectsWith(() => c.search(q, o), 'EINVAL', re);
  }
  await rejectsWith(() => c.search(null, { text: '' }), 'EINVAL', /no searchable token/);
  await rejectsWith(() => c.search(null, { text: 'apple', hybrid: { alpha: 0.5 } }), 'EINVAL', /give a query vector/);
  await rejectsWith(() => c.searchBatch([q], { text: 'apple' }), 'EINVAL', /searchBatch does not take text/);
  await rejectsWith(() => c.search(null, {}), 'EINVAL');
  const plain = await db.createCollection('plain', { dimension: DIM });
  await plain.insert({ id: 1, vector: q, metadata: { body: 'apple' } });
  await rejectsWith(() => plain.search(null, { text: 'apple' }), 'EINVAL', /has no text field/);
  await rejectsWith(() => plain.search(q, { text: 'apple' }), 'EINVAL', /has no text field/);
  for (const text of [{ field: '' }, { field: '$id' }, { field: 3 }, 'body', { field: 'a', x: 1 }]) {
    await rejectsWith(() => db.createCollection(`bad${Math.random()}`.replace('.', ''), { dimension: DIM, text }), 'EINVAL', /text/);
  }
  assert.equal(await c.count(), 40);
  await db.close();
});

test('a worker pool (writer + replicas, memory and file): keyword, hybrid and mmr searches equal the in-thread answers', async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'w-'));
  const { db: one, c: ref } = await corpus(300);
  for (const cfg of [{ workers: 3 }, { workers: 2, path: dir }]) {
    const db = await createDatabase(cfg);
    const { c } = await corpus(300, { db });
    for (let i = 0; i < 4; i++) { // round-robin: each session answers
      assert.deepEqual(await c.search(null, { text: 'apple tart', k: 7 }), await ref.search(null, { text: 'apple tart', k: 7 }));
      assert.deepEqual(await c.search(QUERIES[i], { text: 'ocean', hybrid: { alpha: 0.4 }, k: 7 }),
        await ref.search(QUERIES[i], { text: 'ocean', hybrid: { alpha: 0.4 }, k: 7 }));
      assert.deepEqual(await c.search(QUERIES[i], { mmr: { lambda: 0.3 }, k: 7 }), await ref.search(QUERIES[i], { mmr: { lambda: 0.3 }, k: 7 }));
    }
    await db.close();
  }
  await one.close();
});

test('a read-only follower sees keyword changes after refresh(); verify() is clean; recoverCollection keeps the text field', async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'r-'));
  const file = path.join(dir, 'a.rvf');
  const w = await openCollection(file, { create: { dimension: 3, text: { field: 'body' } } });
  await w.insert({ id: 1, vector: [1, 0, 0], metadata: { body: 'apple pie' } });
  const r = await openCollection(file, { readOnly: true });
  assert.deepEqual(await r.search(null, { text: 'zebra' }), []);
  await w.insert({ id: 2, vector: [0, 1, 0], metadata: { body: 'zebra' } });
  await w.update(1, { metadata: { body: 'zebra apple' } });
  assert.equal((await r.refresh()).changed, true);
  const docs = new Map([[1, 'zebra apple'], [2, 'zebra']]);
  const got = await r.search(null, { text: 'zebra' });
  const want = bm25(docs, 'zebra');
  assert.deepEqual(got.map((h) => h.id), want.map((x) => x[0]));
  assert.ok(got.every((h, i) => close(h.score, want[i][1])));
  assert.equal((await r.verify()).ok, true);
  await r.close();
  await w.close();
  await recoverCollection(file, path.join(dir, 'b.rvf'));
  const b = await openCollection(path.join(dir, 'b.rvf'), { readOnly: true });
  assert.equal((await b.stats()).text, 'body');
  assert.deepEqual((await b.search(null, { text: 'zebra' })).map((h) => h.id), want.map((x) => x[0]));
  await b.close();
});

/** The keyword answers of queries (k 1000), each checked against the oracle BM25 of docs. */
async function answers(c, docs) {
  const out = [];
  for (const q of ['apple pie', 'OCEAN wave', 'Café', 'naïve engine x9', 'tart', 'жук ЁЛКА', '語', 'red car', 'green', 'zebra']) {
    const got = await c.search(null, { text: q, k: 1000 });
    const want = bm25(docs, q);
    assert.equal(got.length, want.length, q);
    for (let i = 0; i < got.length; i++) assert.ok(close(got[i].score, want[i][1]), `${q} #${i}: ${got[i].score} vs ${want[i][1]}`);
    out.push(got.map((h) => [h.id, h.score]));
  }
  return out;
}

/** The file's bytes with one payload byte of segment seg changed and its content hash fixed. */
function forged(file, seg, at) {
  const b = Buffer.from(fs.readFileSync(file));
  b[seg.offset + 64 + at] ^= 0x20;
  const c = zlib.crc32(b.subarray(seg.offset + 64, seg.offset + 64 + seg.length));
  const rotl = (x, r) => ((x << r) | (x >>> (32 - r))) >>> 0;
  for (let k = 0; k < 4; k++) b.writeUInt32LE(rotl(c, 8 * k), seg.offset + 0x28 + 4 * k);
  return b;
}

test('the keyword index is kept in a TEXT segment (0x3E): a reopen answers exactly as a rebuild; rvf-node reads, appends to and compacts such a file', async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'seg-'));
  const db = await createDatabase({ path: dir });
  const { c, docs } = await corpus(600, { db, index: { type: 'hnsw' } });
  await c.delete([0, 1, 2, 40, 41]);
  for (const id of [0, 1, 2, 40, 41]) docs.delete(id);
  await c.update(8, { metadata: { body: 'zebra apple zebra', g: 0 } });
  docs.set(8, 'zebra apple zebra');
  // one META snapshot listed (rvf-node 0.2.3's compaction below relists every META the file ever
  // held; tests/js/interop.test.js covers that with a chain of deltas)
  await c.compact();
  const live = await answers(c, docs);
  await db.close();
  const file = path.join(dir, 't.rvf');
  const segsOf = async (f) => { const r = await openCollection(f, { readOnly: true }); const s = await r.segments(); await r.close(); return s; };
  let segs = await segsOf(file);
  const text = segs.filter((s) => s.typeName === 'text');
  assert.equal(text.length, 1, 'close wrote one TEXT segment');
  assert.equal(text[0].type, 0x3E);
  assert.ok(segs.every((s) => s.typeName !== 'meta' || s.offset < text[0].offset), 'after every META');
  // adopted at open: the answers equal the writer's, bit for bit (and the oracle)
  const ro = await openCollection(file, { readOnly: true });
  assert.deepEqual(await answers(ro, docs), live);
  assert.equal((await ro.verify()).ok, true);
  await ro.close();
  // a damaged TEXT (magic byte, content hash fixed): ignored, the index rebuilt, verify() says so
  const bad = path.join(dir, 'bad.rvf');
  fs.writeFileSync(bad, forged(file, text[0], 0));
  const rb = await openCollection(bad, { readOnly: true });
  assert.deepEqual(await answers(rb, docs), live);
  const v = await rb.verify();
  assert.ok(v.problems.some((p) => /TEXT not used: not a TEXT payload/.test(p)), JSON.stringify(v.problems));
  await rb.close();
  // rvf-node: opens the file, reads every live row, appends rows (the TEXT stays listed: now stale)
  let r = RvfDatabase.openReadonly(file);
  try {
    assert.equal(r.status().totalVectors, 595);
    const all = r.query(BASE[10], 595, { efSearch: 800 });
    assert.deepEqual(all.map((h) => h.id).sort((a, b) => a - b), [...Array(600).keys()].filter((i) => ![0, 1, 2, 40, 41].includes(i)));
  } finally { r.close(); }
  r = RvfDatabase.open(file);
  try { r.ingestBatch(Float32Array.from([...BASE[700], ...BASE[701]]), [700, 701]); } finally { r.close(); }
  segs = await segsOf(file);
  assert.ok(segs.some((s) => s.typeName === 'text' && s.offset === text[0].offset), 'rvf-node kept the TEXT listed');
  const after = await openCollection(file, { readOnly: true });
  assert.equal(await after.count(), 597);
  assert.deepEqual(await answers(after, docs), live);          // rows after the TEXT: rebuilt, same answers
  await after.close();
  // rvf-node deletes rows and compacts (copying the META and TEXT segments after the rows)
  r = RvfDatabase.open(file);
  try { r.delete([3, 4]); r.compact(); } finally { r.close(); }
  docs.delete(3); docs.delete(4);
  const cmp = await openCollection(file, { readOnly: true });
  await answers(cmp, docs);                                    // deleted ids skipped: the oracle holds
  assert.equal(await cmp.count(), 595);
  await cmp.close();
  // veclite writes many records: close replaces the TEXT (the old one unlisted), a reopen adopts it
  const textAt = async () => (await segsOf(file)).filter((s) => s.typeName === 'text').map((s) => s.offset);
  const before = await textAt();
  let w = await openCollection(file);
  for (let id = 100; id < 160; id++) {
    await w.update(id, { metadata: { body: `zebra ${VOCAB[id % VOCAB.length]} tart`, g: id % 4 } });
    docs.set(id, `zebra ${VOCAB[id % VOCAB.length]} tart`);
  }
  const live2 = await answers(w, docs);
  await w.close();
  segs = await segsOf(file);
  const t2 = segs.filter((s) => s.typeName === 'text');
  assert.equal(t2.length, 1);
  assert.notDeepEqual(t2.map((s) => s.offset), before);
  assert.ok(segs.every((s) => (s.typeName !== 'meta' && s.typeName !== 'vec') || s.offset < t2[0].offset));
  const again = await openCollection(file, { readOnly: true });
  assert.deepEqual(await answers(again, docs), live2);
  await again.close();
  // one record: close keeps the (now stale) TEXT, a one-row session does not rewrite O(documents)
  // bytes; a reopen builds the index from the records (the oracle holds)
  w = await openCollection(file);
  await w.update(9, { metadata: { body: 'zebra' } });
  docs.set(9, 'zebra');
  await w.close();
  assert.deepEqual(await textAt(), t2.map((s) => s.offset));
  const one = await openCollection(file, { readOnly: true });
  await answers(one, docs);
  await one.close();
});

test('a leading U+FEFF is data, not a byte-order mark: values, keys, string ids and the text field name survive reopen and recoverCollection', async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'bom-'));
  const file = path.join(dir, 'a.rvf'), rec = path.join(dir, 'b.rvf');
  const B = '\uFEFF';
  const rows = [
    { id: `${B}x`, vector: [1, 0, 0], metadata: { [`${B}body`]: `${B}apple pie`, [`${B}k`]: `${B}v` } },
    { id: 'x', vector: [0, 1, 0], metadata: { [`${B}body`]: 'apple', k: 'plain' } },
  ];
  const w = await openCollection(file, { create: { dimension: 3, idType: 'string', text: { field: `${B}body` } } });
  await w.insertBatch(rows);
  assert.equal((await w.stats()).text, `${B}body`);
  await w.close();
  const check = async (c) => {
    assert.equal((await c.stats()).text, `${B}body`);
    const got = await c.getMany([`${B}x`, 'x']);
    assert.deepEqual(got.map((g) => g && [g.id, g.metadata]), rows.map((r) => [r.id, r.metadata]));
    assert.deepEqual((await c.ids()).ids.sort(), ['x', `${B}x`].sort());
    // BM25 of 'pie' (one document of two holds it): the hit is the row that holds it, by its own id
    const hits = await c.search(null, { text: 'pie' });
    assert.deepEqual(hits.map((h) => [h.id, h.metadata]), [[rows[0].id, rows[0].metadata]]);
  };
  const r = await openCollection(file, { readOnly: true });
  await check(r);
  await r.close();
  const same = await openCollection(file, { create: { dimension: 3, idType: 'string', text: { field: `${B}body` } } });
  await check(same);
  await same.close();
  await recoverCollection(file, rec);
  const b = await openCollection(rec, { readOnly: true });
  await check(b);
  await b.close();
});

test('a read-only follower opened before the empty store got its text field: refresh() takes the field, keyword search equals a fresh open and the oracle', async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'late-'));
  const file = path.join(dir, 'a.rvf');
  let w = await openCollection(file, { create: { dimension: 3 } });
  const r = await openCollection(file, { readOnly: true });
  assert.equal((await r.stats()).text, null);
  await w.close();
  // the store is still empty: opening it with create { text } gives it the field
  w = await openCollection(file, { create: { dimension: 3, text: { field: 'body' } } });
  await w.insertBatch([{ id: 1, vector: [1, 0, 0], metadata: { body: 'apple pie' } }, { id: 2, vector: [0, 1, 0], metadata: { body: 'zebra' } }]);
  await r.refresh();
  const docs = new Map([[1, 'apple pie'], [2, 'zebra']]);
  assert.equal((await r.stats()).text, 'body');
  const got = await r.search(null, { text: 'apple zebra' });
  const want = bm25(docs, 'apple zebra');
  assert.deepEqual(got.map((h) => h.id), want.map((x) => x[0]));
  assert.ok(got.every((h, i) => close(h.score, want[i][1])));
  await w.update(2, { metadata: { body: 'apple apple' } });
  docs.set(2, 'apple apple');
  await r.refresh();
  assert.deepEqual((await r.search(null, { text: 'apple' })).map((h) => h.id), bm25(docs, 'apple').map((x) => x[0]));
  await r.close();
  await w.close();
});

test('rows rewritten with ever new words: the keyword index memory stays that of the live documents, answers equal the oracle', async () => {
  const db = await createDatabase();
  const churn = await db.createCollection('churn', { dimension: 2, index: { type: 'flat' }, text: { field: 'body' } });
  const docs = new Map();
  const rowsOf = (round) => Array.from({ length: 1000 }, (_, i) => {
    const body = `order r${round}n${i} shipped ${VOCAB[(i + round) % VOCAB.length]}`;
    docs.set(i, body);
    return { id: i, vector: [1, i], metadata: { body } };
  });
  for (let round = 0; round < 15; round++) await churn.insertBatch(rowsOf(round));
  for (const q of ['order', 'r14n7 shipped', 'r3n7', 'apple Café']) {
    const got = await churn.search(null, { text: q, k: 1000 });
    const want = bm25(docs, q);
    assert.deepEqual(got.map((h) => h.id), want.map((x) => x[0]), q);
    assert.ok(got.every((h, i) => close(h.score, want[i][1])), q);
  }
  // the same documents written once: 14,000 dead words (old bodies) must not stay in memory
  const fresh = await db.createCollection('fresh', { dimension: 2, index: { type: 'flat' }, text: { field: 'body' } });
  await fresh.insertBatch(rowsOf(14));
  await fresh.search(null, { text: 'order' });
  const a = (await churn.stats()).memoryBytes, b = (await fresh.stats()).memoryBytes;
  assert.ok(a < 1.5 * b, `after rewrites ${a} bytes, the same documents written once ${b}`);
  await db.close();
});

test('an in-memory collection keeps its text field in export() images and derive() children', async () => {
  const dir = fs.mkdtempSync(path.join(ROOT, 'mem-'));
  const { db, c, docs } = await corpus(200);
  const file = path.join(dir, 'image.rvf');
  fs.writeFileSync(file, await c.export());
  const r = await openCollection(file, { readOnly: true });
  assert.equal((await r.stats()).text, 'body');
  for (const q of ['apple pie', 'ocean', 'жук']) {
    const got = await r.search(null, { text: q, k: 300 });
    const want = bm25(docs, q);
    assert.deepEqual(got.map((h) => h.id), want.map((x) => x[0]), q);
    assert.ok(got.every((h, i) => close(h.score, want[i][1])), q);
  }
  await r.close();
  const child = await c.derive();
  assert.equal((await child.stats()).text, 'body');
  await child.insert({ id: 1, vector: BASE[1], metadata: { body: 'zebra' } });
  assert.deepEqual((await child.search(null, { text: 'zebra' })).map((h) => h.id), [1]);
  await child.close();
  await db.close();
});
