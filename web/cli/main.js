// web/cli/main.js — the `veclite` command-line interface (docs/api.md
// §11). bin/veclite.js calls main(); tests may call it in-process with their own streams.
//
// Every command goes through the public API of web/index.js (openCollection, createDatabase) —
// the CLI has no private access to the engine, the file format, the devices or the lock
// (`recover` and the report of `verify` on a file that does not open use recoverCollection;
// `export` uses Collection.exportTo, which replaces OUT under OUT's writer lock).
//
// Invariants:
// - Exit status: 0 success; 1 error, reported as exactly one line `veclite: CODE: message` on
//   stderr (CODE is a VecliteError code); 2 usage error, reported as `veclite: message` plus a
//   hint line; 128 + the signal number (130 SIGINT, 143 SIGTERM, 129 SIGHUP) when interrupted
//   during ingest, after the batches read so far are committed.
// - With --json, stdout receives exactly one JSON document (one line) per successful command
//   (verify also prints it when it finds problems, then exits 1), and exactly one line
//   {"error":{"code","message"}} on any failure (code EUSAGE for usage errors); nothing else is
//   ever written to stdout. Ids above 2^53-1 print as exact decimal strings. Progress and errors
//   go to stderr (the error line as well, with --json too).
// - `export FILE -` writes only the image bytes to stdout (with --json: a usage error).
// - The progress bar draws only when stderr is a TTY, and never with --json or --no-progress.
// - Stores are opened read-only (no lock) by commands that only read (query, get, status,
//   segments, verify, export, kmeans, similarity, and mcp without --write) and as the writer by
//   the others; every opened collection is closed before main() returns, on success and on
//   error, so the lock is released and the graph persisted.
// - `mcp` (web/cli/mcp.js) serves until stdin ends: stdout then carries JSON-RPC messages only.
// - An explicit --backend that is unavailable fails with EBACKEND and a hint: never a fallback.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VecliteError } from '../../worker/errors.js';
import { COMMANDS, UsageError, helpText, parseArgs, usageLine } from './args.js';
import { bytes, keyValues, num, oneLine, plural, table, toJson } from './output.js';
import { Progress } from './progress.js';
import { POSITION_UNIT, detectFormat, fvecsRowCount, openInput, readQueryVectors, readRows, textId } from './readers.js';
import { runBench } from './bench.js';
import { MAX_MESSAGE_BYTES_LIMIT, serveMcp } from './mcp.js';
import { runKmeans, runSimilarity } from './toolbox.js';

const CODES = new Set(['EINVAL', 'ENOTFOUND', 'ELOCK', 'EREADONLY', 'ECORRUPT', 'EVERSION', 'EBACKEND', 'EBUDGET', 'ECLOSED', 'EIO']);

