// tests/js/seed.test.js — the npm architecture seed's interface, unchanged, in Node: runs
// tests/seed/seed-scenario.js (written only from that interface) and judges what it saw against
// values computed here from the scenario's inputs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as veclite from '../../web/index.js';
import { seedScenario } from '../seed/seed-scenario.js';
import { judgeSeed } from '../seed/judge.js';

test("the seed's interface runs unchanged in Node", async () => {
  judgeSeed(await seedScenario(veclite), { indexedDb: false });
});

test('the seed forms sit beside the richer ones', async () => {
  const db = await veclite.createDatabase({ dimensions: 3 });
  const c = await db.createCollection('c', { metric: 'euclidean' }); // defaults fill the dimension
  assert.equal(c.dimension, 3);
  assert.equal(c.metric, 'euclidean');
  await c.insert({ id: 1, vector: [1, 2, 3] });
  await c.insert(2, [3, 2, 1], { k: 'v' });
  assert.equal(await c.update(1, { metadata: { n: 1 } }), true);
  assert.equal(await c.update(2, null, { k: 'w' }), true, 'a null vector keeps it');
  assert.deepEqual(Array.from((await c.get(2)).vector), [3, 2, 1]);
  assert.deepEqual((await c.get(2)).metadata, { k: 'w' });
  assert.equal(String(veclite.getImplementation()), veclite.getImplementation().build);
  await assert.rejects(db.createCollection('d', 5), { code: 'EINVAL' });
  const none = await veclite.createDatabase();
  await assert.rejects(none.createCollection('x'), { code: 'EINVAL', message: /dimensions/ });
  await assert.rejects(async () => new veclite.Database(), { code: 'EINVAL', message: /createDatabase/ });
  await assert.rejects(async () => new veclite.Collection(), { code: 'EINVAL' });
  await none.close();
  await db.close();
});

test('review fixes: overwrites past maxElements, a collection keeps its maxElements on reopen, seed defaults are checked up front', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-seed-'));
  try {
    // a collection of 4 rows opened by a database whose default cap is 2: overwrites still work
    let db = await veclite.createDatabase({ path: dir, dimensions: 2 });
    let c = await db.createCollection('f');
    await c.insertBatch([1, 2, 3, 4].map((id) => ({ id, vector: [id, 1] })));
    const capped = await db.createCollection('g', { maxElements: 3 });
    await capped.insertBatch([1, 2, 3].map((id) => ({ id, vector: [id, 1] })));
    await db.close();
    db = await veclite.createDatabase({ path: dir, dimensions: 2, maxElements: 2 });
    c = await db.getCollection('f');
    await c.insert(1, [5, 5]); // adds nothing: allowed
    await assert.rejects(c.insert(9, [1, 1]), { code: 'EBUDGET' });
    await db.close();
    // the collection's own cap came back with its file, without any database default
    db = await veclite.createDatabase({ path: dir });
    const g = await db.getCollection('g');
    await assert.rejects(g.insert(4, [1, 1]), { code: 'EBUDGET', message: /maxElements = 3/ });
    await g.insert(3, [9, 9]);
    assert.equal(await g.count(), 3);
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const bad of [{ dimensions: 'abc' }, { dimensions: 0 }, { metric: 'foo' }, { m: -1 }, { efConstruction: 1.5 }]) {
    await assert.rejects(veclite.createDatabase(bad), { code: 'EINVAL', message: /createDatabase/ }, JSON.stringify(bad));
  }
  // insert(record, undefined) (as forEach/map call it) is the record form
  const db2 = await veclite.createDatabase({ dimensions: 2 });
  const c2 = await db2.createCollection('c');
  await c2.insert({ id: 1, vector: [1, 2] }, undefined);
  await Promise.all([{ id: 2, vector: [2, 1] }].map((r, i, all) => c2.insert(r, i, all)));
  assert.equal((await c2.get(1)).id, 1);
  assert.equal((await c2.get(2)).id, 2);
  await db2.close();
});
