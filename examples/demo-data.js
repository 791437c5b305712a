// examples/demo-data.js — the sample set of examples/browser.html, shared with its test
// (tests/browser/demo.test.js), which rebuilds it in Node for an exact brute-force oracle.
// examples/worker-offload.html draws a larger set from it (count and dim as parameters), judged
// the same way by tests/browser/offload.test.js.
//
// 5,000 "documents" in 8 categories × 3 topics: each has a 2D map position (its topic's centre
// plus noise) and a 64-dimensional vector = a fixed 64×2 projection of that position + its
// category's direction + noise, so nearby points on the map are nearby vectors. Metadata:
// { title, category, year }.
//
// Invariants: a pure function of (count, dim, seed) — mulberry32 PRNG, no Math.random, no
// platform APIs — so the page and Node produce bit-identical Float32Array vectors. No imports.

export const DIM = 64;
export const COUNT = 5000;
export const SEED = 20240607;
export const YEAR_MIN = 1990;
export const YEAR_MAX = 2024;

export const CATEGORIES = ['science', 'technology', 'sports', 'music', 'travel', 'food', 'history', 'art'];
const TOPICS = {
  science: ['black holes', 'gene editing', 'ocean currents'],
  technology: ['compilers', 'battery chemistry', 'edge computing'],
  sports: ['marathon training', 'chess openings', 'cycling tactics'],
  music: ['jazz harmony', 'synthesizers', 'baroque opera'],
  travel: ['night trains', 'island hopping', 'mountain huts'],
  food: ['sourdough', 'fermentation', 'street food'],
  history: ['the silk road', 'medieval guilds', 'the printing press'],
  art: ['fresco technique', 'street photography', 'bauhaus design'],
};
const OPENERS = ['A field guide to', 'Notes on', 'The hidden history of', 'Rethinking', 'Ten lessons from',
  'A beginner’s map of', 'Why we still argue about', 'Inside', 'The quiet rise of', 'Letters on'];

/** mulberry32: a tiny deterministic PRNG giving floats in [0, 1). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The sample set.
 * @returns {{ dim: number, docs: { id: number, title: string, category: string, year: number,
 *   x: number, y: number, vector: Float32Array }[] }}
 */
export function generate({ count = COUNT, dim = DIM, seed = SEED } = {}) {
  const rand = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const basis = Array.from({ length: dim }, () => [gauss(), gauss()]);
  const cats = CATEGORIES.map((name, c) => {
    const a = (2 * Math.PI * c) / CATEGORIES.length;
    const cx = Math.cos(a) * 2.2;
    const cy = Math.sin(a) * 2.2;
    return {
      name,
      dir: Array.from({ length: dim }, gauss),
      topics: TOPICS[name].map((t) => ({ name: t, x: cx + 0.55 * gauss(), y: cy + 0.55 * gauss() })),
    };
  });
  const docs = new Array(count);
  for (let id = 0; id < count; id++) {
    const cat = cats[Math.floor(rand() * cats.length)];
    const topic = cat.topics[Math.floor(rand() * cat.topics.length)];
    const x = topic.x + 0.28 * gauss();
    const y = topic.y + 0.28 * gauss();
    const vector = new Float32Array(dim);
    for (let i = 0; i < dim; i++) vector[i] = basis[i][0] * x + basis[i][1] * y + 0.8 * cat.dir[i] + 0.6 * gauss();
    const year = YEAR_MIN + Math.floor(rand() * (YEAR_MAX - YEAR_MIN + 1));
    const title = `${OPENERS[Math.floor(rand() * OPENERS.length)]} ${topic.name}`;
    docs[id] = { id, title, category: cat.name, year, x, y, vector };
  }
  return { dim, docs };
}

/** The mean vector of a category's documents (a "category centroid" query). */
export function centroid(docs, category) {
  const dim = docs[0].vector.length;
  const sum = new Float64Array(dim);
  let n = 0;
  for (const d of docs) {
    if (d.category !== category) continue;
    for (let i = 0; i < dim; i++) sum[i] += d.vector[i];
    n++;
  }
  return Float32Array.from(sum, (s) => s / n);
}

/** A reproducible random query vector for a seed. */
export function randomQuery(seed, dim = DIM) {
  const rand = rng(seed);
  return Float32Array.from({ length: dim }, () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}
