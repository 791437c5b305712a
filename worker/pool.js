// worker/pool.js — a worker pool: one writer session and n-1 read replicas, each in its own
// worker (worker/client.js + worker/host.js), behind the same call(type, args) as an in-thread
// client, so the facade cannot tell them apart (docs/workers.md §3).
//
// How replicas stay current: every write goes to the writer; its reply carries what it
// committed (worker/protocol.js "commit"). Before the write's promise resolves, the pool posts
// 'apply' to every replica: a replica of a file reads the appended segments from the file, a
// replica of a memory store receives the appended bytes; both then apply only what is new
// (vl_store_refresh). A worker handles its messages in order, so any read sent after the write
// resolved finds the replica already there.
//
// Invariants:
// - Pool handles (db, col) are the pool's own; each maps to the writer's handle and one handle
//   per replica. A replica serves reads only once it holds every collection at the writer's
//   epoch ("ready"); a replica that cannot follow (its 'apply' fails) is killed and replaced.
// - A worker that stops rejects its pending calls at once (worker/client.js) and is replaced:
//   a replica by a new one synced from the writer; the writer by a new one that reopens the
//   files (file database) or takes each collection's image from a ready replica (memory
//   database). What cannot be restored (a memory database without replicas, a derived child)
//   is marked lost: its calls reject with EBACKEND saying so.
// - searchBatch splits its queries over the writer and the ready replicas and merges the
//   answers in query order.
// - closeDatabase settles only after every read sent before it (#reads), so db.close()'s
//   terminate() never cuts off a read a replica was serving.

import { VecliteError } from './errors.js';
import { READS } from './protocol.js';
import { WorkerClient } from './client.js';

export class Pool {
  #wasm;
  #writer = null;
  /** @type {Promise<void>|null} a writer being replaced: every call waits for it */
  #writerReady = null;
  #replicas = [];
  /** @type {Set<WorkerClient>} replicas synced with every collection (sources for a new writer) */
  #ready = new Set();
  #dbs = new Map();
  #cols = new Map();
  #byWriter = new Map();
  #seq = 0;
  #rr = 0;
  /** @type {Set<Promise<unknown>>} reads in flight on replicas (closeDatabase lets them finish) */
  #reads = new Set();
  #closed = false;
  info = null;
  onTerminate = null;
  /** Replacements made (for tests and status). */
  replaced = 0;

  constructor(wasm) {
    this.#wasm = wasm;
  }

  /**
   * Start n workers (1 writer + n-1 replicas).
   * @param {number} n @param {{ simd: boolean, wasmModule: WebAssembly.Module }} wasm
   */
  static async start(n, wasm) {
    const pool = new Pool(wasm);
    try {
      pool.#writer = await pool.#spawn('writer');
      pool.info = await pool.#writer.call('open', { ...wasm, pooled: true });
      for (let i = 1; i < n; i++) {
        const r = await pool.#spawn(`replica ${i}`);
        await r.call('open', { ...wasm, pooled: true });
        pool.#replicas.push(r);
        pool.#ready.add(r);
      }
    } catch (e) {
      pool.terminate();
      throw e;
    }
    return pool;
  }

