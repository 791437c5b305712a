// worker/client.js — the caller's side of one worker: starts it (worker/host.js), sends
// requests, matches replies by id (a pending-request map, as duckdb-wasm's AsyncDuckDB does) and
// turns error replies back into VecliteErrors.
//
// Invariants:
// - A worker that crashes, exits or is terminated rejects every pending call with a
//   VecliteError('EBACKEND') at once (its 'error' / 'exit' event; a terminate() rejects
//   synchronously), and every later call too: nothing waits on a dead worker. A reply that
//   cannot be read ('messageerror': which call it answered is unknown) ends the worker the same
//   way, terminated, so it holds no lock or lease its replacement needs.
// - Typed arrays in a request are transferred from 64 KiB on (the facade made them for this call).
// - An argument structured clone refuses is EINVAL, before anything was sent.

import { VecliteError } from './errors.js';
import { errorFromWire, transferList } from './protocol.js';

const isNode = typeof globalThis.process === 'object' && typeof globalThis.process?.versions?.node === 'string' &&
  typeof globalThis.WorkerGlobalScope === 'undefined';

let seq = 0;

export class WorkerClient {
  #w;
  #pending = new Map();
  #dead = null;
  #seq = 0;
  /** Called once when the worker stops for any reason but terminate(). */
  onDeath = null;
  /** A name for messages ('writer', 'replica 1', ...). */
  label;

  constructor(worker, label) {
    this.#w = worker;
    this.label = label;
    this.id = ++seq;
    const onReply = (msg) => {
      const p = this.#pending.get(msg?.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (this.#pending.size === 0) this.#w.unref?.();
      if (msg.error) p.reject(errorFromWire(msg.error));
      else p.resolve(msg.result);
    };
    if (isNode) {
      worker.on('message', onReply);
      worker.on('error', (e) => this.#die(`it threw ${e?.name ?? 'an error'}: ${e?.message ?? e}`));
      worker.on('exit', (code) => this.#die(`it exited (code ${code})`));
      worker.on('messageerror', () => this.kill('a reply could not be read'));
    } else {
      worker.addEventListener('message', (ev) => onReply(ev.data));
      worker.addEventListener('error', (ev) => {
        ev.preventDefault?.();
        this.#die(`it threw: ${ev.message || 'an error'}`);
      });
      worker.addEventListener('messageerror', () => this.kill('a reply could not be read'));
    }
  }

  /**
   * Start a worker running worker/host.js. The browser branch is one literal expression,
   * `new Worker(new URL('./host.js', import.meta.url), { type: 'module' })`, because that is the
   * form bundlers (Vite, webpack 5, Parcel) recognise to bundle a worker entry and rewrite its URL.
   */
  static async spawn(label) {
    if (isNode) {
      const { Worker: NodeWorker } = await import('node:worker_threads');
      const w = new NodeWorker(new URL('./host.js', import.meta.url));
      w.unref?.(); // an idle pool does not keep Node running; a pending call does (call())
      return new WorkerClient(w, label);
    }
    if (typeof globalThis.Worker !== 'function') {
      throw new VecliteError('EBACKEND', 'workers: this runtime has no Worker; leave out workers to run in this thread');
    }
    return new WorkerClient(new Worker(new URL('./host.js', import.meta.url), { type: 'module' }), label);
  }

  get alive() { return !this.#dead; }
  get pending() { return this.#pending.size; }

  /** Send one request; resolves with its result. */
  call(type, args) {
    if (this.#dead) return Promise.reject(this.#deadError());
    const id = ++this.#seq;
    if (this.#pending.size === 0) this.#w.ref?.();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, type });
      try {
        this.#w.postMessage({ id, type, args }, transferList(args));
      } catch (e) {
        this.#pending.delete(id);
        if (this.#pending.size === 0) this.#w.unref?.();
        reject(new VecliteError('EINVAL', `${type}: an argument cannot be sent to a worker (${e?.message ?? e}); pass plain data`));
      }
    });
  }

  #deadError() {
    return new VecliteError('EBACKEND', `the veclite worker (${this.label}) stopped: ${this.#dead}; ` +
      'a call it was serving did not finish (a write may or may not have committed); the pool starts a new worker, retry the call');
  }

  #die(why) {
    if (this.#dead) return;
    this.#dead = why;
    const err = this.#deadError();
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.onDeath?.(this);
  }

  /** Stop the worker; pending calls reject with EBACKEND. */
  terminate(why = 'its database was closed') {
    this.onDeath = null; // a deliberate stop is not replaced
    this.#die(why);
    try { this.#w.terminate(); } catch { /* already gone */ }
  }

  /**
   * End the worker the way a crash does: pending calls reject and onDeath runs (the pool
   * replaces it). A browser fires no event when a Worker is terminated, so this is how a pool
   * (and a test) stops one it no longer trusts.
   */
  kill(why = 'it was killed') {
    try { this.#w.terminate(); } catch { /* already gone */ }
    this.#die(why);
  }

  /** The underlying Worker (tests terminate it behind the client's back). */
  get worker() { return this.#w; }
}
