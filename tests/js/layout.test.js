// tests/js/layout.test.js — the folders mean what they say (docs/conventions.md §6): imports flow
// one way, web → worker → binding → core, and idb (persistence, locks) is called by sessions and
// imports nothing above it; only the binding touches the WebAssembly heap; the CLI is a client
// of the public API.
//
// Every import of every shipped JavaScript file is read from its source text (static imports,
// re-exports and literal dynamic imports) and checked against the rule of its folder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function jsFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...jsFiles(rel));
    else if (e.name.endsWith('.js')) out.push(rel);
  }
  return out;
}

/** Import specifiers of a source text: static, re-export, side-effect and literal dynamic imports. */
function importsOf(src) {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = [];
  for (const re of [/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s*['"]([^'"]+)['"]/gm]) {
    for (const m of code.matchAll(re)) out.push(m[1]);
  }
  return out;
}

/** The repository-relative target of a relative specifier, or the specifier itself (node:...). */
function target(file, spec) {
  if (!spec.startsWith('.')) return spec;
  return path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
}

const RULES = [
  { folder: 'web/cli/', allow: (t) => t.startsWith('node:') || t.startsWith('web/cli/') || t === 'web/index.js' || t === 'worker/errors.js' || t === 'package.json',
    why: 'the CLI is a client of the public API (web/index.js) and may name the error type' },
  { folder: 'web/', allow: (t) => t.startsWith('node:') || t.startsWith('web/') || t.startsWith('worker/'),
    why: 'the facade talks to sessions (worker/), never to persistence (idb/) directly' },
  { folder: 'worker/', allow: (t) => t.startsWith('node:') || t.startsWith('worker/') || t.startsWith('idb/') || /^pkg(-simd)?\/veclite\.mjs$/.test(t),
    why: 'sessions call the binding and idb/, never the facade' },
  { folder: 'idb/', allow: (t) => t.startsWith('node:') || t.startsWith('idb/') || t === 'worker/errors.js',
    why: 'idb/ imports nothing above it (the error type is the one shared leaf)' },
];

test('imports flow one way: web → worker → binding; idb imports nothing above it; the CLI uses the public API', () => {
  const bad = [];
  let checked = 0;
  for (const file of [...jsFiles('web'), ...jsFiles('worker'), ...jsFiles('idb')]) {
    const rule = RULES.find((r) => file.startsWith(r.folder));
    for (const spec of importsOf(fs.readFileSync(path.join(ROOT, file), 'utf8'))) {
      checked++;
      const t = target(file, spec);
      if (!rule.allow(t)) bad.push(`${file} imports ${spec} (${rule.why})`);
    }
  }
  assert.ok(checked > 60, `only ${checked} imports found: the scanner is broken`);
  assert.deepEqual(bad, []);
});

test('the shared leaf worker/errors.js imports nothing', () => {
  assert.deepEqual(importsOf(fs.readFileSync(path.join(ROOT, 'worker/errors.js'), 'utf8')), []);
});

test('only the binding (worker/bind.js) touches the WebAssembly heap and exports', () => {
  const bad = [];
  for (const file of [...jsFiles('web'), ...jsFiles('worker'), ...jsFiles('idb')]) {
    if (file === 'worker/bind.js') continue;
    const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
    if (/\bHEAP(U8|8|U16|16|U32|32|F32|F64)\b|\bM\._vl_/.test(src)) bad.push(file);
  }
  assert.deepEqual(bad, []);
});

test('the importer itself finds what it should (static, dynamic, re-export)', () => {
  const src = "import a from './a.js';\nexport { b } from '../b.js';\nimport {\n  c,\n  d,\n} from './multi.js';\nconst e = await import('node:fs');\n" +
    "// import x from './comment.js'\nconst o = { from: side(options.from, 'from'), to: 'x' };\n";
  assert.deepEqual(importsOf(src).sort(), ['../b.js', './a.js', './multi.js', 'node:fs']);
});

test('the error codes are written down once: the engine publishes them and the JS list must match', async () => {
  const { loadModule } = await import('../../web/loader.js');
  const { Engine } = await import('../../worker/bind.js');
  const { ERROR_CODES } = await import('../../worker/errors.js');
  const { checkConstants, FOLDED_CODES } = await import('../../worker/config.js');
  const { M } = await loadModule({ simd: false });
  const C = new Engine(M).C;
  assert.equal(checkConstants(C), null);
  assert.deepEqual(Object.keys(C.errors).filter((k) => k !== 'OK' && !FOLDED_CODES.includes(k)).sort(), [...ERROR_CODES].sort());
  // a .wasm publishing a code the JS does not know, or missing one, is refused
  assert.match(checkConstants({ ...C, errors: { ...C.errors, ENEW: -99 } }), /error code ENEW/);
  const fewer = { ...C.errors };
  delete fewer.ELOCK;
  assert.match(checkConstants({ ...C, errors: fewer }), /error code ELOCK/);
});
