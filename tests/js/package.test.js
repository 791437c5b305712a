// tests/js/package.test.js — the published package, not the repository: `npm pack` the repo into a
// temporary directory, install the tarball offline into a fresh "type":"module" project
// (tests/js/pack.js), and use it from there as a consumer would: import 'veclite' in Node
// (in-thread and with 2 worker_threads, so worker/host.js must be found inside node_modules),
// type-check a TS file against the types the package's `exports` give, check the tarball's file
// list and package.json fields, and run examples/cloudflare-worker.js in the real workerd with
// every module taken from the consumer project (veclite, both .wasm, the bundled .rvf store).
// The bundler build in Chromium is tests/browser/package.test.js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packAndInstall, run, ROOT as root } from './pack.js';
import { writeExampleConfig } from '../workerd/workerd-config.js';
import { startWorkerd } from '../workerd/workerd-process.js';
import { checkExample, exampleQueries } from '../workerd/example-check.js';
import { writeStore } from '../../examples/cloudflare-store.mjs';

const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

let pack;      // packAndInstall() result
let project;   // the consumer project
let packed;    // npm pack --json result for the tarball
let installed; // project/node_modules/veclite

before(() => {
  pack = packAndInstall();
  ({ project, packed, installed } = pack);
});

after(() => pack?.cleanup());

test('the tarball holds the run-time files and nothing from tests/, bench/ or src/', () => {
  const files = new Set(packed.files.map((f) => f.path.replace(/\\/g, '/')));
  for (const f of ['package.json', 'LICENSE', 'README.md', 'pkg/veclite.wasm', 'pkg/veclite.mjs',
    'pkg-simd/veclite.wasm', 'pkg-simd/veclite.mjs', 'web/index.js', 'web/index.d.ts', 'web/loader.js',
    'worker/host.js', 'worker/client.js', 'worker/pool.js', 'bin/veclite.js']) {
    assert.ok(files.has(f), `${f} missing from the tarball`);
  }
  const idb = fs.readdirSync(path.join(root, 'idb')).filter((f) => f.endsWith('.js'));
  assert.ok(idb.length > 0);
  for (const f of idb) assert.ok(files.has(`idb/${f}`), `idb/${f} missing from the tarball`);
  // README links docs/*.md: they ship too.
  for (const m of fs.readFileSync(path.join(root, 'README.md'), 'utf8').matchAll(/\]\((docs\/[^)#\s]+)\)/g)) {
    assert.ok(files.has(m[1]), `README links ${m[1]}, which is not in the tarball`);
  }
  const bad = [...files].filter((f) => /^(tests|bench|src|tools|examples|node_modules)\//.test(f));
  assert.deepEqual(bad, [], 'development files in the tarball');
  // Every relative import / new URL(…, import.meta.url) in the shipped JS points at a shipped file.
  const missing = [];
  for (const f of files) {
    if (!f.endsWith('.js') && !f.endsWith('.mjs')) continue;
    const src = fs.readFileSync(path.join(installed, f), 'utf8').split('\n')
      .filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l)).join('\n');
    const specs = [...src.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)'(\.{1,2}\/[^']+)'/g),
      ...src.matchAll(/new URL\(\s*'(\.{1,2}\/[^']+)'\s*,\s*import\.meta\.url\s*\)/g)].map((m) => m[1]);
    for (const s of specs) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), s));
      if (!files.has(target)) missing.push(`${f} -> ${s}`);
    }
  }
  assert.deepEqual(missing, [], 'shipped files refer to files that are not shipped');
});

