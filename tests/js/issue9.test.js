// tests/js/issue9.test.js — what a new user hit (issue 9 point 4), one test per problem:
// a missing folder, a throwing filter predicate, vectors whose squared norm overflows float32,
// id-type hints, and the grammar of library messages.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection, recoverCollection } from '../../web/index.js';
import { rejectsWith } from './helpers.js';
import { describe as describeValue } from '../../worker/metadata.js';
import { plural } from '../../worker/errors.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-issue9-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

test('issue 9: creating a store in a missing folder is ENOTFOUND naming the missing directory', async () => {
  const missing = path.join(TMP, 'no');
  const file = path.join(missing, 'such', 'dir', 'x.rvf');
  const names = new RegExp(`directory ${missing.replace(/[/.]/g, '\\$&')}/such/dir does not exist.*${missing.replace(/[/.]/g, '\\$&')} is missing`);
  await rejectsWith(() => openCollection(file, { create: { dimension: 3 } }), 'ENOTFOUND', names);
  assert.equal(fs.existsSync(missing), false, 'openCollection creates no folder');

  const src = await openCollection(path.join(TMP, 'src.rvf'), { create: { dimension: 3 } });
  await src.insert({ id: 1, vector: [1, 2, 3] });
  await rejectsWith(() => src.derive(file), 'ENOTFOUND', names);
  await src.close();
  await rejectsWith(() => recoverCollection(path.join(TMP, 'src.rvf'), file), 'ENOTFOUND', names);

  // A database directory removed under an open database: createCollection names it.
  const dbDir = path.join(TMP, 'db');
  const db = await createDatabase({ path: dbDir });
  fs.rmSync(dbDir, { recursive: true });
  await rejectsWith(() => db.createCollection('c', { dimension: 3 }), 'ENOTFOUND', new RegExp(`directory ${dbDir.replace(/[/.]/g, '\\$&')} does not exist`));
  await db.close();

  // createDatabase creates its folder with parents (docs/api.md §6).
  const deep = path.join(TMP, 'a', 'b', 'c');
  const db2 = await createDatabase({ path: deep });
  const c = await db2.createCollection('x', { dimension: 3 });
  await c.insert({ id: 1, vector: [1, 0, 0] });
  assert.ok(fs.existsSync(path.join(deep, 'x.rvf')));
  await db2.close();

  // A path through a regular file: the component that is not a directory is named.
  const plain = path.join(TMP, 'plain');
  fs.writeFileSync(plain, 'x');
  await rejectsWith(() => openCollection(path.join(plain, 'x.rvf'), { create: { dimension: 3 } }), 'ENOTFOUND',
    new RegExp(`${plain.replace(/[/.]/g, '\\$&')} is not a directory`));
});

test('issue 9: a filter predicate that throws rejects with EINVAL saying why, and the collection still works', async () => {
  const db = await createDatabase();
  const c = await db.createCollection('p', { dimension: 2, metric: 'euclidean' });
  await c.insertBatch([{ id: 1, vector: [0, 0], metadata: { n: 1 } }, { id: 2, vector: [1, 1] }]);
  await c.update(1, { metadata: { n: 1, tag: 'a' } });
  const err = await c.search([0, 0], { filter: () => { throw new TypeError('x'); } }).then(() => null, (e) => e);
  assert.ok(err, 'the search rejects');
  assert.equal(err.name, 'VecliteError', `not the raw ${err.name}`);
  assert.equal(err.code, 'EINVAL');
  assert.match(err.message, /filter predicate threw TypeError: x/);
  assert.ok(err.cause instanceof TypeError, 'the thrown error is the cause');
  await rejectsWith(() => c.search([0, 0], { filter: (m) => m.tag.length > 0 }), 'EINVAL', /predicate threw TypeError: .*for id 2/);
  await rejectsWith(() => c.searchBatch([[0, 0]], { filter: () => { throw 'plain'; } }), 'EINVAL', /predicate threw plain/);
  await c.insert({ id: 3, vector: [5, 5] });
  assert.deepEqual((await c.search([0, 0], { filter: (m) => m?.n === 1 })).map((h) => h.id), [1]);
  await db.close();
});

