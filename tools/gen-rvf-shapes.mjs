// gen-rvf-shapes.mjs — write the golden files of the two rvf-node shapes veclite once refused,
// with the REAL @ruvector/rvf-node (devDependency), and print their expected.json entries:
//   dim0-empty.rvf                         a dimension-0 empty store: derive(path, { dimension: 0 })
//                                          (rvf-node's create() refuses dimension 0; derive takes it)
//   branch-parent.rvf / branch-child.rvf   branch(): a copy-on-write child whose inherited rows live
//                                          in the parent file beside it
// Usage: node tools/gen-rvf-shapes.mjs OUTDIR   (then copy the .rvf files into tests/golden/rvf/ and
// merge the printed JSON into expected.json; rerun tools/embed-golden.mjs). Everything printed is
// what rvf-node itself reports, never veclite. The files are data: regenerate only on purpose (file ids
// are derived from the path and time by rvf-node, so bytes differ between runs).
//
// What the child exercises (parent: 60 rows, ids 1000..1059, dim 8, L2; parent deletes 1003, 1004
// before branching, so the child's membership bitmap leaves them out):
//   child ingest: 1010 (overrides an inherited row), 5000..5004 (new rows);
//   child delete: 1020 (inherited: clears its membership bit, manifest deleted list unchanged),
//                 5004 (the child's own row: manifest deleted list).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { RvfDatabase } = require('@ruvector/rvf-node');
const out = path.resolve(process.argv[2] || '.');
fs.mkdirSync(out, { recursive: true });
const DIM = 8;

function rng(seed) {            // mulberry32: fixed vectors on every run
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = rng(20240606);
const vec = () => Array.from({ length: DIM }, () => rnd() * 2 - 1);
const flat = (rows) => new Float32Array(rows.flat());
for (const f of ['dim0-empty.rvf', 'dim0-source.rvf', 'branch-parent.rvf', 'branch-child.rvf']) {
  fs.rmSync(path.join(out, f), { force: true });
}

function facts(file, queries) {
  const db = RvfDatabase.openReadonly(path.join(out, file));
  try {
    const st = db.status();
    const e = {
      bytes: fs.statSync(path.join(out, file)).size,
      dimension: db.dimension(),
      metric: db.metric(),
      liveVectors: st.totalVectors,
      epoch: st.currentEpoch,
      fileId: db.fileId(),
      parentId: db.parentId(),
      lineageDepth: db.lineageDepth(),
      queries,
      top10: queries.map((q) => db.query(new Float32Array(q), 10).map((r) => [r.id, r.distance])),
    };
    if (queries.length) {
      // every row a query can reach (parent + child for a branch): ids ascending
      e.visibleIds = db.query(new Float32Array(queries[0]), 100000).map((r) => r.id).sort((a, b) => a - b);
    }
    return e;
  } finally {
    db.close();
  }
}

// ---- dimension 0 ----
{
  const src = RvfDatabase.create(path.join(out, 'dim0-source.rvf'), { dimension: 4 });
  const c = src.derive(path.join(out, 'dim0-empty.rvf'), { dimension: 0 });
  c.close();
  src.close();
  fs.rmSync(path.join(out, 'dim0-source.rvf'), { force: true });
}

// ---- branch ----
const parentRows = Array.from({ length: 60 }, vec);
const parentIds = parentRows.map((_, i) => 1000 + i);
{
  const p = RvfDatabase.create(path.join(out, 'branch-parent.rvf'), { dimension: DIM, metric: 'l2' });
  p.ingestBatch(flat(parentRows), parentIds);
  p.delete([1003, 1004]);
  const c = p.branch(path.join(out, 'branch-child.rvf'));
  p.close();                                   // the parent is never written again (its hash is checked)
  const over = vec(), news = Array.from({ length: 5 }, vec);
  c.ingestBatch(flat([over, ...news]), [1010, 5000, 5001, 5002, 5003, 5004]);
  c.delete([1020, 5004]);
  c.close();
}
const queries = [vec(), vec(), parentRows[7]];
const result = {
  'dim0-empty.rvf': facts('dim0-empty.rvf', []),
  'branch-parent.rvf': facts('branch-parent.rvf', queries),
  'branch-child.rvf': { ...facts('branch-child.rvf', queries), branchParent: 'branch-parent.rvf' },
};
console.log(JSON.stringify(result, null, 1));