  /** Worker sessions alive now. */
  get workers() {
    return (this.#writer?.alive ? 1 : 0) + this.#replicas.filter((r) => r.alive).length;
  }

  /** The clients (tests stop them behind the pool's back). */
  get clients() { return [this.#writer, ...this.#replicas]; }

  /** A new worker; none survives a terminated pool (a replacement racing close() is stopped). */
  async #spawn(label) {
    const c = await WorkerClient.spawn(label);
    if (this.#closed) {
      c.terminate();
      throw new VecliteError('ECLOSED', 'the database is closed; create a new one with createDatabase()');
    }
    c.onDeath = (dead) => this.#onDeath(dead);
    return c;
  }

  // ---- calls -----------------------------------------------------------------------------------

  async call(type, args) {
    if (this.#closed) throw new VecliteError('ECLOSED', `${type}: the database is closed; create a new one with createDatabase()`);
    // While a writer is being replaced, handles are being remapped: every call waits for it.
    while (this.#writerReady) await this.#writerReady.catch(() => {});
    const pending = args?.col !== undefined ? this.#cols.get(args.col) : null;
    if (pending?.reopen && type !== 'close') await this.#reopen(pending);
    switch (type) {
      case 'createDatabase': {
        const r = await this.#writer.call(type, args);
        const h = ++this.#seq;
        this.#dbs.set(h, { w: r.db, path: r.path, args, cols: new Set() });
        return { ...r, db: h };
      }
      case 'closeDatabase': {
        const d = this.#dbs.get(args.db);
        if (!d) return null;
        for (const ph of [...d.cols]) this.#forget(this.#cols.get(ph));
        this.#dbs.delete(args.db);
        try {
          return await this.#writer.call(type, { db: d.w });
        } catch (e) {
          // A writer that stopped has nothing left to close: a file's commits are durable, a
          // memory database is discarded by close anyway.
          if (!this.#writer.alive) return null;
          throw e;
        } finally {
          // Reads sent before the close finish, as they do on the writer and in-thread: the
          // caller terminates the workers next (db.close()), which would cut them off.
          await Promise.allSettled([...this.#reads]);
        }
      }
      case 'createCollection': case 'getCollection': {
        const d = this.#db(args.db);
        const info = await this.#writer.call(type, { ...args, db: d.w });
        return info === null ? null : this.#adopt(info, args.db);
      }
      case 'listCollections': case 'deleteCollection': {
        const d = this.#db(args.db);
        const r = await this.#writer.call(type, { ...args, db: d.w });
        if (type === 'deleteCollection') {
          for (const ph of [...d.cols]) {
            const c = this.#cols.get(ph);
            if (c.name === args.name) this.#forget(c);
          }
        }
        return r;
      }
      case 'derive': {
        const c = this.#col(args.col);
        return this.#adopt(await this.#writer.call(type, { ...args, col: c.w }), null);
      }
      case 'close': {
        const c = this.#cols.get(args.col);
        if (!c) return null;
        this.#forget(c);
        if (c.lost || c.reopen) return null; // the writer holds nothing of it
        const w = this.#writer;
        try {
          return await w.call(type, { col: c.w });
        } catch (e) {
          // As for closeDatabase: a writer that stopped holds nothing left to close (a file's
          // commits are durable), and its replacement never reopens what the pool forgot.
          if (!w.alive) return null;
          throw e;
        }
      }
      case 'insert': case 'update': case 'delete': case 'deleteWhere': case 'clear': case 'compact': {
        // A replica being synced with c holds writes back until it is registered (#openOn), and
        // a writer being replaced remaps c.w: wait for both, then send at once (no await between
        // the last check and the send).
        let c = this.#col(args.col);
        while (c.sync || this.#writerReady) {
          await (c.sync ?? this.#writerReady.catch(() => {}));
          c = this.#col(args.col);
        }
        const r = await this.#writer.call(type, { ...args, col: c.w });
        this.#ship(c, r.commit);
        delete r.commit;
        return r;
      }
      default: {
        const c = args.col !== undefined ? this.#col(args.col) : null;
        const route = args.pinned ? undefined : READS[type];
        if (c && route === 'split' && args.nq > 1) return this.#split(c, args);
        if (c && route) {
          const s = this.#pick(c);
          return this.#read(s.client.call(type, { ...args, col: s.col }));
        }
        return this.#writer.call(type, c ? { ...args, col: c.w } : args);
      }
    }
  }

  #db(h) {
    const d = this.#dbs.get(h);
    if (!d) throw new VecliteError('ECLOSED', 'the database is closed; create a new one with createDatabase()');
    return d;
  }

  #col(h) {
    const c = this.#cols.get(h);
    if (!c) throw new VecliteError('ECLOSED', 'the collection is closed; open it again to use it');
    if (c.lost) throw new VecliteError('EBACKEND', c.lost);
    return c;
  }

  /** Sessions that may serve a read of c: the writer and every live replica holding c. */
  #servers(c) {
    const out = [];
    if (this.#writer.alive) out.push({ client: this.#writer, col: c.w });
    for (const [r, rh] of c.r) if (r.alive) out.push({ client: r, col: rh });
    return out;
  }

  #pick(c) {
    const s = this.#servers(c);
    if (!s.length) return { client: this.#writer, col: c.w }; // rejects with the writer's state
    return s[this.#rr++ % s.length];
  }

  /** searchBatch over every session that can serve it; results merged in query order. */
  async #split(c, args) {
    const servers = this.#servers(c);
    if (servers.length <= 1 || !args.queries) { // one server, or a keyword search (no vector)
      const s = this.#pick(c);
      return this.#read(s.client.call('search', { ...args, col: s.col }));
    }
    const nq = args.nq;
    const dim = args.queries.length / nq;
    const m = Math.min(servers.length, nq);
    const parts = [];
    let q0 = 0;
    for (let i = 0; i < m; i++) {
      const q1 = Math.round(((i + 1) * nq) / m);
      const s = servers[(this.#rr + i) % servers.length];
      parts.push(this.#read(s.client.call('search', {
        ...args, col: s.col, nq: q1 - q0, queries: args.queries.slice(q0 * dim, q1 * dim),
      })));
      q0 = q1;
    }
    this.#rr += m;
    return mergeHits(await Promise.all(parts));
  }

  /** Track a read in flight until it settles (see closeDatabase). */
  #read(p) {
    this.#reads.add(p);
    const done = () => this.#reads.delete(p);
    p.then(done, done);
    return p;
  }

  // ---- replicas --------------------------------------------------------------------------------

  /** Register what the writer opened (Info) and open it on every ready replica. */
  async #adopt(info, dbHandle) {
    const known = this.#byWriter.get(info.col);
    if (known !== undefined && this.#cols.has(known)) return { ...info, col: known };
    const h = ++this.#seq;
    const c = { h, w: info.col, name: info.name, path: info.path, db: dbHandle, r: new Map(), lost: null, sync: null };
    this.#cols.set(h, c);
    this.#byWriter.set(info.col, h);
    if (dbHandle !== null) this.#db(dbHandle).cols.add(h);
    try {
      await Promise.all([...this.#ready].map((r) => this.#openOn(r, c)));
    } catch (e) {
      this.#forget(c); // the caller gets the error, not a handle: the pool keeps no entry for it
      throw e;
    }
    return { ...info, col: h };
  }

  /**
   * Open collection c on replica r. Writes to c wait meanwhile (c.sync), so the image the replica
   * opens holds every commit made before it is registered, and every later commit reaches it as
   * an 'apply'. A failure of the replica stops it (it is replaced); a failure of the writer is
   * the caller's.
   */
  async #openOn(r, c) {
    while (c.sync) await c.sync;
    const run = (async () => {
      // c.w is a handle of this writer: a replacement writer does not know it.
      const w = this.#writer;
      if (this.#writerReady || !w.alive) {
        throw new VecliteError('EBACKEND', `the veclite worker (writer) stopped while '${c.name}' was copied to a replica; retry the call`);
      }
      const src = c.path ? { path: c.path } : { bytes: await w.call('export', { col: c.w }) };
      let info;
      try {
        info = await r.call('openReplica', { ...src, name: c.name });
      } catch (e) {
        if (r.alive) r.kill(`it could not open '${c.name}': ${e.message}`);
        return;
      }
      if (this.#cols.get(c.h) === c && !c.lost && r.alive) {
        c.r.set(r, info.col);
        // A file replica read the file by path: a write that committed after that read but
        // answered before this registration reached neither. One refresh, posted before any
        // read can be routed here, brings it in.
        if (c.path) {
          r.call('apply', { col: info.col }).catch((e) => {
            if (r.alive) r.kill(`it could not follow its writer on '${c.name}': ${e.message}`);
          });
        }
      } else if (r.alive) r.call('close', { col: info.col }).catch(() => {});
    })();
    c.sync = run.catch(() => {});
    try {
      await run;
    } finally {
      c.sync = null;
    }
  }

  /**
   * Reopen a file collection the new writer could not take when it replaced the old one (another
   * writer had it then): ELOCK while that is still so; once reopened, the replicas copy it again.
   */
  async #reopen(c) {
    const d = this.#db(c.db);
    const info = await this.#writer.call('getCollection', { db: d.w, name: c.name });
    if (!c.reopen) return; // another call reopened it meanwhile
    if (info === null) {
      c.reopen = false;
      c.lost = `collection '${c.name}' was lost when its writer worker stopped: its file is gone`;
      return;
    }
    c.reopen = false;
    c.w = info.col;
    this.#byWriter.set(c.w, c.h);
    await Promise.all([...this.#ready].map((r) => this.#openOn(r, c).catch(() => {})));
  }

  /** Hand a commit to every replica of c (posted before the write's promise resolves). */
  #ship(c, commit) {
    if (!commit) return;
    const targets = [...c.r].filter(([r]) => r.alive);
    targets.forEach(([r, rh], i) => {
      // The bytes are transferred to the worker: every replica but the last gets its own copy.
      const tail = i === targets.length - 1 || !commit.tail ? commit.tail : copyTail(commit.tail);
      r.call('apply', { col: rh, tail }).catch((e) => {
        if (r.alive) r.kill(`it could not follow its writer on '${c.name}': ${e.message}`);
      });
    });
  }

  /** The pool stops tracking c (closed or deleted): its replicas close it. */
  #forget(c) {
    if (!c) return;
    for (const [r, rh] of c.r) if (r.alive) r.call('close', { col: rh }).catch(() => {});
    c.r.clear();
    this.#cols.delete(c.h);
    if (this.#byWriter.get(c.w) === c.h) this.#byWriter.delete(c.w);
    if (c.db !== null) this.#dbs.get(c.db)?.cols.delete(c.h);
  }

  // ---- replacement -----------------------------------------------------------------------------

  #onDeath(dead) {
    if (this.#closed) return;
    this.replaced++;
    if (dead === this.#writer) {
      const p = this.#replaceWriter(dead).catch(() => {});
      this.#writerReady = p;
      p.finally(() => { if (this.#writerReady === p) this.#writerReady = null; });
      return;
    }
    const i = this.#replicas.indexOf(dead);
    if (i < 0) return;
    this.#ready.delete(dead);
    for (const c of this.#cols.values()) c.r.delete(dead);
    this.#replaceReplica(i, dead.label).catch(() => {});
  }

  async #replaceReplica(i, label) {
    const r = await this.#spawn(label);
    this.#replicas[i] = r;
    await r.call('open', { ...this.#wasm, pooled: true });
    // Sync every collection; collections adopted meanwhile are caught by the loop. One that
    // fails on the writer's side (closed meanwhile, the writer stopped) is left to #adopt or to
    // the writer's replacement.
    const attempts = new Map();
    for (;;) {
      while (this.#writerReady) await this.#writerReady;
      const todo = [...this.#cols.values()].filter((c) => !c.lost && !c.r.has(r) && (attempts.get(c) ?? 0) < 3);
      if (!todo.length) break;
      for (const c of todo) {
        attempts.set(c, (attempts.get(c) ?? 0) + 1);
        await this.#openOn(r, c).catch(() => {});
        if (!r.alive || this.#closed) return;
      }
    }
    if (r.alive && !this.#closed) this.#ready.add(r);
  }

  /**
   * A new writer for every database: files are reopened; a memory collection is restored from
   * the image of any live replica that holds it. If the new writer stops too, this gives up
   * quietly (marking nothing lost): the next replacement starts over.
   */
  async #replaceWriter(old) {
    const w = await this.#spawn(old.label);
    this.#writer = w;
    const gone = () => this.#writer !== w || !w.alive || this.#closed;
    await w.call('open', { ...this.#wasm, pooled: true });
    const restored = new Map();
    for (const d of this.#dbs.values()) {
      const r = await w.call('createDatabase', d.args);
      if (gone()) return;
      d.w = r.db;
      for (const ph of d.cols) {
        const c = this.#cols.get(ph);
        if (!c || c.lost) continue;
        let info = null, why = 'no replica holds its data';
        if (d.path) {
          try {
            info = await w.call('getCollection', { db: d.w, name: c.name });
            if (info === null) why = 'its file is gone';
          } catch (e) {
            why = e.message;
            // Another writer took the file while no worker held it: not lost — the next call
            // on the collection reopens it (or says ELOCK while that writer still has it).
            if (e.code === 'ELOCK') c.reopen = true;
          }
        } else {
          for (const [src, rh] of c.r) {
            if (!src.alive) continue;
            try {
              const bytes = await src.call('export', { col: rh });
              info = await w.call('restoreCollection', { db: d.w, name: c.name, bytes });
              break;
            } catch (e) {
              if (gone()) return;
              why = e.message;
            }
          }
        }
        if (gone()) return;
        if (info) restored.set(c, info);
        else if (!c.reopen) {
          c.lost = `collection '${c.name}' was lost when its writer worker stopped (${why}); ` +
            (d.path ? 'open it again with getCollection'
              : this.#replicas.length
                ? 'an in-memory database keeps its data in its workers, and every replica that held a copy had stopped too; create the collection again'
                : 'an in-memory database keeps its data in its workers: use workers >= 2 to keep a copy');
        }
      }
    }
    this.#byWriter.clear(); // the old writer's handles mean nothing to the new one
    for (const c of this.#cols.values()) {
      const info = restored.get(c);
      if (info) {
        c.w = info.col;
        this.#byWriter.set(c.w, c.h);
        // The old writer may have committed a write to the file and died before its reply (and
        // the replicas' 'apply') went out: the reopened file holds it, the replicas do not. One
        // refresh, posted before any call waiting for this replacement can be routed to them,
        // brings them to the file the new writer opened.
        if (c.path) {
          for (const [r, rh] of c.r) {
            if (!r.alive) continue;
            r.call('apply', { col: rh }).catch((e) => {
              if (r.alive) r.kill(`it could not follow its writer on '${c.name}': ${e.message}`);
            });
          }
        }
      } else {
        if (!c.reopen) c.lost ??= `collection '${c.name}' (a derived child) was lost when its writer worker stopped; derive it again`;
        for (const [r, rh] of c.r) if (r.alive) r.call('close', { col: rh }).catch(() => {});
        c.r.clear();
      }
    }
  }

  /** Stop every worker; pending calls reject with EBACKEND. */
  terminate() {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer?.terminate();
    for (const r of this.#replicas) r.terminate();
    this.onTerminate?.();
  }
}

function copyTail(t) {
  return t.reopen ? { reopen: t.reopen.slice() } : { from: t.from, bytes: t.bytes.slice() };
}

/** Merge columnar search results of consecutive query ranges (worker/protocol.js "Hits"). */
export function mergeHits(parts) {
  const nq = parts.reduce((n, p) => n + p.nq, 0);
  const k = Math.max(...parts.map((p) => p.k));
  const withMeta = parts.some((p) => p.metas), withVecs = parts.some((p) => p.vecs);
  const dim = withVecs ? parts.find((p) => p.vecs).vecs.length / (parts.find((p) => p.vecs).nq * parts.find((p) => p.vecs).k) : 0;
  const out = {
    nq, k, counts: new Uint32Array(nq), dist: new Float32Array(nq * k), ids: new Array(nq * k),
    metas: withMeta ? new Array(nq * k) : null, vecs: withVecs ? new Float32Array(nq * k * dim) : null,
  };
  let q0 = 0;
  for (const p of parts) {
    for (let q = 0; q < p.nq; q++) {
      const c = p.counts[q];
      out.counts[q0 + q] = c;
      for (let i = 0; i < c; i++) {
        const from = q * p.k + i, to = (q0 + q) * k + i;
        out.dist[to] = p.dist[from];
        out.ids[to] = p.ids[from];
        if (withMeta) out.metas[to] = p.metas ? p.metas[from] : {};
        if (withVecs) out.vecs.set(p.vecs.subarray(from * dim, (from + 1) * dim), to * dim);
      }
    }
    q0 += p.nq;
  }
  return out;
}
