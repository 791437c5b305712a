// web/cli/args.js — the `veclite` command table and its argument parser (docs/api.md
// §11).
//
// The parser knows every command's positionals and options, converts option values to their
// types, and reports anything it cannot make sense of as a UsageError (exit code 2 with a hint).
// It does no I/O and never loads the engine, so `veclite --help` and usage errors are instant.
//
// Invariants:
// - Global options (--json, --backend, --help, --version) are accepted before or after the
//   command; command options only after it. `--name=value` and `--name value` both work; `--`
//   ends option parsing. A value may start with '-' when the option expects one (`--vector
//   '[-0.5, 1]'`), but a value that is another long option (`--k --json`) is a missing value.
// - A value that cannot be parsed as its type (an integer that is not one, JSON that is not
//   JSON, a choice outside its list) is a UsageError. A value that parses but that the engine
//   refuses (dimension 0, k above the limit) is left for the API, which answers EINVAL (exit 1).
// - When an option is repeated, the last value wins.

/** A command-line mistake: exit code 2, with the command's usage as a hint. */
export class UsageError extends Error {
  /**
   * @param {string} message what is wrong with the command line
   * @param {string|null} [command] the command it concerns, for the hint
   */
  constructor(message, command = null) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

const METRICS = ['cosine', 'euclidean', 'dotProduct'];
const FORMATS = ['json', 'ndjson', 'csv', 'fvecs'];
const ID_TYPES = ['string', 'number'];

/**
 * Option types: 'bool' (a flag), 'string', 'int' (a safe integer), 'u64' (a non-negative
 * integer, bigint above 2^53-1), 'number' (finite), 'json' (parsed JSON), or an array of choices.
 * @typedef {{ type: 'bool'|'string'|'int'|'u64'|'number'|'json'|string[], arg?: string,
 *   help: string, default?: any, required?: boolean }} OptionSpec
 */

/** Options every command accepts. @type {Record<string, OptionSpec>} */
export const GLOBAL_OPTIONS = {
  json: {
    type: 'bool',
    help: 'print one JSON document on stdout (machine output); on failure {"error":{"code":...,"message":...}} (usage errors: EUSAGE)',
  },
  backend: {
    type: 'string', arg: 'NAME',
    help: "storage backend: 'node' (files, the default) or 'memory' (read the file into memory; read-only commands)",
  },
  help: { type: 'bool', help: 'show help for the command' },
  version: { type: 'bool', help: 'print the version' },
};

const ID_TYPE_OPT = {
  type: ID_TYPES, arg: 'string|number',
  help: "how to read ids given as text: 'number' (u64) or 'string' (default: the collection's id type)",
};

/**
 * The commands. `args` lists positionals; a name ending in '...' takes one or more, a name in
 * brackets is optional.
 * @type {Record<string, { args: string[], summary: string, options: Record<string, OptionSpec>,
 *   details?: string }>}
 */
export const COMMANDS = {
  create: {
    args: ['FILE'],
    summary: 'create an empty .rvf store',
    options: {
      dimension: { type: 'int', arg: 'N', required: true, help: 'vector dimension (1..65535)' },
      metric: { type: METRICS, arg: 'NAME', default: 'cosine', help: 'cosine (default), euclidean or dotProduct' },
      index: { type: ['hnsw', 'flat'], arg: 'TYPE', default: 'hnsw', help: 'hnsw (default) or flat (exact scan)' },
      m: { type: 'int', arg: 'N', help: 'HNSW links per node (default 16)' },
      'ef-construction': { type: 'int', arg: 'N', help: 'HNSW build beam width (default 200)' },
      ef: { type: 'int', arg: 'N', help: 'default HNSW search beam width (default 64)' },
      seed: { type: 'u64', arg: 'N', help: 'HNSW level seed (default 42)' },
      'text-field': { type: 'string', arg: 'NAME', help: 'index this metadata field for keyword search (query --text)' },
    },
    details: 'Fails if FILE exists.',
  },
  ingest: {
    args: ['FILE'],
    summary: 'insert (upsert) vectors from a JSON, NDJSON, CSV or .fvecs file',
    options: {
      input: { type: 'string', arg: 'DATA', required: true, help: "input file ('-' reads stdin; then give --format)" },
      format: { type: FORMATS, arg: 'FMT', help: 'json, ndjson, csv or fvecs (default: from the extension)' },
      batch: { type: 'int', arg: 'N', default: 1000, help: 'rows per atomic, committed batch (default 1000)' },
      'id-offset': { type: 'u64', arg: 'N', help: 'fvecs: id of the first row (default 0; ids are row numbers)' },
      'id-type': ID_TYPE_OPT,
      'id-field': { type: 'string', arg: 'NAME', help: 'json/ndjson/csv: the field (column) holding the id (default id)' },
      'vector-field': {
        type: 'string', arg: 'NAME',
        help: 'json/ndjson/csv: the field (column) holding the vector (default: vector, embedding or values)',
      },
      'metadata-fields': {
        type: 'string', arg: 'A,B,...',
        help: 'json/ndjson: store these top-level fields as metadata too; csv: only these columns are metadata',
      },
      'no-progress': { type: 'bool', help: 'no progress bar even on a terminal' },
    },
    details: [
      'Formats:',
      '  json    a JSON array of { "id": ..., "vector": [...], "metadata": {...} }; the vector may',
      '          also be called "embedding" or "values"',
      '  ndjson  one such object per line (.ndjson, .jsonl)',
      '  csv     header row: id, then v0..vN (one column per component) or one "vector" (or',
      '          "embedding", "values") column holding a JSON array, then optional metadata',
      '          columns (numbers stay numbers, true/false become booleans, other text becomes',
      '          strings, empty cells are left out)',
      '  fvecs   the TEXMEX binary format; ids are row numbers (+ --id-offset)',
      'Other field names: --id-field doc_id --vector-field emb --metadata-fields title,year reads',
      '{"doc_id": 7, "emb": [...], "title": "x", "year": 2020} as id 7 with metadata {title, year}.',
      'Without --metadata-fields a JSON row with any other top-level field is an error (it names',
      'the field); with it, fields not named are ignored. Integers beyond 2^53 (ids and metadata)',
      'are kept exact (as u64/i64).',
      'Rows are written in batches; each batch is atomic and committed before the next starts, so',
      'an error keeps every batch before it. Ctrl-C, SIGTERM or SIGHUP stops reading, commits the',
      'rows read so far and exits 128 + the signal (130, 143, 129). Existing ids are replaced (upsert).',
    ].join('\n'),
  },
  query: {
    args: ['FILE'],
    summary: 'nearest neighbours of a vector, or rows matching keywords (--text)',
    options: {
      vector: { type: 'json', arg: 'JSON', help: "the query vector as a JSON array, e.g. '[0.1, 0.2, ...]'" },
      'vector-file': {
        type: 'string', arg: 'F',
        help: 'query vector(s) from a file: a JSON array (one query), a JSON array of arrays, NDJSON arrays, or .fvecs',
      },
      k: { type: 'int', arg: 'N', default: 10, help: 'number of results (default 10)' },
      filter: { type: 'json', arg: 'JSON', help: 'metadata filter, e.g. \'{"lang":"en","year":{"$gte":2020}}\'' },
      ef: { type: 'int', arg: 'N', help: 'HNSW search beam width for this query' },
      threshold: { type: 'number', arg: 'X', help: 'keep hits with score >= X' },
      mmr: { type: 'string', arg: 'LAMBDA[,FETCHK]', help: 'diversify: maximal marginal relevance, lambda in [0, 1] (1 = plain), of FETCHK candidates' },
      text: { type: 'string', arg: 'WORDS', help: 'keywords (BM25 over the store\'s text field); with a vector: hybrid ranking' },
      alpha: { type: 'number', arg: 'X', help: 'hybrid: weight of the vector ranking in [0, 1] (default 0.5), with --text and a vector' },
      'include-vectors': { type: 'bool', help: 'print the stored vectors of the hits' },
      'no-metadata': { type: 'bool', help: 'leave metadata out' },
    },
  },
  get: {
    args: ['FILE', 'ID'],
    summary: 'the vector and metadata of one id',
    options: { 'id-type': ID_TYPE_OPT },
  },
  delete: {
    args: ['FILE', 'ID...'],
    summary: 'delete ids (absent ids are counted, not an error)',
    options: { 'id-type': ID_TYPE_OPT },
  },
  status: { args: ['FILE'], summary: 'epoch, counts, lineage, size of a store', options: {} },
  segments: { args: ['FILE'], summary: 'the committed segment directory', options: {} },
  derive: {
    args: ['FILE', 'CHILD'],
    summary: 'create a child store (lineage) from FILE',
    options: {},
    details: 'Fails if CHILD exists.',
  },
  compact: { args: ['FILE'], summary: 'rewrite the store without dead rows', options: {} },
  export: {
    args: ['FILE', 'OUT'],
    summary: "write a self-contained .rvf image of the committed state (OUT '-': to stdout)",
    options: { force: { type: 'bool', help: 'overwrite OUT if it exists (ELOCK while a writer holds OUT)' } },
  },
  verify: {
    args: ['FILE'],
    summary: 'check hashes, directory and witness chain (exit 1 if anything is wrong)',
    options: {},
    details: 'Always reports: a file that cannot be opened (damaged, not an .rvf file, missing) is a ' +
      'problem (exit 1), listed with every damaged segment and unreadable byte range found in it.',
  },
  recover: {
    args: ['FILE', 'OUT'],
    summary: 'salvage every intact row of FILE (and its saved tails) into a new store OUT',
    options: {},
    details: 'FILE is only read. Rows and metadata of every hash-valid segment are replayed in file order ' +
      '(newest wins; JOURNAL and manifest deletes applied), also segments no manifest commits. Prints ' +
      'what could not be saved; exit 1 when something could not (OUT is still written).',
  },
  bench: {
    args: [],
    summary: 'a small benchmark on generated data: inserts/s, QPS, recall@10',
    options: {
      n: { type: 'int', arg: 'N', default: 5000, help: 'vectors (default 5000)' },
      dim: { type: 'int', arg: 'D', default: 64, help: 'dimension (default 64)' },
      queries: { type: 'int', arg: 'Q', default: 100, help: 'queries (default 100)' },
      k: { type: 'int', arg: 'K', default: 10, help: 'results per query (default 10)' },
      metric: { type: METRICS, arg: 'NAME', default: 'cosine', help: 'cosine (default), euclidean or dotProduct' },
      m: { type: 'int', arg: 'N', help: 'HNSW links per node (default 16)' },
      'ef-construction': { type: 'int', arg: 'N', help: 'HNSW build beam width (default 200)' },
      ef: { type: 'int', arg: 'N', help: 'HNSW search beam width (default 64)' },
      batch: { type: 'int', arg: 'N', default: 1000, help: 'rows per insertBatch (default 1000)' },
      seed: { type: 'int', arg: 'N', default: 1, help: 'data generator seed (default 1)' },
      'no-progress': { type: 'bool', help: 'no progress bar even on a terminal' },
    },
    details: 'The data are clustered Gaussian vectors from a seeded generator; recall is against an exact\n' +
      'float64 brute-force scan. --backend node runs on a temporary file (removed afterwards).',
  },
  mcp: {
    args: ['FILE...'],
    summary: 'serve the stores to an AI agent host: a Model Context Protocol server on stdin/stdout',
    options: {
      write: { type: 'bool', help: 'open the stores as their writer and offer the insert, delete and compact tools (default: read-only)' },
      'max-message-bytes': {
        type: 'int', arg: 'N', default: 64 * 1024 * 1024,
        help: 'longest message (one line) read, 1024..268435456; a longer one is discarded with a parse error (default 67108864, 64 MiB)',
      },
    },
    details: [
      'JSON-RPC 2.0, one message per line (the MCP stdio transport): the stateless revision 2026-07-28',
      '(no initialize; each request names it in params._meta) and, after initialize, revisions',
      '2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05. Each FILE is a collection named by its file',
      'name without .rvf (two FILEs with one name are an error). Tools: query, get, status, segments; with --write',
      'also insert, delete, compact. Read-only by default: no writer lock is taken, so another process',
      'may write the files meanwhile (each read tool first catches up with its newest commit). Logs go',
      'to stderr; the server runs until stdin is closed, then closes the stores and exits 0.',
    ].join('\n'),
  },
  kmeans: {
    args: ['FILE'],
    summary: "k-means clusters of a store's vectors or of a data file's (centroids, sizes, inertia)",
    options: {
      k: { type: 'int', arg: 'N', required: true, help: 'number of clusters (1 .. the number of vectors)' },
      iterations: { type: 'int', arg: 'N', default: 100, help: 'most Lloyd updates (default 100)' },
      seed: { type: 'u64', arg: 'N', default: 42, help: 'seed of every random choice (default 42): the same seed, the same result' },
      init: { type: ['k-means++', 'random'], arg: 'NAME', default: 'k-means++', help: 'k-means++ (default) or random (k distinct rows)' },
      tolerance: { type: 'number', arg: 'X', default: 1e-4, help: 'stop when centroids move less than X x the mean variance (default 1e-4)' },
      metric: { type: ['euclidean', 'cosine'], arg: 'NAME', help: "euclidean or cosine (default: the store's metric; dotProduct stores must choose)" },
      assignments: { type: 'bool', help: "also print each id's cluster" },
      'no-progress': { type: 'bool', help: 'no working note even on a terminal' },
    },
    details: 'Runs in the engine over the live rows of a store (opened read-only), or over the vectors of a\n' +
      'data file (.fvecs, .json array of arrays, .ndjson; ids are row numbers). Inertia: sum of squared\n' +
      'L2 distances (euclidean) or of 1 - cos (cosine). A cluster left empty is re-seeded with the\n' +
      'farthest vector; with fewer distinct vectors than k the extra clusters stay empty (counted in\n' +
      'the output).',
  },
  similarity: {
    args: ['FILE', 'ID...'],
    summary: 'the similarity scores of stored ids, pairwise (a matrix)',
    options: {
      with: { type: 'string', arg: 'ID,ID,...', help: 'score the IDs against these ids instead of against each other' },
      'id-type': ID_TYPE_OPT,
    },
    details: "Scores in the store's metric, as query prints them: cos, dot, or 1 / (1 + L2); higher is more similar.",
  },
  help: { args: ['[COMMAND]'], summary: 'show help', options: {} },
};

/** One-line usage of a command. */
export function usageLine(cmd) {
  const c = COMMANDS[cmd];
  if (!c) return 'veclite <command> [options]';
  const req = Object.entries(c.options).filter(([, o]) => o.required).map(([n, o]) => `--${n} ${o.arg ?? ''}`.trim());
  return ['veclite', cmd, ...c.args, ...req, Object.keys(c.options).length > req.length ? '[options]' : '']
    .filter(Boolean).join(' ');
}

function optionLines(opts) {
  const rows = Object.entries(opts).map(([n, o]) => {
    const arg = o.type === 'bool' ? '' : ` ${o.arg ?? 'VALUE'}`;
    return [`--${n}${arg}`, o.help];
  });
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([a, h]) => `  ${a.padEnd(w)}  ${h}`);
}

