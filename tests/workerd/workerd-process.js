// tests/workerd/workerd-process.js — runs the real workerd binary (the `workerd` npm package) on
// a generated config for a test file: free 127.0.0.1 ports, a bounded wait until every socket
// answers, and a kill when the test ends or the test process exits early.
//
// Invariants: one workerd process per start(); ports are picked free then released, so another
// process may take one first — start() retries once on a bind failure; the last 64 kB of
// workerd's output are kept for failure messages (tail()).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import net from 'node:net';

const require = createRequire(import.meta.url);
const START_MS = 10_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** GET/POST a JSON endpoint: { status, body } (a body that is not JSON arrives as { raw }). */
export async function request(url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { raw: text }; }
  return { status: res.status, body };
}

/**
 * Start workerd on `configPath` with one free port per socket name; resolves once the socket
 * `probe` (a socket name and path) answers 2xx-4xx. Fails the test with workerd's output otherwise.
 * @returns {Promise<{ base: Record<string, string>, tail(): string, stop(): Promise<void> }>}
 */
export async function startWorkerd(configPath, sockets, probe = { socket: sockets[0], path: '/' }) {
  const bin = require('workerd').default;
  assert.ok(existsSync(bin), `workerd binary ${bin} not found: run tools/ensure-deps.sh (npm ci)`);
  let output = '';
  let proc;
  const killOnExit = () => proc?.kill('SIGKILL');
  const tail = () => output.slice(-4000);

  async function stop() {
    if (!proc) return;
    const p = proc;
    proc = undefined;
    process.off('exit', killOnExit);
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  }

  async function once() {
    const base = {};
    const args = ['serve', configPath];
    for (const s of sockets) {
      const port = await freePort();
      base[s] = `http://127.0.0.1:${port}`;
      args.push('--socket-addr', `${s}=127.0.0.1:${port}`);
    }
    output = '';
    proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    process.once('exit', killOnExit);
    const collect = (d) => { output = (output + d).slice(-64_000); };
    proc.stdout.on('data', collect);
    proc.stderr.on('data', collect);
    let exited = null;
    proc.once('exit', (code, signal) => { exited = { code, signal }; });
    const deadline = Date.now() + START_MS;
    for (;;) {
      if (exited) return { ok: false, why: `workerd exited (${JSON.stringify(exited)})`, base };
      try {
        const r = await fetch(base[probe.socket] + probe.path, { signal: AbortSignal.timeout(1000) });
        if (r.status < 500) return { ok: true, base };
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) return { ok: false, why: `no answer within ${START_MS / 1000} s`, base };
      await sleep(100);
    }
  }

  let started = await once();
  if (!started.ok && /address already in use|bind/i.test(output)) {
    await stop();
    started = await once();
  }
  if (!started.ok) {
    const why = `workerd did not start: ${started.why}\n${tail()}`;
    await stop();
    assert.fail(why);
  }
  return { base: started.base, tail, stop };
}
