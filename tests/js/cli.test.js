// tests/js/cli.test.js — the `veclite` command line (bin/veclite.js, web/cli/*; docs/api.md
// §11).
//
// The CLI runs as a real child process: `process.execPath bin/veclite.js ...` with CI=true and
// stdin closed, in fresh temp dirs. Expected answers come from the inputs the tests write and
// from a float64 brute-force oracle (tests/js/helpers.js), never from the CLI itself. The input
// readers and the progress bar are also tested in-process, including every chunk split point.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertExact, bruteForce } from './helpers.js';
import { CsvSplitter, readRows, textId } from '../../web/cli/readers.js';
import { Progress } from '../../web/cli/progress.js';
import { parseArgs, UsageError } from '../../web/cli/args.js';
import { toJson } from '../../web/cli/output.js';
import { main } from '../../web/cli/main.js';
import { createDatabase, openCollection } from '../../web/index.js';
import { tempRoot } from './temp-root.js';

const BIN = fileURLToPath(new URL('../../bin/veclite.js', import.meta.url));
const HOLDER = fileURLToPath(new URL('./fixtures/cli-holder.js', import.meta.url));
const { root: ROOT, children, freshDir } = tempRoot('veclite-cli-');

/**
 * Run the CLI; resolves { code, stdout, stderr }.
 * @param {string[]} args
 * @param {{ cwd?: string }} [o]
 */
