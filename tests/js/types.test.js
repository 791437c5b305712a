// tests/js/types.test.js — type-checks tests/types/usage.ts against web/index.d.ts with the pinned
// TypeScript (strict, noEmit). usage.ts uses every API member and has @ts-expect-error lines for
// misuse, so both a missing/wrong declaration and an over-permissive one fail this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('tsc -p tests/types exits 0', () => {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tests/types'], {
    cwd: root, encoding: 'utf8',
  });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
