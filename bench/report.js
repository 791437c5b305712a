// Benchmark report: .wasm sizes, ratios between engines, the BENCH.md targets (MET / NOT MET /
// N/A, printed, never asserted) and the human-readable tables.
//
// Invariants: ratios are only ever taken between figures measured in the same run; a ratio whose
// operand is missing is null with a reason, never a guessed number.

import zlib from 'node:zlib';
import { M, EFS } from './peers.js';

/** Raw and gzip -9 size of a wasm binary. */
export function wasmSizes(bytes, file) {
  return { file, rawBytes: bytes.length, gzip9Bytes: zlib.gzipSync(bytes, { level: 9 }).length };
}

const fmtInt = (x) => (x == null || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US'));
const byKey = (engines, key) => engines.find((e) => e.key === key && e.available && !e.error);

function ratio(num, den, what) {
  if (num == null || den == null) return { value: null, what, missing: num == null ? 'numerator' : 'denominator' };
  return { value: num / den, what };
}

/** Whether an engine reached recall@10 ≥ 0.99, and why not. */
function at099(e, label) {
  if (!e) return { qps: null, why: `${label} not measured` };
  if (!e.at099) return { qps: null, why: `${label} never reached recall@10 ≥ 0.99 (ef ≤ ${EFS[EFS.length - 1]})` };
  return { qps: e.at099.qps, ef: e.at099.ef };
}

/** All ratios printed at the end (also stored in results.json). */
export function computeRatios(engines) {
  const s = byKey(engines, 'veclite-simd'), c = byKey(engines, 'veclite-scalar');
  const hw = byKey(engines, 'hnswlib-wasm'), hn = byKey(engines, 'hnswlib-node'), bf = byKey(engines, 'js-brute');
  const q = (e) => e?.at099?.qps ?? null;
  const ins = (e) => e?.build?.insertsPerSec ?? null;
  const out = {
    qpsAt099: {
      'veclite-simd / hnswlib-wasm': ratio(q(s), q(hw), 'QPS at recall@10 ≥ 0.99, each at its own smallest ef'),
      'veclite-simd / hnswlib-node': ratio(q(s), q(hn), 'same'),
      'veclite-scalar / hnswlib-wasm': ratio(q(c), q(hw), 'same'),
      'veclite-scalar / hnswlib-node': ratio(q(c), q(hn), 'same'),
      'veclite-simd / veclite-scalar': ratio(q(s), q(c), 'same'),
      'hnswlib-wasm / hnswlib-node': ratio(q(hw), q(hn), 'peer sanity check (BENCH.md measured 0.43–0.58)'),
      'veclite-simd / js-brute': ratio(q(s), q(bf), 'vs exact JS scan'),
    },
    qpsSameEf: {},
    buildInsertsPerSec: {
      'veclite-simd / hnswlib-wasm': ratio(ins(s), ins(hw), 'inserts/s, whole base, M=16 efC=200'),
      'veclite-simd / hnswlib-node': ratio(ins(s), ins(hn), 'same'),
      'veclite-scalar / hnswlib-wasm': ratio(ins(c), ins(hw), 'same'),
      'veclite-scalar / hnswlib-node': ratio(ins(c), ins(hn), 'same'),
    },
  };
  for (const ef of EFS) {
    const at = (e) => e?.curve?.find((p) => p.ef === ef)?.qps ?? null;
    out.qpsSameEf[`ef=${ef}`] = {
      'veclite-simd / hnswlib-wasm': ratio(at(s), at(hw), `QPS at ef=${ef}`),
      'veclite-simd / hnswlib-node': ratio(at(s), at(hn), `QPS at ef=${ef}`),
      'veclite-scalar / hnswlib-wasm': ratio(at(c), at(hw), `QPS at ef=${ef}`),
    };
  }
  return out;
}

/** The BENCH.md targets this harness can evaluate, plus the ones it cannot (N/A). */
export function computeTargets(engines, ratios, ds) {
  const s = byKey(engines, 'veclite-simd'), c = byKey(engines, 'veclite-scalar');
  const hw = byKey(engines, 'hnswlib-wasm'), hn = byKey(engines, 'hnswlib-node');
  const t = [];
  const qpsTarget = (name, num, numLabel, den, denLabel, need) => {
    const a = at099(num, numLabel), b = at099(den, denLabel);
    let status, value = null, detail;
    if (!num) { status = 'N/A'; detail = a.why; }
    else if (!den) { status = 'N/A'; detail = b.why; }
    else if (a.qps == null) { status = 'NOT MET'; detail = a.why; }
    else if (b.qps == null) { status = 'N/A'; detail = b.why; }
    else {
      value = a.qps / b.qps;
      status = value >= need ? 'MET' : 'NOT MET';
      detail = `${value.toFixed(2)}× (need ≥ ${need.toFixed(1)}×): ${fmtInt(a.qps)} QPS @ ef=${a.ef} vs ${fmtInt(b.qps)} QPS @ ef=${b.ef}`;
    }
    t.push({ name, status, value, need, detail });
  };
  qpsTarget('SIMD QPS @ recall@10 ≥ 0.99 ≥ 1.5× hnswlib-wasm (first milestone)', s, 'veclite SIMD', hw, 'hnswlib-wasm', 1.5);
  qpsTarget('SIMD QPS @ recall@10 ≥ 0.99 ≥ 1.0× hnswlib-node (stretch)', s, 'veclite SIMD', hn, 'hnswlib-node', 1.0);
  qpsTarget('scalar QPS @ recall@10 ≥ 0.99 ≥ 1.0× hnswlib-wasm', c, 'veclite scalar', hw, 'hnswlib-wasm', 1.0);

  {
    const r = ratios.buildInsertsPerSec['veclite-simd / hnswlib-node'];
    const name = 'SIMD build inserts/s ≥ 1.0× hnswlib-node';
    if (r.value == null) t.push({ name, status: 'N/A', value: null, need: 1, detail: !s ? 'veclite SIMD not measured' : 'hnswlib-node not measured' });
    else t.push({ name, status: r.value >= 1 ? 'MET' : 'NOT MET', value: r.value, need: 1, detail: `${r.value.toFixed(2)}× (need ≥ 1.0×): ${fmtInt(s.build.insertsPerSec)} vs ${fmtInt(hn.build.insertsPerSec)} inserts/s` });
  }

  const LIMIT = 150_000;
  for (const [e, label] of [[s, 'pkg-simd'], [c, 'pkg']]) {
    const name = `${label}/veclite.wasm ≤ 150 KB gzip -9 (150,000 B)`;
    if (!e?.wasm) t.push({ name, status: 'N/A', value: null, detail: 'build not measured' });
    else t.push({ name, status: e.wasm.gzip9Bytes <= LIMIT ? 'MET' : 'NOT MET', value: e.wasm.gzip9Bytes, need: LIMIT, detail: `${e.wasm.gzip9Bytes.toLocaleString('en-US')} B gzip (${e.wasm.rawBytes.toLocaleString('en-US')} B raw)` });
  }

  // Raw f32 vector + graph links (4-byte ids): 2M at level 0, M per upper level, expected
  // 1/(M-1) upper levels per node with the usual level multiplier 1/ln(M).
  const links = 4 * (2 * M + M / (M - 1));
  const budget = 1.2 * (ds.dim * 4 + links);
  for (const [e, label] of [[s, 'veclite SIMD'], [c, 'veclite scalar']]) {
    const name = `${label} bytes/vector ≤ 1.2 × (raw ${ds.dim * 4} B + links ${links.toFixed(0)} B) = ${budget.toFixed(0)} B`;
    const v = e?.memory?.bytesPerVector;
    if (v == null || !Number.isFinite(v)) t.push({ name, status: 'N/A', value: null, detail: e ? 'no stats().memoryBytes' : 'not measured' });
    else t.push({ name, status: v <= budget ? 'MET' : 'NOT MET', value: v, need: budget, detail: `${v.toFixed(0)} B/vector (stats().memoryBytes / count)` });
  }
  t.push({ name: 'reopen 100K store + first query < 100 ms and < 10% of a rebuild', status: 'N/A', value: null, detail: 'not measured by bench.mjs (needs persistence)' });
  t.push({ name: 'filtered queries: recall@10 ≥ 0.95 at ≥ 50% of unfiltered QPS', status: 'N/A', value: null, detail: 'not measured by bench.mjs' });
  return t;
}

// ---- printing ------------------------------------------------------------------------------

const fmtX = (r) => (r.value == null ? `n/a (${r.missing} missing)` : `${r.value.toFixed(2)}×`);

function table(headers, rows, align) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (align?.[i] === 'l' ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

/** Prints the whole report to stdout. */
export function printReport({ run, dataset, engines, peerWasmSizes, ratios, targets }) {
  const p = (s = '') => console.log(s);
  p();
  p('=== veclite benchmark ===');
  p(`date ${run.date}  node ${run.node}  ${run.platform}  ${run.cpus} × ${run.cpu}`);
  p(`data: ${dataset.name} — ${dataset.n.toLocaleString('en-US')} × ${dataset.dim}, euclidean, ${dataset.queries} queries (${run.queriesUsed} used), ground truth top-${dataset.gtK}`);
  p(`      ${dataset.synthetic ? 'SYNTHETIC DATA (not real embeddings): ' : 'real data: '}${dataset.source}`);
  if (dataset.selectedBy !== 'default' && dataset.selectedBy !== '--data') p(`      (${dataset.selectedBy})`);
  p(`method: k=10, M=${run.m}, efConstruction=${run.efConstruction}; each index engine first builds a ${run.warmupVectors}-vector throwaway index (warm-up);`);
  p(`        search = one query per public-API call, single thread, queries cycled ≥ ${run.minSecondsPerPoint} s per point after a recall pass at the same ef${run.quick ? '  [--quick: rough figures]' : ''}`);

  // Engines that crashed mid-run still show what they measured before the crash.
  const avail = engines.filter((e) => e.available && (e.build || e.curve?.length))
    .map((e) => (e.error ? { ...e, label: `${e.label} [CRASHED]` } : e));
  p();
  p('-- build and memory --');
  p(table(
    ['engine', 'runtime', 'build s', 'inserts/s', 'engine B/vec', 'RSS Δ B/vec'],
    avail.map((e) => [
      e.label, e.runtime,
      e.build ? (e.build.ms / 1000).toFixed(2) : '—',
      fmtInt(e.build?.insertsPerSec),
      fmtInt(e.memory?.bytesPerVector),
      fmtInt(e.memory?.rssDeltaPerVector),
    ]),
    ['l', 'l'],
  ));
  for (const e of avail) if (e.memory) p(`  ${e.label}: engine B/vec = ${e.memory.source}`);
  p('  RSS Δ = process RSS after build − after creating the empty index (full GC before each), / n');

  p();
  p('-- search: QPS / recall@10 --');
  const cell = (pt) => (pt ? `${fmtInt(pt.qps)} / ${pt.recall.toFixed(3)}` : '—');
  p(table(
    ['engine', ...EFS.map((ef) => `ef=${ef}`), 'exact', 'smallest ef ≥ 0.99: QPS'],
    avail.map((e) => [
      e.label,
      ...EFS.map((ef) => cell(e.curve?.find((x) => x.ef === ef))),
      cell(e.curve?.find((x) => x.ef === null)),
      e.at099 ? `${e.at099.ef === null ? 'exact' : 'ef=' + e.at099.ef}: ${fmtInt(e.at099.qps)}` : e.error ? 'crashed' : 'not reached (ef ≤ 200)',
    ]),
    ['l'],
  ));
  for (const e of avail) if (e.batch) p(`  ${e.label} searchBatch (${run.queriesUsed} queries per call, ef=${e.batch.ef}): ${fmtInt(e.batch.qps)} QPS`);

  const down = engines.filter((e) => !e.available || e.error);
  if (down.length) {
    p();
    p('-- unavailable / crashed --');
    for (const e of down) p(`  ${e.key}: ${e.error ? 'CRASHED: ' + e.error : 'unavailable: ' + e.reason}`);
  }
  for (const e of avail) if (e.info?.warning) p(`  warning ${e.key}: ${e.info.warning}`);

  p();
  p('-- .wasm size --');
  const sizes = [
    ...avail.filter((e) => e.wasm).map((e) => [e.label, e.wasm.file, e.wasm.rawBytes, e.wasm.gzip9Bytes]),
    ...Object.entries(peerWasmSizes).map(([k, v]) => [k + ' (peer)', v.file, v.rawBytes, v.gzip9Bytes]),
  ];
  p(sizes.length ? table(['build', 'file', 'raw B', 'gzip -9 B'], sizes.map((r) => [r[0], r[1], fmtInt(r[2]), fmtInt(r[3])]), ['l', 'l']) : '  (no wasm measured)');

  p();
  p('-- ratios (same run) --');
  p('QPS at recall@10 ≥ 0.99 (each engine at its own smallest ef reaching 0.99):');
  for (const [k, r] of Object.entries(ratios.qpsAt099)) p(`  ${k.padEnd(32)} ${fmtX(r)}`);
  p('QPS at the same ef:');
  for (const [ef, rs] of Object.entries(ratios.qpsSameEf)) p(`  ${ef.padEnd(7)} ` + Object.entries(rs).map(([k, r]) => `${k} ${fmtX(r)}`).join('   '));
  p('build inserts/s:');
  for (const [k, r] of Object.entries(ratios.buildInsertsPerSec)) p(`  ${k.padEnd(32)} ${fmtX(r)}`);

  p();
  p('-- TARGETS (BENCH.md; printed, not asserted) --');
  for (const t of targets) p(`  [${t.status.padEnd(7)}] ${t.name}\n            ${t.detail}`);
}