test('package.json: exports conditions, files, no runtime dependencies', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'MIT');
  assert.match(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8'), /MIT License[\s\S]*2026 veclite contributors/);
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
  assert.equal(pkg.peerDependencies, undefined);
  assert.equal(pkg.optionalDependencies, undefined);
  const dot = pkg.exports['.'];
  const keys = Object.keys(dot);
  assert.equal(keys[0], 'types', 'types must be the first condition');
  assert.equal(keys.at(-1), 'default', 'default must be the last condition');
  for (const c of ['types', 'browser', 'worker', 'workerd', 'node', 'default']) assert.ok(c in dot, `condition ${c}`);
  assert.equal(dot.types, './web/index.d.ts');
  for (const c of keys.filter((k) => k !== 'types')) assert.equal(dot[c], './web/index.js', c);
  assert.equal(pkg.exports['./pkg/*'], './pkg/*');
  assert.equal(pkg.exports['./pkg-simd/*'], './pkg-simd/*');
  assert.deepEqual(pkg.files, rootPkg.files);
  // Each runtime condition resolves to the installed entry.
  fs.writeFileSync(path.join(project, 'resolve.mjs'), "console.log(import.meta.resolve('veclite'));\n");
  for (const cond of [null, 'browser', 'worker', 'workerd']) {
    const args = cond ? ['-C', cond, 'resolve.mjs'] : ['resolve.mjs'];
    const url = run(process.execPath, args, project).stdout.trim();
    assert.equal(fileURLToPath(url), path.join(fs.realpathSync(installed), 'web', 'index.js'), `condition ${cond}`);
  }
});

const CONSUMER = `
import { createDatabase, getImplementation } from 'veclite';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';

const resolved = fileURLToPath(import.meta.resolve('veclite'));
assert.ok(resolved.includes('node_modules'), resolved);

const dim = 16, n = 300;
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const rows = Array.from({ length: n }, (_, i) => ({ id: 'v' + i, vector: Float32Array.from({ length: dim }, rnd), metadata: { i } }));
const queries = Array.from({ length: 5 }, () => Float32Array.from({ length: dim }, rnd));
const l2 = (a, b) => Math.sqrt(a.reduce((s, x, j) => s + (x - b[j]) ** 2, 0));
const brute = (q) => rows.reduce((best, r) => (l2(q, r.vector) < l2(q, best.vector) ? r : best)).id;

async function check(db, label) {
  const col = await db.createCollection('items', { dimension: dim, metric: 'euclidean' });
  for (const r of rows.slice(0, 10)) await col.insert(r);
  assert.equal(await col.insertBatch(rows.slice(10)), n - 10);
  assert.equal(await col.count(), n);
  for (const q of queries) {
    const hits = await col.search(q, { k: 5, ef: 100 });
    assert.equal(hits.length, 5, label);
    assert.equal(hits[0].id, brute(q), label + ': top hit equals the brute force');
    assert.ok(Math.abs(hits[0].distance - l2(q, rows.find((r) => r.id === hits[0].id).vector)) < 1e-4, label);
  }
  await db.close();
}

const impl = getImplementation();
assert.ok(impl.build === 'wasm-simd' || impl.build === 'wasm', String(impl.build));

const db = await createDatabase();
assert.equal(db.workers, 0);
await check(db, 'in-thread');

const pooled = await createDatabase({ workers: 2 });
assert.equal(pooled.workers, 2);
await check(pooled, 'workers: 2');

console.log(JSON.stringify({ ok: true, build: getImplementation().build, resolved }));
`;

test('Node: import from the installed package, search == brute force, in-thread and with 2 workers', () => {
  fs.writeFileSync(path.join(project, 'consumer.js'), CONSUMER);
  const r = run(process.execPath, ['consumer.js'], project);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  assert.equal(out.ok, true);
  assert.equal(out.resolved, path.join(fs.realpathSync(installed), 'web', 'index.js'));
});

const USAGE_TS = `
import { createDatabase, getImplementation, VecliteError, type Database, type SearchResult } from 'veclite';

export async function main(): Promise<string> {
  const db: Database = await createDatabase({ workers: 2 });
  const col = await db.createCollection('c', { dimension: 3, metric: 'cosine' });
  await col.insert({ id: 'a', vector: [1, 0, 0], metadata: { k: 1 } });
  const hits: SearchResult[] = await col.search([1, 0, 0], { k: 1 });
  // @ts-expect-error there is no backend 'sqlite' (proves the types are real, not any)
  await createDatabase({ backend: 'sqlite' });
  const e: unknown = null;
  if (e instanceof VecliteError) return e.code;
  await db.close();
  return getImplementation().build + String(hits[0]?.score);
}
`;

