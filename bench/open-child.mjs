// Child process of the STORAGE benchmark section: opens one .rvf file in a fresh Node process (no
// engine state, no JIT warmth from the parent) and runs one k=10 query, then prints one JSON line
// with its timings on stdout.
//
// usage: node bench/open-child.mjs MODE FILE QUERY.f32 REPO_ROOT
//   MODE veclite     openCollection(FILE) (writer) + col.search(q, { k: 10 })
//        veclite-ro  openCollection(FILE, { readOnly: true }) + col.search(q, { k: 10 })
//        rvf-node    RvfDatabase.openReadonly(FILE) + db.query(q, 10)
//        read        fs.readFileSync(FILE): the file's bytes into a fresh buffer (the reference the
//                    open is measured against: issue 10 "open at the speed of the bytes")
// Invariants: the wasm engine (veclite) or native addon (rvf-node) is loaded BEFORE the timed
// open, and its load time is reported separately (engineMs), so openFirstQueryMs is the store's
// own cost; totalMs is everything from process start of this script; cpuMs / waitFraction are
// the main thread's CPU time and run-queue wait over the timed open + query (rvf-node may use
// other threads: its cpuMs is a lower bound); veclite modes add the engine's own breakdown
// (status().openCost) and openJsMs, the part of the open outside the engine. Exit 0 with { error } on a
// failure the parent should report, so the parent never has to parse a stack trace.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { threadSched } from './measure.js';

/** main-thread CPU ms and run-queue-wait share between two threadSched() samples */
const sched = (a, b, ms) => (a && b ? { cpuMs: (b.cpuNs - a.cpuNs) / 1e6, waitFraction: (b.waitNs - a.waitNs) / 1e6 / ms } : { cpuMs: null, waitFraction: null });

const [mode, file, qfile, repoRoot] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

async function main() {
  const t0 = performance.now();
  const qb = fs.readFileSync(qfile);
  const q = new Float32Array(qb.buffer.slice(qb.byteOffset, qb.byteOffset + qb.length));
  if (mode === 'veclite' || mode === 'veclite-ro') {
    const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
    const t1 = performance.now();
    const warm = await api.createDatabase();          // instantiates the wasm engine
    await warm.close();
    const t2 = performance.now();
    const s0 = threadSched();
    const col = await api.openCollection(file, { readOnly: mode === 'veclite-ro' });
    const tOpen = performance.now();
    const hits = await col.search(q, { k: 10, includeMetadata: false });
    const t3 = performance.now();
    const sc = sched(s0, threadSched(), t3 - t2);
    const st = await col.status();
    await col.close();
    out({ mode, importMs: t1 - t0, engineMs: t2 - t1, openFirstQueryMs: t3 - t2, openMs: tOpen - t2, firstQueryMs: t3 - tOpen, totalMs: t3 - t0, ...sc,
      indexLoaded: st.indexLoaded, count: st.count, implementation: api.getImplementation().build, ids: hits.map((h) => Number(h.id)),
      openCost: st.openCost, openJsMs: st.openCost ? tOpen - t2 - st.openCost.totalMs : null });
  } else if (mode === 'rvf-node') {
    const { RvfDatabase } = createRequire(path.join(repoRoot, 'package.json'))('@ruvector/rvf-node');
    const t1 = performance.now();
    const s0 = threadSched();
    const db = RvfDatabase.openReadonly(file);
    const tOpen = performance.now();
    const r = db.query(q, 10);
    const t2 = performance.now();
    const sc = sched(s0, threadSched(), t2 - t1);
    const st = db.status();
    db.close();
    out({ mode, importMs: t1 - t0, engineMs: 0, openFirstQueryMs: t2 - t1, openMs: tOpen - t1, firstQueryMs: t2 - tOpen, totalMs: t2 - t0, ...sc, count: st.totalVectors, ids: r.map((h) => h.id) });
  } else if (mode === 'read') {
    const s0 = threadSched();
    const t1 = performance.now();
    const b = fs.readFileSync(file);
    const t2 = performance.now();
    const sc = sched(s0, threadSched(), t2 - t1);
    out({ mode, readMs: t2 - t1, bytes: b.length, totalMs: t2 - t0, ...sc });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((e) => out({ mode, error: `${e?.name ?? 'Error'}${e?.code ? ` [${e.code}]` : ''}: ${e?.message ?? e}` }));
