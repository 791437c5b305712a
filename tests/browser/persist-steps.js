// tests/browser/persist-steps.js — what the browser persistence tests (persist.test.js,
// quant.test.js) share: the backends each runs on, one step of pages/persist-check.js run in a
// page under a time limit, and the check of a step's report against the brute force.
//
// Invariants: a step's report is judged only by what pages/persist-check.js computed from the
// pure rows of pages/rows.js; nothing here keeps state between tests.

import assert from 'node:assert/strict';
import { within } from './harness.js';

export const BACKENDS = [
  { name: 'opfs (worker, sync access handle)', backend: 'opfs' },
  { name: 'opfs (main thread, swap files)', backend: 'opfs', workers: 0 },
  { name: 'indexeddb', backend: 'indexeddb' },
];

/** Run step `fn` of pages/persist-check.js in the page with argument o, within ms. */
export function step(page, fn, o, ms) {
  return within(ms, fn, page.evaluate(async ([f, a]) => (await import('/tests/browser/pages/persist-check.js'))[f](a), [fn, o]));
}

/** A check step's report: it ran, found `count` rows, answers equal the brute force, verify() passed. */
export function assertChecked(r, count, what) {
  assert.equal(r.ok, true, `${what}: ${JSON.stringify(r.error)}`);
  assert.equal(r.count, count, `${what}: count`);
  assert.deepEqual(r.problems, [], `${what}: results differ from the brute force`);
  assert.equal(r.verify, true, `${what}: verify() ${JSON.stringify(r.verifyProblems)}`);
}
