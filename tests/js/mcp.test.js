// tests/js/mcp.test.js — `veclite mcp FILE…`, the Model Context Protocol server (web/cli/mcp.js,
// docs/cli.md §5 mcp).
//
// The server runs the way an agent host runs it: `node bin/veclite.js mcp FILE…` as a child
// process, JSON-RPC 2.0 one message per line on its stdin and stdout (initialize →
// notifications/initialized → tools/list → tools/call). The stores are built first through the
// public API with known, seeded vectors; query answers are checked against a float64 brute-force
// oracle computed here, get against the rows written here, status against their count — never
// against the server's own output. Every line the server prints on stdout must be a JSON-RPC
// message; after each bad input the same process must still answer.
//
// The stateless revision 2026-07-28 is driven the same way, without initialize: every request
// carries params._meta (protocol version, client capabilities, client info), as a host of that
// revision sends it (server/discover → tools/list → tools/call).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertExact, bruteForce, mulberry32 } from './helpers.js';
import { openCollection } from '../../web/index.js';
import { tempRoot } from './temp-root.js';

const BIN = fileURLToPath(new URL('../../bin/veclite.js', import.meta.url));
const { root: ROOT, children, freshDir } = tempRoot('veclite-mcp-');

const DIM = 8;
const N = 200;
const BIG = 18446744073709551615n;       // 2^64-1: an id JSON numbers cannot carry

/** Seeded uniform in [-1, 1). */
function rng(seed) {
  const u = mulberry32(seed);
  return () => u() * 2 - 1;
}

/**
 * The rows of a test store: ids 0..N-1 and BIG (last), float32-exact vectors, metadata with a
 * string, an integer and a title.
 */
function makeRows(seed) {
  const r = rng(seed);
  const rows = [];
  for (let i = 0; i <= N; i++) {
    const vector = Float32Array.from({ length: DIM }, () => r());
    rows.push({ id: i === N ? BIG : i, vector, metadata: { lang: i % 3 === 0 ? 'en' : 'fr', year: 2000 + (i % 25), title: `doc ${i}` } });
  }
  return rows;
}

/** Write a store through the API: flat (exact) or hnsw. */
async function makeStore(file, { metric = 'euclidean', index = { type: 'flat' }, seed = 7 } = {}) {
  const rows = makeRows(seed);
  const col = await openCollection(file, { create: { dimension: DIM, metric, index } });
  try {
    await col.insertBatch(rows);
  } finally {
    await col.close();
  }
  return rows;
}

/** A JSON-RPC peer over a spawned `veclite mcp`: requests by id, the other replies in order. */
class Host {
  constructor(args, { cwd = ROOT } = {}) {
    this.child = spawn(process.execPath, [BIN, 'mcp', ...args], {
      cwd, env: { ...process.env, CI: 'true', VECLITE_DEBUG: '' }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(this.child);
    this.stderr = '';
    this.lines = [];
    this.byId = new Map();       // id -> resolve
    this.idless = [];            // replies with id null, in order
    this.waiters = [];
    this.nextId = 1;
    let buf = '';
    this.child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      for (let nl; (nl = buf.indexOf('\n')) >= 0;) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.lines.push(line);
        const msg = JSON.parse(line);     // stdout carries nothing but JSON-RPC messages
        this.onMessage(msg);
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (d) => { this.stderr += d; });
    this.exit = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        children.delete(this.child);
        assert.equal(buf, '', 'stdout ends with a complete line');
        resolve({ code, signal });
      });
    });
  }

  onMessage(msg) {
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      assert.equal(m.jsonrpc, '2.0', JSON.stringify(m));
      assert.ok(Object.hasOwn(m, 'result') !== Object.hasOwn(m, 'error'), `result xor error: ${JSON.stringify(m)}`);
    }
    if (Array.isArray(msg) || msg.id === null) {
      this.idless.push(msg);
      this.waiters.shift()?.();
      return;
    }
    const resolve = this.byId.get(msg.id);
    assert.ok(resolve, `a reply to an unknown id: ${JSON.stringify(msg)}`);
    this.byId.delete(msg.id);
    resolve(msg);
  }

  /** Write one raw line (no newline added when raw ends with one). */
  write(raw) {
    this.child.stdin.write(typeof raw === 'string' && !raw.endsWith('\n') ? raw + '\n' : raw);
  }

  /** A request; resolves with the whole reply message. */
  send(method, params, id = this.nextId++) {
    const p = new Promise((resolve) => this.byId.set(id, resolve));
    this.write(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    return p;
  }

  notify(method, params) {
    this.write(JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) }));
  }

  /** The next reply that has no id (a parse error, an invalid request) or is a batch. */
  async nextIdless() {
    while (this.idless.length === 0) await new Promise((resolve) => this.waiters.push(resolve));
    return this.idless.shift();
  }

  /** initialize + notifications/initialized, as a host does; returns the initialize result. */
  async handshake(protocolVersion = '2025-11-25') {
    const r = await this.send('initialize', {
      protocolVersion, capabilities: {}, clientInfo: { name: 'mcp.test.js', version: '1.0.0' },
    });
    assert.ok(r.result, JSON.stringify(r));
    this.notify('notifications/initialized');
    return r.result;
  }

  /** tools/call; returns the result (content, structuredContent?, isError?). */
  async call(name, args) {
    const r = await this.send('tools/call', { name, ...(args === undefined ? {} : { arguments: args }) });
    assert.ok(r.result, `tools/call ${name}: ${JSON.stringify(r.error)}`);
    return r.result;
  }

  /** tools/call that must succeed: its structuredContent, checked against the text content. */
  async ok(name, args) {
    const r = await this.call(name, args);
    assert.ok(!r.isError, `${name} failed: ${r.content?.[0]?.text}`);
    assert.equal(r.content.length, 1);
    assert.equal(r.content[0].type, 'text');
    assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent, 'the text content is the structured content as JSON');
    return r.structuredContent;
  }

  /** tools/call that must fail as a tool error with this code. */
  async toolError(name, args, code, re) {
    const r = await this.call(name, args);
    assert.equal(r.isError, true, `${name} should fail: ${JSON.stringify(r)}`);
    assert.equal(r.structuredContent.error.code, code, r.content[0].text);
    assert.match(r.content[0].text, new RegExp(`^${code}: `));
    if (re) assert.match(r.content[0].text, re);
    return r;
  }

  /** The server still answers. */
  async alive() {
    const r = await this.send('ping');
    assert.deepEqual(r.result, {});
  }

  /** Close stdin, as a host does to stop the server; resolves with the exit. */
  async close() {
    this.child.stdin.end();
    return this.exit;
  }
}

