// tests/js/query-cli.test.js — `veclite query` with --mmr, --text and --alpha:
// the CLI gives what the API gives for the same store, exit codes 2 for unparsable values and
// 1 (EINVAL) for values the API refuses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createDatabase, openCollection } from '../../web/index.js';
import { BASE, QUERIES } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/veclite.js', import.meta.url));
const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-qcli-'));
after(() => fs.rmSync(ROOT, { recursive: true, force: true }));

function cli(args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, CI: 'true', VECLITE_DEBUG: '' }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BODIES = ['red apple pie', 'green apple tart', 'red car engine', 'blue ocean wave', 'apple orchard in autumn',
  'engine oil change', 'ocean liner cruise', 'pie crust recipe'];

let nth = 0;
async function store(extra = {}) {
  const dir = fs.mkdtempSync(path.join(ROOT, `s${nth++}-`));
  const db = await createDatabase({ path: dir });
  const c = await db.createCollection('s', { dimension: BASE[0].length, metric: 'cosine', index: { type: 'flat' }, ...extra });
  await c.insertBatch(BASE.slice(0, 200).map((v, i) => ({ id: i, vector: v, metadata: { body: BODIES[i % BODIES.length], g: i % 2 } })));
  await db.close();
  return path.join(dir, 's.rvf');
}

test('query --mmr: same picks as the API; bad values are usage errors (2) or EINVAL (1)', async () => {
  const file = await store();
  const q = Array.from(QUERIES[0]);
  const col = await openCollection(file, { readOnly: true });
  const want = await col.search(q, { k: 5, mmr: { lambda: 0.3, fetchK: 25 } });
  const wantDefault = await col.search(q, { k: 5, mmr: { lambda: 0.3 } });
  await col.close();
  const r = cli(['query', file, '--vector', JSON.stringify(q), '--k', '5', '--mmr', '0.3,25', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).results.map((h) => h.id), want.map((h) => h.id));
  const r2 = cli(['query', file, '--vector', JSON.stringify(q), '--k', '5', '--mmr', '0.3', '--json']);
  assert.deepEqual(JSON.parse(r2.stdout).results.map((h) => h.id), wantDefault.map((h) => h.id));
  for (const bad of ['x', '0.5,', '0.5,2.5', '0.5,3,4']) {
    const u = cli(['query', file, '--vector', JSON.stringify(q), '--mmr', bad]);
    assert.equal(u.code, 2, `${bad}: ${u.stderr}`);
    assert.match(u.stderr, /--mmr takes LAMBDA/);
  }
  const e = cli(['query', file, '--vector', JSON.stringify(q), '--k', '5', '--mmr', '1.5', '--json']);
  assert.equal(e.code, 1);
  assert.equal(JSON.parse(e.stdout).error.code, 'EINVAL');
  const e2 = cli(['query', file, '--vector', JSON.stringify(q), '--k', '5', '--mmr', '0.5,3']);
  assert.equal(e2.code, 1);
  assert.match(e2.stderr, /^veclite: EINVAL: .*fetchK/);
});

test('query --text (keywords) and --text with --vector and --alpha (hybrid): same hits as the API', async () => {
  const file = await store({ text: { field: 'body' } });
  const q = Array.from(QUERIES[1]);
  const col = await openCollection(file, { readOnly: true });
  const kw = await col.search(null, { text: 'apple pie', k: 4 });
  const hy = await col.search(q, { text: 'ocean engine', hybrid: { alpha: 0.7 }, k: 6 });
  await col.close();
  assert.ok(kw.length === 4 && hy.length === 6);
  const r = cli(['query', file, '--text', 'apple pie', '--k', '4', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).results, JSON.parse(JSON.stringify(kw)));
  const r2 = cli(['query', file, '--vector', JSON.stringify(q), '--text', 'ocean engine', '--alpha', '0.7', '--k', '6', '--json']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(JSON.parse(r2.stdout).results.map((h) => h.id), hy.map((h) => h.id));
  const t = cli(['query', file, '--text', 'apple pie', '--k', '4']);
  assert.equal(t.code, 0);
  assert.match(t.stdout, /rank\s+id\s+score\s+distance\s+text/);
  const u = cli(['query', file, '--vector', JSON.stringify(q), '--alpha', '0.5']);
  assert.equal(u.code, 2);
  assert.match(u.stderr, /--alpha weighs a hybrid query/);
  const e = cli(['query', file, '--text', ' -- ', '--json']);
  assert.equal(e.code, 1);
  assert.equal(JSON.parse(e.stdout).error.code, 'EINVAL');
  const e2 = cli(['query', file, '--vector', JSON.stringify(q), '--text', 'apple', '--alpha', '3']);
  assert.equal(e2.code, 1);
  assert.match(e2.stderr, /^veclite: EINVAL: .*alpha/);
});

test('create --text-field makes a store that query --text searches', async () => {
  const file = path.join(fs.mkdtempSync(path.join(ROOT, 'c-')), 'k.rvf');
  const c = cli(['create', file, '--dimension', '2', '--index', 'flat', '--text-field', 'body', '--json']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(JSON.parse(c.stdout).text, 'body');
  const col = await openCollection(file);
  await col.insertBatch([{ id: 1, vector: [1, 0], metadata: { body: 'red apple' } }, { id: 2, vector: [0, 1], metadata: { body: 'blue car' } }]);
  await col.close();
  const r = cli(['query', file, '--text', 'APPLE', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).results.map((h) => h.id), [1]);
  const plain = path.join(path.dirname(file), 'p.rvf');
  assert.equal(cli(['create', plain, '--dimension', '2']).code, 0);
  const e = cli(['query', plain, '--text', 'apple']);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /^veclite: EINVAL: .*no text field/);
});
