// tests/js/docs.test.js — the documents in docs/ say what the code has, so they cannot rot:
// - docs/api.md names every option of the option/config types of web/index.d.ts (read with the
//   TypeScript compiler API), every exported function and class, and every member of Collection
//   and Database;
// - docs/cli.md names every command and every --flag of the CLI's own command table
//   (web/cli/args.js, the table `veclite help` prints), and every --flag it names is one the CLI
//   accepts;
// - the veclite examples of docs/coming-from.md (fenced ```js blocks whose first line is
//   `// veclite example`) run against this repository's web/index.js;
// - docs/README.md lists every page of docs/; LICENSE is the license package.json names;
// - README.md opens with `make run` and `make test`, then `npm install veclite` and a short
//   example that is get-or-create: it runs twice in a row on one folder;
// - no comment of a tracked source file (.js .mjs .ts .c .h .html .sh Makefile) and no Markdown
//   text points at a file the repository does not have: repository paths (under docs, src,
//   tests and the other top folders), relative paths, Markdown links and bare page names must be
//   tracked files or folders, or build outputs git ignores (pkg, pkg-simd, build, bench/out),
//   and every "page §N" must name a numbered section that page has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** Every identifier that occurs inside a Markdown code span or fenced block of a text. */
function codeWords(md) {
  const words = new Set();
  const code = [...md.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1]);
  const prose = md.replace(/```[^\n]*\n[\s\S]*?```/g, '');
  code.push(...[...prose.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
  for (const c of code) for (const w of c.matchAll(/[A-Za-z_$][\w$]*/g)) words.add(w[0]);
  return words;
}

/**
 * The public surface of web/index.d.ts: option properties (of every interface named *Options or
 * *Config, and of inline `options`/`config` parameter types, nested object types included),
 * exported functions and classes, and the members of the classes Collection and Database.
 * Each entry is [where, name].
 */
function publicSurface() {
  const sf = ts.createSourceFile('index.d.ts', read('web/index.d.ts'), ts.ScriptTarget.Latest, true);
  const options = [], exported = [], members = [];
  const props = (node, where) => {
    if (!node) return;
    if (ts.isTypeLiteralNode(node) || ts.isInterfaceDeclaration(node)) {
      for (const m of node.members) {
        if (!m.name) continue;
        const n = m.name.getText(sf);
        options.push([`${where}.${n}`, n]);
        props(m.type, `${where}.${n}`);
      }
    } else if (ts.isUnionTypeNode(node) || ts.isIntersectionTypeNode(node)) {
      for (const t of node.types) props(t, where);
    }
  };
  const visit = (node) => {
    if (ts.isInterfaceDeclaration(node) && /(Options|Config)$/.test(node.name.text)) props(node, node.name.text);
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name) {
      for (const p of node.parameters) {
        if (/^(options|config)$/.test(p.name.getText(sf))) props(p.type, `${node.name.getText(sf)}(${p.name.getText(sf)})`);
      }
    }
    const isExported = (n) => n.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name && isExported(node)) {
      exported.push([node.name.text, node.name.text]);
    }
    if (ts.isClassDeclaration(node) && ['Collection', 'Database'].includes(node.name?.text)) {
      for (const m of node.members) {
        if (!m.name || ts.isConstructorDeclaration(m)) continue;
        if (m.modifiers?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword)) continue;
        members.push([`${node.name.text}.${m.name.getText(sf)}`, m.name.getText(sf)]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { options, exported, members };
}

test('docs/api.md names every option of web/index.d.ts, every export and every Collection/Database member', () => {
  const { options, exported, members } = publicSurface();
  // the scanner finds what it should (a broken scanner would pass everything)
  assert.ok(options.length > 40, `only ${options.length} options found`);
  for (const k of ['SearchOptions.k', 'DatabaseConfig.lease.staleMs', 'OpenCollectionOptions.follow.intervalMs', 'migrate(options).dryRun']) {
    assert.ok(options.some(([w]) => w === k), `${k} not found by the scanner`);
  }
  assert.ok(exported.some(([n]) => n === 'createDatabase') && exported.some(([n]) => n === 'VecliteError'));
  assert.ok(members.some(([w]) => w === 'Collection.deleteWhere') && members.some(([w]) => w === 'Database.stats'));
  const words = codeWords(read('docs/api.md'));
  const missing = [...options, ...exported, ...members].filter(([, n]) => !words.has(n)).map(([w]) => w);
  assert.deepEqual([...new Set(missing)], [], 'named in web/index.d.ts, not in any code span of docs/api.md');
});

test('docs/README.md lists every page of docs/', () => {
  const index = read('docs/README.md');
  const pages = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'README.md');
  assert.ok(pages.includes('api.md') && pages.includes('cli.md') && pages.includes('coming-from.md'), pages.join(' '));
  const missing = pages.filter((p) => !index.includes(`](${p})`));
  assert.deepEqual(missing, [], 'pages of docs/ that docs/README.md does not link');
});

// ---- docs/cli.md ------------------------------------------------------------------------------

/** What the CLI's own help prints (main(['help', ...]) in-process: no engine is loaded). */
async function cliHelp(...args) {
  const { main } = await import('../../web/cli/main.js');
  let out = '';
  const sink = { write: (s) => { out += s; return true; } };
  const code = await main(['help', ...args], { stdout: sink, stderr: sink, env: {} });
  assert.equal(code, 0, out);
  return out;
}

/** The --flags listed in a help text's option lines. */
const helpFlags = (text) => new Set([...text.matchAll(/^ {2}(--[a-z][a-z-]*)/gm)].map((m) => m[1]));

/** The words of a shell command line, quotes honoured, from an unquoted # to the end dropped. */
function shellWords(line) {
  const words = [];
  let w = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const j = line.indexOf(c, i + 1);
      w = (w ?? '') + line.slice(i + 1, j);
      i = j;
    } else if (/\s/.test(c)) {
      if (w !== null) words.push(w);
      w = null;
    } else if (c === '#' && w === null) {
      break;
    } else {
      w = (w ?? '') + c;
    }
  }
  if (w !== null) words.push(w);
  return words;
}

