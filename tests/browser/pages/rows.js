// tests/browser/pages/rows.js — the deterministic rows and queries of the persistence tests, and
// their exact brute force: a pure function of the index, the same in a page and in Node, so any
// side can rebuild the oracle. Runs anywhere (its one import, oracle.js, imports nothing).

import { mulberry32 } from './oracle.js';

/** Row i of the deterministic set: id 'r<i>', a vector, metadata { i, group }. */
export function row(i, dim) {
  const r = mulberry32(1000003 * (i + 1));
  const vector = new Float32Array(dim);
  for (let j = 0; j < dim; j++) vector[j] = r() * 2 - 1;
  return { id: `r${i}`, vector, metadata: { i, group: i % 5 } };
}

export function query(q, dim) {
  return row(1_000_000 + q, dim).vector;
}

export function bruteForce(qv, n, dim, k) {
  const all = [];
  for (let i = 0; i < n; i++) {
    const v = row(i, dim).vector;
    let s = 0;
    for (let j = 0; j < dim; j++) { const d = qv[j] - v[j]; s += d * d; }
    all.push({ id: `r${i}`, d: Math.sqrt(s) });
  }
  all.sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : 1));
  return all.slice(0, k);
}

