// bench/toolbox.js — the TOOLBOX section of `make bench` (`node bench/bench.mjs --sections
// toolbox`): similarityMatrix() and kmeans() through the public API, in the SIMD build, the
// scalar build and a plain JavaScript loop over Float32Arrays (the same arithmetic: float64
// accumulation in JS, which only makes the loop's answer more exact, not slower).
//
// Data: a SYNTHETIC clustered set (bench/datasets.js generateClustered, seeded). Timed points are
// interleaved in rounds across the three implementations; the best round of each is reported.
// Matrix throughput is in million pair scores per second (wall clock, one call = the whole matrix,
// engine load and argument copies included); k-means in row-centroid distance evaluations per
// second over a fixed number of Lloyd updates (tolerance 0, so every implementation runs the same
// updates). Nothing here is asserted.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { generateClustered } from './datasets.js';

/** Plain JS cosine similarity matrix (float64 sums over Float32Array rows). */
function jsCosine(a, na, b, nb, dim) {
  const out = new Float32Array(na * nb);
  const nrm = (x, i) => { let s = 0; for (let d = 0; d < dim; d++) { const v = x[i * dim + d]; s += v * v; } return Math.sqrt(s); };
  const ia = Float64Array.from({ length: na }, (_, i) => 1 / nrm(a, i));
  const ib = Float64Array.from({ length: nb }, (_, j) => 1 / nrm(b, j));
  for (let i = 0; i < na; i++) {
    const oa = i * dim;
    for (let j = 0; j < nb; j++) {
      const ob = j * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += a[oa + d] * b[ob + d];
      out[i * nb + j] = s * ia[i] * ib[j];
    }
  }
  return out;
}

/** Plain JS Lloyd: `iters` assignment + update steps from the given centroids. */
function jsLloyd(x, n, dim, cent, k, iters) {
  const c = Float32Array.from(cent), asg = new Uint32Array(n);
  const sum = new Float64Array(k * dim), cnt = new Uint32Array(k);
  for (let it = 0; it <= iters; it++) {
    for (let i = 0; i < n; i++) {
      let best = 0, bd = Infinity;
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let d = 0; d < dim; d++) { const v = x[i * dim + d] - c[j * dim + d]; s += v * v; }
        if (s < bd) { bd = s; best = j; }
      }
      asg[i] = best;
    }
    if (it === iters) break;
    sum.fill(0); cnt.fill(0);
    for (let i = 0; i < n; i++) { cnt[asg[i]]++; for (let d = 0; d < dim; d++) sum[asg[i] * dim + d] += x[i * dim + d]; }
    for (let j = 0; j < k; j++) if (cnt[j]) for (let d = 0; d < dim; d++) c[j * dim + d] = sum[j * dim + d] / cnt[j];
  }
  return asg;
}

async function best(rounds, fn) {
  let ms = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

/**
 * @param {{ repoRoot: string, quick: boolean, rounds?: number, log: Function }} o
 */
export async function runToolbox({ repoRoot, quick, rounds, log }) {
  const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
  const nRounds = rounds ?? (quick ? 1 : 3);
  const dim = 128;
  const na = quick ? 256 : 1024, nb = quick ? 512 : 2048;
  const ds = generateClustered({ n: na + nb, dim, nq: 0, clusters: 32, gtK: 0, seed: 20261207 });
  const a = ds.base.subarray(0, na * dim), b = ds.base.subarray(na * dim, (na + nb) * dim);
  const sim = {};
  const impls = {
    simd: () => api.similarityMatrix(a, b, { metric: 'cosine', dimension: dim, simd: true }),
    scalar: () => api.similarityMatrix(a, b, { metric: 'cosine', dimension: dim, simd: false }),
    js: () => jsCosine(a, na, b, nb, dim),
  };
  for (const fn of Object.values(impls)) await fn(); // warm up (engine compile, JIT)
  const simMs = { simd: Infinity, scalar: Infinity, js: Infinity };
  for (let r = 0; r < nRounds; r++) {
    for (const [key, fn] of Object.entries(impls)) simMs[key] = Math.min(simMs[key], await best(1, fn));
  }
  for (const key of Object.keys(impls)) sim[key] = { ms: simMs[key], mPairsPerS: (na * nb) / simMs[key] / 1000 };
  log(`  similarity ${na} x ${nb} x ${dim}: simd ${simMs.simd.toFixed(1)} ms, scalar ${simMs.scalar.toFixed(1)} ms, js ${simMs.js.toFixed(1)} ms`);

  const n = quick ? 2000 : 10000, k = 64, iters = quick ? 5 : 10;
  const km = generateClustered({ n, dim, nq: 0, clusters: k, gtK: 0, seed: 20261208 });
  const x = km.base.subarray(0, n * dim);
  // random init (k rows, no distance work) so the three time the same Lloyd updates
  const opts = (simd) => ({ dimension: dim, iterations: iters, tolerance: 0, seed: 1, init: 'random', simd });
  const init = await api.kmeans(x, k, { dimension: dim, iterations: 0, seed: 1, init: 'random' });
  const ran = (await api.kmeans(x, k, opts(true))).iterations; // fewer than iters if it converged
  const kimpl = {
    simd: () => api.kmeans(x, k, opts(true)),
    scalar: () => api.kmeans(x, k, opts(false)),
    js: () => jsLloyd(x, n, dim, init.centroids, k, ran),
  };
  const kmMs = { simd: Infinity, scalar: Infinity, js: Infinity };
  for (let r = 0; r < nRounds; r++) {
    for (const [key, fn] of Object.entries(kimpl)) kmMs[key] = Math.min(kmMs[key], await best(1, fn));
  }
  const evals = n * k * (ran + 1); // ran updates, ran + 1 assignment passes
  const kmeans = {};
  for (const key of Object.keys(kimpl)) kmeans[key] = { ms: kmMs[key], mEvalsPerS: evals / kmMs[key] / 1000 };
  log(`  kmeans ${n} x ${dim}, k=${k}: simd ${kmMs.simd.toFixed(1)} ms, scalar ${kmMs.scalar.toFixed(1)} ms, js ${kmMs.js.toFixed(1)} ms`);
  return { dataset: 'SYNTHETIC clustered', dim, sim: { na, nb, ...sim }, kmeans: { n, k, iterations: ran, ...kmeans } };
}

export function printToolbox(t, line) {
  line(`TOOLBOX — similarityMatrix and kmeans, public API, ${t.dataset}, dimension ${t.dim} (bench/toolbox.js)`);
  const s = t.sim;
  line(`  similarityMatrix cosine ${s.na} x ${s.nb}:  ` + ['simd', 'scalar', 'js'].map((k) =>
    `${k} ${s[k].mPairsPerS.toFixed(1)} M pairs/s (${s[k].ms.toFixed(1)} ms)`).join(', '));
  line(`    SIMD build ÷ scalar build ${(s.scalar.ms / s.simd.ms).toFixed(2)}×, ÷ plain JS loop ${(s.js.ms / s.simd.ms).toFixed(2)}×`);
  const m = t.kmeans;
  line(`  kmeans ${m.n} rows, k=${m.k}, ${m.iterations} Lloyd updates from random rows:  ` +
    ['simd', 'scalar', 'js'].map((k) => `${k} ${m[k].mEvalsPerS.toFixed(1)} M distances/s (${m[k].ms.toFixed(0)} ms)`).join(', '));
  line(`    SIMD build ÷ scalar build ${(m.scalar.ms / m.simd.ms).toFixed(2)}×, ÷ plain JS loop ${(m.js.ms / m.simd.ms).toFixed(2)}×`);
}
