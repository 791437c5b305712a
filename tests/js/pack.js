// tests/js/pack.js — the published package as a consumer gets it: `npm pack` this repository into
// a temporary directory and install the tarball offline into a fresh "type":"module" project.
// Used by tests/js/package.test.js (Node, TypeScript, workerd) and tests/browser/package.test.js
// (a Vite build in Chromium).
//
// Invariants: everything lives under one mkdtemp directory that cleanup() removes; npm runs with a
// private cache (the user's is neither read nor written) and --offline (a tarball without
// dependencies must install with no network); the package lands as a copy, never a link.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Run a command; fail the test with its output unless it exits 0. */
export function run(cmd, args, cwd, extra = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, ...extra });
  assert.equal(r.error, undefined, `${cmd} ${args.join(' ')}: ${r.error}`);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * Pack and install.
 * @returns {{ tmp: string, project: string, installed: string, packed: { filename: string, files: { path: string }[] }, cleanup(): void }}
 */
export function packAndInstall(prefix = 'veclite-pack-') {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const npm = (args, cwd) => run(process.platform === 'win32' ? 'npm.cmd' : 'npm',
    [...args, '--cache', path.join(tmp, 'npm-cache'), '--loglevel', 'error'], cwd,
    { env: { ...process.env, npm_config_update_notifier: 'false' } });
  const dest = path.join(tmp, 'dist');
  fs.mkdirSync(dest);
  const out = npm(['pack', '--pack-destination', dest, '--json'], ROOT).stdout;
  const [packed] = JSON.parse(out.slice(out.indexOf('[')));
  const tarball = path.join(dest, packed.filename);
  assert.ok(fs.existsSync(tarball), `no tarball at ${tarball}`);

  const project = path.join(tmp, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'),
    JSON.stringify({ name: 'veclite-consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
  npm(['install', '--no-audit', '--no-fund', '--offline', tarball], project);
  const installed = path.join(project, 'node_modules', 'veclite');
  assert.ok(fs.statSync(installed).isDirectory());
  assert.ok(!fs.lstatSync(installed).isSymbolicLink(), 'the tarball was installed as a copy, not a link to the repo');
  return { tmp, project, installed, packed, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}
