// MCP section of the benchmark: what serving a store through `veclite mcp` (web/cli/mcp.js)
// costs per query, against the same search through the public API in this process.
//
//   (a) api:       Collection.search (k=10) on a read-only handle, in this process;
//   (b) api+refresh: the same, with refresh() before each search (what the read-only server does
//       before every read tool, to see a separate writer's commits);
//   (c) mcp:       tools/call query round trips, one in flight, to `node bin/veclite.js mcp FILE`
//       (read-only) over its stdin/stdout pipes — JSON encoding both ways, the refresh, the pipe;
//   (d) mcp --write: the same to a server that is the writer (no refresh).
// Rounds are interleaved across the four so load from other processes hits all alike; the best
// round is reported.
//
// Invariants: everything lives in one fs.mkdtemp directory, removed at the end (also on
// failure); the child servers are stopped by closing their stdin (killed if that fails); nothing
// is asserted, only printed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { makeRng } from './datasets.js';

/** A spawned `veclite mcp` with one request in flight at a time. */
function startServer(repoRoot, args) {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/veclite.js'), 'mcp', ...args], { stdio: ['pipe', 'pipe', 'ignore'] });
  let buf = '', waiting = null, id = 0;
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    for (let nl; (nl = buf.indexOf('\n')) >= 0;) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting;
      waiting = null;
      w?.(JSON.parse(line));
    }
  });
  const exited = new Promise((resolve) => child.on('close', resolve));
  const call = (method, params) => new Promise((resolve, reject) => {
    waiting = (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result));
    child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) + '\n');
  });
  return {
    call,
    bytesOf: (params) => JSON.stringify(params).length,
    async stop() {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * @param {{ repoRoot: string, quick: boolean, seconds?: number|null, rounds?: number|null, log: (s: string) => void }} o
 * @returns {Promise<object>} figures, also printed by bench.mjs
 */
export async function runMcp({ repoRoot, quick, seconds, rounds, log }) {
  const api = await import(pathToFileURL(path.join(repoRoot, 'web/index.js')).href);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-bench-mcp-'));
  const servers = [];
  try {
    const n = quick ? 5000 : 20000, dim = 128, k = 10;
    const minMs = (seconds ?? (quick ? 0.3 : 2)) * 1000;
    const nRounds = rounds ?? (quick ? 1 : 3);
    const u = makeRng(2024);
    const r = () => u() * 2 - 1;
    const ro = path.join(dir, 'ro.rvf'), rw = path.join(dir, 'rw.rvf');
    for (const f of [ro, rw]) {
      const c = await api.openCollection(f, { create: { dimension: dim, metric: 'cosine' } });
      const rows = [];
      for (let i = 0; i < n; i++) rows.push({ id: i, vector: Float32Array.from({ length: dim }, r), metadata: { i, even: i % 2 === 0 } });
      for (let i = 0; i < n; i += 5000) await c.insertBatch(rows.slice(i, i + 5000));
      await c.close();
    }
    const queries = Array.from({ length: 200 }, () => Array.from({ length: dim }, r));
    log(`mcp section: ${n} x ${dim} cosine store, k=${k}, ${minMs / 1000} s per point, ${nRounds} round(s)`);

    const reader = await api.openCollection(ro, { readOnly: true });
    const srvRo = startServer(repoRoot, [ro]);
    const srvRw = startServer(repoRoot, ['--write', rw]);
    servers.push(srvRo, srvRw);
    for (const s of [srvRo, srvRw]) {
      await s.call('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
    }
    const mcpQuery = (s) => (q) => s.call('tools/call', { name: 'query', arguments: { vector: q, k } });
    const points = {
      api: (q) => reader.search(q, { k }),
      apiRefresh: async (q) => {
        await reader.refresh();
        return reader.search(q, { k });
      },
      mcp: mcpQuery(srvRo),
      mcpWrite: mcpQuery(srvRw),
    };
    const best = Object.fromEntries(Object.keys(points).map((p) => [p, 0]));
    for (let round = 0; round < nRounds; round++) {
      for (const [name, fn] of Object.entries(points)) {
        for (let i = 0; i < 20; i++) await fn(queries[i]);         // warm-up
        let done = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < minMs) await fn(queries[done++ % queries.length]);
        const qps = done / ((performance.now() - t0) / 1000);
        best[name] = Math.max(best[name], qps);
      }
    }
    const sample = await points.mcp(queries[0]);
    await reader.close();
    const round = (x) => Math.round(x);
    const out = {
      n, dim, k, metric: 'cosine', rounds: nRounds,
      apiQps: round(best.api), apiRefreshQps: round(best.apiRefresh), mcpQps: round(best.mcp), mcpWriteQps: round(best.mcpWrite),
      requestBytes: srvRo.bytesOf({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'query', arguments: { vector: queries[0], k } } }),
      replyBytes: JSON.stringify({ jsonrpc: '2.0', id: 1, result: sample }).length,
      mcpOverApi: +(best.mcp / best.api).toFixed(3),
    };
    return out;
  } catch (e) {
    return { error: String(e?.stack ?? e) };
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