function cli(args, { cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd, env: { ...process.env, CI: 'true', VECLITE_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Run with --json; assert exit 0, one JSON line on stdout and a silent stderr; return the doc. */
async function cliJson(args, o) {
  const r = await cli([...args, '--json'], o);
  assert.equal(r.code, 0, `veclite ${args.join(' ')} failed: ${r.stderr}`);
  assert.equal(r.stderr, '', 'stderr must be silent with --json');
  assert.ok(r.stdout.endsWith('\n') && r.stdout.indexOf('\n') === r.stdout.length - 1, `one JSON line: ${r.stdout.slice(0, 200)}`);
  return JSON.parse(r.stdout);
}

/** Assert an error exit: status 1, nothing on stdout, exactly one `veclite: CODE: message` line. */
function assertError(r, code, re) {
  assert.equal(r.code, 1, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^veclite: ${code}: \\S.*\\n$`), r.stderr);
  if (re) assert.match(r.stderr, re);
}

/** Assert a usage error: status 2, nothing on stdout, a message and a hint. */
function assertUsage(r, re) {
  assert.equal(r.code, 2, `exit status (stderr: ${r.stderr})`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^veclite: /);
  assert.match(r.stderr, /veclite help/, 'usage errors carry a hint');
  if (re) assert.match(r.stderr, re);
}

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n clustered vectors of dimension dim (float32 values, so the oracle sees what is stored). */
function dataset(n, dim, seed) {
  const r = rng(seed);
  const centers = Array.from({ length: 12 }, () => Array.from({ length: dim }, () => r() * 2 - 1));
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(r() * centers.length)];
    return Float32Array.from(c, (x) => x + (r() - 0.5) * 0.6);
  });
}

const fround = (v) => Array.from(v, (x) => Math.fround(x));

// ---- parsing and usage errors (no store needed) ---------------------------------------------------

describe('usage', () => {
  test('usage errors exit 2 with a hint, nothing on stdout', async () => {
    const dir = freshDir();
    assertUsage(await cli([]), /no command/);
    assertUsage(await cli(['frobnicate']), /unknown command 'frobnicate'/);
    assertUsage(await cli(['query', 'x.rvf', '--bogus', '1']), /unknown option --bogus/);
    assertUsage(await cli(['query']), /missing FILE/);
    assertUsage(await cli(['query', 'x.rvf', '--vector', '[1]', '--k', 'ten']), /--k expects an integer/);
    assertUsage(await cli(['query', 'x.rvf', '--vector', '[1,']), /--vector is not valid JSON/);
    assertUsage(await cli(['query', 'x.rvf']), /--vector JSON or --vector-file/);
    assertUsage(await cli(['create', 'x.rvf']), /missing --dimension/);
    assertUsage(await cli(['create', 'x.rvf', '--dimension', '8', '--metric', 'hamming']), /--metric must be one of/);
    assertUsage(await cli(['ingest', 'x.rvf', '--input', 'data.txt'], { cwd: dir }), /--format/);
    assertUsage(await cli(['get', 'x.rvf']), /missing ID/);
    assertUsage(await cli(['status', 'a.rvf', 'b.rvf']), /unexpected argument 'b.rvf'/);
    assertUsage(await cli(['status', 'a.rvf', '--json=yes']), /takes no value/);
    assertUsage(await cli(['--k', '3', 'query', 'a.rvf']), /unknown option --k.*after the command/);
    assertUsage(await cli(['ingest', 'x.rvf', '--input', '-']), /stdin needs --format/);
    assert.deepEqual(fs.readdirSync(dir), [], 'usage errors create nothing');
  });

  test('help and version exit 0 on stdout', async () => {
    const h = await cli(['--help']);
    assert.equal(h.code, 0);
    for (const c of ['create', 'ingest', 'query', 'get', 'delete', 'status', 'segments', 'derive', 'compact', 'export', 'verify', 'bench']) {
      assert.match(h.stdout, new RegExp(`^  ${c} `, 'm'), `help lists ${c}`);
    }
    const q = await cli(['help', 'ingest']);
    assert.equal(q.code, 0);
    assert.match(q.stdout, /--batch N/);
    const q2 = await cli(['query', '--help']);
    assert.equal(q2.code, 0);
    assert.match(q2.stdout, /--vector-file F/);
    const v = await cli(['--version']);
    assert.equal(v.code, 0);
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    assert.equal(v.stdout, `veclite ${pkg.version}\n`);
    assert.deepEqual(await cliJson(['--version']), { version: pkg.version });
  });

  test('an explicit unavailable backend fails with EBACKEND and a hint, never a fallback', async () => {
    const dir = freshDir();
    const f = path.join(dir, 'x.rvf');
    assertError(await cli(['create', f, '--dimension', '4', '--backend', 'opfs']), 'EBACKEND', /browser.*--backend node/);
    assertError(await cli(['status', f, '--backend', 'indexeddb']), 'EBACKEND', /browser/);
    assertError(await cli(['bench', '--n', '10', '--backend', 'opfs']), 'EBACKEND');
    assert.equal(fs.existsSync(f), false, 'nothing was created elsewhere');
    assertUsage(await cli(['ingest', f, '--input', 'x.ndjson', '--backend', 'memory']), /--backend memory/);
  });

  test('parseArgs: forms of options, globals anywhere, last value wins', () => {
    const p = parseArgs(['--json', 'query', 'f.rvf', '--k=5', '--vector', '[-1.5, 2]', '--k', '7', '--backend', 'node']);
    assert.equal(p.command, 'query');
    assert.deepEqual(p.args, ['f.rvf']);
    assert.equal(p.options.k, 7);
    assert.deepEqual(p.options.vector, [-1.5, 2]);
    assert.equal(p.global.json, true);
    assert.equal(p.global.backend, 'node');
    const d = parseArgs(['delete', 'f.rvf', '--', '--weird-id', '12']);
    assert.deepEqual(d.args, ['f.rvf', '--weird-id', '12']);
    const big = parseArgs(['ingest', 'f.rvf', '--input', 'a.fvecs', '--id-offset', '18446744073709551615']);
    assert.equal(big.options['id-offset'], 18446744073709551615n);
    assert.throws(() => parseArgs(['ingest', 'f.rvf', '--input', 'a.fvecs', '--id-offset', '18446744073709551616']), UsageError);
    assert.throws(() => parseArgs(['query', 'f.rvf', '--k', '--json']), /--k needs a value/);
  });
});

// ---- readers, in process -------------------------------------------------------------------------

/** An Input over fixed byte chunks. */
function memInput(name, chunks) {
  const bufs = chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c));
  const input = {
    name, total: bufs.reduce((s, b) => s + b.length, 0), read: 0,
    async * chunks() {
      for (const b of bufs) {
        input.read += b.length;
        yield b;
      }
    },
  };
  return input;
}

async function collect(input, format, opts = {}) {
  const items = [], pos = [];
  for await (const r of readRows(input, format, opts)) {
    items.push(...r.items);
    pos.push(...r.pos);
  }
  return { items, pos };
}

/** Parse bytes whole and split at every byte position; all must agree with `want`. */
async function everySplit(bytes, format, want, opts) {
  const whole = await collect(memInput('in', [bytes]), format, opts);
  assert.deepEqual(norm(whole.items), want, 'whole input');
  for (let s = 1; s < bytes.length; s++) {
    const got = await collect(memInput('in', [bytes.subarray(0, s), bytes.subarray(s)]), format, opts);
    assert.deepEqual(norm(got.items), want, `split at byte ${s}`);
    assert.deepEqual(got.pos, whole.pos, `positions, split at byte ${s}`);
  }
}

/** Items with typed arrays as plain arrays, for deepEqual. */
const norm = (items) => items.map((it) => ({ ...it, vector: Array.from(it.vector) }));

describe('readers', () => {
  test('CSV: quotes, doubled quotes, embedded newlines, CRLF, UTF-8, BOM, blank lines, at every split point', async () => {
    const text = '\uFEFFid,v0,v1,name,score\r\n' +
      '1,0.5,-2,"Zoë, ""the"" first",3\r\n' +
      '\r\n' +
      '2,1e-3,+4,"two\nlines",-0.25\r\n' +
      '007x,.5,6,plain,12345678901234567890\n' +
      '3,7,8,,007';
    const want = [
      { id: 1, vector: [0.5, -2], metadata: { name: 'Zoë, "the" first', score: 3 } },
      { id: 2, vector: [0.001, 4], metadata: { name: 'two\nlines', score: -0.25 } },
      { id: '007x', vector: [0.5, 6], metadata: { name: 'plain', score: 12345678901234567890n } },
      { id: 3, vector: [7, 8], metadata: { score: '007' } },
    ];
    // auto id mode reads the first id as numeric, so '007x' must be refused...
    await assert.rejects(collect(memInput('in', [text]), 'csv'), /in line 6: id '007x' is not a non-negative integer/);
    // ...and with string ids every id stays text.
    const asStrings = want.map((w) => ({ ...w, id: String(w.id) }));
    await everySplit(Buffer.from(text), 'csv', asStrings, { idType: 'string' });
    const numeric = text.replace('007x', '4');
    await everySplit(Buffer.from(numeric), 'csv', want.map((w) => (w.id === '007x' ? { ...w, id: 4 } : w)), {});
  });

  test('CSV: a "vector" column with a JSON array', async () => {
    const text = 'id,vector,tag\nalpha,"[1, 2.5, -3]",x\nbeta,"[0,0,1]",\n';
    const { items } = await collect(memInput('in', [text]), 'csv');
    assert.deepEqual(norm(items), [
      { id: 'alpha', vector: [1, 2.5, -3], metadata: { tag: 'x' } },
      { id: 'beta', vector: [0, 0, 1] },
    ]);
  });

  test('CSV errors name the line', async () => {
    const bad = async (text, re) => assert.rejects(collect(memInput('d.csv', [text]), 'csv'), re);
    await bad('id,v0,v1\n1,2\n', /d\.csv line 2: 2 fields, but the header has 3/);
    await bad('id,v0,v1\n1,2,abc\n', /d\.csv line 2: v1 is 'abc', not a number/);
    await bad('name,v0\n', /no 'id' column/);
    await bad('id,v1\n1,2\n', /v0 is missing/);
    await bad('id,x\n1,2\n', /no vector columns/);
    await bad('id,v0\n1,"2\n', /a quoted field is not closed/);
    await bad('id,v0,v0\n', /names column 'v0' twice/);
    await bad('', /empty input/);
  });

  test('NDJSON and JSON arrays at every split point; ids above 2^53 stay exact', async () => {
    const rows = [
      '{"id": 18446744073709551615, "vector": [1, 2], "metadata": {"id": 5, "s": "a\\"]}"}}',
      '{"vector": [3, 4], "id": 9007199254740993}',
      '{"id": "é\\u00e9", "vector": [5e-1, -6]}',
      '{"id": 7, "vector": [0, 1], "metadata": {"nested": {"k": [1, {"x": "}"}]}}}',
    ];
    const want = [
      { id: 18446744073709551615n, vector: [1, 2], metadata: { id: 5, s: 'a"]}' } },
      { id: 9007199254740993n, vector: [3, 4] },
      { id: 'éé', vector: [0.5, -6] },
      { id: 7, vector: [0, 1], metadata: { nested: { k: [1, { x: '}' }] } } },
    ];
    await everySplit(Buffer.from(rows.join('\r\n') + '\n\n'), 'ndjson', want);
    await everySplit(Buffer.from(` [\n${rows.join(',\n  ')}\n] \n`), 'json', want);
    const nd = await collect(memInput('in', [rows.join('\n')]), 'ndjson');
    assert.deepEqual(nd.pos, [1, 2, 3, 4], 'NDJSON positions are line numbers');
  });

  test('JSON and NDJSON errors name the place', async () => {
    const bad = async (text, fmt, re) => assert.rejects(collect(memInput('d', [text]), fmt), re);
    await bad('{"id":1,"vector":[1]}\n{"id":2,', 'ndjson', /d line 2: not valid JSON/);
    await bad('[1]', 'ndjson', /d line 1: expected an object/);
    await bad('{"id": 1e300, "vector": [1]}', 'ndjson', /cannot be read exactly/);
    await bad('{"id": 99999999999999999999999, "vector": [1]}', 'ndjson', /larger than 2\^64-1/);
    await bad('[{"id":1,"vector":[1]},]', 'json', /trailing commas/);
    await bad('[{"id":1,"vector":[1]}', 'json', /not closed/);
    await bad('{"id":1}', 'json', /expected a JSON array/);
    await bad('[{"id":1,"vector":[1]}] x', 'json', /after the closing \]/);
    await bad('[{"id":1,"vector":[1]},{"id":2,"vector":[1,]}]', 'json', /d element 1 \(line 1\): not valid JSON/);
    await bad(Buffer.from([0x7b, 0xff, 0xfe, 0x0a]), 'ndjson', /not valid UTF-8/);
  });

  test('fvecs: rows, id offset (also beyond 2^53), truncation', async () => {
    const dim = 3;
    const rows = [[1, 2, 3], [-0.5, 0.25, 1e-7], [4, 5, 6]];
    const buf = Buffer.alloc(rows.length * (4 + 4 * dim));
    rows.forEach((r, i) => {
      buf.writeInt32LE(dim, i * 16);
      r.forEach((x, j) => buf.writeFloatLE(x, i * 16 + 4 + 4 * j));
    });
    for (let s = 1; s < buf.length; s++) {
      const got = await collect(memInput('f', [buf.subarray(0, s), buf.subarray(s)]), 'fvecs', { idOffset: 10 });
      assert.deepEqual(norm(got.items), rows.map((r, i) => ({ id: 10 + i, vector: fround(r) })), `split ${s}`);
    }
    const big = await collect(memInput('f', [buf]), 'fvecs', { idOffset: 9007199254740991 });
    assert.deepEqual(big.items.map((x) => x.id), [9007199254740991, 9007199254740992n, 9007199254740993n]);
    await assert.rejects(collect(memInput('f', [buf.subarray(0, 40)]), 'fvecs'), /not a multiple of the row size 16/);
    const other = Buffer.from(buf);
    other.writeInt32LE(2, 16);
    await assert.rejects(collect(memInput('f', [other]), 'fvecs'), /f row 1: dimension 2, but row 0 has 3/);
    await assert.rejects(collect(memInput('f', [Buffer.from('hello world!')]), 'fvecs'), /not an \.fvecs file/);
  });

  test('text ids: digits become numbers (bigint above 2^53), leading zeros stay names', () => {
    assert.equal(textId('42', null, 'x'), 42);
    assert.equal(textId('18446744073709551615', null, 'x'), 18446744073709551615n);
    assert.equal(textId('007', null, 'x'), '007');
    assert.equal(textId('007', 'number', 'x'), 7);
    assert.equal(textId('12', 'string', 'x'), '12');
    assert.throws(() => textId('abc', 'number', 'x'), /not a non-negative integer/);
    assert.throws(() => textId('18446744073709551616', 'number', 'x'), /larger than 2\^64-1/);
  });

  test('CsvSplitter: a lone CR ends a record', () => {
    const out = [];
    const sp = new CsvSplitter('c');
    sp.push('a,b\rc,d', out);
    sp.end(out);
    assert.deepEqual(out, [[['a', 'b'], 1], [['c', 'd'], 2]]);
  });

  test('JSON output: bigint exact, typed arrays as arrays, bytes as base64', () => {
    assert.equal(toJson({ id: 18446744073709551615n, v: Float32Array.of(0.1), b: Uint8Array.of(1, 2, 255) }),
      '{"id":"18446744073709551615","v":[0.10000000149011612],"b":{"$base64":"AQL/"}}');
  });
});

describe('progress bar', () => {
  test('draws rows, rate and ETA on a TTY; writes nothing otherwise', () => {
    let t = 0;
    const out = [];
    const tty = { isTTY: true, columns: 100, write: (s) => out.push(s) };
    const p = new Progress({ stream: tty, enabled: true, label: 'ingest', totalRows: 1000, now: () => t });
    t = 2000;
    p.update(250);
    t = 2050;
    p.update(300);            // within 100 ms: not redrawn
    t = 4000;
    p.update(500);
    p.done();
    assert.equal(out.length, 3);
    assert.match(out[0], /^\r.*ingest {2}250\/1,000 rows {2}125 rows\/s {2}ETA 0:06 .*25%\x1b\[K$/);
    assert.match(out[1], /500\/1,000 rows {2}125 rows\/s {2}ETA 0:04/);
    assert.equal(out[2], '\r\x1b[K');
    const quiet = [];
    for (const [stream, enabled] of [[{ isTTY: false, write: (s) => quiet.push(s) }, true],
      [{ isTTY: true, write: (s) => quiet.push(s) }, false]]) {
      const q = new Progress({ stream, enabled, label: 'x', totalRows: 10 });
      q.update(5, null, true);
      q.done();
    }
    assert.deepEqual(quiet, []);
    // By bytes when the row total is unknown.
    const b = [];
    const pb = new Progress({ stream: { isTTY: true, columns: 100, write: (s) => b.push(s) }, enabled: true, label: 'ingest', totalBytes: 1000, now: () => t });
    t += 1000;
    pb.update(10, 100);
    assert.match(b[0], /10 rows {2}10 rows\/s {2}ETA 0:09/);
  });
});

// ---- stores -------------------------------------------------------------------------------------

describe('stores', () => {
  test('acceptance: create (384 dims), ingest NDJSON, query; a new process gives the same results, equal to brute force', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'docs.rvf');
    const n = 3000, dim = 384;
    const rows = dataset(n, dim, 7);
    const colors = ['red', 'green', 'blue'];
    const lines = rows.map((v, i) => JSON.stringify({
      id: i, vector: Array.from(v), metadata: { title: `doc ${i}`, color: colors[i % 3], rank: i % 100 },
    }));
    fs.writeFileSync(path.join(dir, 'data.ndjson'), lines.join('\n') + '\n');
    const queries = dataset(8, dim, 99).map((q) => Array.from(q));
    fs.writeFileSync(path.join(dir, 'q.json'), JSON.stringify(queries));

    const c = await cliJson(['create', file, '--dimension', String(dim)]);
    assert.equal(c.dimension, dim);
    assert.equal(c.metric, 'cosine');
    const ing = await cli(['ingest', file, '--input', path.join(dir, 'data.ndjson'), '--batch', '700']);
    assert.equal(ing.code, 0, ing.stderr);
    assert.equal(ing.stderr, '', 'no progress output when stderr is not a TTY');
    assert.ok(!/[\r\x1b]/.test(ing.stdout), 'no control characters in human output');
    assert.match(ing.stdout, /ingested 3,000 rows/);

    const args = ['query', file, '--vector-file', path.join(dir, 'q.json'), '--k', '10', '--ef', '4000'];
    const first = await cli([...args, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const second = await cli([...args, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout, 'a new process answers the same, byte for byte');

    const doc = JSON.parse(first.stdout);
    assert.equal(doc.queries.length, queries.length);
    doc.queries.forEach(({ results }, qi) => {
      const q = Float32Array.from(queries[qi]);
      assertExact(results, bruteForce('cosine', q, rows, 10), (id) => id, 'cosine', q, rows);
      for (const h of results) {
        assert.deepEqual(h.metadata, { title: `doc ${h.id}`, color: colors[h.id % 3], rank: h.id % 100 });
      }
    });

    // A filtered query, also against brute force.
    const q0 = Float32Array.from(queries[0]);
    const f = await cliJson(['query', file, '--vector', JSON.stringify(queries[0]), '--k', '5', '--ef', '4000',
      '--filter', '{"color":"blue","rank":{"$lt":50}}']);
    const pred = (i) => i % 3 === 2 && i % 100 < 50;
    assertExact(f.results, bruteForce('cosine', q0, rows, 5, pred), (id) => id, 'cosine', q0, rows);

    const st = await cliJson(['status', file]);
    assert.equal(st.count, n);
    assert.equal(st.dimension, dim);
    assert.equal(st.metric, 'cosine');
    assert.ok(!('readOnly' in st), "status shows the store, not the CLI's own read-only handle");
    assert.equal(st.writer, null, 'no writer holds the store');
    assert.equal(st.indexLoaded, true, 'the graph was persisted on close and loaded, not rebuilt');

    // Human output of the same query has the same ids in the same order.
    const human = await cli(['query', file, '--vector', JSON.stringify(queries[0]), '--k', '10', '--ef', '4000']);
    assert.equal(human.code, 0, human.stderr);
    const humanIds = human.stdout.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[1]));
    assert.deepEqual(humanIds, doc.queries[0].results.map((h) => h.id));
  });

  test('every input format ingests the right rows', async () => {
    const dir = freshDir();
    const dim = 8;
    const vecs = dataset(40, dim, 3);
    const make = async (name, extra = []) => {
      const f = path.join(dir, `${name}.rvf`);
      await cliJson(['create', f, '--dimension', String(dim), '--metric', 'euclidean', ...extra]);
      return f;
    };
    const get = (f, id, extra = []) => cliJson(['get', f, String(id), ...extra]);

    // JSON array, string ids, nested metadata.
    const jf = await make('json');
    fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(vecs.slice(0, 10).map((v, i) => ({
      id: `doc-${i}`, vector: Array.from(v), metadata: { i, tags: ['a', i], ok: i % 2 === 0, none: null },
    }))));
    const jr = await cliJson(['ingest', jf, '--input', path.join(dir, 'a.json'), '--batch', '3']);
    assert.equal(jr.rows, 10);
    assert.equal(jr.batches, 4);
    assert.equal(jr.count, 10);
    for (const i of [0, 4, 9]) {
      const g = await get(jf, `doc-${i}`);
      assert.equal(g.id, `doc-${i}`);
      assert.deepEqual(g.vector, fround(vecs[i]));
      assert.deepEqual(g.metadata, { i, tags: ['a', i], ok: i % 2 === 0, none: null });
    }

    // NDJSON with ids above 2^53: exact in get, query and delete.
    const nf = await make('ndjson');
    const bigIds = ['18446744073709551615', '9007199254740993', '9007199254740992', '12'];
    fs.writeFileSync(path.join(dir, 'b.jsonl'), bigIds.map((id, i) => `{"id": ${id}, "vector": ${JSON.stringify(Array.from(vecs[i]))}}`).join('\n'));
    assert.equal((await cliJson(['ingest', nf, '--input', path.join(dir, 'b.jsonl')])).count, 4);
    for (const [i, id] of bigIds.entries()) {
      const g = await get(nf, id);
      assert.equal(String(g.id), id);
      assert.deepEqual(g.vector, fround(vecs[i]));
    }
    const qb = await cliJson(['query', nf, '--vector', JSON.stringify(Array.from(vecs[0])), '--k', '1']);
    assert.equal(qb.results[0].id, '18446744073709551615', 'ids above 2^53 print as exact strings');
    const human = await cli(['get', nf, '9007199254740993']);
    assert.match(human.stdout, /^id: +9007199254740993$/m);
    assert.deepEqual(await cliJson(['delete', nf, '9007199254740993', '9007199254740994']), { deleted: 1, requested: 2, count: 3 });
    assertError(await cli(['get', nf, '9007199254740993']), 'ENOTFOUND');
    assert.equal((await get(nf, '9007199254740992')).id, '9007199254740992', 'its neighbour id is untouched');

    // CSV, one column per component, metadata columns.
    const cf = await make('csv');
    const csv = ['id,' + Array.from(vecs[0], (_, j) => `v${j}`).join(',') + ',title,year'];
    for (let i = 0; i < 6; i++) csv.push(`${100 + i},${Array.from(vecs[10 + i]).join(',')},"Title, ${i}",${2000 + i}`);
    fs.writeFileSync(path.join(dir, 'c.csv'), csv.join('\r\n') + '\r\n');
    assert.equal((await cliJson(['ingest', cf, '--input', path.join(dir, 'c.csv')])).rows, 6);
    for (const i of [0, 5]) {
      const g = await get(cf, 100 + i);
      assert.equal(g.id, 100 + i);
      assert.deepEqual(g.vector, fround(vecs[10 + i]));
      assert.deepEqual(g.metadata, { title: `Title, ${i}`, year: 2000 + i });
    }

    // CSV with a "vector" column (string ids because they are not numbers).
    const vf = await make('csvvec');
    const csv2 = ['id,vector,lang'];
    for (let i = 0; i < 5; i++) csv2.push(`item-${i},"${JSON.stringify(Array.from(vecs[20 + i]))}",${i ? 'en' : ''}`);
    fs.writeFileSync(path.join(dir, 'd.csv'), csv2.join('\n'));
    assert.equal((await cliJson(['ingest', vf, '--input', path.join(dir, 'd.csv')])).rows, 5);
    const g0 = await get(vf, 'item-0');
    assert.deepEqual(g0.vector, fround(vecs[20]));
    assert.deepEqual(g0.metadata, {}, 'empty cells are left out');
    assert.deepEqual((await get(vf, 'item-3')).metadata, { lang: 'en' });

    // .fvecs: ids are row numbers + --id-offset.
    const ff = await make('fvecs');
    const fv = Buffer.alloc(12 * (4 + 4 * dim));
    for (let i = 0; i < 12; i++) {
      fv.writeInt32LE(dim, i * (4 + 4 * dim));
      for (let j = 0; j < dim; j++) fv.writeFloatLE(vecs[25 + i][j], i * (4 + 4 * dim) + 4 + 4 * j);
    }
    fs.writeFileSync(path.join(dir, 'e.fvecs'), fv);
    const fr = await cliJson(['ingest', ff, '--input', path.join(dir, 'e.fvecs'), '--id-offset', '1000', '--batch', '5']);
    assert.equal(fr.rows, 12);
    assert.equal(fr.count, 12);
    for (const i of [0, 7, 11]) assert.deepEqual((await get(ff, 1000 + i)).vector, fround(vecs[25 + i]));
    // The same .fvecs file as a batch of queries: each row finds itself at distance 0.
    const qf = await cliJson(['query', ff, '--vector-file', path.join(dir, 'e.fvecs'), '--k', '1']);
    assert.deepEqual(qf.queries.map((q) => [q.results[0].id, q.results[0].distance]), Array.from({ length: 12 }, (_, i) => [1000 + i, 0]));
    assertError(await cli(['get', ff, '999']), 'ENOTFOUND');

    // --format overrides the extension.
    fs.writeFileSync(path.join(dir, 'f.txt'), `{"id": 5000, "vector": ${JSON.stringify(Array.from(vecs[39]))}}\n`);
    assert.equal((await cliJson(['ingest', ff, '--input', path.join(dir, 'f.txt'), '--format', 'ndjson'])).count, 13);

    // A bad row: exit 1, names the line; the batches before it stay committed.
    fs.writeFileSync(path.join(dir, 'bad.ndjson'), [
      `{"id": 1, "vector": ${JSON.stringify(Array.from(vecs[1]))}}`,
      `{"id": 2, "vector": ${JSON.stringify(Array.from(vecs[2]))}}`,
      '{"id": 3, "vector": [1, 2, 3]}',
    ].join('\n'));
    const bf = await make('bad');
    assertError(await cli(['ingest', bf, '--input', path.join(dir, 'bad.ndjson'), '--batch', '2']), 'EINVAL',
      /bad\.ndjson line 3: vector has 3 components.*\(2 rows before this batch were committed\)/);
    assert.equal((await cliJson(['status', bf])).count, 2);
  });

  test('get, delete, status, segments, derive, compact, export, verify', async () => {
    const dir = freshDir();
    const file = path.join(dir, 's.rvf');
    const dim = 16, n = 600, GONE = 20;
    const vecs = dataset(n, dim, 11);
    fs.writeFileSync(path.join(dir, 'in.ndjson'), vecs.map((v, i) => JSON.stringify({ id: i, vector: Array.from(v), metadata: { i } })).join('\n'));
    await cliJson(['create', file, '--dimension', String(dim), '--m', '8', '--ef-construction', '64']);
    await cliJson(['ingest', file, '--input', path.join(dir, 'in.ndjson'), '--batch', '200']);

    const g = await cliJson(['get', file, '17']);
    assert.deepEqual(g, { id: 17, vector: fround(vecs[17]), metadata: { i: 17 } });

    const st0 = await cliJson(['status', file]);
    assert.equal(st0.count, n);
    assert.equal(st0.bytes, fs.statSync(file).size);
    assert.equal(st0.lineageDepth, 0);

    const segs = await cliJson(['segments', file]);
    assert.ok(Array.isArray(segs.segments) && segs.segments.length > 0);
    for (const s of segs.segments) {
      for (const k of ['id', 'type', 'typeName', 'offset', 'length']) assert.ok(k in s, `segment has ${k}`);
      assert.ok(s.offset + 64 + s.length <= st0.bytes, 'segment lies inside the file');
    }
    assert.ok(segs.segments.some((s) => s.type === 1), 'a VEC segment (type 1)');

    // Delete 20 rows (and an absent id, which is counted, not an error): few enough that the
    // delete does not compact on its own (docs/format.md §6, automatic compaction), so the
    // deleted rows are still in the file for compact below.
    const dels = Array.from({ length: GONE }, (_, i) => String(i * 30));
    const d = await cliJson(['delete', file, ...dels, '999999']);
    assert.deepEqual(d, { deleted: GONE, requested: GONE + 1, count: n - GONE });
    assertError(await cli(['get', file, '30']), 'ENOTFOUND', /no vector with id 30/);
    assert.equal((await cliJson(['get', file, '4'])).id, 4);
    const st1 = await cliJson(['status', file]);
    assert.equal(st1.count, n - GONE);
    assert.equal(st1.deleted, GONE);

    // Compact: smaller, same live rows.
    const cp = await cliJson(['compact', file]);
    assert.equal(cp.bytesBefore, st1.bytes);
    assert.ok(cp.bytesAfter < cp.bytesBefore, `compact shrinks: ${cp.bytesBefore} -> ${cp.bytesAfter}`);
    assert.equal(fs.statSync(file).size, cp.bytesAfter);
    const st2 = await cliJson(['status', file]);
    assert.equal(st2.count, n - GONE);
    assert.equal(st2.deleted, 0);
    assert.deepEqual((await cliJson(['get', file, '4'])).vector, fround(vecs[4]));

    // Export: a self-contained file that status opens with the same content.
    const out = path.join(dir, 'copy.rvf');
    const ex = await cliJson(['export', file, out]);
    assert.equal(ex.bytes, fs.statSync(out).size);
    const sc = await cliJson(['status', out]);
    assert.equal(sc.count, n - GONE);
    assert.equal(sc.dimension, dim);
    assert.deepEqual(await cliJson(['get', out, '599']), { id: 599, vector: fround(vecs[599]), metadata: { i: 599 } });
    assertError(await cli(['export', file, out]), 'EINVAL', /already exists.*--force/);
    assert.equal((await cliJson(['export', file, out, '--force'])).out, out);

    // Derive: a child with lineage depth 1 whose parent is the store.
    const child = path.join(dir, 'child.rvf');
    const dv = await cliJson(['derive', file, child]);
    assert.equal(dv.lineageDepth, 1);
    assert.equal(dv.parentId, st2.fileId);
    assert.notEqual(dv.fileId, st2.fileId);
    const cs = await cliJson(['status', child]);
    assert.equal(cs.lineageDepth, 1);
    assert.equal(cs.parentId, st2.fileId);
    assertError(await cli(['derive', file, child]), 'EINVAL', /already exists/);

    // Verify.
    const v = await cliJson(['verify', file]);
    assert.equal(v.ok, true);
    assert.deepEqual(v.problems, []);
    assert.equal(v.witness.intact, true);

    // The memory backend reads the same file into memory.
    const sm = await cliJson(['status', file, '--backend', 'memory']);
    assert.equal(sm.count, n - GONE);
    assert.ok(!('readOnly' in sm));
    assertUsage(await cli(['delete', file, '5', '--backend', 'memory']), /--backend memory/);
  });

  test('a second writer gets ELOCK while a holder process keeps the store open; readers still read', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'l.rvf');
    await cliJson(['create', file, '--dimension', '4']);
    fs.writeFileSync(path.join(dir, 'x.ndjson'), '{"id": 1, "vector": [1, 0, 0, 0]}\n');
    await cliJson(['ingest', file, '--input', path.join(dir, 'x.ndjson')]);

    const { pid, release } = await holdStore(file);

    assertError(await cli(['ingest', file, '--input', path.join(dir, 'x.ndjson')]), 'ELOCK', new RegExp(`${pid}`));
    assertError(await cli(['delete', file, '1']), 'ELOCK');
    assertError(await cli(['compact', file]), 'ELOCK');
    const q = await cliJson(['query', file, '--vector', '[1, 0, 0, 0]', '--k', '1']);
    assert.equal(q.results[0].id, 1, 'read-only commands need no lock');

    await release();
    assert.deepEqual(await cliJson(['delete', file, '1']), { deleted: 1, requested: 1, count: 0 });
  });

  test('Ctrl-C during ingest from a pipe commits the rows read so far and exits 130', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'i.rvf');
    await cliJson(['create', file, '--dimension', '4']);
    const child = spawn(process.execPath, [BIN, 'ingest', file, '--input', '-', '--format', 'ndjson', '--batch', '5', '--json'], {
      env: { ...process.env, CI: 'true' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const closed = new Promise((resolve) => child.on('close', resolve));
    child.stdin.write(Array.from({ length: 7 }, (_, i) => `{"id": ${i}, "vector": [1, ${i}, 0, 1]}\n`).join(''));
    // The first batch (5 rows) is committed while the process waits for more input; readers
    // see it without a lock.
    for (let tries = 0; ; tries++) {
      const st = await cliJson(['status', file]);
      if (st.count === 5) break;
      assert.ok(tries < 200 && st.count === 0, `count ${st.count}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    assert.equal(await closed, 130, stderr);
    children.delete(child);
    const doc = JSON.parse(stdout);
    assert.equal(doc.rows, 7);
    assert.equal(doc.interrupted, true);
    assert.match(stderr, /interrupted; the 7 rows read before it are committed/);
    assert.equal((await cliJson(['status', file])).count, 7);
    assert.deepEqual(await cliJson(['delete', file, '6']), { deleted: 1, requested: 1, count: 6 }, 'the lock was released');
  });

  test('SIGTERM and SIGHUP during ingest commit the rows read so far, release the lock and exit 128 + signal', async () => {
    for (const [sig, status] of [['SIGTERM', 128 + os.constants.signals.SIGTERM], ['SIGHUP', 128 + os.constants.signals.SIGHUP]]) {
      const dir = freshDir();
      const file = path.join(dir, 'i.rvf');
      await cliJson(['create', file, '--dimension', '4']);
      const child = spawn(process.execPath, [BIN, 'ingest', file, '--input', '-', '--format', 'ndjson', '--batch', '4', '--json'], {
        env: { ...process.env, CI: 'true' }, stdio: ['pipe', 'pipe', 'pipe'],
      });
      children.add(child);
      let stdout = '', stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
      child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
      const closed = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
      child.stdin.write(Array.from({ length: 6 }, (_, i) => `{"id": ${i}, "vector": [1, ${i}, 0, 1]}\n`).join(''));
      for (let tries = 0; ; tries++) {
        const st = await cliJson(['status', file]);
        if (st.count === 4) break;
        assert.ok(tries < 200 && st.count === 0, `count ${st.count}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(fs.existsSync(`${file}.lock`), 'the ingest holds the lock');
      child.kill(sig);
      assert.deepEqual(await closed, { code: status, signal: null }, stderr);
      children.delete(child);
      const doc = JSON.parse(stdout);
      assert.equal(doc.rows, 6);
      assert.equal(doc.interrupted, true);
      assert.equal(doc.signal, sig);
      assert.match(stderr, new RegExp(`interrupted by ${sig}; the 6 rows read before it are committed`));
      assert.ok(!fs.existsSync(`${file}.lock`), `${sig}: the lock was released`);
      assert.equal((await cliJson(['status', file])).count, 6);
      assert.deepEqual(await cliJson(['delete', file, '5']), { deleted: 1, requested: 1, count: 5 });
    }
  });

  test('export --force refuses a store a live writer holds (ELOCK) and leaves it as it is', async () => {
    const dir = freshDir();
    const src = path.join(dir, 'src.rvf');
    const dst = path.join(dir, 'dst.rvf');
    fs.writeFileSync(path.join(dir, 'x.ndjson'), '{"id": 1, "vector": [1, 0, 0, 0]}\n{"id": 2, "vector": [0, 1, 0, 0]}\n');
    for (const f of [src, dst]) await cliJson(['create', f, '--dimension', '4']);
    await cliJson(['ingest', src, '--input', path.join(dir, 'x.ndjson')]);

    const { pid, release } = await holdStore(dst);
    const before = fs.readFileSync(dst);
    const lockBefore = fs.readFileSync(`${dst}.lock`);
    const link = path.join(dir, 'dst-link.rvf');
    fs.symlinkSync('dst.rvf', link);
    for (const out of [dst, link]) {
      assertError(await cli(['export', src, out, '--force']), 'ELOCK', new RegExp(`dst\\.rvf\\.lock is held by pid ${pid}\\b`));
    }
    assert.deepEqual(fs.readFileSync(dst), before, 'the held store is untouched');
    assert.deepEqual(fs.readFileSync(`${dst}.lock`), lockBefore, 'and so is its lock');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.deepEqual(fs.readdirSync(dir).sort(), ['dst-link.rvf', 'dst.rvf', 'dst.rvf.lock', 'src.rvf', 'x.ndjson']);

    await release();
    // Nobody writes it now: --force replaces it (through the link: the file it names).
    assert.equal((await cliJson(['export', src, link, '--force'])).out, link);
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.deepEqual(fs.readFileSync(dst), fs.readFileSync(src));
    assert.equal((await cliJson(['status', dst])).count, 2);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['dst-link.rvf', 'dst.rvf', 'src.rvf', 'x.ndjson'], 'no lock or temp file left');
  });

  test('in process: export fsyncs the directory after renaming OUT into place', async () => {
    const dir = freshDir();
    const src = path.join(dir, 's.rvf');
    const out = path.join(dir, 'sub', 'o.rvf');
    fs.mkdirSync(path.dirname(out));
    const quiet = { stdout: { write: () => {} }, stderr: { write: () => {} }, env: {} };
    assert.equal(await main(['create', src, '--dimension', '2'], quiet), 0);
    const events = [];
    const names = new Map();
    const real = { openSync: fs.openSync, fsyncSync: fs.fsyncSync, closeSync: fs.closeSync, rename: fs.promises.rename };
    fs.openSync = (p, ...rest) => {
      const fd = real.openSync(p, ...rest);
      names.set(fd, path.resolve(String(p)));
      return fd;
    };
    fs.fsyncSync = (fd) => {
      real.fsyncSync(fd);
      events.push(`fsync ${names.get(fd)}`);
    };
    fs.closeSync = (fd) => {
      names.delete(fd);
      real.closeSync(fd);
    };
    fs.promises.rename = async (a, b) => {
      await real.rename(a, b);
      events.push(`rename ${path.resolve(String(b))}`);
    };
    let code;
    try {
      code = await main(['export', src, out], quiet);
    } finally {
      Object.assign(fs, { openSync: real.openSync, fsyncSync: real.fsyncSync, closeSync: real.closeSync });
      fs.promises.rename = real.rename;
    }
    assert.equal(code, 0);
    const r = events.indexOf(`rename ${out}`);
    assert.ok(r >= 0, JSON.stringify(events));
    assert.ok(events.indexOf(`fsync ${path.dirname(out)}`, r) > r, `the directory is fsynced after the rename: ${JSON.stringify(events)}`);
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(src));
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['o.rvf']);
  });

  test('a damaged or foreign file fails with ECORRUPT; a missing one with ENOTFOUND', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'c.rvf');
    await cliJson(['create', file, '--dimension', '4']);
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: i, vector: [1, i, 2, 3] }));
    fs.writeFileSync(path.join(dir, 'x.ndjson'), rows.join('\n'));
    await cliJson(['ingest', file, '--input', path.join(dir, 'x.ndjson'), '--batch', '25']);
    const { segments } = await cliJson(['segments', file]);
    const vec = segments.find((s) => s.type === 1);
    const bytes = fs.readFileSync(file);
    bytes[vec.offset + 64 + 20] ^= 0x5a;          // inside the first VEC payload: its hash no longer matches
    const bad = path.join(dir, 'bad.rvf');
    fs.writeFileSync(bad, bytes);
    for (const cmd of [['status', bad], ['query', bad, '--vector', '[1,2,3,4]'], ['get', bad, '1']]) {
      assertError(await cli(cmd), 'ECORRUPT');
    }
    const junk = path.join(dir, 'junk.rvf');
    fs.writeFileSync(junk, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 255)));
    assertError(await cli(['status', junk]), 'ECORRUPT');
    assertError(await cli(['status', path.join(dir, 'nope.rvf')]), 'ENOTFOUND', /veclite create/);
  });

  test('in process: the ingest progress bar reaches a TTY stderr, and not with --json', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'p.rvf');
    const data = path.join(dir, 'p.ndjson');
    fs.writeFileSync(data, Array.from({ length: 50 }, (_, i) => `{"id": ${i}, "vector": [1, ${i}, 2]}`).join('\n'));
    const run = async (args) => {
      const out = [], err = [];
      const code = await main(args, {
        stdout: { write: (s) => out.push(s) },
        stderr: { isTTY: true, columns: 120, write: (s) => err.push(s) },
        env: {},
      });
      return { code, stdout: out.join(''), stderr: err.join('') };
    };
    assert.equal((await run(['create', file, '--dimension', '3'])).code, 0);
    const a = await run(['ingest', file, '--input', data, '--batch', '10']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stderr, /^\ringest {2}10 rows {2}[\d,]+ rows\/s {2}ETA /, 'first frame after the first batch');
    assert.ok(a.stderr.endsWith('\r\x1b[K'), 'the bar is erased before the summary');
    assert.match(a.stdout, /^ingested 50 rows/);
    const b = await run(['ingest', file, '--input', data, '--json']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stderr, '');
    assert.equal(JSON.parse(b.stdout).count, 50);
    const c = await run(['ingest', file, '--input', data, '--no-progress']);
    assert.equal(c.stderr, '');
  });

  test('in process: verify that finds problems prints its report and exits 1 with ECORRUPT', async () => {
    // Every real damage the engine can see already fails the open (ECORRUPT, tested above), so
    // the problems path is driven through a stand-in for the API here.
    const dir = freshDir();
    const file = path.join(dir, 'v.rvf');
    fs.writeFileSync(file, '');
    let closed = 0;
    const report = { ok: false, problems: ['witness entry 3: hash chain broken', 'second'], witness: { entries: 4, intact: false } };
    const fakeApi = {
      openCollection: async (p, o) => {
        assert.equal(p, file);
        assert.equal(o.readOnly, true);
        return { verify: async () => report, close: async () => { closed++; } };
      },
    };
    const out = [], err = [];
    const code = await main(['verify', file, '--json'], {
      stdout: { write: (s) => out.push(s) }, stderr: { write: (s) => err.push(s) }, env: {}, loadApi: async () => fakeApi,
    });
    assert.equal(code, 1);
    assert.deepEqual(JSON.parse(out.join('')), { file, ...report });
    assert.equal(err.join(''), `veclite: ECORRUPT: verify found 2 problems in ${file}: witness entry 3: hash chain broken\n`);
    assert.equal(closed, 1, 'the store is closed');
  });

  test('bench runs through the API and reports sane numbers', async () => {
    const r = await cliJson(['bench', '--n', '400', '--dim', '12', '--queries', '10']);
    assert.equal(r.n, 400);
    assert.equal(r.dim, 12);
    assert.ok(r.insertsPerSecond > 0 && r.qps > 0);
    assert.ok(r.recall >= 0.9 && r.recall <= 1, `recall@10 ${r.recall}`);
    const h = await cli(['bench', '--n', '200', '--dim', '8', '--queries', '5', '--backend', 'node']);
    assert.equal(h.code, 0, h.stderr);
    assert.equal(h.stderr, '', 'no progress bar when stderr is not a TTY');
    assert.match(h.stdout, /recall@10: /);
    assert.match(h.stdout, /node backend/);
  });
});

// ---- issue 9 point 4: what a new user hit --------------------------------------------------------

/** Run main() in process; stdout chunks are kept as they were written (strings or bytes). */
async function run(args, { cwd } = {}) {
  const out = [], err = [];
  const prev = process.cwd();
  if (cwd) process.chdir(cwd);
  let code;
  try {
    code = await main(args, {
      stdout: { write: (x) => { out.push(x); return true; } },
      stderr: { write: (x) => { err.push(x); return true; } },
      env: {},
    });
  } finally {
    if (cwd) process.chdir(prev);
  }
  const text = out.map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('latin1'))).join('');
  return { code, out, stdout: text, stderr: err.join('') };
}

/** The one JSON line of a --json run. */
function oneJson(r) {
  assert.ok(r.stdout.endsWith('\n') && r.stdout.indexOf('\n') === r.stdout.length - 1, `one JSON line: ${r.stdout}`);
  return JSON.parse(r.stdout);
}

/** Spawn the lock holder fixture on file; resolves { pid, release } once it holds the store. */
async function holdStore(file) {
  const holder = spawn(process.execPath, [HOLDER, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(holder);
  const ready = await new Promise((resolve, reject) => {
    let buf = '';
    holder.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]));
    });
    holder.on('error', reject);
    holder.on('exit', (code) => reject(new Error(`holder exited early (${code}): ${buf}`)));
  });
  assert.equal(ready.ready, true, JSON.stringify(ready));
  const release = async () => {
    const closed = new Promise((resolve) => holder.on('close', resolve));
    holder.stdin.end();
    assert.equal(await closed, 0);
    children.delete(holder);
  };
  return { pid: ready.pid, release };
}

describe('issue 9.4', () => {
  test("export FILE - writes the .rvf bytes to stdout, not a file named '-'", async () => {
    const dir = freshDir();
    const file = path.join(dir, 'e.rvf');
    fs.writeFileSync(path.join(dir, 'in.ndjson'), '{"id": 1, "vector": [1, 2, 3]}\n{"id": 2, "vector": [3, 2, 1]}\n');
    assert.equal((await run(['create', file, '--dimension', '3'])).code, 0);
    assert.equal((await run(['ingest', file, '--input', path.join(dir, 'in.ndjson')])).code, 0);
    assert.equal((await run(['export', file, path.join(dir, 'ref.rvf')])).code, 0);
    const r = await run(['export', 'e.rvf', '-'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(!fs.existsSync(path.join(dir, '-')), "no file named '-'");
    assert.ok(r.out.every((x) => typeof x !== 'string'), 'only bytes on stdout');
    const bytes = Buffer.concat(r.out.map((x) => Buffer.from(x)));
    assert.deepEqual(bytes, fs.readFileSync(path.join(dir, 'ref.rvf')));
    // The bytes are a store: they open and hold the rows.
    const col = await openCollection(new Uint8Array(bytes), { readOnly: true, backend: 'memory' });
    assert.equal(await col.count(), 2);
    await col.close();
    // --json has no room on stdout next to the image: a usage error, reported as JSON.
    const j = await run(['export', file, '-', '--json'], { cwd: dir });
    assert.equal(j.code, 2);
    assert.equal(oneJson(j).error.code, 'EUSAGE');
    assert.ok(!fs.existsSync(path.join(dir, '-')));
  });

  test('--json errors: one JSON error line on stdout, the one-line message on stderr, exit codes unchanged', async () => {
    const dir = freshDir();
    const missing = path.join(dir, 'nope.rvf');
    const a = await run(['status', missing, '--json']);
    assert.equal(a.code, 1);
    const ea = oneJson(a);
    assert.deepEqual(Object.keys(ea), ['error']);
    assert.equal(ea.error.code, 'ENOTFOUND');
    assert.match(ea.error.message, /nope\.rvf does not exist/);
    assert.equal(a.stderr, `veclite: ENOTFOUND: ${ea.error.message}\n`);

    const b = await run(['query', 'x.rvf', '--bogus', '1', '--json']);
    assert.equal(b.code, 2);
    assert.deepEqual(oneJson(b), { error: { code: 'EUSAGE', message: "unknown option --bogus for 'query'" } });
    assert.match(b.stderr, /^veclite: unknown option --bogus/);
    assert.match(b.stderr, /veclite help query/, 'the hint stays on stderr');

    const c = await run(['--json', 'frobnicate']);
    assert.equal(c.code, 2);
    assert.equal(oneJson(c).error.code, 'EUSAGE');
    const d = await run(['create', path.join(dir, 'c.rvf'), '--json']);
    assert.equal(d.code, 2);
    assert.match(oneJson(d).error.message, /missing --dimension/);

    // An engine error (EINVAL) after the store opened.
    const file = path.join(dir, 'q.rvf');
    assert.equal((await run(['create', file, '--dimension', '3'])).code, 0);
    const e = await run(['query', file, '--vector', '[1, 2]', '--json']);
    assert.equal(e.code, 1);
    assert.equal(oneJson(e).error.code, 'EINVAL');
    assert.equal(e.stderr.split('\n').length, 2, 'one line on stderr');
    // Without --json, stdout stays empty on errors.
    assert.equal((await run(['status', missing])).stdout, '');
  });

  test('status shows the writer (pid, host, running) and the store, not the CLI\'s read-only handle', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'w.rvf');
    assert.equal((await run(['create', file, '--dimension', '2'])).code, 0);
    const idle = await run(['status', file]);
    assert.equal(idle.code, 0, idle.stderr);
    assert.doesNotMatch(idle.stdout, /readOnly/);
    assert.doesNotMatch(idle.stdout, /^lock:/m);
    assert.match(idle.stdout, /^writer: +none/m);
    assert.match(idle.stdout, /^dimension: +2$/m);
    assert.equal(oneJson(await run(['status', file, '--json'])).writer, null);

    const h = await holdStore(file);
    try {
      const t = await run(['status', file]);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, new RegExp(`^writer: +pid ${h.pid} on this host ${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(running, lock refreshed \\d{4}-`, 'm'));
      assert.doesNotMatch(t.stdout, /readOnly|"writerId"|\{"pid"/, 'no raw lock JSON in text mode');
      const j = oneJson(await run(['status', file, '--json']));
      assert.ok(!('readOnly' in j) && !('lock' in j));
      assert.equal(j.writer.pid, h.pid);
      assert.equal(j.writer.host, os.hostname());
      assert.equal(j.writer.live, true);
      assert.equal(j.count, 0);
    } finally {
      await h.release();
    }
    assert.equal(oneJson(await run(['status', file, '--json'])).writer, null, 'the writer is gone');
  });

  test('ingest: embedding/values vector fields, --id-field/--vector-field/--metadata-fields, CSV booleans', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'm.rvf');
    assert.equal((await run(['create', file, '--dimension', '2'])).code, 0);
    const get = async (id) => oneJson(await run(['get', file, String(id), '--json']));

    const a = path.join(dir, 'a.ndjson');
    fs.writeFileSync(a, '{"id": 1, "embedding": [1, 0]}\n{"id": 2, "values": [0, 1], "metadata": {"k": "v"}}\n');
    const ra = await run(['ingest', file, '--input', a]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.deepEqual(await get(1), { id: 1, vector: [1, 0], metadata: {} });
    assert.deepEqual(await get(2), { id: 2, vector: [0, 1], metadata: { k: 'v' } });

    const b = path.join(dir, 'b.json');
    fs.writeFileSync(b, JSON.stringify([{ doc_id: 3, emb: [1, 1], title: 'x', year: 2020, skip: true }]));
    const rb = await run(['ingest', file, '--input', b, '--id-field', 'doc_id', '--vector-field', 'emb', '--metadata-fields', 'title,year']);
    assert.equal(rb.code, 0, rb.stderr);
    assert.deepEqual(await get(3), { id: 3, vector: [1, 1], metadata: { title: 'x', year: 2020 } });

    // An unexpected field is named, with the option that stores it.
    const c = path.join(dir, 'c.ndjson');
    fs.writeFileSync(c, '{"id": 4, "vector": [1, 2], "title": "t"}\n');
    const rc = await run(['ingest', file, '--input', c]);
    assert.equal(rc.code, 1);
    assert.match(rc.stderr, /^veclite: EINVAL: .*c\.ndjson line 1: unknown field 'title'.*--metadata-fields title/);

    const d = path.join(dir, 'd.csv');
    fs.writeFileSync(d, 'key,embedding,ok,flag,name\n5,"[2, 1]",true,FALSE,truex\n');
    const rd = await run(['ingest', file, '--input', d, '--id-field', 'key']);
    assert.equal(rd.code, 0, rd.stderr);
    assert.deepEqual(await get(5), { id: 5, vector: [2, 1], metadata: { ok: true, flag: false, name: 'truex' } });
    const col = await openCollection(file, { readOnly: true });
    assert.deepEqual((await col.search([2, 1], { k: 1, filter: { ok: true } })).map((h) => h.id), [5], 'a real boolean');
    await col.close();

    const h = await run(['help', 'ingest']);
    assert.match(h.stdout, /--id-field NAME/);
    assert.match(h.stdout, /--vector-field NAME/);
    assert.match(h.stdout, /--metadata-fields A,B/);
  });

  test('metadata integers above 2^53 stay exact (NDJSON, JSON, CSV)', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'b.rvf');
    assert.equal((await run(['create', file, '--dimension', '2'])).code, 0);
    fs.writeFileSync(path.join(dir, 'a.ndjson'),
      '{"id": 1, "vector": [1, 0], "metadata": {"n": 9007199254740993, "neg": -9007199254740993, "s": "9007199254740993", "x": 1.5}}\n' +
      '{"id": 18446744073709551615, "vector": [0, 1], "big": 9007199254740993}\n');
    fs.writeFileSync(path.join(dir, 'b.json'), '[{"id": 2, "vector": [1, 1], "metadata": {"n": 9007199254740993}}]');
    fs.writeFileSync(path.join(dir, 'c.csv'), 'id,v0,v1,n\n3,1,2,9007199254740993\n');
    for (const [f, extra] of [['a.ndjson', ['--metadata-fields', 'big']], ['b.json', []], ['c.csv', []]]) {
      const r = await run(['ingest', file, '--input', path.join(dir, f), ...extra]);
      assert.equal(r.code, 0, r.stderr);
    }
    const col = await openCollection(file, { readOnly: true });
    try {
      assert.deepEqual((await col.get(1)).metadata, { n: 9007199254740993n, neg: -9007199254740993n, s: '9007199254740993', x: 1.5 });
      assert.deepEqual((await col.get(18446744073709551615n)).metadata, { big: 9007199254740993n });
      assert.equal((await col.get(2)).metadata.n, 9007199254740993n);
      assert.equal((await col.get(3)).metadata.n, 9007199254740993n);
      assert.deepEqual((await col.search([1, 0], { k: 5, filter: { n: 9007199254740993n } })).map((h) => h.id).sort(), [1, 2, 3]);
    } finally {
      await col.close();
    }
    // And --json prints them exactly.
    assert.equal(oneJson(await run(['get', file, '1', '--json'])).metadata.n, '9007199254740993');
  });

  test('CLI text output says 1 row / 1 vector / 1 problem', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'g.rvf');
    fs.writeFileSync(path.join(dir, 'one.ndjson'), '{"id": 1, "vector": [1, 0]}\n');
    assert.equal((await run(['create', file, '--dimension', '2'])).code, 0);
    const r = await run(['ingest', file, '--input', path.join(dir, 'one.ndjson')]);
    assert.match(r.stdout, /^ingested 1 row \(1 id\) from .* the store holds 1 vector\n$/);
    const d = await run(['delete', file, '1']);
    assert.equal(d.stdout, 'deleted 1 of 1 id; the store holds 0 vectors\n');
    const bar = new Progress({ stream: { write() {} }, enabled: true, label: 'ingest', totalRows: null, totalBytes: null });
    assert.match(bar.render(1, null, bar.start + 1000), /  1 row  /);
    const junk = path.join(dir, 'junk.rvf');
    fs.writeFileSync(junk, Buffer.alloc(100, 7));
    const v = await run(['verify', junk]);
    assert.equal(v.code, 1);
    assert.doesNotMatch(v.stdout + v.stderr, /\(s\)|\b1 problems\b|\b1 rows\b/);
  });

  test('a store the CLI creates in a folder is the collection createDatabase({ path }) lists, and back', async () => {
    const dir = freshDir();
    const r = await run(['create', path.join(dir, 'x.rvf'), '--dimension', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(oneJson(r).collection, 'x');
    fs.writeFileSync(path.join(dir, 'in.ndjson'), '{"id": 7, "vector": [1, 0]}\n');
    assert.equal((await run(['ingest', path.join(dir, 'x.rvf'), '--input', path.join(dir, 'in.ndjson')])).code, 0);
    const db = await createDatabase({ path: dir });
    try {
      assert.deepEqual(await db.listCollections(), ['x']);
      assert.equal(await (await db.getCollection('x')).count(), 1);
      const y = await db.createCollection('y', { dimension: 2 });
      await y.insert({ id: 1, vector: [0, 1] });
    } finally {
      await db.close();
    }
    const st = oneJson(await run(['status', path.join(dir, 'y.rvf'), '--json']));
    assert.equal(st.name, 'y');
    assert.equal(st.count, 1);
    // A file the database would not list says so (and still works as a store).
    const n = await run(['create', path.join(dir, 'notes'), '--dimension', '2']);
    assert.equal(n.code, 0, n.stderr);
    assert.match(n.stdout, /^note: createDatabase\(\{ path: .* \}\) will not list this store as a collection: its name does not end in \.rvf/m);
    const bad = await run(['create', path.join(dir, '-bad.rvf'), '--dimension', '2', '--json']);
    assert.equal(bad.code, 0, bad.stderr);
    assert.equal(oneJson(bad).collection, null);
    const db2 = await createDatabase({ path: dir });
    try {
      assert.deepEqual(await db2.listCollections(), ['x', 'y']);
    } finally {
      await db2.close();
    }
  });
});
