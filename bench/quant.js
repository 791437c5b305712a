// bench/quant.js — the QUANT section of `make bench`: quantization 'none' / 'scalar' / 'product'
// on the same data (the CORE dataset: the SIGMOD 2024 CLIP-100 set when present), file-backed
// stores, M=16, efConstruction=200, the SIMD build, public API only.
//
// Per kind: one insertBatch of the whole base into a new file store, close, reopen (what a user's
// next session sees: the quantizer and codes come from the file), then stats().vectorBytes against
// the float32 bytes (n × dim × 4), recall@10 against the exact ground truth and single-query QPS
// (k=10, one search() per query) at each ef. QPS is timed in rounds interleaved across the kinds,
// best round reported, and compared with 'none' at the same ef and at matched recall (the lowest
// ef of each kind that reaches the recall target). Targets (printed, never asserted): scalar
// vectorBytes ≤ 0.3× with recall@10 ≥ 0.99 at ≥ 1.0× the float32 QPS; product ≤ 0.08× with
// recall@10 ≥ 0.95.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { recallAtK, timeQueries } from './measure.js';

const KINDS = ['none', 'scalar', 'product'];
const EFS = [10, 20, 50, 100, 200];
const K = 10;

const rowView = (a, dim, i) => a.subarray(i * dim, (i + 1) * dim);

/**
 * @param {{ repoRoot: string, ds: object, quick: boolean, seconds?: number, rounds?: number, log: Function }} o
 */
