// idb/mirror-device.js — a storage device whose bytes live in memory and are made durable
// asynchronously, for browser storage that has no synchronous API (IndexedDB; OPFS outside a
// worker). The engine calls devices synchronously from inside a C call, so it writes to the
// mirror; the session then awaits settle() before the write's promise resolves, so a resolved
// write is durable all the same.
//
// Invariants:
// - persist(from, bytes, length) is called with the bytes appended since the last settle (at
//   offset `from`) and the new committed length; it must make both durable atomically (one
//   IndexedDB transaction; one OPFS swap-file write). Calls are serialized.
// - A persist that fails leaves the durable state at the previous settle: the device refuses
//   every later write (the session poisons the collection), so memory never runs ahead of what a
//   reopen would show by more than the one failed write.
// - A truncation below the durable length (never made by the engine, which only rolls back
//   uncommitted appends) is persisted like an append of nothing at the new length.

import { MemoryDevice } from './memory-device.js';

export class MirrorDevice extends MemoryDevice {
  #durable;
  #low;
  #chain = Promise.resolve();
  #failed = null;

  /**
   * @param {Uint8Array} bytes the durable contents
   * @param {(from: number, bytes: Uint8Array, length: number) => Promise<void>} persist
   */
  constructor(bytes, persist) {
    super(bytes);
    this.#durable = bytes ? bytes.length : 0;
    this.#low = this.#durable;
    this.persist = persist;
  }

  truncate(n) {
    super.truncate(n);
    if (n < this.#low) this.#low = n;
  }

  /** Bytes made durable so far. */
  get durable() { return this.#durable; }

  /** Make everything written so far durable (serialized; rejects with what persist threw). */
  settle() {
    const run = this.#chain.then(async () => {
      if (this.#failed) throw this.#failed;
      const size = this.size();
      if (size === this.#durable && this.#low === this.#durable) return;
      const from = Math.min(this.#low, this.#durable);
      try {
        await this.persist(from, this.slice(from, size), size);
      } catch (e) {
        this.#failed = e;
        this.refuseWrites(e);
        throw e;
      }
      this.#durable = size;
      this.#low = size;
    });
    this.#chain = run.catch(() => {});
    return run;
  }
}