test('issue 9: finite vectors whose squared length overflows float32 are EINVAL for every metric and call', async () => {
  const db = await createDatabase();
  const huge = [1e20, 0, 0];
  const tooLong = /vector is too long: its squared length 1\.00e\+40 exceeds 2\^125.*overflow 32-bit floats/;
  for (const metric of ['euclidean', 'dotProduct', 'cosine']) {
    const c = await db.createCollection(`n_${metric}`, { dimension: 3, metric });
    await c.insert({ id: 1, vector: [1, 2, 3] });
    await rejectsWith(() => c.insert({ id: 2, vector: huge }), 'EINVAL', tooLong);
    await rejectsWith(() => c.insertBatch([{ id: 3, vector: [1, 1, 1] }, { id: 4, vector: huge }]), 'EINVAL',
      /insertBatch\[1\]: vector is too long/);
    await rejectsWith(() => c.update(1, { vector: huge }), 'EINVAL', /update: vector is too long/);
    await rejectsWith(() => c.search(huge), 'EINVAL', /search: vector is too long/);
    await rejectsWith(() => c.searchBatch([[1, 0, 0], huge]), 'EINVAL', /searchBatch\[1\]: vector is too long/);
    // Many components each fine, together too long: the length counts, not one component.
    await rejectsWith(() => c.insert({ id: 5, vector: [4e18, 4e18, 4e18] }), 'EINVAL', /too long/);
    assert.equal(await c.count(), 1, `${metric}: nothing was written`);
    assert.deepEqual(Array.from((await c.get(1)).vector), [1, 2, 3]);
    // Large but within the bound: finite distances in the right order.
    await c.insertBatch([{ id: 6, vector: [1e18, 0, 0] }, { id: 7, vector: [2e18, 1e18, 0] }, { id: 8, vector: [-3e18, 0, 1e18] }]);
    const hits = await c.search([1e18, 0, 0], { k: 4 });
    assert.ok(hits.every((h) => Number.isFinite(h.score) && Number.isFinite(h.distance ?? 0)), JSON.stringify(hits));
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score, `${metric}: ordered`);
  }
  await db.close();
});