/** The _meta of a 2026-07-28 request. */
const MODERN = '2026-07-28';
function meta(version = MODERN, extra = {}) {
  return {
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'mcp.test.js', version: '1.0.0' },
    ...extra,
  };
}

/** A stateless (2026-07-28) request: params with _meta; resolves with the whole reply. */
Host.prototype.modern = function modern(method, params = {}, m = meta()) {
  return this.send(method, { ...params, _meta: m });
};

/** A stateless tools/call that must succeed: its structuredContent (checked against the text), and the result. */
Host.prototype.modernOk = async function modernOk(name, args) {
  const r = await this.modern('tools/call', { name, arguments: args });
  assert.ok(r.result, `${name}: ${JSON.stringify(r.error)}`);
  assert.equal(r.result.resultType, 'complete', 'every 2026-07-28 result says its type');
  assert.ok(!r.result.isError, `${name} failed: ${r.result.content?.[0]?.text}`);
  assert.ok(!('ttlMs' in r.result) && !('cacheScope' in r.result), 'tools/call results are not cacheable');
  assert.deepEqual(JSON.parse(r.result.content[0].text), r.result.structuredContent);
  return r.result.structuredContent;
};

/** Row index of an id returned by the server (BIG comes back as its decimal string). */
const rowOf = (id) => (id === String(BIG) ? N : id);

