// worker/inline.js — the in-thread host: a session driven by the same messages as a worker's,
// without a thread in between (the default, and the only host on workerd).
//
// Invariants:
// - Requests go through Session.handle and replies are turned back into results or
//   VecliteErrors exactly as a worker client does (worker/client.js), so every code path but the
//   transport is the same in-thread and in a worker.
// - Nothing is cloned: the facade already sends fresh, plain data, and results are fresh copies
//   out of the WebAssembly heap.

import { Session } from './session.js';
import { errorFromWire } from './protocol.js';

export class InlineClient {
  #session = new Session();
  #seq = 0;
  /** Sessions in this client (1): what getWasmInfo().workerPoolSize does not count. */
  get workers() { return 0; }
  /** The session runs in this thread: a write it can start at once runs within the call. */
  get inThread() { return true; }

  /**
   * Send one message and wait for its reply.
   * @param {string} type @param {object} args
   * @returns {Promise<any>}
   */
  async call(type, args) {
    const reply = await this.#session.handle({ id: ++this.#seq, type, args });
    if (reply.error) throw errorFromWire(reply.error);
    return reply.result;
  }

  /** A collection's dimension and metric now (Session.peek), without a message. */
  peek(col) {
    return this.#session.peek(col);
  }

  /** Nothing to stop in-thread. */
  terminate() {}
}
