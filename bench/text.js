// bench/text.js — the TEXT section of `make bench`: keyword (BM25), hybrid and MMR searches on a
// synthetic corpus (n rows, dimension 32, each row's `body` 12 words drawn from a 5,000-word
// vocabulary, fixed seed), an HNSW file store with a text field against the same store without
// one. Reported, never asserted: the open time (median of 3 reopens: the keyword index is loaded
// from the file's TEXT segment), the file size, the engine memory, and single-query QPS of a plain vector search, a
// keyword search, a hybrid search (alpha 0.5, fetchK 40) and an MMR search (lambda 0.5,
// fetchK 40), k = 10, public API only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { timeQueries } from './measure.js';

const DIM = 32, WORDS = 5000, PER_ROW = 12, K = 10;

/** @param {{ repoRoot: string, quick: boolean, seconds?: number, log: Function }} o */
export async function runText({ repoRoot, quick, seconds, log }) {
  const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
  const n = quick ? 20000 : 100000;
  const minMs = (seconds ?? (quick ? 0.3 : 1.5)) * 1000;
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const vocab = Array.from({ length: WORDS }, (_, i) => `w${i.toString(36)}`);
  const vec = () => Float32Array.from({ length: DIM }, () => rnd() - 0.5);
  const queries = Array.from({ length: 200 }, () => ({ v: vec(), text: `${vocab[Math.floor(rnd() * WORDS)]} ${vocab[Math.floor(rnd() * WORDS)]}` }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-text-'));
  const out = { n, dim: DIM, wordsPerRow: PER_ROW, vocabulary: WORDS };
  try {
    for (const withText of [false, true]) {
      const sub = path.join(dir, withText ? 'text' : 'plain');
      let db = await api.createDatabase({ path: sub });
      const c = await db.createCollection('c', { dimension: DIM, ...(withText ? { text: { field: 'body' } } : {}) });
      for (let b = 0; b < n; b += 10000) {
        const rows = [];
        for (let i = b; i < Math.min(n, b + 10000); i++) {
          rows.push({ id: i, vector: vec(), metadata: { body: Array.from({ length: PER_ROW }, () => vocab[Math.floor(rnd() * WORDS)]).join(' ') } });
        }
        await c.insertBatch(rows);
      }
      await db.close();
      const opens = [];
      let col;
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        db = await api.createDatabase({ path: sub });
        col = await db.getCollection('c');
        opens.push(performance.now() - t0);
        if (r < 2) await db.close();
      }
      opens.sort((a, b) => a - b);
      const fileBytes = fs.readdirSync(sub).filter((f) => f.endsWith('.rvf')).reduce((a, f) => a + fs.statSync(path.join(sub, f)).size, 0);
      const textBytes = (await col.segments()).filter((g) => g.typeName === 'text').reduce((a, g) => a + 64 + g.length, 0);
      const r = { openMs: +opens[1].toFixed(1), fileBytes, textBytes, memoryBytes: (await col.stats()).memoryBytes };
      const qps = async (fn) => +(await timeQueries({ async: true, search: (i) => fn(queries[i]) }, queries.length, minMs)).qps.toFixed(0);
      r.vectorQps = await qps((q) => col.search(q.v, { k: K }));
      r.mmrQps = await qps((q) => col.search(q.v, { k: K, mmr: { lambda: 0.5, fetchK: 40 } }));
      if (withText) {
        r.keywordQps = await qps((q) => col.search(null, { text: q.text, k: K }));
        r.hybridQps = await qps((q) => col.search(q.v, { k: K, text: q.text, hybrid: { alpha: 0.5, fetchK: 40 } }));
      }
      await db.close();
      out[withText ? 'text' : 'plain'] = r;
      log(`text section: ${withText ? 'with' : 'without'} a text field done`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export function printText(t, print) {
  print(`TEXT (keyword, hybrid and MMR search; ${t.n} rows × ${t.dim}, ${t.wordsPerRow} words of ${t.vocabulary} per row; bench/text.js)`);
  print(`  open (median of 3)       ${t.plain.openMs} ms without a text field, ${t.text.openMs} ms with one (keyword index from the TEXT segment)`);
  print(`  file size                ${(t.plain.fileBytes / 1048576).toFixed(2)} MiB without, ${(t.text.fileBytes / 1048576).toFixed(2)} MiB with (TEXT segment ${(t.text.textBytes / 1048576).toFixed(2)} MiB)`);
  print(`  engine memory            ${(t.plain.memoryBytes / 1048576).toFixed(1)} MiB without, ${(t.text.memoryBytes / 1048576).toFixed(1)} MiB with`);
  print(`  QPS (k=10, one query)    vector ${t.text.vectorQps}, keyword ${t.text.keywordQps}, hybrid ${t.text.hybridQps}, mmr ${t.text.mmrQps}`);
}
