// WRITER section of the benchmark: what the single-writer guarantees and damage reporting cost
// (docs/single-writer.md, docs/format.md §9), each measured against a baseline in this process.
//
//   (a) restart after a crash: a writer process is killed with SIGKILL (its lock file stays
//       behind); the time of the next writable open here, against a clean open of the same store
//       (before, a killed writer locked its restart out for 30 s);
//   (b) the per-write "is it still my file, under my lock" check: single-row durable commits per
//       second with the check, against the same loop with the check switched off (monkeypatched),
//       interleaved rounds so drift hits both alike;
//   (c) salvage scan: recoverCollection(dryRun) over a 16 MiB file of forged overlapping headers
//       (the shape that made the first salvage scan quadratic), against the same scan over an
//       honest store of about the same size;
//   (d) a reader following the writer: refresh() of a read-only handle after a 100-row commit on
//       a 20,000-row HNSW store, against a fresh read-only open of the same file.
//
// Invariants: everything lives in one fs.mkdtemp directory, removed at the end (also on failure);
// child processes are killed by the section itself; nothing is asserted, only printed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[s.length >> 1] : null; };

/**
 * @param {{ repoRoot: string, quick: boolean, log: (s: string) => void }} o
 * @returns {Promise<object>} figures, also printed
 */
