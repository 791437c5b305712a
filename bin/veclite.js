#!/usr/bin/env node
// bin/veclite.js — the `veclite` executable (package.json "bin"). All the work is in
// web/cli/main.js; this file wires it to the process: argv, the standard streams, the exit
// status, and signals.
//
// Signals: SIGINT (Ctrl-C), SIGTERM and SIGHUP are handled alike. During `ingest` the first one
// stops reading, commits the rows read so far, closes the store cleanly (releasing its writer
// lock) and exits with status 128 + the signal number (130, 143, 129); a second one, or one during
// any other command, exits at once with that status — the writer lock is still released, by the
// exit hook of idb/lock-file.js, and every store write is an atomic, crash-safe commit.
import os from 'node:os';
import { main } from '../web/cli/main.js';

const ac = new AbortController();
let interruptible = false;
let stopping = 'committing the rows read so far';
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  const status = 128 + (os.constants.signals[sig] ?? 2);
  process.on(sig, () => {
    if (!interruptible || ac.signal.aborted) process.exit(status);
    ac.abort(sig); // main() reads the signal name from signal.reason
    const again = sig === 'SIGINT' ? 'Ctrl-C again' : `${sig} again`;
    process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}veclite: ${sig}: stopping; ${stopping} ` +
      `(${again} to stop at once)\n`);
  });
}
// After a hang-up stderr may be gone; a failed diagnostic must not turn into a crash.
process.stderr.on('error', () => {});
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);   // reader went away (| head)
  throw e;
});

let code;
try {
  code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    signal: ac.signal,
    setInterruptible: (on, what) => {
      interruptible = on;
      if (what) stopping = what;
    },
  });
} catch (e) {
  process.stderr.write(`veclite: EIO: unexpected ${e?.name ?? 'error'}: ${String(e?.message ?? e).replace(/\s+/g, ' ')}\n`);
  code = 1;
}
process.exitCode = code;
// After an interrupted ingest (status 128 + signal) the input (a pipe, say) may still be open and
// would keep the process alive; everything is committed and closed by now, so leave.
if (code > 128) process.exit(code);