test('issue 9: id-type errors tell the user how to pass the id correctly', async () => {
  const db = await createDatabase();
  const nums = await db.createCollection('nums', { dimension: 2 });
  await nums.insert({ id: 1, vector: [1, 0] });
  const strs = await db.createCollection('strs', { dimension: 2 });
  await strs.insert({ id: 'a', vector: [1, 0] });
  const typed = await db.createCollection('typed', { dimension: 2, idType: 'number' });

  // A string of digits in a numeric collection: pass the number (or the bigint past 2^53-1).
  await rejectsWith(() => nums.insert({ id: '5', vector: [1, 0] }), 'EINVAL',
    /^insert: collection 'nums' has numeric ids, and this id is the string "5"; pass it as the number 5, not the string "5"; a collection cannot mix string and numeric ids$/);
  for (const [name, f] of [['get', () => nums.get('1')], ['delete', () => nums.delete('1')], ['update', () => nums.update('1', { metadata: { a: 1 } })]]) {
    await rejectsWith(f, 'EINVAL', new RegExp(`^${name}: collection 'nums' has numeric ids, and this id is the string "1"; pass it as the number 1, not the string "1"$`));
  }
  await rejectsWith(() => nums.get('18446744073709551615'), 'EINVAL', /pass it as the bigint 18446744073709551615n, not the string/);
  // Any other string: a numeric id, or a collection of string ids.
  await rejectsWith(() => typed.insert({ id: 'x', vector: [1, 0] }), 'EINVAL',
    /collection 'typed' has numeric ids, and this id is the string "x"; give a numeric id .*idType: 'string'/);
  // A number in a string collection: pass its string; never "use bigint".
  await rejectsWith(() => strs.insert({ id: 5, vector: [1, 0] }), 'EINVAL',
    /^insert: collection 'strs' has string ids, and this id is the number 5; pass it as the string "5"; for numeric ids use a collection created with idType: 'number'/);
  await rejectsWith(() => strs.get(7n), 'EINVAL', /this id is the bigint 7n; pass it as the string "7"$/);
  await rejectsWith(() => strs.delete([1]), 'EINVAL', /^delete\[0\]: collection 'strs' has string ids, and this id is the number 1; pass it as the string "1"$/);
  // A batch whose first row sets the kind of an empty collection says so.
  const fresh = await db.createCollection('fresh', { dimension: 2 });
  await rejectsWith(() => fresh.insertBatch([{ id: 'a', vector: [1, 0] }, { id: 2, vector: [0, 1] }]), 'EINVAL',
    /^insertBatch\[1\]: the batch's first id gives collection 'fresh' string ids, and this id is the number 2; pass it as the string "2"/);

  // Bad numbers: the hint fits the problem (bigint only helps above 2^53-1).
  const bad = (id, re) => rejectsWith(() => nums.insert({ id, vector: [1, 0] }), 'EINVAL', re);
  await bad(1.5, /numeric id 1\.5 is not a whole number/);
  await bad(-1, /numeric id -1 is negative/);
  for (const id of [1.5, -1]) {
    const e = await nums.insert({ id, vector: [1, 0] }).catch((x) => x);
    assert.doesNotMatch(e.message, /as bigint/, `${id}: no bigint hint`);
  }
  await bad(2 ** 60, /above 2\^53-1.*pass ids above 2\^53-1 as bigints, written exactly/);
  await bad({}, /id must be a string, a non-negative integer or a bigint \(got an object\)/);
  assert.equal(await nums.count(), 1);
  assert.equal(await strs.count(), 1);
  await db.close();
});

test('issue 9: describe() and counts in messages are grammatical', async () => {
  assert.equal(describeValue(undefined), 'undefined');
  assert.equal(describeValue(null), 'null');
  assert.equal(describeValue({}), 'an object');
  assert.equal(describeValue(Object.create(null)), 'an object');
  assert.equal(describeValue([1]), 'an array');
  assert.equal(describeValue(new Map()), 'a Map');
  assert.equal(describeValue(new ArrayBuffer(1)), 'an ArrayBuffer');
  assert.equal(describeValue(new Uint8Array(1)), 'a Uint8Array');
  assert.equal(describeValue(new (class Item {})()), 'an Item');
  assert.equal(describeValue(1.5), 'the number 1.5');
  assert.equal(describeValue('abc'), 'the string "abc"');
  assert.equal(describeValue('x'.repeat(50)), `the string "${'x'.repeat(40)}…"`);
  assert.equal(describeValue(5n), 'the bigint 5n');
  assert.equal(describeValue(true), 'the boolean true');
  assert.equal(describeValue(() => 1), 'a function');
  assert.equal(describeValue(Symbol('s')), 'a symbol');
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assert.equal(describeValue(proxy), 'an object');
  assert.equal(plural(1, 'row'), '1 row');
  assert.equal(plural(0, 'row'), '0 rows');
  assert.equal(plural(2, 'entry', 'entries'), '2 entries');

  const db = await createDatabase();
  const c = await db.createCollection('g', { dimension: 2 });
  await rejectsWith(() => c.insert({ id: 1, vector: [1] }), 'EINVAL', /vector has 1 component but collection 'g' has dimension 2/);
  await rejectsWith(() => c.search([1]), 'EINVAL', /vector has 1 component but/);
  await rejectsWith(() => c.insert({ id: 1, vector: [1, undefined] }), 'EINVAL', /vector component 1 is undefined, not a number/);
  await rejectsWith(() => c.insert(undefined), 'EINVAL', /got undefined\)/);
  await rejectsWith(() => c.search({ 0: 1, 1: 2 }), 'EINVAL', /got an object\)/);
  const all = [];
  for (const f of [() => c.insert({ id: {}, vector: [1, 0] }), () => c.insert({ id: 1, vector: [1, 'x'] }), () => c.search(undefined),
    () => c.insertBatch([null]), () => c.update(1, 5), () => c.search([1, 0], { k: 'a' })]) {
    all.push((await Promise.resolve().then(f).catch((e) => e)).message);
  }
  for (const m of all) assert.doesNotMatch(m, /\ba (undefined|object|Object|[aeiouAEIOU]\w*)\b/, m);
  await db.close();
});