export async function runQuant({ repoRoot, ds, quick, seconds, rounds, log }) {
  const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-quant-'));
  const minMs = (seconds ?? (quick ? 0.3 : 1.5)) * 1000;
  const nRounds = rounds ?? (quick ? 1 : 2);
  const nq = quick ? Math.min(ds.nq, 200) : ds.nq;
  const qv = Array.from({ length: nq }, (_, i) => rowView(ds.queries, ds.dim, i));
  const items = Array.from({ length: ds.n }, (_, i) => ({ id: i, vector: rowView(ds.base, ds.dim, i) }));
  const f32Bytes = ds.n * ds.dim * 4;
  const runs = {};
  try {
    for (const kind of KINDS) {
      const db = await api.createDatabase({ path: dir, simd: true });
      const col = await db.createCollection(kind, {
        dimension: ds.dim, metric: 'euclidean', index: { type: 'hnsw', m: 16, efConstruction: 200 }, quantization: kind,
      });
      const t0 = performance.now();
      await col.insertBatch(items);
      const buildMs = performance.now() - t0;
      await db.close();
      const db2 = await api.createDatabase({ path: dir, simd: true });
      const c2 = await db2.getCollection(kind);
      const st = await c2.stats();
      const fileBytes = fs.statSync(path.join(dir, `${kind}.rvf`)).size;
      const perEf = {};
      for (const ef of EFS) {
        const opts = { k: K, ef, includeMetadata: false };
        const res = [];
        for (let i = 0; i < nq; i++) res.push((await c2.search(qv[i], opts)).map((h) => h.id));
        perEf[ef] = { recall: recallAtK(res, ds.gt, ds.gtK, K), qps: 0 };
      }
      runs[kind] = { db: db2, col: c2, buildMs, fileBytes, vectorBytes: st.vectorBytes, ratio: st.vectorBytes / f32Bytes,
        quantization: st.quantization, perEf };
      log(`  ${kind}: built in ${buildMs.toFixed(0)} ms, vectorBytes ${st.vectorBytes} (${(st.vectorBytes / f32Bytes).toFixed(3)}× float32), ` +
        `trained on ${st.quantization.trainedOn} rows at build, reopened with ${st.quantization.trained ? 'its persisted quantizer' : 'float32 rows'}`);
    }
    for (let r = 0; r < nRounds; r++) {
      for (const ef of EFS) {
        for (const kind of KINDS) {
          const c = runs[kind].col, opts = { k: K, ef, includeMetadata: false };
          const t = await timeQueries({ async: true, search: (i) => c.search(qv[i], opts) }, nq, minMs);
          runs[kind].perEf[ef].qps = Math.max(runs[kind].perEf[ef].qps, t.qps);
          runs[kind].perEf[ef].cpuQps = Math.max(runs[kind].perEf[ef].cpuQps ?? 0, t.cpuQps ?? 0) || null;
        }
      }
    }
  } finally {
    for (const k of Object.keys(runs)) await runs[k].db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const out = { dataset: ds.name, n: ds.n, dim: ds.dim, nq, efs: EFS, kinds: {} };
  for (const kind of KINDS) {
    const r = runs[kind];
    out.kinds[kind] = { buildMs: r.buildMs, fileBytes: r.fileBytes, vectorBytes: r.vectorBytes, ratio: r.ratio,
      quantization: r.quantization, perEf: r.perEf };
  }
  // matched recall: the lowest ef of each kind that reaches the target
  const at = (kind, target) => EFS.find((ef) => out.kinds[kind].perEf[ef].recall >= target);
  const match = (kind, target) => {
    const a = at(kind, target), b = at('none', target);
    if (a === undefined || b === undefined) return { target, ef: a ?? null, noneEf: b ?? null, qpsRatio: null };
    const ka = out.kinds[kind].perEf[a], kb = out.kinds.none.perEf[b];
    return { target, ef: a, noneEf: b, qpsRatio: ka.qps / kb.qps, cpuQpsRatio: ka.cpuQps && kb.cpuQps ? ka.cpuQps / kb.cpuQps : null };
  };
  out.targets = {
    scalar: { ratio: out.kinds.scalar.ratio, ratioOk: out.kinds.scalar.ratio <= 0.3, ...match('scalar', 0.99) },
    product: { ratio: out.kinds.product.ratio, ratioOk: out.kinds.product.ratio <= 0.08,
      bestRecall: Math.max(...EFS.map((ef) => out.kinds.product.perEf[ef].recall)), ...match('product', 0.95) },
  };
  return out;
}

export function printQuant(q, line) {
  line(`QUANT — quantization on ${q.dataset} (${q.n} × ${q.dim}), file-backed, M=16 efC=200, SIMD build, k=10, ${q.nq} queries`);
  line('  kind      vectorBytes   × f32   file MB   ' + q.efs.map((ef) => `ef=${ef} recall / QPS`.padStart(24)).join(''));
  for (const [kind, r] of Object.entries(q.kinds)) {
    line(`  ${kind.padEnd(8)} ${String(r.vectorBytes).padStart(12)} ${r.ratio.toFixed(3).padStart(7)} ${(r.fileBytes / 1048576).toFixed(1).padStart(9)}   ` +
      q.efs.map((ef) => `${r.perEf[ef].recall.toFixed(4)} / ${Math.round(r.perEf[ef].qps)}`.padStart(24)).join(''));
  }
  const none = q.kinds.none.perEf;
  for (const kind of ['scalar', 'product']) {
    line(`  ${kind} QPS ÷ none at the same ef (wall-clock / per CPU second): ` + q.efs.map((ef) => {
      const a = q.kinds[kind].perEf[ef], b = none[ef];
      return `ef=${ef} ${(a.qps / b.qps).toFixed(2)}×` + (a.cpuQps && b.cpuQps ? ` / ${(a.cpuQps / b.cpuQps).toFixed(2)}×` : '');
    }).join(', '));
  }
  const s = q.targets.scalar, p = q.targets.product;
  line(`  target scalar: vectorBytes ${s.ratio.toFixed(3)}× (≤ 0.3×: ${s.ratioOk ? 'met' : 'NOT met'}); recall ≥ 0.99 at ef ${s.ef ?? '—'} ` +
    `vs none at ef ${s.noneEf ?? '—'}: ${s.qpsRatio === null ? 'not reached' : `${s.qpsRatio.toFixed(2)}× the float32 QPS wall-clock` +
      (s.cpuQpsRatio ? `, ${s.cpuQpsRatio.toFixed(2)}× per CPU second` : '') +
      ` (≥ 1.0×: ${Math.max(s.qpsRatio, s.cpuQpsRatio ?? 0) >= 1 ? 'met' : 'NOT met'}${s.cpuQpsRatio && (s.qpsRatio >= 1) !== (s.cpuQpsRatio >= 1) ? '; the two bases disagree: contended run' : ''})`}`);
  line(`  target product: vectorBytes ${p.ratio.toFixed(3)}× (≤ 0.08×: ${p.ratioOk ? 'met' : 'NOT met'}); best recall ${p.bestRecall.toFixed(4)} ` +
    `(≥ 0.95: ${p.bestRecall >= 0.95 ? 'met' : 'NOT met'})${p.ef ? `, first reached at ef ${p.ef}: ${p.qpsRatio.toFixed(2)}× the float32 QPS at ef ${p.noneEf}` : ''}`);
}
