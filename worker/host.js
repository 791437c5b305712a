// worker/host.js — the entry of a worker that hosts one session: a module Web Worker
// (new Worker(url, { type: 'module' })) or a Node worker_threads worker (new Worker(url)).
// It receives protocol requests (worker/protocol.js), hands them to its Session and posts the
// replies, transferring the buffers of typed arrays in the result.
//
// Invariants:
// - Requests are handled one after another, in arrival order: a replica applies a commit
//   ('apply') before any read its pool sent after it, which is what makes a read issued after
//   a write resolved see that write.
// - A reply that cannot be posted (a result structured clone refuses) becomes an error reply;
//   nothing is left unanswered.

import { Session } from './session.js';
import { errorToWire, transferList } from './protocol.js';

const session = new Session();
let chain = Promise.resolve();

function serve(post) {
  return (msg) => {
    chain = chain.then(async () => {
      const reply = await session.handle(msg);
      try {
        post(reply, reply.result !== undefined ? transferList(reply.result) : []);
      } catch (e) {
        post({ id: reply.id, error: errorToWire(e) }, []);
      }
    });
  };
}

if (typeof globalThis.process === 'object' && typeof globalThis.process?.versions?.node === 'string' &&
    typeof globalThis.WorkerGlobalScope === 'undefined') {
  // No top-level await here: bundlers emit worker entries in formats that lack it (Vite's
  // default 'iife'). Node's parentPort queues messages until a listener is attached.
  import('node:worker_threads').then(({ parentPort }) => {
    const handle = serve((reply, transfer) => parentPort.postMessage(reply, transfer));
    parentPort.on('message', handle);
  });
} else {
  const handle = serve((reply, transfer) => globalThis.postMessage(reply, transfer));
  globalThis.addEventListener('message', (ev) => handle(ev.data));
}
