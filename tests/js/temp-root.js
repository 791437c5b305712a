// tests/js/temp-root.js — the scratch directory of a test file that spawns processes: one
// temporary root, fresh subdirectories per test, and the children to kill; everything is removed
// (children killed first) after the file's tests, pass or fail.
import { after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** @returns {{ root: string, children: Set<import('node:child_process').ChildProcess>, freshDir: () => string }} */
export function tempRoot(prefix) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const children = new Set();
  after(() => {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  });
  let seq = 0;
  /** A fresh directory for one test. */
  const freshDir = () => fs.mkdtempSync(path.join(root, `t${seq++}-`));
  return { root, children, freshDir };
}