test('docs/cli.md documents every command and --flag the CLI help lists, and no other', async () => {
  const { COMMANDS, GLOBAL_OPTIONS, parseArgs } = await import('../../web/cli/args.js');
  const overview = await cliHelp();
  const commands = [...overview.slice(overview.indexOf('Commands:')).matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
  assert.deepEqual(commands, Object.keys(COMMANDS), 'the help lists the command table');
  const globals = helpFlags(overview);
  assert.deepEqual([...globals].sort(), Object.keys(GLOBAL_OPTIONS).map((n) => `--${n}`).sort());

  const doc = read('docs/cli.md');
  // one '### name' section per command, up to the next heading (help is described in the overview)
  const sections = new Map(doc.split(/^##+ /m).slice(1).map((s) => [s.slice(0, s.indexOf('\n')).trim(), s]));
  const docFlags = (text) => new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]));
  for (const g of globals) assert.ok(docFlags(doc).has(g), `global option ${g} is not in docs/cli.md`);
  const every = new Set(globals);
  for (const cmd of commands) {
    const flags = helpFlags(await cliHelp(cmd));
    flags.forEach((f) => every.add(f));
    if (cmd === 'help') continue;
    const own = [...flags].filter((f) => !globals.has(f));
    assert.ok(sections.has(cmd), `docs/cli.md has no '### ${cmd}' section`);
    const inSection = docFlags(sections.get(cmd));
    assert.deepEqual(own.filter((f) => !inSection.has(f)), [], `${cmd}: options missing from its section of docs/cli.md`);
    const foreign = [...inSection].filter((f) => !flags.has(f));
    assert.deepEqual(foreign, [], `${cmd}: its section of docs/cli.md names options '${cmd}' does not accept`);
  }
  assert.ok(every.size > 30, `only ${every.size} flags found in the help: the parser is broken`);
  const unknown = [...docFlags(doc)].filter((f) => !every.has(f));
  assert.deepEqual(unknown, [], 'docs/cli.md names options the CLI does not accept');

  // every veclite command line in a ```sh block parses (right command, right options)
  let lines = 0;
  for (const block of doc.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) {
      for (const part of line.split(/\|\|?|;|&&/)) {
        const words = shellWords(part.trim());
        if (words[0] !== 'veclite' || words.some((w) => /^[<[]/.test(w))) continue;   // a synopsis, not a command
        lines++;
        assert.doesNotThrow(() => parseArgs(words.slice(1)), part.trim());
      }
    }
  }
  assert.ok(lines >= 10, `only ${lines} example command lines found`);
});

// ---- docs/coming-from.md ----------------------------------------------------------------------

