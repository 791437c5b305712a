// tests/workerd/workerd-config.js — writes workerd configs (capnp) for the workerd tests: the
// repository's (workerd.test.js) and the installed tarball's (tests/js/package.test.js).
//
// How it fits: writeConfig(tmpDir, { store }) returns a config to run as
//   workerd serve <tmpDir>/config.capnp --socket-addr check=127.0.0.1:P1 --socket-addr example=127.0.0.1:P2
// with two services: "check" (tests/workerd/worker.js) and "example" (examples/cloudflare-worker.js,
// the file users copy). writeExampleConfig(tmpDir, { base, entry, pkgDir, store }) writes one
// "example" service over any directory, e.g. a consumer project with veclite in node_modules.
// By hand:  node tests/workerd/workerd-config.js /tmp/vl-wd  (prints the command).
//
// Invariants:
//   - the module list is generated, never hand-written: starting from each entry it follows every
//     relative `import ... from '...'`, `export ... from '...'` and literal `import('...')`, adds
//     every web/*.js file of the package and both builds' veclite.mjs/.wasm; so a new web/ or
//     worker/ file the entry imports cannot silently break the test;
//   - module names are paths relative to `base` ("web/index.js", "node_modules/veclite/web/index.js"),
//     so relative imports resolve in workerd exactly as on disk; the bare specifier 'veclite' is a
//     module that re-exports the package's web/index.js, and 'veclite/<file>' names that file of
//     the package, as a bundler would resolve them through the package's exports;
//   - `.wasm` files become `wasm` modules (a WebAssembly.Module), `.rvf` files `data` modules (an
//     ArrayBuffer), as wrangler's CompiledWasm and Data rules do; a module name can be given an
//     explicit file (`files`), for a store generated outside the tree;
//   - capnp `embed` paths are relative to the config file (absolute ones are not read), so they
//     are computed with path.relative from the output directory;
//   - compatibilityDate 2026-10-01: not newer than the 2026-10-30 that workerd 1.20261023.1 supports.

import { readFileSync, readdirSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const COMPATIBILITY_DATE = '2026-10-01';

const IMPORT_RES = [
  /\bimport\s+(?:[\w$*{}\s,]+?\s+from\s+)?['"]([^'"\n]+)['"]/g, // static import (also side-effect only)
  /\bexport\s+(?:\*|\{[^}]*\}|\*\s+as\s+[\w$]+)\s+from\s+['"]([^'"\n]+)['"]/g, // re-export
  /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g, // literal dynamic import
];

/** Specifiers a module source mentions (comments included: harmless over-inclusion). */
export function importSpecifiers(source) {
  const out = new Set();
  for (const re of IMPORT_RES) for (const m of source.matchAll(re)) out.add(m[1]);
  return [...out];
}

const posix = (p) => p.split(path.sep).join('/');
const KIND = { '.wasm': 'wasm', '.json': 'json', '.rvf': 'data' };
const kindOf = (file) => KIND[path.extname(file)] ?? 'esModule';

/**
 * The modules a worker needs, in a stable order (entry first).
 * @param {{ base: string, entry: string, pkgDir?: string, files?: Record<string, string> }} o
 *   base: the directory module names are relative to; entry: absolute path of the main module;
 *   pkgDir: the veclite package (default: this repository); files: module name -> file to embed
 *   instead of base/<name>
 * @returns {{ name: string, file?: string, source?: string, kind: string }[]}
 */
