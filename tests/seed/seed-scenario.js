// tests/seed/seed-scenario.js — code written only from the npm architecture seed's documented
// interface (createDatabase({ dimensions, metric, ... }) as collection defaults, positional
// insert/update, getCollection → null, deleteCollection → boolean, db.stats(),
// getImplementation().type, initialize, initWorkerPool, enableIndexedDb, search with k/ef and a
// predicate filter). The same module runs in Node (tests/js/seed.test.js) and in headless
// Chromium (tests/browser/seed.test.js); it returns what it saw, and the tests judge it against
// values computed from its own inputs.
//
// Invariants: uses nothing but the seed's forms; deterministic data; no assertions inside (the
// runner judges), so a browser page can return plain data.

/** @param {any} veclite the package's exports */
export async function seedScenario(veclite) {
  const out = {};
  const impl = await veclite.initialize();
  out.implType = impl.type;
  out.implBuild = veclite.getImplementation().build;
  out.poolSize = (await veclite.initWorkerPool(0)).workers;
  out.indexedDb = await veclite.enableIndexedDb('seed-scenario'); // false in Node, true in a browser
  // a memory database with collection defaults (enableIndexedDb only changes createDatabase() without
  // a path or backend: pass backend 'memory' to keep this one in memory everywhere)
  const db = await veclite.createDatabase({ backend: 'memory', dimensions: 4, metric: 'cosine', m: 8, efConstruction: 64, maxElements: 100 });
  out.missing = await db.getCollection('docs');
  const docs = await db.createCollection('docs');
  const vecs = {
    a: [1, 0, 0, 0], b: [0.9, 0.1, 0, 0], c: [0, 1, 0, 0], d: [0, 0, 1, 0], e: [0.7, 0.7, 0, 0],
  };
  for (const [id, v] of Object.entries(vecs)) await docs.insert(id, v, { tag: id === 'c' ? 'odd' : 'even' });
  const got = await docs.get('b');
  out.get = { id: got.id, vector: Array.from(got.vector), metadata: got.metadata };
  out.getMissing = await docs.get('zzz');
  out.updated = await docs.update('d', [0, 0, 0.5, 0.5], { tag: 'moved' });
  out.updatedMissing = await docs.update('zzz', [1, 1, 1, 1]);
  const afterUpdate = await docs.get('d');
  out.afterUpdate = { vector: Array.from(afterUpdate.vector), metadata: afterUpdate.metadata };
  const hits = await docs.search([1, 0, 0, 0], { k: 3, ef: 32 });
  out.search = hits.map((h) => [h.id, h.score]);
  const filtered = await docs.search([1, 0, 0, 0], { k: 3, filter: (meta) => meta.tag === 'odd' });
  out.filtered = filtered.map((h) => h.id);
  out.stats = await db.stats();
  out.deleted = await db.deleteCollection('docs');
  out.deletedAgain = await db.deleteCollection('docs');
  out.afterDelete = await db.getCollection('docs');
  // maxElements is a real capacity
  const small = await veclite.createDatabase({ backend: 'memory', dimensions: 2, maxElements: 2 });
  const s = await small.createCollection('s');
  await s.insert('x', [1, 0]);
  await s.insert('y', [0, 1]);
  await s.insert('x', [1, 1]); // an upsert adds nothing
  try { await s.insert('z', [1, 2]); out.overCapacity = 'resolved'; } catch (e) { out.overCapacity = e.code; }
  await small.close();
  try { await veclite.createDatabase({ quantization: 'pq' }); out.quantization = 'resolved'; } catch (e) { out.quantization = e.code; }
  await db.close();
  return out;
}