test('TypeScript resolves the package types through exports (NodeNext and bundler)', () => {
  fs.writeFileSync(path.join(project, 'usage.ts'), USAGE_TS);
  const base = { strict: true, noEmit: true, target: 'ES2022', lib: ['ES2022', 'DOM'], types: [], skipLibCheck: false };
  const configs = {
    'tsconfig.nodenext.json': { ...base, module: 'NodeNext', moduleResolution: 'NodeNext' },
    'tsconfig.bundler.json': { ...base, module: 'ESNext', moduleResolution: 'Bundler' },
  };
  for (const [name, compilerOptions] of Object.entries(configs)) {
    fs.writeFileSync(path.join(project, name), JSON.stringify({ compilerOptions, files: ['usage.ts'] }));
    const r = spawnSync(process.execPath,
      [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', name, '--traceResolution'],
      { cwd: project, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.error, undefined, String(r.error));
    const errors = r.stdout.split('\n').filter((l) => /error TS/.test(l)).join('\n');
    assert.equal(r.status, 0, `${name}: tsc failed:\n${errors || r.stdout.slice(-4000)}${r.stderr}`);
    // The types came from the installed package via its exports map, not from the repository.
    const line = r.stdout.split('\n').find((l) => /Module name 'veclite' was successfully resolved to/.test(l));
    assert.ok(line, `${name}: no resolution trace for 'veclite'`);
    assert.ok(line.includes('node_modules/veclite/web/index.d.ts'), `${name}: ${line}`);
    assert.match(r.stdout, /Entering conditional exports|Matched 'exports' condition 'types'/, `${name}: not resolved through exports`);
  }
});

// Node's answers come from the installed package too: a script in the consumer project opens the
// store with its own 'veclite' and runs the same searches (topKWith of example-check.js).
const NODE_TOPK = (checkUrl) => `
import { openCollection } from 'veclite';
import fs from 'node:fs';
import { topKWith } from ${JSON.stringify(checkUrl)};
const [store, queriesFile] = process.argv.slice(2);
const col = await openCollection(store, { readOnly: true });
process.stdout.write(JSON.stringify(await topKWith(col, JSON.parse(fs.readFileSync(queriesFile, 'utf8')))));
await col.close();
`;

test('workerd: examples/cloudflare-worker.js from the tarball imports veclite and its .wasm as modules, opens a bundled .rvf, answers /search with Node\'s top-10', { timeout: 120_000 }, async () => {
  // The consumer's Worker: the example, unchanged, beside the store it bundles.
  fs.copyFileSync(path.join(root, 'examples/cloudflare-worker.js'), path.join(project, 'worker.js'));
  const store = path.join(project, 'docs.rvf');
  await writeStore(store);
  const { configPath, modules } = writeExampleConfig(path.join(pack.tmp, 'workerd'), {
    base: project, entry: path.join(project, 'worker.js'), pkgDir: installed,
  });
  const names = modules.map((m) => m.name);
  for (const m of ['worker.js', 'veclite', 'veclite/pkg-simd/veclite.wasm', 'veclite/pkg/veclite.wasm', 'docs.rvf',
    'node_modules/veclite/web/index.js', 'node_modules/veclite/pkg-simd/veclite.mjs']) {
    assert.ok(names.includes(m), `workerd modules lack ${m}: ${names.join(', ')}`);
  }
  // Nothing comes from the repository: every embedded file is the project's or the installed package's.
  for (const m of modules.filter((x) => x.file)) {
    assert.ok(m.file.startsWith(project + path.sep), `${m.name} is embedded from ${m.file}, outside the consumer project`);
  }
  fs.writeFileSync(path.join(project, 'node-topk.js'),
    NODE_TOPK(pathToFileURL(path.join(root, 'tests/workerd/example-check.js')).href));
  const wd = await startWorkerd(configPath, ['example']);
  try {
    const { queries, recall } = await checkExample(wd.base.example, async (qs) => {
      const file = path.join(pack.tmp, 'queries.json');
      fs.writeFileSync(file, JSON.stringify(qs));
      return JSON.parse(run(process.execPath, ['node-topk.js', store, file], project).stdout);
    });
    assert.equal(queries, exampleQueries().length);
    assert.ok(recall >= 0.95, `recall ${recall}`);
  } catch (e) {
    e.message += `\nworkerd output:\n${wd.tail()}`;
    throw e;
  } finally {
    await wd.stop();
  }
});