/** The package version, read once from package.json next to web/. */
export function version() {
  try {
    return JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

/** Commands that write a store (they need the node backend). */
const WRITERS = new Set(['create', 'ingest', 'delete', 'compact', 'derive', 'recover']);

/** Hints for backends that exist elsewhere but not in a Node CLI. */
const BACKEND_HINTS = {
  opfs: 'OPFS (the Origin Private File System) exists only in browsers; open the store in a page or Worker with ' +
    "openCollection(path, { backend: 'opfs' })",
  indexeddb: 'IndexedDB exists only in browsers; use the JS API in a page or Worker',
};

/** Throw EBACKEND for an explicit backend the CLI cannot use. */
function checkBackend(backend) {
  if (backend === undefined || backend === 'node' || backend === 'memory') return;
  const hint = BACKEND_HINTS[backend.toLowerCase()] ?? `there is no backend named '${backend}'`;
  throw new VecliteError('EBACKEND',
    `backend '${backend}' is not available in the veclite CLI: ${hint}. In Node use --backend node ` +
    '(files, the default) or --backend memory (a read-only in-memory copy of the file)');
}

function exists(p) {
  try {
    fs.statSync(p);
    return true;
  } catch (e) {
    if (e.code === 'ENOENT') return false;
    throw e;
  }
}

/** VecliteError for a Node fs error. */
function fsError(e, what) {
  if (e instanceof VecliteError) return e;
  const code = e?.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO';
  return new VecliteError(code, `${what}: ${e?.message ?? String(e)}`, { cause: e });
}

/** The signal name an interrupt was raised with (AbortSignal.reason), or null. */
function signalName(reason) {
  return typeof reason === 'string' && Object.hasOwn(os.constants.signals, reason) ? reason : null;
}

/** EBACKEND unless the API can open .rvf files. */
function requirePersistence(api) {
  if (typeof api.openCollection !== 'function') {
    throw new VecliteError('EBACKEND',
      'this build of veclite has no openCollection (the .rvf persistence layer is missing from web/index.js); ' +
      'the CLI needs it for every command except bench');
  }
}

/**
 * Open a store for a command.
 * @param {any} api web/index.js
 * @param {string} file
 * @param {{ write: boolean, backend?: string, command: string }} o
 */
async function openStore(api, file, { write, backend, command }) {
  requirePersistence(api);
  if (backend === 'memory') {
    if (write) {
      throw new UsageError(`--backend memory works on an in-memory copy of the file, so '${command}' would change nothing; ` +
        'use --backend node (the default)', command);
    }
    let buf;
    try {
      buf = await fs.promises.readFile(file);
    } catch (e) {
      throw e?.code === 'ENOENT'
        ? new VecliteError('ENOTFOUND', `${file} does not exist`)
        : fsError(e, file);
    }
    return api.openCollection(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), { readOnly: true, backend: 'memory' });
  }
  if (!exists(file)) {
    throw new VecliteError('ENOTFOUND', `${file} does not exist; create it with 'veclite create ${file} --dimension N'`);
  }
  const opts = { readOnly: !write };
  if (backend) opts.backend = backend;
  return api.openCollection(file, opts);
}

/**
 * Run fn(col) on an opened store and close it afterwards. A close error is reported only if
 * fn succeeded (the first error is the one that matters).
 */
async function withStore(api, file, o, fn) {
  const col = await openStore(api, file, o);
  let result;
  try {
    result = await fn(col);
  } catch (e) {
    try { await col.close(); } catch { /* the first error wins */ }
    throw e;
  }
  await col.close();
  return result;
}

/**
 * Collection names that are file names in a database folder (docs/api.md §2; the same rule as
 * idb/node-store.js NAME_RE): createDatabase({ path: DIR }) lists DIR/<name>.rvf as '<name>'.
 */
const COLLECTION_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** The collection name createDatabase({ path: dirname(file) }) knows the store by, or null. */
/** --mmr LAMBDA[,FETCHK] -> the search option mmr; the API checks the ranges (EINVAL). */
function mmrOption(v) {
  const m = /^\s*([^,\s]+)\s*(?:,\s*([^,\s]+)\s*)?$/.exec(v);
  const lambda = m ? Number(m[1]) : NaN, fetchK = m && m[2] !== undefined ? Number(m[2]) : undefined;
  if (!m || Number.isNaN(lambda) || (fetchK !== undefined && !Number.isInteger(fetchK))) {
    throw new UsageError(`--mmr takes LAMBDA or LAMBDA,FETCHK (a number, then an integer), e.g. 0.5,40 (got '${v}')`, 'query');
  }
  return fetchK === undefined ? { lambda } : { lambda, fetchK };
}

function collectionName(file) {
  const base = path.basename(file);
  if (!base.endsWith('.rvf')) return null;
  const name = base.slice(0, -4);
  return COLLECTION_NAME_RE.test(name) ? name : null;
}

/** Why a store file is not a collection of its folder's database, and what name would be. */
function collectionNote(file) {
  const base = path.basename(file);
  const why = base.endsWith('.rvf')
    ? `'${base.slice(0, -4)}' is not a collection name (letters, digits, '_', '.', '-'; starting with a letter, digit or '_'; at most 128)`
    : 'its name does not end in .rvf';
  return `createDatabase({ path: '${path.dirname(file)}' }) will not list this store as a collection: ${why}; ` +
    "name it '<name>.rvf' to use it as collection '<name>' there (openCollection(path) opens it either way)";
}

/** The id of a command-line argument, read as the collection's id type. */
async function argId(col, raw, idType) {
  let mode = idType ?? null;
  if (!mode && typeof col.stats === 'function') mode = (await col.stats()).idType ?? null;
  return textId(raw, mode, 'ID argument');
}

/** Re-point an insertBatch error at the input line it came from. */
function locate(e, pos, unit, name, committed) {
  if (!(e instanceof VecliteError)) return e;
  let msg = e.message.replace(/insertBatch\[(\d+)\]/g, (m, i) => (pos[i] !== undefined ? `${name} ${unit} ${pos[i]}` : m));
  if (committed > 0) msg += ` (${plural(committed, 'row')} before this batch ${committed === 1 ? 'was' : 'were'} committed)`;
  return new VecliteError(e.code, msg, { cause: e });
}

// ---- commands -------------------------------------------------------------------------------------

/** Each command returns { doc, text } — doc for --json, text for humans — or throws. */
const RUN = {
  async create(ctx) {
    const { api, args: [file], opt, backend } = ctx;
    requirePersistence(api);
    if (exists(file)) throw new VecliteError('EINVAL', `${file} already exists; pick a new file name (or delete the old store)`);
    const index = opt.index === 'flat' ? { type: 'flat' } : { type: 'hnsw' };
    if (opt.index !== 'flat') {
      if (opt.m !== undefined) index.m = opt.m;
      if (opt['ef-construction'] !== undefined) index.efConstruction = opt['ef-construction'];
      if (opt.ef !== undefined) index.ef = opt.ef;
      if (opt.seed !== undefined) index.seed = opt.seed;
    } else if (['m', 'ef-construction', 'ef', 'seed'].some((k) => opt[k] !== undefined)) {
      throw new UsageError('--m, --ef-construction, --ef and --seed apply to --index hnsw only', 'create');
    }
    const o = { create: { dimension: opt.dimension, metric: opt.metric, index } };
    if (opt['text-field'] !== undefined) o.create.text = { field: opt['text-field'] };
    if (backend) o.backend = backend;
    const col = await api.openCollection(file, o);
    let st;
    try {
      st = await col.status();
    } finally {
      await col.close();
    }
    const collection = collectionName(file);
    const doc = { file, created: true, dimension: st.dimension, metric: st.metric, index, collection };
    const idx = index.type === 'flat' ? 'flat index' : `hnsw index${index.m ? ` m=${index.m}` : ''}${index.efConstruction ? ` efConstruction=${index.efConstruction}` : ''}`;
    if (o.create.text) doc.text = o.create.text.field;
    let text = `created ${file} (dimension ${st.dimension}, ${st.metric}, ${idx}${doc.text ? `, keywords in '${doc.text}'` : ''})\n`;
    if (collection === null) {
      doc.note = collectionNote(file);
      text += `note: ${doc.note}\n`;
    }
    return { doc, text };
  },

  async ingest(ctx) {
    const { api, args: [file], opt, backend, io, json } = ctx;
    const src = opt.input;
    const format = opt.format ?? (src === '-' ? null : detectFormat(src));
    if (!format) {
      throw new UsageError(src === '-'
        ? 'reading stdin needs --format json|ndjson|csv|fvecs'
        : `cannot tell the format of '${src}' from its extension; pass --format json|ndjson|csv|fvecs`, 'ingest');
    }
    if (opt.batch < 1) throw new UsageError(`--batch must be at least 1 (got ${opt.batch})`, 'ingest');
    if (opt['id-offset'] !== undefined && format !== 'fvecs') throw new UsageError('--id-offset applies to --format fvecs only', 'ingest');
    const map = {};
    if (opt['id-field'] !== undefined) map.idField = opt['id-field'];
    if (opt['vector-field'] !== undefined) map.vectorField = opt['vector-field'];
    if (opt['metadata-fields'] !== undefined) {
      map.metadataFields = opt['metadata-fields'].split(',').map((f) => f.trim());
      if (map.metadataFields.some((f) => f === '')) throw new UsageError('--metadata-fields needs field names separated by commas, e.g. title,year', 'ingest');
    }
    if (format === 'fvecs' && Object.keys(map).length) {
      throw new UsageError('--id-field, --vector-field and --metadata-fields apply to json, ndjson and csv (fvecs rows have no fields)', 'ingest');
    }
    for (const f of map.metadataFields ?? []) {
      if (f === map.idField || f === map.vectorField) throw new UsageError(`--metadata-fields names '${f}', which is the id or vector field`, 'ingest');
    }
    const input = await openInput(src, { stdin: io.stdin });
    return withStore(api, file, { write: true, backend, command: 'ingest' }, async (col) => {
      const colIdType = (await col.stats()).idType ?? null;
      const idType = opt['id-type'] ?? (format === 'csv' ? colIdType : undefined);
      const totalRows = format === 'fvecs' ? await fvecsRowCount(src) : null;
      const bar = new Progress({
        stream: io.stderr, enabled: !json && !opt['no-progress'], label: 'ingest',
        totalRows, totalBytes: input.total,
      });
      const unit = POSITION_UNIT[format];
      const t0 = performance.now();
      let rows = 0, written = 0, batches = 0, parsed = 0;
      let batch = [], pos = [];
      let interrupted = false;
      io.setInterruptible?.(true);
      const flush = async () => {
        if (!batch.length) return;
        try {
          written += await col.insertBatch(batch);
        } catch (e) {
          throw locate(e, pos, unit, input.name, rows);
        }
        rows += batch.length;
        batches++;
        batch = [];
        pos = [];
        // The reader runs up to a chunk ahead of the rows written: estimate the bytes behind the
        // written rows from the bytes per row parsed so far, so the bar and ETA move smoothly.
        bar.update(rows, parsed ? input.read * (rows / parsed) : null);
      };
      // Ctrl-C (io.signal) stops reading at once, even while waiting for input on a pipe; the
      // rows read completely so far are then committed as a last batch.
      const it = readRows(input, format, { idType, idOffset: opt['id-offset'] ?? 0, map })[Symbol.asyncIterator]();
      const ABORT = Symbol('abort');
      let onAbort;
      const aborted = new Promise((resolve) => {
        onAbort = () => resolve(ABORT);
        if (io.signal?.aborted) resolve(ABORT);
        else io.signal?.addEventListener('abort', onAbort, { once: true });
      });
      try {
        for (;;) {
          const next = it.next();
          next.catch(() => {});                            // abandoned when interrupted
          const r = await Promise.race([next, aborted]);
          if (r === ABORT) {
            interrupted = true;
            break;
          }
          if (r.done) break;
          const { items, pos: p } = r.value;
          parsed += items.length;
          for (let i = 0; i < items.length; i++) {
            batch.push(items[i]);
            pos.push(p[i]);
            if (batch.length >= opt.batch) await flush();
          }
          if (io.signal?.aborted) {
            interrupted = true;
            break;
          }
        }
        await flush();
      } finally {
        io.signal?.removeEventListener('abort', onAbort);
        io.setInterruptible?.(false);
        if (interrupted) it.return().catch(() => {});   // not awaited: it may be blocked on input
        bar.done();
      }
      const sec = (performance.now() - t0) / 1000;
      const count = await col.count();
      const doc = {
        file, input: src, format, rows, written, batches, seconds: sec,
        rowsPerSecond: sec > 0 ? rows / sec : null, count,
      };
      if (interrupted) {
        const sig = signalName(io.signal?.reason);
        doc.interrupted = true;
        if (sig) doc.signal = sig;
        ctx.exitCode = 128 + (os.constants.signals[sig ?? 'SIGINT'] ?? 2);
        ctx.errorLine = `veclite: interrupted${sig && sig !== 'SIGINT' ? ` by ${sig}` : ''}; ` +
          `the ${plural(rows, 'row')} read before it ${rows === 1 ? 'is' : 'are'} committed`;
      }
      const text = `ingested ${plural(rows, 'row')} (${plural(written, 'id')}) from ${input.name} into ${file} in ${sec.toFixed(1)} s ` +
        `(${num(sec > 0 ? rows / sec : 0)} rows/s); the store holds ${plural(count, 'vector')}\n`;
      return { doc, text };
    });
  },

  kmeans: (ctx) => runKmeans(ctx, { withStore }),
  similarity: (ctx) => runSimilarity(ctx, { withStore, argId }),

  async query(ctx) {
    const { api, args: [file], opt, backend } = ctx;
    const hasVec = opt.vector !== undefined, hasFile = opt['vector-file'] !== undefined, hasText = opt.text !== undefined;
    if (hasVec && hasFile) throw new UsageError('give the query as --vector JSON or --vector-file F (exactly one)', 'query');
    if (!hasVec && !hasFile && !hasText) throw new UsageError('give the query as --vector JSON or --vector-file F (exactly one), or keywords as --text', 'query');
    if (opt.alpha !== undefined && !(hasText && (hasVec || hasFile))) throw new UsageError('--alpha weighs a hybrid query: give it with --text and a vector', 'query');
    let vectors, single;
    if (!hasVec && !hasFile) {
      vectors = [null]; // keyword search
      single = true;
    } else if (hasVec) {
      if (!Array.isArray(opt.vector)) throw new UsageError("--vector must be a JSON array of numbers, e.g. '[0.1, 0.2]'", 'query');
      vectors = [opt.vector];
      single = true;
    } else {
      ({ vectors, single } = await readQueryVectors(opt['vector-file']));
    }
    const so = { k: opt.k, includeVectors: opt['include-vectors'], includeMetadata: !opt['no-metadata'] };
    if (opt.ef !== undefined) so.ef = opt.ef;
    if (opt.filter !== undefined) so.filter = opt.filter;
    if (opt.threshold !== undefined) so.threshold = opt.threshold;
    if (opt.mmr !== undefined) so.mmr = mmrOption(opt.mmr);
    if (hasText) {
      if (!single) throw new UsageError('--text takes one query vector (a --vector-file with several is a batch)', 'query');
      so.text = opt.text;
      if (opt.alpha !== undefined) so.hybrid = { alpha: opt.alpha };
    }
    return withStore(api, file, { write: false, backend, command: 'query' }, async (col) => {
      const rows = single ? [await col.search(vectors[0], so)] : await col.searchBatch(vectors, so);
      const doc = single ? { k: opt.k, results: rows[0] } : { k: opt.k, queries: rows.map((results) => ({ results })) };
      const block = (hits) => {
        if (!hits.length) return '(no results)\n';
        const head = ['rank', 'id', 'score', 'distance'];
        if (hasText) head.push('text');
        if (so.includeMetadata) head.push('metadata');
        if (so.includeVectors) head.push('vector');
        return table(head, hits.map((h, r) => {
          const row = [r + 1, h.id, h.score.toFixed(6), h.distance === undefined ? '' : h.distance.toFixed(6)];
          if (hasText) row.push(h.textScore.toFixed(6));
          if (so.includeMetadata) row.push(h.metadata && Object.keys(h.metadata).length ? h.metadata : '');
          if (so.includeVectors) row.push(h.vector);
          return row;
        }));
      };
      const text = single ? block(rows[0]) : rows.map((h, i) => `query ${i}:\n${block(h)}`).join('\n');
      return { doc, text };
    });
  },

  async get(ctx) {
    const { api, args: [file, raw], opt, backend } = ctx;
    return withStore(api, file, { write: false, backend, command: 'get' }, async (col) => {
      const id = await argId(col, raw, opt['id-type']);
      const r = await col.get(id);
      if (!r) throw new VecliteError('ENOTFOUND', `no vector with id ${raw} in ${file}`);
      const doc = { id: r.id, vector: r.vector, metadata: r.metadata };
      const text = keyValues({ id: String(r.id), dimension: r.vector.length, metadata: r.metadata, vector: r.vector });
      return { doc, text };
    });
  },

  async delete(ctx) {
    const { api, args: [file, ...raws], opt, backend } = ctx;
    return withStore(api, file, { write: true, backend, command: 'delete' }, async (col) => {
      const ids = [];
      for (const raw of raws) ids.push(await argId(col, raw, opt['id-type']));
      const deleted = await col.delete(ids);
      const count = await col.count();
      const doc = { deleted, requested: ids.length, count };
      return { doc, text: `deleted ${deleted} of ${plural(ids.length, 'id')}; the store holds ${plural(count, 'vector')}\n` };
    });
  },

  async status(ctx) {
    const { api, args: [file], backend } = ctx;
    return withStore(api, file, { write: false, backend, command: 'status' }, async (col) => {
      const st = await col.status();
      // The store's fields, not the CLI's handle: the CLI opens read-only to look, so the
      // handle's readOnly and (browser) cache say nothing about the store, and its lock field is
      // the raw lock file. What a user wants instead is whether someone writes it: `writer`.
      const { readOnly: _r, lock, cache: _c, ...store } = st;
      const doc = { ...store, writer: backend === 'memory' ? null : writerOf(lock) };
      const shown = { ...doc };
      if (typeof shown.bytes === 'number') shown.bytes = bytes(shown.bytes);
      shown.writer = backend === 'memory' ? 'not checked (--backend memory reads a copy of the file)' : writerText(doc.writer);
      return { doc, text: keyValues(shown) };
    });
  },

  async segments(ctx) {
    const { api, args: [file], backend } = ctx;
    return withStore(api, file, { write: false, backend, command: 'segments' }, async (col) => {
      const segs = await col.segments();
      const text = segs.length
        ? table(['id', 'type', 'name', 'offset', 'length'], segs.map((s) => [s.id, s.type, s.typeName, s.offset, s.length]))
        : '(no segments)\n';
      return { doc: { file, segments: segs }, text };
    });
  },

  async derive(ctx) {
    const { api, args: [file, child], backend } = ctx;
    if (exists(child)) throw new VecliteError('EINVAL', `${child} already exists; derive into a new file name`);
    return withStore(api, file, { write: false, backend, command: 'derive' }, async (col) => {
      const c = await col.derive(child);
      let st;
      try {
        st = await c.status();
      } finally {
        await c.close();
      }
      return {
        doc: st,
        text: `derived ${child} from ${file} (lineage depth ${st.lineageDepth}, ${plural(st.count, 'vector')})\n`,
      };
    });
  },

  async compact(ctx) {
    const { api, args: [file], backend } = ctx;
    return withStore(api, file, { write: true, backend, command: 'compact' }, async (col) => {
      const r = await col.compact();
      const doc = { file, ...r };
      return { doc, text: `compacted ${file}: ${bytes(r.bytesBefore)} -> ${bytes(r.bytesAfter)}\n` };
    });
  },

  async export(ctx) {
    const { api, args: [file, out], opt, backend, io, json } = ctx;
    if (out === '-') {
      // The image goes to stdout as raw bytes; nothing else may be written there.
      if (json) throw new UsageError("'export FILE -' writes the .rvf bytes to stdout, which leaves no room for --json", 'export');
      if (opt.force) throw new UsageError("--force does not apply to 'export FILE -' (stdout)", 'export');
      return withStore(api, file, { write: false, backend, command: 'export' }, async (col) => {
        const image = await col.export();
        const buf = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
        if (typeof io.stdout.on === 'function') {
          // A Node stream: wait until the bytes are handed to the OS (errors such as EPIPE reject).
          await new Promise((resolve, reject) => {
            io.stdout.write(buf, (e) => (e ? reject(fsError(e, 'stdout')) : resolve()));
          });
        } else {
          io.stdout.write(buf);
        }
        return { doc: null, text: '', raw: true };
      });
    }
    if (exists(out) && !opt.force) throw new VecliteError('EINVAL', `${out} already exists; pass --force to overwrite it`);
    return withStore(api, file, { write: false, backend, command: 'export' }, async (col) => {
      const r = await col.exportTo(out, { overwrite: opt.force === true });
      return { doc: { file, out, bytes: r.bytes }, text: `exported ${file} to ${out}: ${bytes(r.bytes)}\n` };
    });
  },

  async verify(ctx) {
    const { api, args: [file], backend } = ctx;
    let col;
    try {
      col = await openStore(api, file, { write: false, backend, command: 'verify' });
    } catch (e) {
      if (e instanceof UsageError) throw e;
      return verifyUnopened(ctx, file, e);
    }
    let r;
    try {
      r = await col.verify();
    } catch (e) { // verify reports, it should not throw; if it does, that is the report
      r = { ok: false, problems: [`verify failed: ${e?.code ?? 'EIO'}: ${oneLine(String(e?.message ?? e))}`], witness: null };
    } finally {
      try { await col.close(); } catch { /* read-only: nothing to lose */ }
    }
    {
      const lines = [r.ok ? `${file}: ok` : `${file}: ${plural(r.problems.length, 'problem')}`];
      for (const p of r.problems) lines.push(`  - ${p}`);
      if (r.witness) lines.push(`witness: ${plural(r.witness.entries, 'entry', 'entries')}, ${r.witness.intact ? 'intact' : 'BROKEN'}`);
      if (!r.ok) {
        ctx.exitCode = 1;
        ctx.errorLine = `veclite: ECORRUPT: verify found ${plural(r.problems.length, 'problem')} in ${file}` +
          (r.problems.length ? `: ${oneLine(r.problems[0])}` : '');
      }
      return { doc: { file, ...r }, text: lines.join('\n') + '\n' };
    }
  },

  async recover(ctx) {
    const { api, args: [file, out] } = ctx;
    requirePersistence(api);
    if (!exists(file)) throw new VecliteError('ENOTFOUND', `${file} does not exist`);
    if (exists(out)) throw new VecliteError('EINVAL', `${out} already exists; recover into a new file name`);
    const r = await api.recoverCollection(file, out);
    const lines = [`recovered ${plural(r.rows, 'row')} (${num(r.withMetadata)} with metadata) of ${file} into ${out}` +
      ` (dimension ${r.dimension}, ${r.metric}, ${plural(r.deletesApplied, 'delete')} applied)`];
    for (const t of r.savedTails) lines.push(`  included saved tail ${t}`);
    lines.push(...unsavedLines(r));
    if (!r.ok) {
      ctx.exitCode = 1;
      ctx.errorLine = `veclite: ECORRUPT: recover wrote ${out}, but ${plural(r.damaged.length, 'damaged segment')}, ` +
        `${plural(r.unreadable.length, 'unreadable range')} and ${plural(r.lostRows.length, 'row')} could not be saved`;
    }
    const { bytes: _b, ...doc } = r;
    return { doc, text: lines.join('\n') + '\n' };
  },

  async mcp(ctx) {
    const { api, args: files, opt, backend, io, json } = ctx;
    if (json) throw new UsageError("'mcp' speaks JSON-RPC on stdout; --json does not apply", 'mcp');
    const maxBytes = opt['max-message-bytes'];
    if (maxBytes < 1024 || maxBytes > MAX_MESSAGE_BYTES_LIMIT) {
      throw new UsageError(`--max-message-bytes must be 1024..${MAX_MESSAGE_BYTES_LIMIT} (got ${maxBytes})`, 'mcp');
    }
    if (backend === 'memory' && opt.write) {
      throw new UsageError("--backend memory serves in-memory copies of the files, so 'mcp --write' would change nothing on disk; " +
        'use --backend node (the default)', 'mcp');
    }
    const { signal, closeFailed } = await serveMcp({
      files, write: opt.write, maxMessageBytes: maxBytes, readOnlyRefresh: backend !== 'memory',
      io, version: version(), describeWriter: (lock) => (backend === 'memory' ? null : writerOf(lock)),
      open: (file) => openStore(api, file, { write: opt.write, backend, command: 'mcp' }),
    });
    if (signal) ctx.exitCode = 128 + (os.constants.signals[signal] ?? 2);
    else if (closeFailed) ctx.exitCode = 1;
    return { doc: null, text: '', raw: true };
  },

  async bench(ctx) {
    const { api, opt, backend, io, json } = ctx;
    for (const k of ['n', 'dim', 'queries', 'k', 'batch']) {
      if (opt[k] < 1) throw new UsageError(`--${k} must be at least 1 (got ${opt[k]})`, 'bench');
    }
    const r = await runBench(api, {
      n: opt.n, dim: opt.dim, queries: opt.queries, k: opt.k, metric: opt.metric, m: opt.m,
      efConstruction: opt['ef-construction'], ef: opt.ef, batch: opt.batch, seed: opt.seed, backend,
    }, {
      progress: (label, total) => new Progress({
        stream: io.stderr, enabled: !json && !opt['no-progress'], label, totalRows: total,
      }),
    });
    const text = [
      `veclite bench: ${num(r.n)} x ${r.dim} ${r.metric}, ${r.queries} queries, k=${r.k}, ${r.backend} backend, ${r.implementation}`,
      `index:    ${toJson(r.index)}`,
      `insert:   ${num(r.insertsPerSecond)} vectors/s (${r.insertSeconds.toFixed(2)} s, batches of ${r.batch})`,
      `search:   ${num(r.qps)} queries/s (${r.searches} searches in ${r.searchSeconds.toFixed(2)} s)`,
      `recall@${r.k}: ${r.recall.toFixed(4)} (vs exact float64 brute force)`,
      `memory:   ${bytes(r.memoryBytes)}`,
    ].join('\n') + '\n';
    return { doc: r, text };
  },
};

/**
 * The writer of a store from its lock file (status().lock of a read-only handle describes the
 * lock file someone else holds): null when there is no lock file. `live` is true when the
 * holder is a running process on this host, false when its pid no longer runs here (a stale lock
 * a new writer will take over), null when that cannot be told (another host, or an unreadable lock).
 */
function writerOf(lock) {
  if (!lock) return null;
  let live = null;
  if (lock.valid && typeof lock.pid === 'number' && lock.host === os.hostname()) {
    try {
      process.kill(lock.pid, 0);
      live = true;
    } catch (e) {
      live = e?.code === 'EPERM';              // exists, owned by another user
    }
  }
  return { live, pid: lock.pid, host: lock.host, writerId: lock.writerId, refreshedAt: lock.refreshedAt, valid: lock.valid };
}

/** One line for a writer: who, whether it runs, and when its lock was last refreshed. */
function writerText(w) {
  if (!w) return 'none (no writer holds the store)';
  if (!w.valid) return 'unknown (the lock file is damaged or from an unknown version; a writer takes it over once stale)';
  const who = `pid ${w.pid} on ${w.host === os.hostname() ? 'this host' : 'host'} ${w.host}`;
  const state = w.live === true ? 'running' : w.live === false ? 'not running: a stale lock, the next writer takes it over' : 'cannot tell whether it runs (another host)';
  const when = typeof w.refreshedAt === 'number' ? `, lock refreshed ${new Date(w.refreshedAt).toISOString()}` : '';
  return `${who} (${state}${when})`;
}

/** Lines naming what a recover report could not save. */
function unsavedLines(r) {
  const lines = [];
  for (const d of r.damaged) {
    lines.push(`  - damaged ${d.typeName} segment${d.offset === null ? '' : ` at offset ${d.offset}`} (${d.length} bytes): ${d.reason}`);
  }
  for (const u of r.unreadable) lines.push(`  - unreadable bytes ${u.from}..${u.to} (${u.bytes} bytes): no intact segment`);
  for (const l of r.lostRows.slice(0, 20)) lines.push(`  - row ${l.id}: ${oneLine(l.reason)}`);
  if (r.lostRows.length > 20) lines.push(`  - ... and ${plural(r.lostRows.length - 20, 'more row')}`);
  return lines;
}

/** verify of a file that does not open: the failure and what a salvage scan finds are the problems. */
async function verifyUnopened(ctx, file, e) {
  const code = e?.name === 'VecliteError' && CODES.has(e.code) ? e.code : e?.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO';
  const problems = [`cannot open: ${code}: ${oneLine(String(e?.message ?? e))}`];
  let scan = null;
  if (exists(file)) {
    try {
      scan = await ctx.api.recoverCollection(file, null, { dryRun: true });
      for (const l of unsavedLines(scan)) problems.push(l.replace(/^ {2}- /, ''));
      if (scan.rows) {
        problems.push(`${plural(scan.rows, 'row')} ${scan.rows === 1 ? 'is' : 'are'} intact: salvage ${scan.rows === 1 ? 'it' : 'them'} ` +
          `with 'veclite recover ${file} OUT'`);
      }
    } catch (e2) {
      problems.push(`salvage scan failed: ${oneLine(String(e2?.message ?? e2))}`);
    }
  }
  ctx.exitCode = 1;
  ctx.errorLine = `veclite: ${code}: verify found ${plural(problems.length, 'problem')} in ${file}: ${oneLine(problems[0])}`;
  const doc = {
    file, ok: false, problems, witness: null, opened: false, code,
    damaged: scan?.damaged ?? [], unreadable: scan?.unreadable ?? [], intactRows: scan?.rows ?? 0,
  };
  const lines = [`${file}: ${plural(problems.length, 'problem')}`, ...problems.map((p) => `  - ${p}`)];
  return { doc, text: lines.join('\n') + '\n' };
}

// ---- main -----------------------------------------------------------------------------------------

/**
 * Run one command line.
 * @param {string[]} argv arguments after the script name
 * @param {{ stdout: { write(s: string): any }, stderr: { write(s: string): any, isTTY?: boolean, columns?: number },
 *   stdin?: NodeJS.ReadableStream, signal?: AbortSignal, env?: Record<string, string|undefined>,
 *   loadApi?: () => Promise<any> }} io
 * @returns {Promise<number>} the exit status
 */
export async function main(argv, io) {
  const env = io.env ?? {};
  // --json counts for errors even when the command line does not parse (then it is looked for
  // among the options, before a '--').
  const end = argv.indexOf('--');
  const jsonWanted = (end < 0 ? argv : argv.slice(0, end)).includes('--json');
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e, io, jsonWanted);
    throw e;
  }
  const { command, args, options, global } = parsed;
  if (global.version) {
    io.stdout.write(global.json ? toJson({ version: version() }) + '\n' : `veclite ${version()}\n`);
    return 0;
  }
  if (command === null) {
    if (global.help) {
      io.stdout.write(helpText());
      return 0;
    }
    return usageFailure(new UsageError('no command given'), io, global.json);
  }
  if (command === 'help' || global.help) {
    const topic = command === 'help' ? args[0] ?? null : command;
    if (topic !== null && !Object.hasOwn(COMMANDS, topic)) return usageFailure(new UsageError(`unknown command '${topic}'`), io, global.json);
    io.stdout.write(helpText(topic));
    return 0;
  }

  const ctx = {
    command, args, opt: options, json: global.json, backend: global.backend, io,
    api: null, exitCode: 0, errorLine: null,
  };
  try {
    checkBackend(global.backend);
    if (global.backend === 'memory' && WRITERS.has(command)) {
      throw new UsageError(`--backend memory works on an in-memory copy of the file, so '${command}' would change ` +
        'nothing on disk; use --backend node (the default)', command);
    }
    ctx.api = await (io.loadApi ? io.loadApi() : import('../index.js'));
    const { doc, text, raw } = await RUN[command](ctx);
    if (!raw) io.stdout.write(global.json ? toJson(doc) + '\n' : text);
    if (ctx.errorLine) io.stderr.write(ctx.errorLine + '\n');
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e, io, global.json);
    return failure(e, io, env, global.json);
  }
}

