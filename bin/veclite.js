#!/usr/bin/env node
// bin/veclite.js — the `veclite` executable (package.json "bin"). All the work is in
// web/cli/main.js; this file wires it to the process: argv, the standard streams, the exit
// status, and Ctrl-C.
//
// Ctrl-C: during `ingest` the first one stops reading, commits the rows read so far, closes the
// store cleanly and exits with status 130; a second one, or one during any other command, exits
// at once with 130 (every store write is an atomic, crash-safe commit).
import { main } from '../web/cli/main.js';

const ac = new AbortController();
let interruptible = false;
process.on('SIGINT', () => {
  if (!interruptible || ac.signal.aborted) process.exit(130);
  ac.abort();
  process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}veclite: stopping; committing the rows read so far (Ctrl-C again to stop at once)\n`);
});
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
    setInterruptible: (on) => { interruptible = on; },
  });
} catch (e) {
  process.stderr.write(`veclite: EIO: unexpected ${e?.name ?? 'error'}: ${String(e?.message ?? e).replace(/\s+/g, ' ')}\n`);
  code = 1;
}
process.exitCode = code;
// After an interrupted ingest the input (a pipe, say) may still be open and would keep the
// process alive; everything is committed and closed by now, so leave.
if (code === 130) process.exit(code);