export function collectModules({ base, entry, pkgDir = ROOT, files = {} }) {
  const fileOf = (name) => files[name] ?? path.join(base, name);
  const nameOf = (file) => {
    const rel = posix(path.relative(base, file));
    if (rel.startsWith('../') || path.isAbsolute(rel)) throw new Error(`module ${file} is outside ${base}`);
    return rel;
  };
  const out = new Map();
  const queue = [nameOf(entry)];
  const web = path.join(pkgDir, 'web');
  for (const f of readdirSync(web).sort()) if (/\.m?js$/.test(f)) queue.push(nameOf(path.join(web, f)));
  for (const b of ['pkg-simd', 'pkg']) queue.push(nameOf(path.join(pkgDir, b, 'veclite.mjs')), nameOf(path.join(pkgDir, b, 'veclite.wasm')));
  while (queue.length) {
    const name = queue.shift();
    if (out.has(name)) continue;
    const file = fileOf(name);
    if (!existsSync(file)) throw new Error(`module ${name} (${file}) does not exist (run \`make build\`?)`);
    out.set(name, { name, file, kind: kindOf(file) });
    if (!/\.m?js$/.test(file)) continue;
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      // workerd resolves a bare specifier like a relative one (against the importer's folder), so
      // the package's modules are named there: 'veclite' imported by a module in examples/ is "examples/veclite".
      const dir = path.posix.dirname(name);
      if (spec === 'veclite') {
        // The package entry: a module re-exporting the package's web/index.js.
        const target = nameOf(path.join(pkgDir, 'web', 'index.js'));
        const alias = path.posix.join(dir, 'veclite');
        let rel = path.posix.relative(path.posix.dirname(alias), target);
        if (!rel.startsWith('.')) rel = './' + rel;
        out.set(alias, { name: alias, source: `export * from ${JSON.stringify(rel)};\n`, kind: 'esModule' });
        queue.push(target);
      } else if (spec.startsWith('veclite/')) {
        const file2 = path.join(pkgDir, spec.slice('veclite/'.length));
        if (kindOf(file2) === 'esModule') throw new Error(`${spec}: only the package's data files are mapped by subpath`);
        const alias = path.posix.join(dir, spec);
        out.set(alias, { name: alias, file: file2, kind: kindOf(file2) });
      } else if (spec.startsWith('./') || spec.startsWith('../')) {
        const target = posix(path.posix.normalize(path.posix.join(path.posix.dirname(name), spec)));
        // A specifier that names no file is taken to be prose in a comment; a real broken import
        // still fails loudly, in workerd at startup.
        if (existsSync(fileOf(target))) queue.push(target);
      }
    }
  }
  return [...out.values()];
}

function moduleEntry(m, outDir) {
  if (m.source !== undefined) return `    (name = ${JSON.stringify(m.name)}, ${m.kind} = ${JSON.stringify(m.source)})`;
  const rel = posix(path.relative(outDir, m.file));
  return `    (name = ${JSON.stringify(m.name)}, ${m.kind} = embed ${JSON.stringify(rel)})`;
}

function worker(constName, modules, outDir) {
  return `const ${constName} :Workerd.Worker = (
  modules = [
${modules.map((m) => moduleEntry(m, outDir)).join(',\n')}
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}"
);`;
}

function write(outDir, services) {
  mkdirSync(outDir, { recursive: true });
  const text = `# Generated by tests/workerd/workerd-config.js — do not edit; regenerated on every test run.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
${services.map((s) => `    (name = "${s.name}", worker = .${s.name}Worker),`).join('\n')}
  ],
  sockets = [
${services.map((s, i) => `    (name = "${s.name}", address = "127.0.0.1:${8787 + i}", http = (), service = "${s.name}"),`).join('\n')}
  ],
);

${services.map((s) => worker(`${s.name}Worker`, s.modules, outDir)).join('\n\n')}
`;
  const configPath = path.join(outDir, 'config.capnp');
  writeFileSync(configPath, text);
  return configPath;
}

/**
 * The repository's config: "check" and "example" services. `store` is the .rvf file the example
 * imports from beside itself (docs.rvf; examples/cloudflare-store.mjs writes it).
 * @returns {{configPath: string, checkModules: string[], exampleModules: string[]}}
 */
export function writeConfig(outDir, { store }) {
  const check = collectModules({ base: ROOT, entry: path.join(ROOT, 'tests/workerd/worker.js') });
  const example = collectModules({ base: ROOT, entry: path.join(ROOT, 'examples/cloudflare-worker.js'),
    files: { 'examples/docs.rvf': store } });
  const configPath = write(outDir, [{ name: 'check', modules: check }, { name: 'example', modules: example }]);
  return { configPath, checkModules: check.map((m) => m.name), exampleModules: example.map((m) => m.name) };
}

/**
 * One "example" service over `base` (e.g. a consumer project): entry imports 'veclite' from pkgDir.
 * @returns {{configPath: string, modules: {name: string, kind: string}[]}}
 */
export function writeExampleConfig(outDir, { base, entry, pkgDir, files }) {
  const modules = collectModules({ base, entry, pkgDir, files });
  return { configPath: write(outDir, [{ name: 'example', modules }]), modules };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const out = path.resolve(process.argv[2] ?? '');
  if (!process.argv[2]) {
    console.error('usage: node tests/workerd/workerd-config.js OUTDIR   (writes OUTDIR/docs.rvf and OUTDIR/config.capnp)');
    process.exit(2);
  }
  const { writeStore } = await import('../../examples/cloudflare-store.mjs');
  const store = path.join(out, 'docs.rvf');
  mkdirSync(out, { recursive: true });
  await writeStore(store);
  const { configPath } = writeConfig(out, { store });
  console.log(`wrote ${configPath}\nrun: $(node -p "require('workerd').default") serve ${configPath}` +
    ' --socket-addr check=127.0.0.1:8787 --socket-addr example=127.0.0.1:8788');
}
