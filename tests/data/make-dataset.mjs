// tests/data/make-dataset.mjs — generates the small committed dataset the JS tests use.
//
//   node tests/data/make-dataset.mjs      (writes base-2000x32.fvecs and queries-50x32.fvecs)
//
// Deterministic: a mulberry32 PRNG with a fixed seed and Box-Muller normals; 2000 points drawn
// around 40 Gaussian cluster centres in 32 dimensions (clustered, like real embeddings), and 50
// queries drawn the same way. .fvecs layout: per vector, an int32 dimension then dim float32s
// (little-endian). The files are committed; the tests compute their exact oracle from them at
// run time, so nothing expected is stored. Rerunning this script reproduces identical bytes.
import { writeFileSync } from 'node:fs';
import { mulberry32 } from '../browser/pages/oracle.js';

const N = 2000, NQ = 50, DIM = 32, CLUSTERS = 40, SEED = 0x5eed2026;

const rand = mulberry32(SEED);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const centres = Array.from({ length: CLUSTERS }, () => Array.from({ length: DIM }, () => 2 * gauss()));

function draw() {
  const c = centres[Math.floor(rand() * CLUSTERS)];
  return c.map((x) => x + 0.6 * gauss());
}

function fvecs(rows) {
  const buf = Buffer.alloc(rows.length * (4 + 4 * DIM));
  let o = 0;
  for (const r of rows) {
    buf.writeInt32LE(DIM, o); o += 4;
    for (const x of r) { buf.writeFloatLE(x, o); o += 4; }
  }
  return buf;
}

const base = Array.from({ length: N }, draw);
const queries = Array.from({ length: NQ }, draw);
const dir = new URL('.', import.meta.url);
writeFileSync(new URL(`base-${N}x${DIM}.fvecs`, dir), fvecs(base));
writeFileSync(new URL(`queries-${NQ}x${DIM}.fvecs`, dir), fvecs(queries));
console.log(`wrote base-${N}x${DIM}.fvecs and queries-${NQ}x${DIM}.fvecs`);
