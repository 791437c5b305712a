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
