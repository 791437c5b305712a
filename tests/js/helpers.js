// tests/js/helpers.js — shared test helpers: the committed dataset, a float64 brute-force oracle,
// tie-tolerant comparisons and error assertions. Imports nothing from the code under test except
// VecliteError.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VecliteError } from '../../web/index.js';

/**
 * Read an .fvecs file from tests/data.
 * @param {string} name
 * @returns {Float32Array[]} one row per vector
 */
export function readFvecs(name) {
  const buf = readFileSync(new URL(`../data/${name}`, import.meta.url));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const rows = [];
  for (let o = 0; o < buf.length;) {
    const dim = dv.getInt32(o, true);
    o += 4;
    const r = new Float32Array(dim);
    for (let j = 0; j < dim; j++, o += 4) r[j] = dv.getFloat32(o, true);
    rows.push(r);
  }
  return rows;
}

export const BASE = readFvecs('base-2000x32.fvecs');
export const QUERIES = readFvecs('queries-50x32.fvecs');
export const DIM = BASE[0].length;

/** Distance in float64, in the API's units. */
export function dist64(metric, q, v) {
  let s = 0;
  if (metric === 'euclidean') {
    for (let j = 0; j < q.length; j++) { const d = q[j] - v[j]; s += d * d; }
    return Math.sqrt(s);
  }
  let nq = 0, nv = 0;
  for (let j = 0; j < q.length; j++) { s += q[j] * v[j]; nq += q[j] * q[j]; nv += v[j] * v[j]; }
  if (metric === 'dotProduct') return -s;
  return 1 - s / (Math.sqrt(nq) * Math.sqrt(nv));
}

/** Score from distance, per the contract. */
export function scoreOf(metric, d) {
  if (metric === 'cosine') return 1 - d;
  if (metric === 'dotProduct') return -d;
  return 1 / (1 + d);
}

/**
 * Exact k nearest rows (indices) with float64 distances, ties by index.
 * @returns {{ i: number, d: number }[]}
 */
export function bruteForce(metric, q, rows, k, pred = () => true) {
  const all = [];
  for (let i = 0; i < rows.length; i++) if (pred(i)) all.push({ i, d: dist64(metric, q, rows[i]) });
  all.sort((a, b) => a.d - b.d || a.i - b.i);
  return all.slice(0, k);
}

/**
 * Assert hits equal the exact answer up to float rounding: same length; at each rank the
 * oracle distance of the returned id equals the oracle's distance at that rank (within tol),
 * the engine's distance is close to the float64 one, and ids are distinct.
 * @param {{ id: any, distance: number }[]} hits
 * @param {{ i: number, d: number }[]} want
 * @param {(id: any) => number} rowOf row index of a returned id
 */
export function assertExact(hits, want, rowOf, metric, q, rows, tol = 1e-4) {
  assert.equal(hits.length, want.length, 'result count');
  const seen = new Set();
  for (let r = 0; r < hits.length; r++) {
    const row = rowOf(hits[r].id);
    assert.ok(!seen.has(row), `duplicate id ${hits[r].id}`);
    seen.add(row);
    const d = dist64(metric, q, rows[row]);
    const scale = Math.max(1, Math.abs(d));
    assert.ok(Math.abs(d - want[r].d) <= tol * scale,
      `rank ${r}: id ${hits[r].id} at distance ${d}, exact answer has ${want[r].i} at ${want[r].d}`);
    assert.ok(Math.abs(hits[r].distance - d) <= tol * scale,
      `rank ${r}: engine distance ${hits[r].distance} vs float64 ${d}`);
  }
}

/** recall@k of hit ids against the exact answer. */
export function recall(hits, want, rowOf) {
  const w = new Set(want.map((x) => x.i));
  let n = 0;
  for (const h of hits) if (w.has(rowOf(h.id))) n++;
  return n / want.length;
}

/**
 * Assert fn() rejects (or throws) a VecliteError with the given code.
 * @param {() => Promise<any>|any} fn
 * @param {string} code
 * @param {RegExp} [re] expected message pattern
 */
export async function rejectsWith(fn, code, re) {
  await assert.rejects(async () => fn(), (e) => {
    assert.ok(e instanceof VecliteError, `expected VecliteError, got ${e?.name}: ${e?.message}`);
    assert.equal(e.name, 'VecliteError');
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Resolve within ms or fail (proves a promise does not hang). */
export function within(ms, promise, what) {
  let t;
  const timeout = new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what} did not settle within ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

/** The seeded PRNG of the page-side oracle (one implementation for every test). */
export { mulberry32 } from '../browser/pages/oracle.js';