/** Code of usage errors in the --json error document (docs/api.md §11). */
export const USAGE_CODE = 'EUSAGE';

/** With --json, an error is also one JSON line on stdout: {"error":{"code":...,"message":...}}. */
function jsonError(io, code, message) {
  io.stdout.write(toJson({ error: { code, message } }) + '\n');
}

function usageFailure(e, io, json = false) {
  if (json) jsonError(io, USAGE_CODE, oneLine(e.message));
  io.stderr.write(`veclite: ${oneLine(e.message)}\n`);
  if (e.command) io.stderr.write(`usage: ${usageLine(e.command)}  (see 'veclite help ${e.command}')\n`);
  else io.stderr.write("run 'veclite help' for the list of commands\n");
  return 2;
}

function failure(e, io, env, json = false) {
  let code, msg;
  if (e && e.name === 'VecliteError' && CODES.has(e.code)) {
    code = e.code;
    msg = e.message;
  } else if (e && typeof e.code === 'string' && e.syscall) {
    code = e.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO';
    msg = e.message;
  } else {
    code = 'EIO';
    msg = `unexpected ${e?.name ?? 'error'}: ${e?.message ?? String(e)} (set VECLITE_DEBUG=1 for the stack; please report this)`;
  }
  if (json) jsonError(io, code, oneLine(msg));
  io.stderr.write(`veclite: ${code}: ${oneLine(msg)}\n`);
  if (env.VECLITE_DEBUG && e?.stack) io.stderr.write(e.stack + '\n');
  return 1;
}
