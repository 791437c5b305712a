// worker/migrate.js — migrate: copy every collection of one browser database into another
// (typically an IndexedDB-only database into .rvf files in OPFS, for hybrid mode), byte for byte
// (docs/browser.md §5).
//
// Invariants:
// - The source is only read (committed bytes, no lease) and never deleted or changed; both
//   databases' connections are closed when it ends, however it ends.
// - Idempotent: a target collection holding exactly the source's bytes is left alone and
//   reported 'unchanged'; a run that changes nothing reports noop. A target that exists with
//   other bytes is a 'conflict': reported, never overwritten.
// - Each copy is one atomic step under the target's writer lease (an IndexedDB transaction or an
//   OPFS swap file), and the target is judged absent or empty again with that lease held: a
//   writer that created it after the first look is never overwritten. dryRun reports what would
//   be done and writes nothing; verify opens each target read-only in the engine and checks it
//   (verify) and its row count against the source.

import { einval, plural } from './errors.js';

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Open an image read-only in the engine: { count, ok, problems }. */
function inspectImage(engine, bytes) {
  const io = engine.ioMemOpen(bytes);
  let st = 0;
  try {
    st = engine.storeOpen(io, null, engine.C.storeFlags.READONLY, null);
    const v = engine.storeVerify(st);
    return { count: engine.storeInfo(st).live, ok: v.ok, problems: v.problems };
  } finally {
    if (st) engine.storeClose(st);
    engine.ioMemFree(io);
  }
}

/**
 * @param {import('./bind.js').Engine} engine
 * @param {{ from: { backend: string, path: string }, to: { backend: string, path: string }, dryRun?: boolean, verify?: boolean, lease?: object }} a
 */
export async function migrate(engine, a) {
  const { browserBackend } = await import('../idb/browser-store.js');
  if (a.from.backend === a.to.backend && a.from.path === a.to.path) {
    throw einval('migrate: from and to name the same database');
  }
  const src = await browserBackend(a.from.backend, a.from.path);
  let dst = null;
  try {
    dst = await browserBackend(a.to.backend, a.to.path, a.lease);
    return await copyAll(engine, a, src, dst);
  } finally {
    // their IndexedDB connections and channels, whatever happened
    src.close();
    dst?.close();
  }
}

async function copyAll(engine, a, src, dst) {
  const report = {
    from: { ...a.from }, to: { ...a.to }, dryRun: a.dryRun === true, collections: [],
    copied: 0, unchanged: 0, conflicts: 0, noop: true,
  };
  for (const name of await src.list()) {
    const bytes = await src.readBytes(name);
    const entry = { name, bytes: bytes.length, action: '' };
    const exists = await dst.exists(name);
    let have = exists ? await dst.readBytes(name) : null;
    // The target is judged again under its lease: a writer may create it after this look.
    if (!(have && have.length > 0) && !report.dryRun) have = await dst.writeImage(name, bytes);
    if (have && sameBytes(have, bytes)) {
      entry.action = 'unchanged';
      report.unchanged++;
    } else if (have && have.length > 0) {
      entry.action = 'conflict';
      entry.reason = `${dst.label(name)} exists with other contents (${plural(have.length, 'byte')}); it is left as it is`;
      report.conflicts++;
    } else if (report.dryRun) {
      entry.action = 'would copy';
      report.noop = false;
    } else {
      entry.action = 'copied';
      report.copied++;
      report.noop = false;
    }
    if (a.verify && entry.action !== 'conflict' && !report.dryRun) {
      const s = inspectImage(engine, bytes);
      const t = inspectImage(engine, await dst.readBytes(name));
      entry.rows = t.count;
      entry.verified = t.ok && t.count === s.count;
      if (!entry.verified) entry.problems = [...t.problems, ...(t.count !== s.count ? [`target has ${plural(t.count, 'row')}, source ${s.count}`] : [])];
    }
    report.collections.push(entry);
  }
  return report;
}