/**
 * Help text: the overview (no command) or one command's.
 * @param {string|null} [cmd]
 * @returns {string}
 */
export function helpText(cmd = null) {
  if (cmd && COMMANDS[cmd]) {
    const c = COMMANDS[cmd];
    const lines = [`Usage: ${usageLine(cmd)}`, '', `${c.summary}.`];
    if (c.details) lines.push('', c.details);
    if (Object.keys(c.options).length) lines.push('', 'Options:', ...optionLines(c.options));
    lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
    lines.push('', 'Exit status: 0 on success, 1 on an error (one line "veclite: CODE: message" on stderr),',
      '2 on a usage error.');
    return lines.join('\n') + '\n';
  }
  const w = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'veclite — an embedded vector database (.rvf stores), command-line interface',
    '',
    'Usage: veclite <command> [arguments] [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(w)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    "Run 'veclite help <command>' or 'veclite <command> --help' for a command's options.",
    'Exit status: 0 on success, 1 on an error (one line "veclite: CODE: message" on stderr),',
    '2 on a usage error.',
  ].join('\n') + '\n';
}

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Convert one option value to its type; UsageError if it cannot be.
 * @param {string} name option name (without --)
 * @param {OptionSpec} spec
 * @param {string} raw
 * @param {string|null} cmd
 */
