// Measurement helpers for the benchmark: forced GC, memory snapshots, recall@k, and the timed
// query loop.
//
// Invariants:
// - Timed loops call the engine exactly as a user would (one search per query, k = 10), and
//   await only engines whose search returns a Promise (engine.async === true), so synchronous
//   peers are not charged for a microtask they would never pay.
// - A timed loop always runs at least one full batch of 16 queries and at least minMs of wall
//   time; queries are cycled in order.

import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { performance } from 'node:perf_hooks';

v8.setFlagsFromString('--expose-gc');
const gcFn = typeof globalThis.gc === 'function' ? globalThis.gc : vm.runInNewContext('gc');

// Linux: on-CPU and run-queue-wait nanoseconds of the main JS thread (tid == pid). On a shared
// machine, wall-clock QPS drops when other processes take the core; on-CPU time does not, and
// the wait figure says how contended a measurement was.
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
const schedOk = (() => { try { return /^\d+ \d+/.test(fs.readFileSync(SCHEDSTAT, 'utf8')); } catch { return false; } })();

/** @returns {{ cpuNs: number, waitNs: number } | null} main-thread scheduler counters, or null off Linux */
export function threadSched() {
  if (!schedOk) return null;
  const [a, b] = fs.readFileSync(SCHEDSTAT, 'utf8').split(' ');
  return { cpuNs: Number(a), waitNs: Number(b) };
}

function schedDelta(s0, s1, wallMs) {
  if (!s0 || !s1) return { cpuSeconds: null, waitFraction: null };
  return { cpuSeconds: (s1.cpuNs - s0.cpuNs) / 1e9, waitFraction: (s1.waitNs - s0.waitNs) / 1e6 / wallMs };
}

/** Full garbage collection (twice, so finalizers' garbage goes too). */
export function fullGc() {
  gcFn(); gcFn();
}

/** @returns {{ rss: number, heapUsed: number, external: number, arrayBuffers: number }} after a full GC */
export function memSnapshot() {
  fullGc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/**
 * Mean recall@k of per-query result id lists against the ground truth's first k ids.
 * @param {ArrayLike<number>[]} results per query, ids best first
 * @param {Int32Array} gt nq*gtK @param {number} gtK @param {number} k
 */
export function recallAtK(results, gt, gtK, k) {
  let hit = 0;
  for (let q = 0; q < results.length; q++) {
    const r = results[q], o = q * gtK;
    const m = Math.min(k, r.length);
    for (let i = 0; i < m; i++) {
      const id = Number(r[i]);
      for (let j = 0; j < k; j++) if (gt[o + j] === id) { hit++; break; }
    }
  }
  return hit / (results.length * k);
}

/**
 * One pass over queries 0..nq-1 collecting result ids (also the warm-up for the timed loop).
 * @param {object} engine  { async, search(i), ids(result) }
 * @param {number} nq
 * @returns {Promise<number[][]>}
 */
export async function resultPass(engine, nq) {
  const out = new Array(nq);
  if (engine.async) {
    for (let i = 0; i < nq; i++) out[i] = engine.ids(await engine.search(i));
  } else {
    for (let i = 0; i < nq; i++) out[i] = engine.ids(engine.search(i));
  }
  return out;
}

/**
 * Cycles queries 0..nq-1, one search at a time, for at least minMs.
 * @param {object} engine @param {number} nq @param {number} minMs
 * @returns {Promise<{ qps: number, cpuQps: number|null, queries: number, seconds: number,
 *   cpuSeconds: number|null, waitFraction: number|null }>}
 */
export async function timeQueries(engine, nq, minMs) {
  let i = 0, count = 0, t;
  const s0 = threadSched();
  const t0 = performance.now();
  if (engine.async) {
    do {
      for (let j = 0; j < 16; j++) { await engine.search(i); if (++i === nq) i = 0; }
      count += 16;
      t = performance.now();
    } while (t - t0 < minMs);
  } else {
    do {
      for (let j = 0; j < 16; j++) { engine.search(i); if (++i === nq) i = 0; }
      count += 16;
      t = performance.now();
    } while (t - t0 < minMs);
  }
  const s1 = threadSched();
  const seconds = (t - t0) / 1000;
  const sd = schedDelta(s0, s1, t - t0);
  return { qps: count / seconds, cpuQps: sd.cpuSeconds ? count / sd.cpuSeconds : null, queries: count, seconds, ...sd };
}

/** Wall time of an async thunk in ms, plus main-thread CPU seconds and run-queue wait fraction. */
export async function timeIt(fn) {
  const s0 = threadSched();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  return { ms, value, ...schedDelta(s0, threadSched(), ms) };
}
