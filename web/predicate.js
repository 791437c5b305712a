// web/predicate.js — search with a JavaScript predicate as the filter. A function cannot cross
// to a worker, so it runs here, in the caller's thread, over what a session sends back.
//
// Method: widen the engine's answer (k' = 4k, 16k, ...) until k matches are found; if the graph
// cannot deliver them, finish exactly: walk every live row a page at a time ('scanPage'), test
// the predicate, and let the session rank the matches by distance ('rank').
//
// Invariants:
// - The predicate is called at most once per id per search (memoized), synchronously; a Promise
//   or thenable answer is refused (EINVAL) instead of counting as a match, and an exception it
//   throws rejects the search with EINVAL saying so (the exception is the error's cause).
// - Each step is one message; a collection closed meanwhile (even by the predicate) stops the
//   search with ECLOSED (checked after each batch of predicate calls, and by the session).

import { VecliteError, einval } from '../worker/errors.js';
import { errText } from '../worker/values.js';
import { hitsOf } from './args.js';

/**
 * A predicate's answer as a boolean. Plain values count by truthiness (like Array.prototype.
 * filter); a Promise or other thenable is refused.
 */
function predicateResult(v) {
  if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
    let thenable;
    try {
      thenable = typeof v.then === 'function';
    } catch (e) {
      throw new VecliteError('EINVAL', `filter predicate returned a value that cannot be read (${errText(e)}); return true or false`, { cause: e });
    }
    if (thenable) {
      if (v instanceof Promise) v.catch(() => {});   // its outcome is ignored; do not leave it unhandled
      throw einval('filter predicate must be synchronous and return a boolean (it returned a Promise or thenable); ' +
        'compute what it needs before calling search, or filter the results afterwards');
    }
  }
  return Boolean(v);
}

/**
 * Top k of one query q (float32) among rows the predicate accepts.
 * @param {{ call(type: string, args: object): Promise<any> }} client
 * @param {number} col the collection handle
 * @param {{ dim: number, metric: string, limits: any }} c
 * @param {() => void} live throws ECLOSED once the collection was closed (by the predicate, too)
 */
export async function predicateSearch(client, col, c, q, o, live) {
  const send = (type, args) => client.call(type, { col, ...args });
  const total = await send('count', { pinned: true });
  if (total === 0) return [];
  const L = c.limits;
  const memo = new Map();
  const test = (id, meta) => {
    const key = id; // bigints are compared by value in a Map
    let ok = memo.get(key);
    if (ok === undefined) {
      let v;
      try {
        v = o.predicate(meta, id);
      } catch (e) {
        throw new VecliteError('EINVAL', `filter predicate threw ${errText(e)} (for id ${typeof id === 'bigint' ? `${id}n` : JSON.stringify(id)}); ` +
          'a predicate must return true or false for every row\'s metadata (an empty object when a row has none)', { cause: e });
      }
      ok = predicateResult(v);
      memo.set(key, ok);
    }
    return ok;
  };
  const all = { ...o, includeMetadata: true, threshold: undefined };
  let kk = Math.min(total, Math.max(o.k * 4, 32), L.MAX_K);
  for (;;) {
    const r = await send('search', {
      queries: q.slice(), nq: 1, pinned: true,
      options: { k: kk, ef: o.ef, minEf: kk, filter: null, includeMetadata: true, includeVectors: o.includeVectors },
    });
    const hits = hitsOf(r, 0, c.metric, c.dim, all);
    const out = [];
    for (const h of hits) {
      if (o.threshold !== undefined && !(h.score >= o.threshold)) break;
      if (test(h.id, h.metadata)) {
        out.push(h);
        if (out.length === o.k) break;
      }
    }
    live(); // the predicate may have closed the collection
    const sawAll = hits.length >= total;
    const cutByThreshold = o.threshold !== undefined && hits.length > 0 && !(hits[hits.length - 1].score >= o.threshold);
    if (out.length >= o.k || sawAll || cutByThreshold) return finish(out, o);
    if (r.counts[0] < kk || kk * 4 >= total || kk * 4 > L.MAX_K) break;
    kk *= 4;
  }
  return exactScan(send, c, q, o, test, live);
}

function finish(hits, o) {
  if (!o.includeMetadata) for (const h of hits) delete h.metadata;
  return hits;
}

/** Exact answer: every live row is tested, matches are ranked by distance in the session. */
async function exactScan(send, c, q, o, test, live) {
  const PAGE = 4096;
  let match = new Uint32Array(2 * 1024);
  let nMatch = 0;
  let after = null;
  for (;;) {
    const page = await send('scanPage', { after, pageSize: PAGE, pinned: true });
    const n = page.pairs.length / 2;
    for (let i = 0; i < n; i++) {
      if (!test(page.ids[i], page.metas[i])) continue;
      if (2 * nMatch + 2 > match.length) {
        const m2 = new Uint32Array(match.length * 2);
        m2.set(match);
        match = m2;
      }
      match[2 * nMatch] = page.pairs[2 * i];
      match[2 * nMatch + 1] = page.pairs[2 * i + 1];
      nMatch++;
    }
    live();
    if (n < PAGE) break;
    after = page.pairs.slice(2 * (n - 1), 2 * n);
  }
  if (nMatch === 0) return [];
  const r = await send('rank', {
    query: q.slice(), pairs: match.slice(0, 2 * nMatch), pinned: true,
    options: { k: o.k, includeMetadata: o.includeMetadata, includeVectors: o.includeVectors },
  });
  return hitsOf(r, 0, c.metric, c.dim, o);
}