export function convertValue(name, spec, raw, cmd) {
  const t = spec.type;
  if (Array.isArray(t)) {
    if (!t.includes(raw)) throw new UsageError(`--${name} must be one of ${t.join(', ')} (got '${raw}')`, cmd);
    return raw;
  }
  switch (t) {
    case 'string':
      if (raw === '') throw new UsageError(`--${name} needs a non-empty value`, cmd);
      return raw;
    case 'int': {
      const v = Number(raw);
      if (!INT_RE.test(raw.trim()) || !Number.isSafeInteger(v)) {
        throw new UsageError(`--${name} expects an integer (got '${raw}')`, cmd);
      }
      return v;
    }
    case 'u64': {
      const s = raw.trim();
      if (!/^\d+$/.test(s)) throw new UsageError(`--${name} expects a non-negative integer (got '${raw}')`, cmd);
      const b = BigInt(s);
      if (b > 0xFFFFFFFFFFFFFFFFn) throw new UsageError(`--${name} must be at most 2^64-1 (got ${s})`, cmd);
      return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    }
    case 'number': {
      const v = Number(raw);
      if (!NUM_RE.test(raw.trim()) || !Number.isFinite(v)) {
        throw new UsageError(`--${name} expects a number (got '${raw}')`, cmd);
      }
      return v;
    }
    case 'json':
      try {
        return JSON.parse(raw);
      } catch (e) {
        throw new UsageError(`--${name} is not valid JSON (${e.message})`, cmd);
      }
    default:
      throw new Error(`option --${name} has unknown type ${t}`);
  }
}