export async function runWriter({ repoRoot, quick, log }) {
  const api = await import(pathToFileURL(path.join(repoRoot, 'web/index.js')).href);
  const lockMod = await import(pathToFileURL(path.join(repoRoot, 'idb/lock-file.js')).href);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-bench-writer-'));
  try {
    const out = {};
    // (a) restart after SIGKILL
    const f = path.join(dir, 'restart.rvf');
    const c0 = await api.openCollection(f, { create: { dimension: 8 } });
    await c0.insert({ id: 1, vector: [1, 2, 3, 4, 5, 6, 7, 8] });
    await c0.close();
    const rounds = quick ? 5 : 15;
    const afterKill = [], clean = [];
    for (let i = 0; i < rounds; i++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e',
        `const v = await import(${JSON.stringify(pathToFileURL(path.join(repoRoot, 'web/index.js')).href)});` +
        `await v.openCollection(${JSON.stringify(f)}); console.log('held'); setInterval(() => {}, 1e6);`],
      { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((r) => child.stdout.once('data', r));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      let t = performance.now();
      const a = await api.openCollection(f);
      afterKill.push(performance.now() - t);
      await a.close();
      t = performance.now();
      const b = await api.openCollection(f);
      clean.push(performance.now() - t);
      await b.close();
    }
    out.restart = { rounds, afterKillMs: +median(afterKill).toFixed(2), cleanOpenMs: +median(clean).toFixed(2) };
    log(`writer: open after SIGKILL ${out.restart.afterKillMs} ms vs clean open ${out.restart.cleanOpenMs} ms (median of ${rounds})`);

    // (b) per-write identity check
    const proto = lockMod.FileLock.prototype;
    const check = proto.checkFile;
    const commits = quick ? 200 : 1000;
    const rate = async (on, k) => {
      proto.checkFile = on ? check : function noCheck() {};
      const g = path.join(dir, `commits-${k}.rvf`);
      const col = await api.openCollection(g, { create: { dimension: 16 } });
      const v = new Float32Array(16);
      v[1] = 1;
      const t = performance.now();
      for (let i = 0; i < commits; i++) {
        v[0] = i;
        await col.insert({ id: i, vector: v });
      }
      const s = (performance.now() - t) / 1000;
      await col.close();
      proto.checkFile = check;
      return commits / s;
    };
    const withC = [], without = [];
    try {
      for (let r = 0; r < 3; r++) {
        withC.push(await rate(true, `w${r}`));
        without.push(await rate(false, `n${r}`));
      }
    } finally {
      proto.checkFile = check;
    }
    out.writeCheck = {
      commits, rounds: 3, withCheckPerS: Math.round(median(withC)), withoutCheckPerS: Math.round(median(without)),
      ratio: +(median(withC) / median(without)).toFixed(3),
    };
    log(`writer: single-row commits/s with the identity check ${out.writeCheck.withCheckPerS}, without ` +
      `${out.writeCheck.withoutCheckPerS} (ratio ${out.writeCheck.ratio})`);

    // (c) salvage scan, forged vs honest
    const n = quick ? 4 << 20 : 16 << 20;
    const forged = Buffer.alloc(n);
    for (let p = 0; p + 64 <= n; p += 64) {
      forged.writeUInt32LE(0x52564653, p);
      forged[p + 4] = 1;
      forged[p + 5] = 1;
      forged.writeBigUInt64LE(BigInt(Math.max(0, n - p - 96)), p + 0x10);
      forged[p + 0x28] = 1;
    }
    const ff = path.join(dir, 'forged.rvf');
    fs.writeFileSync(ff, forged);
    const hf = path.join(dir, 'honest.rvf');
    const h = await api.openCollection(hf, { create: { dimension: 128, index: { type: 'flat' } } });
    const rows = [];
    for (let i = 0; rows.length * 128 * 4 < n; i++) rows.push({ id: i, vector: Float32Array.from({ length: 128 }, (_, j) => Math.sin(i * 7 + j) + 2) });
    for (let i = 0; i < rows.length; i += 2000) await h.insertBatch(rows.slice(i, i + 2000));
    await h.close();
    let t = performance.now();
    await api.recoverCollection(hf, null, { dryRun: true });
    const honestMs = performance.now() - t;
    t = performance.now();
    await api.recoverCollection(ff, null, { dryRun: true });
    const forgedMs = performance.now() - t;
    out.salvage = {
      forgedBytes: n, honestBytes: fs.statSync(hf).size, forgedMs: Math.round(forgedMs), honestMs: Math.round(honestMs),
      ratio: +(forgedMs / honestMs).toFixed(2),
    };
    log(`writer: salvage dry run over ${n >> 20} MiB of forged headers ${out.salvage.forgedMs} ms vs ` +
      `${(out.salvage.honestBytes / 1048576).toFixed(1)} MiB honest store ${out.salvage.honestMs} ms (ratio ${out.salvage.ratio})`);
    // (d) a reader following the writer: refresh() after a 100-row commit vs a fresh open
    const rf = path.join(dir, 'follow.rvf');
    const D = 64, rowsN = quick ? 5000 : 20000;
    const vecOf = (i) => Float32Array.from({ length: D }, (_, j) => Math.sin(i * 13 + j * 7));
    const wr = await api.openCollection(rf, { create: { dimension: D } });
    for (let i = 0; i < rowsN; i += 5000) {
      await wr.insertBatch(Array.from({ length: Math.min(5000, rowsN - i) }, (_, k) => ({ id: i + k, vector: vecOf(i + k) })));
    }
    const reader = await api.openCollection(rf, { readOnly: true });
    const refreshMs = [], reopenMs = [];
    for (let r = 0; r < 5; r++) {
      const base = rowsN + r * 100;
      await wr.insertBatch(Array.from({ length: 100 }, (_, k) => ({ id: base + k, vector: vecOf(base + k) })));
      t = performance.now();
      await reader.refresh();
      refreshMs.push(performance.now() - t);
      t = performance.now();
      const o = await api.openCollection(rf, { readOnly: true });
      await o.count();
      reopenMs.push(performance.now() - t);
      await o.close();
    }
    await reader.close();
    await wr.close();
    out.follow = { rows: rowsN, dim: D, refreshMs: +median(refreshMs).toFixed(2), reopenMs: +median(reopenMs).toFixed(1) };
    log(`writer: reader refresh() after a 100-row commit on ${rowsN} rows ${out.follow.refreshMs} ms vs fresh open ${out.follow.reopenMs} ms`);
    return out;
  } catch (e) {
    return { error: e?.stack ?? String(e) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