describe('veclite mcp', () => {
  const dir = freshDir();
  const docs = path.join(dir, 'docs.rvf');
  const other = path.join(dir, 'other.rvf');
  let docsRows, otherRows;

  test('setup: two stores written through the API', async () => {
    docsRows = await makeStore(docs, { metric: 'euclidean', index: { type: 'flat' }, seed: 7 });
    otherRows = await makeStore(other, { metric: 'cosine', index: { type: 'hnsw' }, seed: 99 });
  });

  test('handshake, tools/list, and exact answers from query, get, status, segments', async () => {
    const h = new Host([docs]);
    const init = await h.handshake();
    assert.equal(init.protocolVersion, '2025-11-25');
    assert.deepEqual(init.capabilities, { tools: { listChanged: false } });
    assert.equal(init.serverInfo.name, 'veclite');
    assert.equal(init.serverInfo.version, JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    assert.match(init.instructions, /docs \(dimension 8, euclidean\)/);

    const { result: { tools } } = await h.send('tools/list');
    assert.deepEqual(tools.map((t) => t.name), ['query', 'get', 'status', 'segments'], 'read-only: no write tools');
    for (const t of tools) {
      assert.equal(typeof t.description, 'string');
      assert.equal(t.inputSchema.type, 'object');
      assert.equal(t.annotations.readOnlyHint, true);
    }
    const q = tools.find((t) => t.name === 'query').inputSchema;
    assert.deepEqual(q.required, ['vector']);
    assert.equal(q.properties.vector.minItems, DIM);

    // query: k nearest against the float64 oracle, with and without a filter
    const vecs = docsRows.map((r) => r.vector);
    const r = rng(12345);
    for (let t = 0; t < 8; t++) {
      const qv = Array.from({ length: DIM }, () => r());
      const res = await h.ok('query', { vector: qv, k: 10 });
      assert.equal(res.collection, 'docs');
      assertExact(res.results, bruteForce('euclidean', qv, vecs, 10), rowOf, 'euclidean', qv, vecs);
      for (const hit of res.results) assert.deepEqual(hit.metadata, docsRows[rowOf(hit.id)].metadata);

      const filter = { lang: 'en', year: { $gte: 2010 } };
      const pred = (i) => docsRows[i].metadata.lang === 'en' && docsRows[i].metadata.year >= 2010;
      const fres = await h.ok('query', { vector: qv, k: 7, filter });
      assertExact(fres.results, bruteForce('euclidean', qv, vecs, 7, pred), rowOf, 'euclidean', qv, vecs);
      for (const hit of fres.results) assert.ok(pred(rowOf(hit.id)));
    }
    // the query vector of a stored row finds that row at distance 0, with its vector on request
    const self = await h.ok('query', { vector: Array.from(docsRows[N].vector), k: 1, includeVectors: true });
    assert.equal(self.results[0].id, String(BIG), 'an id above 2^53-1 comes back exact, as its decimal string');
    assert.equal(self.results[0].distance, 0);
    assert.deepEqual(self.results[0].vector, Array.from(docsRows[N].vector));

    // get: stored metadata, absent ids, a u64 id as a string, vectors on request
    const got = await h.ok('get', { ids: [0, 5, String(BIG), 999, '17'], includeVectors: true });
    assert.equal(got.found, 4);
    assert.deepEqual(got.rows.map((x) => [x.id, x.found]), [[0, true], [5, true], [String(BIG), true], [999, false], [17, true]]);
    for (const row of got.rows.filter((x) => x.found)) {
      const want = docsRows[rowOf(row.id)];
      assert.deepEqual(row.metadata, want.metadata);
      assert.deepEqual(row.vector, Array.from(want.vector));
    }
    const noVec = await h.ok('get', { ids: [3] });
    assert.deepEqual(noVec.rows, [{ id: 3, found: true, metadata: docsRows[3].metadata }]);

    // status and segments
    const st = await h.ok('status');
    assert.equal(st.write, false);
    assert.equal(st.collections.length, 1);
    const s0 = st.collections[0];
    assert.equal(s0.name, 'docs');
    assert.equal(s0.file, docs);
    assert.equal(s0.count, N + 1);
    assert.equal(s0.dimension, DIM);
    assert.equal(s0.metric, 'euclidean');
    assert.equal(s0.writer, null, 'no writer holds the file');
    assert.ok(!('readOnly' in s0) && !('lock' in s0), 'the store, not the server handle');
    const seg = await h.ok('segments', { collection: 'docs' });
    assert.ok(seg.segments.length > 0);
    for (const x of seg.segments) assert.ok(typeof x.typeName === 'string' && x.length > 0 && x.offset >= 0);

    assert.deepEqual(await h.close(), { code: 0, signal: null });
    assert.match(h.stderr, /^veclite mcp: serving docs \(.*docs\.rvf\) read-only/);
  });

  test('several FILEs: collections by basename, collection required, each answered from its own store', async () => {
    const h = new Host([docs, other]);
    await h.handshake();
    const { result: { tools } } = await h.send('tools/list');
    const q = tools.find((t) => t.name === 'query').inputSchema;
    assert.deepEqual(q.required, ['collection', 'vector']);
    assert.deepEqual(q.properties.collection.enum, ['docs', 'other']);

    await h.toolError('query', { vector: new Array(DIM).fill(0.5) }, 'EINVAL', /needs 'collection'/);
    await h.toolError('query', { collection: 'nope', vector: new Array(DIM).fill(0.5) }, 'EINVAL', /must be one of "docs", "other"/);
    const vecs = otherRows.map((r) => r.vector);
    const qv = Array.from({ length: DIM }, (_, j) => (j % 2 ? 0.3 : -0.7));
    const res = await h.ok('query', { collection: 'other', vector: qv, k: 5, ef: 1000 });
    assertExact(res.results, bruteForce('cosine', qv, vecs, 5), rowOf, 'cosine', qv, vecs);
    for (const hit of res.results) assert.deepEqual(hit.metadata, otherRows[rowOf(hit.id)].metadata);

    const st = await h.ok('status');
    assert.deepEqual(st.collections.map((c) => [c.name, c.count, c.metric]), [['docs', N + 1, 'euclidean'], ['other', N + 1, 'cosine']]);
    const one = await h.ok('status', { collection: 'other' });
    assert.deepEqual(one.collections.map((c) => c.name), ['other']);
    assert.equal((await h.close()).code, 0);
  });

  test('protocol version negotiation: a supported revision is answered as asked, any other with the newest', async () => {
    for (const [asked, answered] of [['2025-06-18', '2025-06-18'], ['2024-11-05', '2024-11-05'], ['2099-01-01', '2025-11-25'], ['x', '2025-11-25']]) {
      const h = new Host([docs]);
      const init = await h.handshake(asked);
      assert.equal(init.protocolVersion, answered, asked);
      assert.equal('title' in init.serverInfo, answered >= '2025-06-18', 'fields of newer revisions only when negotiated');
      const { result: { tools } } = await h.send('tools/list');
      assert.equal(tools.every((t) => 'title' in t), answered >= '2025-06-18');
      assert.equal(tools.every((t) => 'annotations' in t), answered >= '2025-03-26');
      const r = await h.call('get', { ids: [1] });
      // structuredContent exists from 2025-06-18 on; the text content always
      assert.equal('structuredContent' in r, answered >= '2025-06-18', asked);
      assert.deepEqual(JSON.parse(r.content[0].text).rows[0].metadata, docsRows[1].metadata);
      assert.equal((await h.close()).code, 0);
    }
  });

  test('read-only: write tools are not listed, and calling one is a tool error naming --write', async () => {
    const h = new Host([docs]);
    await h.handshake();
    for (const [name, args] of [['insert', { rows: [{ id: 1000, vector: new Array(DIM).fill(1) }] }], ['delete', { ids: [1] }], ['compact', {}]]) {
      await h.toolError(name, args, 'EREADONLY', /read-only: restart it as 'veclite mcp --write .*docs\.rvf'/);
      await h.alive();
    }
    const st = await h.ok('status');
    assert.equal(st.collections[0].count, N + 1, 'nothing was written');
    assert.equal((await h.close()).code, 0);
  });

  test('bad input is answered with JSON-RPC or tool errors, and the same server keeps serving', async () => {
    const h = new Host([docs, '--max-message-bytes', '4096']);
    // before initialize: ping works, other requests are refused
    await h.alive();
    const early = await h.send('tools/list');
    assert.equal(early.error.code, -32600);
    assert.match(early.error.message, /not initialized/);
    const noVersion = await h.send('initialize', { capabilities: {} });
    assert.equal(noVersion.error.code, -32602);
    await h.handshake();
    const again = await h.send('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } });
    assert.equal(again.error.code, -32600, 'a second initialize');

    const idless = async (raw, code, re) => {
      h.write(raw);
      const r = await h.nextIdless();
      assert.equal(r.id, null);
      assert.equal(r.error.code, code, JSON.stringify(r));
      if (re) assert.match(r.error.message, re);
      await h.alive();
    };
    await idless('{"jsonrpc":"2.0","id":1,"method":', -32700, /Parse error/);
    await idless('not json at all', -32700);
    await idless('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"query","arguments":{"vector":[NaN,0,0,0,0,0,0,0]}}}', -32700);
    await idless(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), -32700, /UTF-8/);
    await idless(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${'x'.repeat(10000)}"}}`, -32700, /longer than 4096 bytes/);
    await idless('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600, /batches/);
    await idless('42', -32600);
    await idless('{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, /"id"/);
    await idless('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600, /"id"/);
    await idless('{"id":1,"method":"ping"}'.replace('{"id":1', '{"id":null'), -32600);
    // a readable id gets its error back
    h.write('{"jsonrpc":"1.0","id":"old","method":"ping"}');
    const old = await new Promise((resolve) => h.byId.set('old', resolve));
    assert.equal(old.error.code, -32600);

    const unknown = await h.send('resources/list');
    assert.equal(unknown.error.code, -32601);
    const unknown2 = await h.send('no/such/method', {});
    assert.equal(unknown2.error.code, -32601);
    for (const params of [{}, { name: 7 }, { name: 'query', arguments: 'vector' }, { name: 'query', arguments: [1, 2] }]) {
      const r = await h.send('tools/call', params);
      assert.equal(r.error.code, -32602, JSON.stringify(params));
    }
    const params = await h.send('tools/list', 'x');
    assert.equal(params.error.code, -32602);
    const noTool = await h.send('tools/call', { name: 'drop_everything', arguments: {} });
    assert.equal(noTool.error.code, -32602);
    assert.match(noTool.error.message, /Unknown tool.*tools: query, get, status, segments/);
    // a request cancelled before it starts gets no reply (both lines reach the server in one write)
    h.byId.set('doomed', () => assert.fail('a cancelled request was answered'));
    h.write('{"jsonrpc":"2.0","id":"doomed","method":"tools/call","params":{"name":"status"}}\n' +
      '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"doomed","reason":"test"}}\n');
    await h.alive();
    h.byId.delete('doomed');
    // notifications are never answered, known or not
    h.notify('notifications/cancelled', { requestId: 12345 });
    h.notify('notifications/whatever');
    h.notify('no/such/notification', { x: 1 });
    await h.alive();

    // tool argument errors: isError results the model can act on
    const v = (n) => new Array(n).fill(0.25);
    await h.toolError('query', { vector: v(DIM - 1) }, 'EINVAL', /exactly 8 items \(got 7\)/);
    await h.toolError('query', { vector: v(DIM + 5) }, 'EINVAL', /exactly 8 items/);
    await h.toolError('query', {}, 'EINVAL', /needs 'vector'/);
    await h.toolError('query', { vector: [0, 0, 0, 0, 0, 0, 0, '1'] }, 'EINVAL', /vector\[7\] must be a finite number/);
    h.write('{"jsonrpc":"2.0","id":"inf","method":"tools/call","params":{"name":"query","arguments":{"vector":[1e999,0,0,0,0,0,0,0]}}}');
    const inf = await new Promise((resolve) => h.byId.set('inf', resolve));
    assert.equal(inf.result.isError, true);
    assert.match(inf.result.content[0].text, /^EINVAL: .*vector\[0\] must be a finite number/);
    await h.toolError('query', { vector: v(DIM), k: 0 }, 'EINVAL', /k must be at least 1/);
    await h.toolError('query', { vector: v(DIM), k: 1.5 }, 'EINVAL', /k must be an integer/);
    await h.toolError('query', { vector: v(DIM), k: 1e9 }, 'EINVAL', /at most 100000/);
    await h.toolError('query', { vector: v(DIM), filter: { year: { $bogus: 1 } } }, 'EINVAL');
    await h.toolError('query', { vector: v(DIM), filter: [] }, 'EINVAL', /filter must be an object/);
    await h.toolError('query', { vector: v(DIM), extra: 1 }, 'EINVAL', /unknown field 'extra'/);
    await h.toolError('get', { ids: [] }, 'EINVAL', /at least 1 item/);
    await h.toolError('get', { ids: [-1] }, 'EINVAL', /non-negative/);
    await h.toolError('get', { ids: [2 ** 60] }, 'EINVAL', /decimal string/);
    await h.toolError('get', { ids: ['abc'] }, 'EINVAL', /ids are numbers/);
    await h.toolError('get', { ids: ['18446744073709551616'] }, 'EINVAL', /larger than 2\^64-1/);
    await h.toolError('get', { ids: [null] }, 'EINVAL', /a string or an integer/);
    // a message split anywhere across writes (even inside a UTF-8 character) reads as one
    const split = Buffer.from('{"jsonrpc":"2.0","id":"split","method":"tools/call","params":{"name":"get","arguments":{"ids":["xé😀y"]}}}\n');
    const cut = split.indexOf(Buffer.from('😀')) + 2;
    const splitReply = new Promise((resolve) => h.byId.set('split', resolve));
    for (const [a, b] of [[0, 7], [7, cut], [cut, split.length]]) {
      h.write(split.subarray(a, b));
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const sr = await splitReply;
    assert.equal(sr.result.isError, true);
    assert.match(sr.result.content[0].text, /^EINVAL: .*"xé😀y" is not a non-negative integer/);
    // and after all that the answers are still exact
    const vecs = docsRows.map((r) => r.vector);
    const qv = v(DIM);
    const res = await h.ok('query', { vector: qv, k: 3 });
    assertExact(res.results, bruteForce('euclidean', qv, vecs, 3), rowOf, 'euclidean', qv, vecs);
    assert.equal((await h.close()).code, 0);
  });

  test('revision 2025-03-26: JSON-RPC batches are answered as batches', async () => {
    const h = new Host([docs]);
    await h.handshake('2025-03-26');
    h.write(JSON.stringify([
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'get', arguments: { ids: [2] } } },
      { jsonrpc: '2.0', id: 'c', method: 'nope' },
    ]));
    const batch = await h.nextIdless();
    assert.ok(Array.isArray(batch));
    assert.deepEqual(batch.map((m) => m.id), ['a', 'b', 'c'], 'one reply per request, none for the notification');
    assert.deepEqual(batch[0].result, {});
    assert.deepEqual(JSON.parse(batch[1].result.content[0].text).rows[0].metadata, docsRows[2].metadata);
    assert.equal(batch[2].error.code, -32601);
    h.write('[]');
    assert.equal((await h.nextIdless()).error.code, -32600);
    assert.equal((await h.close()).code, 0);
  });

  test('--write: insert, delete, compact, re-query; closing stdin persists and releases the lock', async () => {
    const d = freshDir();
    const file = path.join(d, 'w.rvf');
    const rows = await makeStore(file, { seed: 3 });
    const h = new Host(['--write', file]);
    await h.handshake();
    const { result: { tools } } = await h.send('tools/list');
    assert.deepEqual(tools.map((t) => t.name), ['query', 'get', 'status', 'segments', 'insert', 'delete', 'compact']);
    assert.equal(tools.find((t) => t.name === 'insert').annotations.readOnlyHint, false);

    // a second writer is refused while the server holds the lock
    await assert.rejects(openCollection(file), (e) => e.code === 'ELOCK');

    const r = rng(4242);
    const added = [];
    for (let i = 0; i < 20; i++) {
      added.push({ id: 5000 + i, vector: Array.from({ length: DIM }, () => r()), metadata: { lang: 'de', n: i } });
    }
    const ins = await h.ok('insert', { rows: added });
    assert.deepEqual(ins, { collection: 'w', written: 20, count: N + 21 });
    // a bad row refuses the whole batch (atomic) and names it
    await h.toolError('insert', { rows: [{ id: 6000, vector: new Array(DIM).fill(1) }, { id: 6001, vector: new Array(DIM).fill(0), metadata: { $id: 1 } }] },
      'EINVAL', /^EINVAL: rows\[1\]: metadata key "\$id"/);
    await h.toolError('insert', { rows: [{ id: 6002, vector: new Array(DIM - 1).fill(1) }] }, 'EINVAL', /exactly 8 items/);
    await h.toolError('insert', { rows: [{ id: 6003 }] }, 'EINVAL', /needs 'vector'/);
    assert.equal((await h.ok('get', { ids: [6000] })).found, 0, 'nothing of the refused batch was written');

    const del = await h.ok('delete', { ids: [0, 1, 2, 5000, 424242] });
    assert.deepEqual(del, { collection: 'w', deleted: 4, requested: 5, count: N + 17 });

    // the oracle: the rows written minus the ones deleted
    const live = [...rows.map((x) => ({ id: x.id, vector: Array.from(x.vector), metadata: x.metadata })), ...added]
      .filter((x) => ![0, 1, 2, 5000].includes(x.id));
    const vecs = live.map((x) => Float32Array.from(x.vector));
    const idx = new Map(live.map((x, i) => [typeof x.id === 'bigint' ? String(x.id) : x.id, i]));
    const q = Array.from({ length: DIM }, () => r());
    const res = await h.ok('query', { vector: q, k: 15 });
    assertExact(res.results, bruteForce('euclidean', q, vecs, 15), (id) => idx.get(id), 'euclidean', q, vecs);
    const de = await h.ok('query', { vector: q, k: 50, filter: { lang: 'de' } });
    assert.deepEqual(de.results.map((x) => x.id).sort((a, b) => a - b), added.slice(1).map((x) => x.id));

    const c = await h.ok('compact');
    assert.equal(c.collection, 'w');
    assert.ok(c.bytesAfter > 0 && c.bytesAfter <= c.bytesBefore, JSON.stringify(c));
    const after = await h.ok('query', { vector: q, k: 15 });
    assert.deepEqual(after.results.map((x) => x.id), res.results.map((x) => x.id), 'compaction changes no answer');
    const st = await h.ok('status');
    assert.equal(st.write, true);
    assert.equal(st.collections[0].count, N + 17);
    assert.equal(st.collections[0].deleted, 0, 'compacted');
    assert.equal(st.collections[0].writer.pid, h.child.pid);
    assert.equal(st.collections[0].writer.thisServer, true);

    assert.deepEqual(await h.close(), { code: 0, signal: null });
    // reopened as a writer (the lock was released): the server's writes are there
    const col = await openCollection(file);
    try {
      assert.equal(await col.count(), N + 17);
      assert.equal(await col.get(0), null);
      const g = await col.get(5007);
      assert.deepEqual(g.metadata, { lang: 'de', n: 7 });
      assert.deepEqual(Array.from(g.vector), Array.from(Float32Array.from(added[7].vector)));
    } finally {
      await col.close();
    }
  });

  test('--write on an empty store: the first insert sets string ids; numbers are read as their text', async () => {
    const d = freshDir();
    const file = path.join(d, 'names.rvf');
    const c0 = await openCollection(file, { create: { dimension: 3, metric: 'cosine' } });
    await c0.close();
    const h = new Host([file, '--write']);
    await h.handshake();
    const rows = [
      { id: 'alpha', vector: [1, 0, 0], metadata: { k: 'a' } },
      { id: 'beta', vector: [0, 1, 0], metadata: { k: 'b' } },
      { id: '42', vector: [0, 0, 1], metadata: { k: 'c' } },
    ];
    assert.deepEqual(await h.ok('insert', { rows }), { collection: 'names', written: 3, count: 3 });
    const got = await h.ok('get', { ids: ['beta', 42, 'gamma'] });
    assert.deepEqual(got.rows, [
      { id: 'beta', found: true, metadata: { k: 'b' } }, { id: '42', found: true, metadata: { k: 'c' } }, { id: 'gamma', found: false },
    ]);
    const q = await h.ok('query', { vector: [0.1, 0.9, 0.2], k: 3 });
    const vecs = rows.map((r) => r.vector);
    assertExact(q.results, bruteForce('cosine', [0.1, 0.9, 0.2], vecs, 3), (id) => rows.findIndex((r) => r.id === id), 'cosine', [0.1, 0.9, 0.2], vecs);
    await h.toolError('query', { vector: [0, 0, 0] }, 'EINVAL', /zero/);
    assert.equal((await h.close()).code, 0);
  });

  test('a read-only server does not block a separate writer, and sees its commits', async () => {
    const d = freshDir();
    const file = path.join(d, 'shared.rvf');
    await makeStore(file, { seed: 5 });
    const h = new Host([file]);
    await h.handshake();
    assert.equal((await h.ok('status')).collections[0].count, N + 1);
    const w = await openCollection(file);               // the writer lock is free
    try {
      await w.insert({ id: 777777, vector: new Array(DIM).fill(0.125), metadata: { from: 'writer' } });
      await w.delete(10);
      const got = await h.ok('get', { ids: [777777, 10] });
      assert.deepEqual(got.rows, [{ id: 777777, found: true, metadata: { from: 'writer' } }, { id: 10, found: false }]);
      const st = await h.ok('status');
      assert.equal(st.collections[0].count, N + 1);
      assert.equal(st.collections[0].writer.pid, process.pid);
      assert.equal(st.collections[0].writer.live, true);
      assert.ok(!('thisServer' in st.collections[0].writer));
      const hit = await h.ok('query', { vector: new Array(DIM).fill(0.125), k: 1 });
      assert.equal(hit.results[0].id, 777777);
      assert.equal(hit.results[0].distance, 0);
      await w.compact();                                 // the file is replaced: the server follows
      assert.equal((await h.ok('get', { ids: [777777] })).found, 1);
      await h.toolError('insert', { rows: [{ id: 1, vector: new Array(DIM).fill(1) }] }, 'EREADONLY');
    } finally {
      await w.close();
    }
    assert.equal((await h.close()).code, 0);
  });

  test('revision 2026-07-28 without initialize: server/discover, tools/list, tools/call with exact answers', async () => {
    const h = new Host([docs]);
    const d = await h.modern('server/discover');
    assert.ok(d.result, JSON.stringify(d.error));
    const pkgVersion = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
    assert.deepEqual(d.result, {
      resultType: 'complete',
      supportedVersions: [MODERN],
      capabilities: { tools: { listChanged: false } },
      serverInfo: { name: 'veclite', title: 'veclite vector store', version: pkgVersion },
      instructions: d.result.instructions,
      ttlMs: d.result.ttlMs,
      cacheScope: 'private',
    });
    assert.match(d.result.instructions, /docs \(dimension 8, euclidean\).*read-only/);
    assert.ok(Number.isInteger(d.result.ttlMs) && d.result.ttlMs >= 0, 'ttlMs: a non-negative integer of milliseconds');

    const list = await h.modern('tools/list');
    assert.equal(list.result.resultType, 'complete');
    assert.ok(Number.isInteger(list.result.ttlMs) && list.result.ttlMs >= 0);
    assert.equal(list.result.cacheScope, 'private');
    const { tools } = list.result;
    assert.deepEqual(tools.map((t) => t.name), ['query', 'get', 'status', 'segments'], 'read-only: no write tools, as in the legacy era');
    for (const t of tools) {
      assert.equal(typeof t.title, 'string');
      assert.equal(t.annotations.readOnlyHint, true);
      assert.equal(t.inputSchema.type, 'object');
    }
    assert.equal(tools.find((t) => t.name === 'query').inputSchema.properties.vector.minItems, DIM);

    // query against the float64 oracle, with and without a filter; get against the rows written
    const vecs = docsRows.map((r) => r.vector);
    const r = rng(777);
    for (let t = 0; t < 6; t++) {
      const qv = Array.from({ length: DIM }, () => r());
      const res = await h.modernOk('query', { vector: qv, k: 12 });
      assertExact(res.results, bruteForce('euclidean', qv, vecs, 12), rowOf, 'euclidean', qv, vecs);
      for (const hit of res.results) assert.deepEqual(hit.metadata, docsRows[rowOf(hit.id)].metadata);
      const pred = (i) => docsRows[i].metadata.lang === 'fr' && docsRows[i].metadata.year < 2008;
      const fres = await h.modernOk('query', { vector: qv, k: 5, filter: { lang: 'fr', year: { $lt: 2008 } } });
      assertExact(fres.results, bruteForce('euclidean', qv, vecs, 5, pred), rowOf, 'euclidean', qv, vecs);
    }
    const got = await h.modernOk('get', { ids: [4, String(BIG), 123456], includeVectors: true });
    assert.deepEqual(got.rows.map((x) => [x.id, x.found]), [[4, true], [String(BIG), true], [123456, false]]);
    assert.deepEqual(got.rows[1].vector, Array.from(docsRows[N].vector));
    assert.deepEqual(got.rows[0].metadata, docsRows[4].metadata);
    assert.equal((await h.modernOk('status')).collections[0].count, N + 1);

    // a tool error is a result too (resultType), and the read-only gating is the legacy one
    const ro = await h.modern('tools/call', { name: 'insert', arguments: { rows: [{ id: 9999, vector: new Array(DIM).fill(1) }] } });
    assert.equal(ro.result.resultType, 'complete');
    assert.equal(ro.result.isError, true);
    assert.equal(ro.result.structuredContent.error.code, 'EREADONLY');
    assert.match(ro.result.content[0].text, /^EREADONLY: .*restart it as 'veclite mcp --write/);
    const bad = await h.modern('tools/call', { name: 'query', arguments: { vector: [1, 2] } });
    assert.equal(bad.result.isError, true);
    assert.match(bad.result.content[0].text, /^EINVAL: .*exactly 8 items \(got 2\)/);

    // none of it opened the legacy session
    const legacy = await h.send('tools/list');
    assert.equal(legacy.error.code, -32600);
    assert.match(legacy.error.message, /not initialized.*2026-07-28/);
    assert.deepEqual(await h.close(), { code: 0, signal: null });
  });

  test('revision 2026-07-28 under --write: write tools listed and run; the writes reach the file', async () => {
    const d = freshDir();
    const file = path.join(d, 'mw.rvf');
    const rows = await makeStore(file, { seed: 11 });
    const h = new Host(['--write', file]);
    const { result: { tools } } = await h.modern('tools/list');
    assert.deepEqual(tools.map((t) => t.name), ['query', 'get', 'status', 'segments', 'insert', 'delete', 'compact']);
    const r = rng(31337);
    const added = Array.from({ length: 10 }, (_, i) => ({ id: 7000 + i, vector: Array.from({ length: DIM }, () => r()), metadata: { n: i } }));
    assert.deepEqual(await h.modernOk('insert', { rows: added }), { collection: 'mw', written: 10, count: N + 11 });
    assert.deepEqual(await h.modernOk('delete', { ids: [0, 7000] }), { collection: 'mw', deleted: 2, requested: 2, count: N + 9 });
    const live = [...rows.map((x) => ({ id: x.id, vector: x.vector })), ...added.map((x) => ({ id: x.id, vector: Float32Array.from(x.vector) }))]
      .filter((x) => x.id !== 0 && x.id !== 7000);
    const vecs = live.map((x) => x.vector);
    const idx = new Map(live.map((x, i) => [typeof x.id === 'bigint' ? String(x.id) : x.id, i]));
    const q = Array.from({ length: DIM }, () => r());
    const res = await h.modernOk('query', { vector: q, k: 20 });
    assertExact(res.results, bruteForce('euclidean', q, vecs, 20), (id) => idx.get(id), 'euclidean', q, vecs);
    assert.equal((await h.close()).code, 0);
    const col = await openCollection(file);
    try {
      assert.equal(await col.count(), N + 9);
      assert.deepEqual((await col.get(7003)).metadata, { n: 3 });
      assert.equal(await col.get(7000), null);
    } finally {
      await col.close();
    }
  });

  test('both eras in one process: legacy results carry no resultType or cache hints, modern ones do', async () => {
    const h = new Host([docs]);
    const init = await h.handshake('2025-06-18');
    assert.ok(!('resultType' in init) && !('ttlMs' in init) && !('cacheScope' in init));
    const legacyList = (await h.send('tools/list')).result;
    assert.deepEqual(Object.keys(legacyList), ['tools'], 'a legacy tools/list is as before');
    const legacyCall = await h.call('get', { ids: [1] });
    assert.deepEqual(Object.keys(legacyCall).sort(), ['content', 'structuredContent']);
    // a stateless request in the same process is served as such, and changes nothing legacy
    const modernList = (await h.modern('tools/list')).result;
    assert.deepEqual(Object.keys(modernList).sort(), ['cacheScope', 'resultType', 'tools', 'ttlMs']);
    assert.deepEqual(modernList.tools, legacyList.tools, 'the same tools in both eras (2025-06-18 and 2026-07-28 both have titles and annotations)');
    const modernCall = (await h.modern('tools/call', { name: 'get', arguments: { ids: [1] } })).result;
    assert.deepEqual(modernCall, { resultType: 'complete', ...legacyCall });
    assert.ok(!('resultType' in (await h.send('tools/list')).result), 'still legacy without _meta');
    await h.alive();   // ping lives on in the legacy era
    // a _meta without the io.modelcontextprotocol/ keys (a progress token) stays legacy
    const progress = await h.send('tools/call', { name: 'get', arguments: { ids: [2] }, _meta: { progressToken: 'p1' } });
    assert.ok(!('resultType' in progress.result));
    assert.deepEqual(progress.result.structuredContent.rows[0].metadata, docsRows[2].metadata);
    // an initialize naming 2026-07-28 is a legacy handshake: answered with the newest legacy revision
    const h2 = new Host([docs]);
    assert.equal((await h2.handshake(MODERN)).protocolVersion, '2025-11-25');
    assert.equal((await h2.close()).code, 0);
    assert.equal((await h.close()).code, 0);
  });

  test('revision 2026-07-28: -32022 with the versions served for a revision not served', async () => {
    const h = new Host([docs]);
    for (const v of ['2099-01-01', '2025-11-25', '2024-11-05', '', 'y'.repeat(256), 'x'.repeat(3000)]) {
      for (const [method, params] of [['server/discover', {}], ['tools/list', {}], ['tools/call', { name: 'status' }]]) {
        const r = await h.modern(method, params, meta(v));
        assert.ok(r.error, `${method} ${v}: ${JSON.stringify(r.result)}`);
        assert.equal(r.error.code, -32022, r.error.message);
        // echoed as sent; a string far longer than any version name is cut to 256 characters and '…'
        assert.deepEqual(r.error.data, { supported: [MODERN], requested: v.length > 256 ? `${v.slice(0, 256)}…` : v });
        assert.match(r.error.message, /Unsupported protocol version/);
      }
    }
    // the supported list is the one server/discover advertises, and it works
    const d = await h.modern('server/discover');
    const retry = await h.modern('tools/list', {}, meta(d.result.supportedVersions[0]));
    assert.equal(retry.result.resultType, 'complete');
    assert.equal((await h.close()).code, 0);
  });

  test('revision 2026-07-28: a missing or ill-typed _meta key is invalid params; removed and unknown methods; the server keeps serving', async () => {
    const h = new Host([docs]);
    const V = 'io.modelcontextprotocol/protocolVersion', C = 'io.modelcontextprotocol/clientCapabilities', I = 'io.modelcontextprotocol/clientInfo';
    const bad = [
      ['server/discover', undefined, /params\._meta is missing/],
      ['server/discover', {}, /params\._meta is missing/],
      ['server/discover', { _meta: null }, /null/],
      ['server/discover', { _meta: 'x' }, /the string "x"/],
      ['server/discover', { _meta: [1] }, /an array/],
      ['server/discover', { _meta: {} }, /protocolVersion" is missing/],
      ['tools/list', { _meta: { [C]: {} } }, /protocolVersion" is missing/],
      ['tools/list', { _meta: { [V]: 20260728, [C]: {} } }, /must be a string \(got number 20260728\)/],
      ['tools/list', { _meta: { [V]: null, [C]: {} } }, /must be a string/],
      ['tools/list', { _meta: { [V]: MODERN } }, /clientCapabilities" must be an object \(got nothing\)/],
      ['tools/call', { name: 'status', _meta: { [V]: MODERN, [C]: null } }, /clientCapabilities" must be an object \(got null\)/],
      ['tools/call', { name: 'status', _meta: { [V]: MODERN, [C]: [] } }, /must be an object/],
      ['tools/list', { _meta: { [V]: MODERN, [C]: {}, [I]: 'me' } }, /clientInfo.*must be an object/],
      ['tools/list', { _meta: { [V]: MODERN, [C]: {}, [I]: { name: 'x' } } }, /string "name" and "version"/],
      ['tools/list', { _meta: { [I]: { name: 'x', version: '1' } } }, /protocolVersion" is missing/],
    ];
    for (const [method, params, re] of bad) {
      const r = await h.send(method, params);
      assert.ok(r.error, `${method} ${JSON.stringify(params)}: ${JSON.stringify(r.result)}`);
      assert.equal(r.error.code, -32602, `${method} ${JSON.stringify(params)}: ${r.error.message}`);
      assert.match(r.error.message, re);
    }
    // params not an object, under either era
    assert.equal((await h.send('server/discover', [meta()])).error.code, -32602);
    // clientInfo is optional
    const noInfo = await h.modern('tools/list', {}, { [V]: MODERN, [C]: { roots: {} } });
    assert.equal(noInfo.result.resultType, 'complete');
    // removed (ping) and absent methods
    for (const method of ['ping', 'resources/list', 'prompts/list', 'logging/setLevel', 'no/such']) {
      const r = await h.modern(method);
      assert.equal(r.error.code, -32601, method);
    }
    // tools/call problems are the legacy ones
    for (const params of [{}, { name: 7 }, { name: 'query', arguments: 'v' }, { name: 'drop_everything' }]) {
      assert.equal((await h.modern('tools/call', params)).error.code, -32602, JSON.stringify(params));
    }
    // hostile values: a huge k, NaN-free but out-of-range numbers, a deep filter — tool errors
    for (const args of [{ vector: new Array(DIM).fill(0.5), k: 1e12 }, { vector: new Array(DIM).fill(1e308).map((x, i) => (i ? x : -x)), k: 1, filter: { a: { $in: 'x' } } }]) {
      const r = await h.modern('tools/call', { name: 'query', arguments: args });
      assert.equal(r.result.resultType, 'complete');
      assert.equal(r.result.isError, true, JSON.stringify(r.result));
    }
    // a raw line with _meta before params' other fields and a string id
    h.write(`{"jsonrpc":"2.0","id":"raw","method":"tools/call","params":{"_meta":${JSON.stringify(meta())},"name":"get","arguments":{"ids":[3]}}}`);
    const raw = await new Promise((resolve) => h.byId.set('raw', resolve));
    assert.equal(raw.result.resultType, 'complete');
    assert.deepEqual(raw.result.structuredContent.rows[0].metadata, docsRows[3].metadata);
    // and the legacy session is still untouched and can be opened after all that
    assert.equal((await h.send('tools/list')).error.code, -32600);
    const init = await h.handshake();
    assert.equal(init.protocolVersion, '2025-11-25');
    const vecs = docsRows.map((x) => x.vector);
    const qv = new Array(DIM).fill(-0.3);
    const res = await h.ok('query', { vector: qv, k: 4 });
    assertExact(res.results, bruteForce('euclidean', qv, vecs, 4), rowOf, 'euclidean', qv, vecs);
    assert.equal((await h.close()).code, 0);
  });

  test('command line: duplicate names, missing files, --json, and a signal', async () => {
    const d = freshDir();
    fs.mkdirSync(path.join(d, 'a'));
    fs.mkdirSync(path.join(d, 'b'));
    await makeStore(path.join(d, 'a', 'x.rvf'));
    await makeStore(path.join(d, 'b', 'x.rvf'));
    const run = async (args) => {
      const h = new Host(args, { cwd: d });
      h.child.stdin.end();
      const { code } = await h.exit;
      return { code, stdout: h.lines.join('\n'), stderr: h.stderr };
    };
    const dup = await run(['a/x.rvf', 'b/x.rvf']);
    assert.equal(dup.code, 2);
    assert.equal(dup.stdout, '');
    assert.match(dup.stderr, /a\/x\.rvf and b\/x\.rvf would both be collection 'x'/);
    const missing = await run(['a/x.rvf', 'nope.rvf']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^veclite: ENOTFOUND: nope\.rvf does not exist/m);
    // --json does not apply (stdout is the protocol's): a usage error, reported as every CLI
    // error is with --json (one {"error"} line), before anything is served
    const json = await new Promise((resolve) => {
      const c = spawn(process.execPath, [BIN, 'mcp', 'a/x.rvf', '--json'], { cwd: d, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (x) => { out += x; });
      c.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(json.code, 2);
    assert.deepEqual(JSON.parse(json.out).error.code, 'EUSAGE');
    assert.match(JSON.parse(json.out).error.message, /--json does not apply/);
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /missing FILE/);
    const memWrite = await run(['--backend', 'memory', '--write', 'a/x.rvf']);
    assert.equal(memWrite.code, 2);
    for (const n of ['1023', '268435457']) {
      const r = await run(['a/x.rvf', '--max-message-bytes', n]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--max-message-bytes must be 1024\.\.268435456/);
    }

    // --backend memory serves a read-only copy
    const mem = new Host(['--backend', 'memory', 'a/x.rvf'], { cwd: d });
    await mem.handshake();
    assert.equal((await mem.ok('status')).collections[0].count, N + 1);
    assert.equal((await mem.close()).code, 0);

    // SIGTERM: answers what it read, closes the stores (the writer lock is released), exits 143
    const file = path.join(d, 'a', 'x.rvf');
    const h = new Host(['--write', 'a/x.rvf'], { cwd: d });
    await h.handshake();
    await h.alive();
    h.child.kill('SIGTERM');
    assert.deepEqual(await h.exit, { code: 143, signal: null });
    const col = await openCollection(file);
    assert.equal(await col.count(), N + 1);
    await col.close();
  });
});