/**
 * Parse a command line (without `node` and the script).
 * @param {string[]} argv
 * @returns {{ command: string|null, args: string[], options: Record<string, any>,
 *   global: { json: boolean, backend: string|undefined, help: boolean, version: boolean } }}
 *   command is null when none was given (then help or version is what to do).
 * @throws {UsageError}
 */
export function parseArgs(argv) {
  let command = null;
  const positionals = [];
  const seen = {};          // name -> raw value (string) or true
  let onlyPositionals = false;
  const specOf = (name) => GLOBAL_OPTIONS[name] ?? (command ? COMMANDS[command].options[name] : undefined);
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (!onlyPositionals && tok === '--') {
      onlyPositionals = true;
      continue;
    }
    if (!onlyPositionals && tok.startsWith('--')) {
      const eq = tok.indexOf('=');
      const name = eq < 0 ? tok.slice(2) : tok.slice(2, eq);
      const spec = specOf(name);
      if (!spec) {
        const where = command ? ` for '${command}'` : '';
        const hint = !command && Object.values(COMMANDS).some((c) => name in c.options)
          ? ` (command options go after the command)` : '';
        throw new UsageError(`unknown option --${name}${where}${hint}`, command);
      }
      if (spec.type === 'bool') {
        if (eq >= 0) throw new UsageError(`--${name} is a flag and takes no value`, command);
        seen[name] = true;
      } else if (eq >= 0) {
        seen[name] = tok.slice(eq + 1);
      } else {
        const v = argv[i + 1];
        if (v === undefined || (v.startsWith('--') && v.length > 2)) {
          throw new UsageError(`--${name} needs a value${spec.arg ? ` (${spec.arg})` : ''}`, command);
        }
        seen[name] = v;
        i++;
      }
      continue;
    }
    if (!onlyPositionals && tok === '-h') {
      seen.help = true;
      continue;
    }
    if (!onlyPositionals && tok.startsWith('-') && tok.length > 1 && !/^-\d/.test(tok)) {
      throw new UsageError(`unknown option ${tok}; options are spelled --name`, command);
    }
    if (command === null) {
      if (!Object.hasOwn(COMMANDS, tok)) {
        throw new UsageError(`unknown command '${tok}'`, null);
      }
      command = tok;
    } else {
      positionals.push(tok);
    }
  }

  const global = {
    json: seen.json === true,
    backend: seen.backend === undefined ? undefined : convertValue('backend', GLOBAL_OPTIONS.backend, seen.backend, command),
    help: seen.help === true,
    version: seen.version === true,
  };
  if (command === null || global.help || global.version) {
    return { command, args: positionals, options: {}, global };
  }

  const spec = COMMANDS[command];
  const options = {};
  for (const [name, o] of Object.entries(spec.options)) {
    if (seen[name] === undefined) {
      if (o.required) throw new UsageError(`missing --${name}${o.arg ? ` ${o.arg}` : ''}`, command);
      options[name] = o.type === 'bool' ? false : o.default;
    } else {
      options[name] = o.type === 'bool' ? true : convertValue(name, o, seen[name], command);
    }
  }

  // Positionals: required ones, optional [X], and a trailing X... that takes the rest.
  const req = spec.args.filter((a) => !a.startsWith('['));
  const variadic = spec.args.length > 0 && spec.args[spec.args.length - 1].endsWith('...');
  if (positionals.length < req.length) {
    throw new UsageError(`missing ${req.slice(positionals.length).join(' ')}`, command);
  }
  if (!variadic && positionals.length > spec.args.length) {
    throw new UsageError(`unexpected argument '${positionals[spec.args.length]}'`, command);
  }
  return { command, args: positionals, options, global };
}