const COMING_FROM = 'docs/coming-from.md';
const RVF_NODE_DTS = 'node_modules/@ruvector/rvf-node/index.d.ts';
const HNSWLIB_DTS = ['node_modules/hnswlib-node/lib/index.d.ts', 'node_modules/hnswlib-wasm/dist/hnswlib-wasm.d.ts'];

/** The page's sections by their '## ' heading. */
function sectionsOf(md) {
  return new Map(md.split(/^## /m).slice(1).map((s) => [s.slice(0, s.indexOf('\n')).trim(), s]));
}

/** Names called in a piece of text: `name(` (with `new Name(`), the identifier before the parenthesis. */
const calledNames = (text) => [...text.matchAll(/([A-Za-z_$][\w$]*)\s*\(/g)].map((m) => m[1]);

test('docs/coming-from.md: every call in its mapping tables and hnswlib blocks is declared where it says', () => {
  const md = read(COMING_FROM);
  const veclite = read('web/index.d.ts');
  const declared = (dts, name) => new RegExp(`\\b${name.replace(/\$/g, '\\$')}\\b`).test(dts);
  const sections = sectionsOf(md);
  const peers = [
    [[...sections.keys()].find((h) => h.includes('rvf-node')), [read(RVF_NODE_DTS)]],
    [[...sections.keys()].find((h) => h.includes('seed')), [veclite]],
    [[...sections.keys()].find((h) => h.includes('hnswlib')), HNSWLIB_DTS.map(read)],
  ];
  const bad = [];
  let rows = 0;
  for (const [heading, dtss] of peers) {
    assert.ok(heading, 'a section for each of rvf-node, the seed and hnswlib');
    const body = sections.get(heading);
    for (const line of body.split('\n')) {
      const cells = line.split(/(?<!\\)\|/).slice(1, -1);
      if (cells.length < 2 || /^[-\s]+$/.test(cells[0]) || /^\s*(rvf-node|seed|hnswlib)( filter)?\s*$/.test(cells[0])) continue;
      rows++;
      const code = (cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]).join(' ');
      for (const n of calledNames(code(cells[0]))) if (!dtss.some((d) => declared(d, n))) bad.push(`${heading}: ${n} (left)`);
      for (const n of calledNames(code(cells[1]))) if (!declared(veclite, n)) bad.push(`${heading}: ${n} (veclite)`);
    }
    // the illustration blocks of a peer call only what its declarations have
    for (const b of body.matchAll(/```js\n(\/\/ hnswlib-node[^\n]*\n[\s\S]*?)```/g)) {
      for (const n of calledNames(b[1].replace(/^\s*\/\/.*$/gm, ''))) {
        if (!['Promise', 'push', 'from', 'import'].includes(n) && !declared(read(HNSWLIB_DTS[0]), n)) bad.push(`${heading}: ${n} (hnswlib-node block)`);
      }
    }
  }
  assert.ok(rows > 40, `only ${rows} table rows read: the reader is broken`);
  assert.deepEqual(bad, [], 'names that the declarations do not have');
});

/**
 * Run the ```js blocks of a page whose first line starts with one of `marks`, in order, each as
 * its own module in the folder tmp (see runModule).
 * @returns {number} how many blocks ran
 */
function runBlocks(rel, marks, tmp) {
  let n = 0;
  for (const m of read(rel).matchAll(/```js\n([\s\S]*?)```/g)) {
    const first = m[1].slice(0, m[1].indexOf('\n'));
    if (!marks.some((k) => first.startsWith(k))) continue;
    const r = runModule(m[1], tmp, `block-${++n}.mjs`);
    assert.equal(r.status, 0, `${rel}, block ${n} (${first}) exited ${r.status}:\n${r.stderr}\n--- block:\n${m[1]}`);
  }
  return n;
}

/**
 * Run a module's source as `name` in the folder tmp (its cwd), with `from 'veclite'` pointing at
 * this repository's web/index.js and `from '@ruvector/rvf-node'` at the installed package.
 */
function runModule(src, tmp, name) {
  const imports = {
    veclite: pathToFileURL(path.join(ROOT, 'web/index.js')).href,
    '@ruvector/rvf-node': pathToFileURL(path.join(ROOT, 'node_modules/@ruvector/rvf-node/index.js')).href,
  };
  const code = src.replace(/from '(veclite|@ruvector\/rvf-node)'/g, (_, pkg) => `from '${imports[pkg]}'`);
  assert.notEqual(code, src, `${name} imports neither 'veclite' nor '@ruvector/rvf-node'`);
  fs.writeFileSync(path.join(tmp, name), code);
  return spawnSync(process.execPath, [name], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
}

test('docs/coming-from.md: its veclite examples (and rvf-node ones) run against this repository', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-docs-'));
  try {
    const n = runBlocks(COMING_FROM, ['// veclite example', '// rvf-node example'], tmp);
    assert.ok(n >= 5, `only ${n} runnable blocks`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

// ---- references to files ----------------------------------------------------------------------

/** Build outputs: ignored by git, made by `make` (or `make bench`, or examples/cloudflare-store.mjs). */
const GENERATED = ['pkg', 'pkg-simd', 'build', 'bench/out', 'examples/docs.rvf'];
/**
 * The one reference to something outside the repository that is meant: `make bench` takes an
 * optional local copy of the SIGMOD 2024 data set from beside the repository when present
 * (bench/datasets.js; docs/benchmarks.md "Data").
 */
const OUTSIDE = ['../shared/data/sigmod24-yfcc-clip100'];

/** A file's comments (Markdown: its text outside fenced blocks), comment markers removed and lines joined. */
function commentText(file, src) {
  let parts;
  if (file.endsWith('.md')) parts = [src.replace(/```[\s\S]*?```/g, ' ')];
  else if (/(^|\/)Makefile$|\.sh$/.test(file)) parts = src.split('\n').map((l) => (l.match(/(^|\s)#.*$/) ?? [''])[0]);
  else parts = [...src.matchAll(/\/\*[\s\S]*?\*\/|<!--[\s\S]*?-->|(?<![:'"`\w\\])\/\/[^\n]*/g)].map((m) => m[0]);
  // consecutive comments read as one text (a reference may wrap onto the next comment line)
  return parts.join('\n').replace(/\n\s*(?:\/\/|\*(?!\/)|#)?\s*/g, ' ');
}

/** Path-like references in a text: [reference, kind], kind 'path' (repository or relative), 'md' (a bare page name), 'link'. */
function referencesIn(text) {
  const refs = [];
  const TOP = '(?:docs|src|tests|web|worker|idb|bin|bench|examples|tools|pkg|pkg-simd)';
  const seg = '[\\w.*…-]+';
  for (const m of text.matchAll(new RegExp(`(?<![\\w./<>-])((?:\\.\\.?/)+${seg}(?:/${seg})*/?|${TOP}/(?:${seg}/)*${seg}(?:/|(?=[^\\w/]|$)))`, 'g'))) {
    const r = m[1].replace(/[.,:;)…]+$/, '');
    // a repository path without an extension and without a closing '/' is a name (e.g. 'docs/items'), not a file
    if (!r.startsWith('.') && !/\/$|\.[\w*]+$|\*/.test(r)) continue;
    refs.push([r, 'path']);
  }
  for (const m of text.matchAll(/(?<![\w./-])([A-Za-z][\w-]*\.md)\b/g)) refs.push([m[1], 'md']);
  for (const m of text.matchAll(/\]\(([^)#\s]+)/g)) if (!/^[a-z]+:/.test(m[1])) refs.push([m[1], 'link']);
  return refs;
}

test('no comment or document points at a file the repository does not have', () => {
  const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  const have = new Set(tracked);
  for (const f of tracked) for (let d = path.posix.dirname(f); d !== '.'; d = path.posix.dirname(d)) have.add(d);
  const exists = (p) => {
    const n = path.posix.normalize(p).replace(/\/$/, '');
    if (GENERATED.some((g) => n === g || n.startsWith(`${g}/`))) return true;
    if (/[*…]/.test(n)) {   // a glob or an elision ('…'): some tracked path must fit, or it lies in a build output
      const re = new RegExp(`^${n.split(/[*…]/).map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
      const prefix = n.split(/[*…]/)[0];
      return [...have].some((h) => re.test(h)) || (prefix !== '' && GENERATED.some((g) => g.startsWith(prefix) || prefix.startsWith(`${g}/`)));
    }
    return have.has(n);
  };
  const files = tracked.filter((f) => /\.(js|mjs|ts|c|h|md|html|sh)$|(^|\/)Makefile$/.test(f));
  assert.ok(files.length > 150, `only ${files.length} files to scan`);
  const bad = [];
  let checked = 0;
  for (const f of files) {
    const text = commentText(f, fs.readFileSync(path.join(ROOT, f), 'utf8'));
    const dir = path.posix.dirname(f);
    for (const [r, kind] of referencesIn(text)) {
      if (OUTSIDE.includes(r)) continue;
      checked++;
      let ok;
      if (kind === 'md') ok = [r, `${dir}/${r}`, `docs/${r}`].some(exists);
      else if (kind === 'link') ok = exists(path.posix.join(dir, r));
      else if (r.startsWith('.')) ok = exists(path.posix.join(dir, r)) || exists(r);   // or a package path ('./pkg/*')
      else ok = exists(r) || (f.endsWith('.md') && exists(path.posix.join(dir, r)));
      if (!ok) bad.push(`${f}: ${r}`);
    }
    // a page's §N (also §N.M, and each end of §N–§M) names a numbered heading of that page
    for (const m of text.matchAll(/([\w-]+\.md)\)?`?\s*(§\s*\d+(?:\.\d+)?(?:\s*[-–]\s*§?\s*\d+(?:\.\d+)?)?)/g)) {
      const page = [m[1], `${dir}/${m[1]}`, `docs/${m[1]}`].find((p) => have.has(path.posix.normalize(p)));
      if (!page) continue;   // reported above
      const heads = new Set([...fs.readFileSync(path.join(ROOT, page), 'utf8').matchAll(/^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s/gm)].map((h) => h[1]));
      for (const n of m[2].match(/\d+(?:\.\d+)?/g)) {
        checked++;
        if (!heads.has(n)) bad.push(`${f}: ${m[1]} §${n} (no such section)`);
      }
    }
  }
  assert.ok(checked > 300, `only ${checked} references checked: the scanner is broken`);
  assert.deepEqual(bad, [], 'references to files or sections the repository does not have');
});

test('the reference scanner finds what it should', () => {
  const refs = (t) => referencesIn(t).map(([r]) => r);
  assert.deepEqual(refs('see ../shared/SPEC.md, docs/api.md and src/store*.c; tests/golden/rvf/ too'),
    ['../shared/SPEC.md', 'docs/api.md', 'src/store*.c', 'tests/golden/rvf/']);
  assert.deepEqual(refs('as STYLE.md says (format.md §4)'), ['STYLE.md', 'format.md']);
  assert.deepEqual(refs("name 'docs/items' and '../<dir>/parent.rvf' are not files"), []);
  assert.deepEqual(refs('[the API](api.md) [site](https://example.org/x.md)'), ['api.md', 'api.md']);
  assert.equal(commentText('a.js', "const s = 'http://x'; // see docs/api.md\n/* and\n * web/index.js */"), '// see docs/api.md /* and web/index.js */');
});

// ---- README.md and LICENSE ----------------------------------------------------------------------

test('LICENSE is the license package.json names', () => {
  const { license } = JSON.parse(read('package.json'));
  const texts = { MIT: /^MIT License\n\nCopyright \(c\) \d{4} .+\n\nPermission is hereby granted, free of charge/ };
  assert.ok(texts[license], `package.json license ${license}: no known LICENSE text to compare with`);
  assert.match(read('LICENSE'), texts[license]);
});

test('README.md opens with make run and make test, then npm install veclite and an example that runs twice', () => {
  const readme = read('README.md');
  const firstBlock = readme.match(/```(\w*)\n([\s\S]*?)```/);
  assert.equal(firstBlock[1], 'sh');
  assert.deepEqual(firstBlock[2].split('\n').filter((l) => /^\S/.test(l)).map((l) => l.split(/\s+#/)[0].trim()), ['make run', 'make test']);
  const install = readme.indexOf('npm install veclite');
  assert.ok(install > firstBlock.index, 'npm install veclite follows the make commands');
  const example = readme.slice(install).match(/```js\n([\s\S]*?)```/);
  assert.ok(example, 'a js example follows npm install veclite');
  const lines = example[1].trim().split('\n').filter((l) => l.trim() !== '');
  assert.ok(lines.length <= 12, `the example has ${lines.length} lines`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-readme-'));
  try {
    const outputs = [1, 2].map((run) => {
      const r = runModule(example[1], tmp, 'example.mjs');
      assert.equal(r.status, 0, `run ${run} of the README example failed:\n${r.stderr}`);
      return r.stdout;
    });
    assert.match(outputs[0], /id: 'a'/);
    assert.equal(outputs[1], outputs[0], 'the second run prints what the first did');
    const files = fs.readdirSync(tmp, { recursive: true }).filter((f) => f.endsWith('.rvf'));
    assert.equal(files.length, 1, `one store written: ${files.join(', ')}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
