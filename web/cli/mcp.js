// web/cli/mcp.js — `veclite mcp FILE…`: a Model Context Protocol server over stdio (docs/cli.md
// §5 mcp). An agent host starts it as a child process and talks JSON-RPC 2.0 to it, one message
// per line on stdin and stdout (the MCP stdio transport).
//
// It serves one collection per FILE (named by the file's basename without `.rvf`) through the
// public API only: the stores are opened by the CLI's own opener (main.js), read-only by default
// (no writer lock; each read tool first refreshes the handle to the writer's newest commit), and
// as their writer with --write.
//
// Invariants:
// - stdout carries only protocol messages, each one line of JSON (JSON.stringify escapes every
//   newline inside strings); diagnostics go to stderr.
// - Nothing a client sends ends the process: malformed JSON, invalid UTF-8, lines over
//   --max-message-bytes (discarded as they arrive, so memory stays bounded), wrong types, unknown
//   methods or tools, bad arguments — each gets a JSON-RPC error (protocol problems) or a tool
//   result with isError: true (tool problems), and the server keeps serving.
// - Messages are handled one at a time in arrival order; a notifications/cancelled for a request
//   not yet started drops it (no response, as the protocol asks). Notifications never get a
//   response.
// - End of stdin (or SIGINT/SIGTERM/SIGHUP through io.signal) stops reading; the requests already
//   read are answered, then every store is closed (a writer persists its graph and releases its
//   lock) before serveMcp returns.
// - Write tools (insert, delete, compact) are listed and run only with --write; without it a call
//   to one is a tool error (isError: true, code EREADONLY) saying to restart with --write.
// - Two eras, chosen per request: a request whose params._meta holds an io.modelcontextprotocol/
//   key (protocolVersion, clientCapabilities, clientInfo), and every server/discover, is served
//   under the stateless revision it names (2026-07-28: no initialize; its results carry
//   resultType, tools/list and server/discover also ttlMs and cacheScope), never touching the
//   legacy session; everything else is the legacy initialize session, byte for byte as before.
//   The tools, the read-only default and --write gating are the same in both.

import path from 'node:path';
import { VecliteError } from '../../worker/errors.js';
import { UsageError } from './args.js';
import { oneLine, toJson } from './output.js';

/** Legacy (initialize) revisions served, newest first; the newest is answered to any other request. */
export const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
/** Stateless revisions served (named per request in params._meta, no initialize), newest first. */
export const MODERN_VERSIONS = ['2026-07-28'];
// The _meta keys of a stateless request.
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_CAPS = 'io.modelcontextprotocol/clientCapabilities';
const META_INFO = 'io.modelcontextprotocol/clientInfo';
/**
 * Cache hints of the stateless tools/list and server/discover results. Both answers are fixed
 * for the life of the process (the tools and collections are set at start); the TTL bounds
 * what a client keeping a cache across a restart (other FILEs, --write) could miss, and they
 * are 'private': they name this host's files.
 */
const CACHE_HINTS = { ttlMs: 300000, cacheScope: 'private' };
/** Longest unsupported protocolVersion echoed whole in -32022's data.requested. */
const MAX_VERSION_ECHO = 256;
/** Largest cap --max-message-bytes may set: well below V8's longest string (2^29 - 24 UTF-16 units). */
export const MAX_MESSAGE_BYTES_LIMIT = 256 * 1024 * 1024;

// JSON-RPC 2.0 error codes.
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const INTERNAL_ERROR = -32603;
// MCP 2026-07-28 (its reserved range -32020..-32099).
const UNSUPPORTED_PROTOCOL_VERSION = -32022;

const MAX_IDS = 100000;          // ids per get/delete call
const MAX_ROWS = 100000;         // rows per insert call (one atomic batch)

// ---- collections ----------------------------------------------------------------------------------

/**
 * The collection name of each FILE: its basename without a trailing `.rvf`. Two FILEs with one
 * name are a usage error (a tool call could not tell them apart).
 * @param {string[]} files
 * @returns {{ name: string, file: string }[]}
 */
export function collectionNames(files) {
  const seen = new Map();
  return files.map((file) => {
    const base = path.basename(file);
    const name = base.endsWith('.rvf') && base.length > 4 ? base.slice(0, -4) : base;
    if (seen.has(name)) {
      throw new UsageError(`${seen.get(name)} and ${file} would both be collection '${name}' (a collection is named by ` +
        'its file name without .rvf); serve them from separate `veclite mcp` processes, or rename one', 'mcp');
    }
    seen.set(name, file);
    return { name, file };
  });
}

// ---- argument schemas ------------------------------------------------------------------------------

/**
 * A small JSON Schema subset — type (one or several), enum, minimum, maximum, minItems, maxItems,
 * items, properties, required, additionalProperties: false — that tools/list publishes and
 * checkArgs enforces, so the two cannot disagree.
 */
function checkValue(v, s, where) {
  const types = s.type === undefined ? null : [].concat(s.type);
  if (types && !types.some((t) => isType(v, t))) {
    throw new VecliteError('EINVAL', `${where} must be ${types.map(article).join(' or ')} (got ${describe(v)})`);
  }
  if (s.enum && !s.enum.includes(v)) throw new VecliteError('EINVAL', `${where} must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')} (got ${describe(v)})`);
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) throw new VecliteError('EINVAL', `${where} must be at least ${s.minimum} (got ${v})`);
    if (s.maximum !== undefined && v > s.maximum) throw new VecliteError('EINVAL', `${where} must be at most ${s.maximum} (got ${v})`);
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && s.minItems === s.maxItems && v.length !== s.minItems) {
      throw new VecliteError('EINVAL', `${where} must have exactly ${s.minItems} items (got ${v.length})`);
    }
    if (s.minItems !== undefined && v.length < s.minItems) throw new VecliteError('EINVAL', `${where} needs at least ${s.minItems} item${s.minItems === 1 ? '' : 's'} (got ${v.length})`);
    if (s.maxItems !== undefined && v.length > s.maxItems) throw new VecliteError('EINVAL', `${where} takes at most ${s.maxItems} items (got ${v.length})`);
    if (s.items) for (let i = 0; i < v.length; i++) checkValue(v[i], s.items, `${where}[${i}]`);
  }
  if (isObject(v) && s.properties) {
    for (const k of s.required ?? []) if (!Object.hasOwn(v, k)) throw new VecliteError('EINVAL', `${where} needs '${k}'`);
    for (const [k, x] of Object.entries(v)) {
      const p = s.properties[k];
      if (p) checkValue(x, p, `${where}.${k}`);
      else if (s.additionalProperties === false) {
        throw new VecliteError('EINVAL', `${where} has an unknown field '${k}' (known: ${Object.keys(s.properties).join(', ')})`);
      }
    }
  }
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isType(v, t) {
  switch (t) {
    case 'string': return typeof v === 'string';
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'boolean': return typeof v === 'boolean';
    case 'array': return Array.isArray(v);
    case 'object': return isObject(v);
    default: return false;
  }
}

function article(t) {
  return { string: 'a string', integer: 'an integer', number: 'a finite number', boolean: 'true or false', array: 'an array', object: 'an object' }[t] ?? t;
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

// ---- tools -----------------------------------------------------------------------------------------

const ID = { type: ['string', 'integer'], description: 'an id: a string, or a non-negative integer (ids above 2^53-1 as their decimal string)' };

/**
 * The tool table: name -> { write, description, schema (inputSchema), annotations, run }.
 * @param {{ name: string, file: string, col: any, dim: number, metric: string }[]} cols
 */
function toolTable(cols) {
  const names = cols.map((c) => c.name);
  const one = cols.length === 1;
  const collection = {
    type: 'string', enum: names,
    description: one ? `the collection (optional: there is only '${names[0]}')` : `the collection: ${names.join(', ')}`,
  };
  const dims = new Set(cols.map((c) => c.dim));
  const dim = dims.size === 1 && cols[0].dim > 0 ? cols[0].dim : null;
  const vector = {
    type: 'array', items: { type: 'number' },
    description: `the query vector (${cols.map((c) => `${c.name}: ${c.dim ? `${c.dim} numbers` : 'any dimension, set by the first insert'}, ${c.metric}`).join('; ')})`,
    ...(dim ? { minItems: dim, maxItems: dim } : {}),
  };
  const withCol = (props, required = []) => {
    const need = one ? required : ['collection', ...required];
    return { type: 'object', properties: { collection, ...props }, ...(need.length ? { required: need } : {}), additionalProperties: false };
  };
  const ro = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
  return {
    query: {
      title: 'Nearest neighbours',
      description: 'The k stored vectors nearest to a query vector, best first, each with id, score (higher is more ' +
        'similar), distance (lower is nearer) and metadata. An optional metadata filter restricts the candidates ' +
        '(the veclite filter language: {"field": value} equality, {"field": {"$gte": 3}}, $eq $ne $lt $lte $gt $gte ' +
        '$in $nin $range $exists $contains, $and $or $not, dotted paths into JSON fields).',
      schema: withCol({
        vector,
        k: { type: 'integer', minimum: 1, maximum: 100000, description: 'how many results (default 10)' },
        filter: { type: 'object', description: 'a metadata filter, e.g. {"lang": "en", "year": {"$gte": 2020}}' },
        ef: { type: 'integer', minimum: 1, maximum: 100000, description: 'HNSW search beam width for this query (larger: more exact, slower)' },
        threshold: { type: 'number', description: 'keep only hits with score >= threshold' },
        includeVectors: { type: 'boolean', description: 'also return the stored vectors (default false)' },
        includeMetadata: { type: 'boolean', description: 'return metadata (default true)' },
      }, ['vector']),
      annotations: ro,
      async run(c, a) {
        const o = { k: a.k ?? 10, includeVectors: a.includeVectors ?? false, includeMetadata: a.includeMetadata ?? true };
        if (a.filter !== undefined) o.filter = a.filter;
        if (a.ef !== undefined) o.ef = a.ef;
        if (a.threshold !== undefined) o.threshold = a.threshold;
        const results = await c.col.search(a.vector, o);
        return { collection: c.name, k: o.k, results };
      },
    },
    get: {
      title: 'Get rows by id',
      description: 'The stored metadata (and optionally vectors) of ids, in the order given; an absent id is ' +
        'reported with found: false.',
      schema: withCol({
        ids: { type: 'array', items: ID, minItems: 1, maxItems: MAX_IDS, description: 'the ids to look up' },
        includeVectors: { type: 'boolean', description: 'also return the stored vectors (default false)' },
      }, ['ids']),
      annotations: ro,
      async run(c, a) {
        const idType = await idTypeOf(c);
        const ids = a.ids.map((id, i) => readId(id, idType, `ids[${i}]`));
        const got = await c.col.getMany(ids);
        const rows = got.map((r, i) => {
          if (!r) return { id: ids[i], found: false };
          const row = { id: r.id, found: true, metadata: r.metadata ?? {} };
          if (a.includeVectors) row.vector = r.vector;
          return row;
        });
        return { collection: c.name, found: rows.filter((r) => r.found).length, rows };
      },
    },
    status: {
      title: 'Collection status',
      description: 'The served collections and their state: count of live vectors, dimension, metric, index, epoch, ' +
        'bytes, lineage, and who writes the file. Without collection: every collection.',
      schema: {
        type: 'object',
        properties: { collection: { ...collection, description: `one collection (default: all of ${names.join(', ')})` } },
        additionalProperties: false,
      },
      annotations: ro,
      // run: below (it may cover every collection)
    },
    segments: {
      title: 'Segment directory',
      description: 'The committed segment directory of a collection\'s .rvf file: id, type, offset, length of each segment.',
      schema: withCol({}),
      annotations: ro,
      async run(c) {
        return { collection: c.name, file: c.file, segments: await c.col.segments() };
      },
    },
    insert: {
      write: true,
      title: 'Insert rows',
      description: 'Insert or replace (upsert) rows { id, vector, metadata? } in one atomic, durable commit; ' +
        'returns how many distinct ids were written and the live count after.',
      schema: withCol({
        rows: {
          type: 'array', minItems: 1, maxItems: MAX_ROWS,
          items: {
            type: 'object',
            properties: {
              id: ID,
              vector: { ...vector, description: 'the vector' },
              metadata: { type: 'object', description: 'metadata: string, number, boolean, null or JSON values; keys must not start with $' },
            },
            required: ['id', 'vector'],
            additionalProperties: false,
          },
          description: 'the rows to write',
        },
      }, ['rows']),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      async run(c, a) {
        const idType = await idTypeOf(c);
        const rows = a.rows.map((r, i) => ({ ...r, id: readId(r.id, idType, `rows[${i}].id`) }));
        let written;
        try {
          written = await c.col.insertBatch(rows);
        } catch (e) {
          // name the row as the caller knows it (rows[i]), not as the API call did
          if (e?.name !== 'VecliteError') throw e;
          throw new VecliteError(e.code, e.message.replace(/insertBatch\[(\d+)\]/g, 'rows[$1]'), { cause: e });
        }
        return { collection: c.name, written, count: await c.col.count() };
      },
    },
    delete: {
      write: true,
      title: 'Delete rows',
      description: 'Delete ids in one durable commit (absent ids are counted, not an error).',
      schema: withCol({ ids: { type: 'array', items: ID, minItems: 1, maxItems: MAX_IDS, description: 'the ids to delete' } }, ['ids']),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      async run(c, a) {
        const idType = await idTypeOf(c);
        const ids = a.ids.map((id, i) => readId(id, idType, `ids[${i}]`));
        const deleted = await c.col.delete(ids);
        return { collection: c.name, deleted, requested: ids.length, count: await c.col.count() };
      },
    },
    compact: {
      write: true,
      title: 'Compact',
      description: 'Rewrite the collection\'s file without dead rows (temporary file, fsync, rename).',
      schema: withCol({}),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      async run(c) {
        const r = await c.col.compact();
        return { collection: c.name, ...r };
      },
    },
  };
}

/** The collection's id type ('number' | 'string'), or null while it is empty and untyped. */
async function idTypeOf(c) {
  return (await c.col.stats()).idType ?? null;
}

const U64_MAX = 0xFFFFFFFFFFFFFFFFn;

/**
 * An id argument as the API wants it: in a numeric collection a string of digits is the exact
 * number (a bigint above 2^53-1); in a string collection a number is its decimal text; an
 * integer JSON number above 2^53-1 was already rounded by JSON, so it is refused.
 */
function readId(id, idType, where) {
  if (typeof id === 'number') {
    if (id < 0) throw new VecliteError('EINVAL', `${where}: ids are non-negative (got ${id})`);
    if (!Number.isSafeInteger(id)) {
      throw new VecliteError('EINVAL', `${where}: ${id} is above 2^53-1, where JSON numbers are rounded; pass the id as its decimal string`);
    }
    return idType === 'string' ? String(id) : id;
  }
  if (idType === 'number') {
    if (!/^\d+$/.test(id)) throw new VecliteError('EINVAL', `${where}: the collection's ids are numbers, and ${JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id)} is not a non-negative integer`);
    const b = BigInt(id);
    if (b > U64_MAX) throw new VecliteError('EINVAL', `${where}: ${id} is larger than 2^64-1`);
    return b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  return id;
}

// ---- the server ------------------------------------------------------------------------------------

/**
 * Serve MCP on io.stdin/io.stdout until stdin ends (or io.signal aborts).
 * @param {{ files: string[], write: boolean, maxMessageBytes: number, readOnlyRefresh: boolean,
 *   io: { stdin: NodeJS.ReadableStream, stdout: { write(s: string): any }, stderr: { write(s: string): any },
 *   signal?: AbortSignal, setInterruptible?: (on: boolean, what?: string) => void },
 *   open: (file: string) => Promise<any>, describeWriter: (lock: any) => any, version: string }} o
 *   open: opens one store (read-only, or as writer with --write); describeWriter: the `writer`
 *   field of status from a read-only handle's lock (main.js writerOf).
 * @returns {Promise<{ signal: string|null, closeFailed: boolean }>} the signal that stopped it, if
 *   any, and whether a store failed to close (its error is on stderr)
 */
export async function serveMcp(o) {
  const { io } = o;
  const named = collectionNames(o.files);
  if (!io.stdin) throw new VecliteError('EINVAL', 'veclite mcp needs stdin (the MCP stdio transport)');
  const cols = [];
  try {
    for (const { name, file } of named) {
      const col = await o.open(file);
      const st = await col.stats();
      cols.push({ name, file, col, dim: st.dimension ?? col.dimension ?? 0, metric: st.metric ?? col.metric });
    }
  } catch (e) {
    await closeAll(cols, io);
    throw e;
  }
  const server = new McpServer({ ...o, cols });
  io.stderr.write(`veclite mcp: serving ${cols.map((c) => `${c.name} (${c.file})`).join(', ')} ` +
    `${o.write ? 'read-write (--write)' : 'read-only'} on stdin/stdout\n`);
  let signal = null, closeFailed = false;
  try {
    signal = await server.run();
  } finally {
    closeFailed = await closeAll(cols, io);
  }
  return { signal, closeFailed };
}

/** Close every store (each even when another fails); true if any close failed (it is logged). */
async function closeAll(cols, io) {
  let failed = false;
  for (const c of cols) {
    try {
      await c.col.close();
    } catch (e) {
      failed = true;
      io.stderr.write(`veclite: ${e?.code ?? 'EIO'}: mcp: closing ${c.file}: ${oneLine(e?.message ?? e)}\n`);
    }
  }
  return failed;
}

class McpServer {
  constructor(o) {
    this.o = o;
    this.io = o.io;
    this.cols = o.cols;
    this.byName = new Map(o.cols.map((c) => [c.name, c]));
    this.tools = toolTable(o.cols);
    this.tools.status.run = (c) => this.status(c);
    this.version = null;          // the negotiated revision, once initialize is answered
    this.pending = new Set();     // ids of requests read but not yet answered
    this.cancelled = new Set();   // ... of those, the ones a client cancelled before they started
    this.chain = Promise.resolve();
  }

  /** Read lines until stdin ends or the signal aborts; answer them; resolve with the signal name. */
  run() {
    const { stdin, signal } = this.io;
    const max = this.o.maxMessageBytes;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let parts = [], size = 0, dropping = false;
    return new Promise((resolve) => {
      let done = false;
      const finish = (sig) => {
        if (done) return;
        done = true;
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        stdin.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
        this.io.setInterruptible?.(false);
        if (sig) stdin.pause?.();
        this.chain.then(() => resolve(sig));
      };
      const line = (buf) => {
        let text;
        try {
          text = decoder.decode(buf);
        } catch {
          this.later(errorMessage(null, PARSE_ERROR, 'Parse error: the message is not valid UTF-8'));
          return;
        }
        if (text.endsWith('\r')) text = text.slice(0, -1);
        if (text.trim() === '') return;
        try {
          this.receive(text);
        } catch (e) { // receive answers everything itself; a throw here would end the process
          this.io.stderr.write(`veclite mcp: unexpected ${e?.name ?? 'error'}: ${oneLine(e?.message ?? e)}\n`);
        }
      };
      const onData = (chunk) => {
        if (done) return;
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        let from = 0;
        for (;;) {
          const nl = buf.indexOf(10, from);
          const end = nl < 0 ? buf.length : nl;
          if (!dropping) {
            if (size + (end - from) > max) {
              dropping = true;
              parts = [];
              size = 0;
            } else if (end > from) {
              parts.push(buf.subarray(from, end));
              size += end - from;
            }
          }
          if (nl < 0) break;
          if (dropping) {
            this.later(tooLong());
            dropping = false;
          } else {
            line(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
          }
          parts = [];
          size = 0;
          from = nl + 1;
        }
      };
      const tooLong = () => errorMessage(null, PARSE_ERROR, `Parse error: a message longer than ${max} bytes (--max-message-bytes) was discarded`,
        { maxMessageBytes: max });
      const onEnd = () => {
        if (dropping) this.later(tooLong());
        else if (size > 0) line(Buffer.concat(parts, size));    // a last message without its newline
        finish(null);
      };
      const onError = (e) => {
        this.io.stderr.write(`veclite mcp: stdin: ${oneLine(e?.message ?? e)}\n`);
        finish(null);
      };
      const onAbort = () => finish(typeof signal.reason === 'string' ? signal.reason : 'SIGINT');
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.on('error', onError);
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
        this.io.setInterruptible?.(true, 'answering the requests read so far, then closing the stores');
      }
    });
  }

  send(msg) {
    this.io.stdout.write(toJson(msg) + '\n');
  }

  /** Send a reply after every message read before it is answered (replies keep arrival order). */
  later(msg) {
    this.chain = this.chain.then(() => this.send(msg));
  }

  /** One line of text: parse it, act on a cancellation at once, queue the rest in order. */
  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      this.later(errorMessage(null, PARSE_ERROR, `Parse error: ${oneLine(e.message)}`));
      return;
    }
    if (isObject(msg) && msg.method === 'notifications/cancelled' && !Object.hasOwn(msg, 'id')) {
      const id = msg.params?.requestId;
      if ((typeof id === 'string' || typeof id === 'number') && this.pending.has(id)) this.cancelled.add(id);
      return;
    }
    if (isObject(msg) && validId(msg.id) && typeof msg.method === 'string') this.pending.add(msg.id);
    this.chain = this.chain.then(() => this.dispatch(msg)).then((reply) => {
      if (reply) this.send(reply);
    }, (e) => {
      // dispatch answers every failure itself; this is a last guard that keeps the server up
      this.io.stderr.write(`veclite mcp: unexpected ${e?.name ?? 'error'}: ${oneLine(e?.message ?? e)}\n`);
    });
  }

  /** A message (or a batch) -> the reply to send, or null. */
  async dispatch(msg) {
    if (Array.isArray(msg)) {
      if (this.version !== '2025-03-26') {
        return errorMessage(null, INVALID_REQUEST, `Invalid Request: JSON-RPC batches are not part of MCP ${this.version ?? 'before initialize'} ` +
          '(only revision 2025-03-26 has them); send one message per line');
      }
      if (msg.length === 0) return errorMessage(null, INVALID_REQUEST, 'Invalid Request: an empty batch');
      const replies = [];
      for (const m of msg) {
        if (isObject(m) && m.method === 'initialize') {
          replies.push(errorMessage(validId(m.id) ? m.id : null, INVALID_REQUEST, 'Invalid Request: initialize must not be part of a batch'));
          continue;
        }
        const r = await this.one(m);
        if (r) replies.push(r);
      }
      return replies.length ? replies : null;
    }
    return this.one(msg);
  }

  async one(msg) {
    if (!isObject(msg)) return errorMessage(null, INVALID_REQUEST, `Invalid Request: a message must be a JSON object (got ${describe(msg)})`);
    const id = validId(msg.id) ? msg.id : null;
    if (msg.jsonrpc !== '2.0') return errorMessage(id, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"');
    if (!Object.hasOwn(msg, 'method')) {
      if (Object.hasOwn(msg, 'result') || Object.hasOwn(msg, 'error')) {
        // A response, but this server sends no requests: nothing to match it with.
        this.io.stderr.write(`veclite mcp: ignored a response to request ${JSON.stringify(msg.id)}, which this server never sent\n`);
        return null;
      }
      return errorMessage(id, INVALID_REQUEST, 'Invalid Request: no "method"');
    }
    if (typeof msg.method !== 'string') return errorMessage(id, INVALID_REQUEST, 'Invalid Request: "method" must be a string');
    if (!Object.hasOwn(msg, 'id')) {
      this.notification(msg);
      return null;
    }
    if (!validId(msg.id)) return errorMessage(null, INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer (not null)');
    if (this.cancelled.delete(msg.id)) {
      this.pending.delete(msg.id);
      return null;
    }
    try {
      const result = await this.request(msg.method, msg.params);
      return { jsonrpc: '2.0', id: msg.id, result };
    } catch (e) {
      if (e instanceof RpcError) return errorMessage(msg.id, e.code, e.message, e.data);
      this.io.stderr.write(`veclite mcp: ${msg.method}: unexpected ${e?.name ?? 'error'}: ${oneLine(e?.message ?? e)}\n`);
      return errorMessage(msg.id, INTERNAL_ERROR, `Internal error: ${oneLine(e?.message ?? e)}`);
    } finally {
      this.pending.delete(msg.id);
    }
  }

  notification(msg) {
    // notifications/initialized needs nothing (requests are served once initialize is answered);
    // others (progress, roots changes, ...) concern features this server does not have.
    if (msg.method !== 'notifications/initialized' && !msg.method.startsWith('notifications/')) {
      this.io.stderr.write(`veclite mcp: ignored notification ${JSON.stringify(msg.method.slice(0, 100))}\n`);
    }
  }

  async request(method, params) {
    if (params !== undefined && !isObject(params)) throw new RpcError(INVALID_PARAMS, `Invalid params: "params" of ${method} must be an object`);
    const p = params ?? {};
    if (method !== 'initialize' && (method === 'server/discover' || isModern(p._meta))) return this.modern(method, p);
    if (method === 'ping') return {};
    if (method === 'initialize') return this.initialize(p);
    if (this.version === null) {
      if (!KNOWN.has(method)) throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method}`);
      throw new RpcError(INVALID_REQUEST, `Invalid Request: the session is not initialized; send "initialize" before ${method} ` +
        `(or, under revision ${MODERN_VERSIONS[0]}, name it in params._meta["${META_VERSION}"] with "${META_CAPS}")`);
    }
    if (method === 'tools/list') return { tools: this.toolList(this.version) };
    if (method === 'tools/call') return this.call(p, this.version);
    throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method} (this server has tools only: tools/list, tools/call, and ping)`);
  }

  /**
   * A stateless (2026-07-28) request: its _meta checked (-32602 for a missing or ill-typed key,
   * -32022 for a revision not served), then answered with that revision's result shapes. It
   * neither needs nor changes the legacy session.
   */
  async modern(method, p) {
    const version = checkMeta(method, p._meta);
    if (method === 'server/discover') {
      return {
        resultType: 'complete',
        supportedVersions: MODERN_VERSIONS,
        capabilities: { tools: { listChanged: false } },
        serverInfo: this.serverInfo(version),
        instructions: this.instructions(),
        ...CACHE_HINTS,
      };
    }
    if (method === 'tools/list') return { resultType: 'complete', tools: this.toolList(version), ...CACHE_HINTS };
    if (method === 'tools/call') return { resultType: 'complete', ...(await this.call(p, version)) };
    if (method === 'ping') throw new RpcError(METHOD_NOT_FOUND, `Method not found: ping (revision ${version} has no ping)`);
    throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method} (revision ${version}: server/discover, tools/list, tools/call)`);
  }

  initialize(p) {
    if (this.version !== null) throw new RpcError(INVALID_REQUEST, 'Invalid Request: the session is already initialized');
    if (typeof p.protocolVersion !== 'string') {
      throw new RpcError(INVALID_PARAMS, 'Invalid params: initialize needs "protocolVersion" (a string such as "2025-11-25")');
    }
    this.version = PROTOCOL_VERSIONS.includes(p.protocolVersion) ? p.protocolVersion : PROTOCOL_VERSIONS[0];
    return {
      protocolVersion: this.version,
      capabilities: { tools: { listChanged: false } },
      serverInfo: this.serverInfo(this.version),
      instructions: this.instructions(),
    };
  }

  serverInfo(version) {
    return { name: 'veclite', ...(version >= '2025-06-18' ? { title: 'veclite vector store' } : {}), version: this.o.version };
  }

  instructions() {
    const names = this.cols.map((c) => `${c.name} (${c.dim ? `dimension ${c.dim}` : 'no dimension yet'}, ${c.metric})`).join(', ');
    return `veclite vector collections: ${names}. Tools: query (nearest neighbours, with metadata filters), ` +
      `get (rows by id), status, segments${this.o.write ? ', insert, delete, compact' : '; the server is read-only (insert, ' +
      'delete and compact need it restarted with --write)'}.`;
  }

  /** The tools as revision `version` describes them. */
  toolList(version) {
    const out = [];
    for (const [name, t] of Object.entries(this.tools)) {
      if (t.write && !this.o.write) continue;
      const tool = { name, description: t.description, inputSchema: t.schema };
      if (version >= '2025-06-18') tool.title = t.title;
      if (version >= '2025-03-26') tool.annotations = { title: t.title, ...t.annotations };
      out.push(tool);
    }
    return out;
  }

  /** tools/call under revision `version`: the result, or a tool error result (isError). */
  async call(p, version) {
    if (typeof p.name !== 'string') throw new RpcError(INVALID_PARAMS, 'Invalid params: tools/call needs "name" (a string)');
    if (p.arguments !== undefined && !isObject(p.arguments)) {
      throw new RpcError(INVALID_PARAMS, `Invalid params: "arguments" of tools/call must be an object (got ${describe(p.arguments)})`);
    }
    const t = Object.hasOwn(this.tools, p.name) ? this.tools[p.name] : null;
    if (!t) {
      throw new RpcError(INVALID_PARAMS, `Unknown tool: ${JSON.stringify(p.name.slice(0, 100))} (tools: ${this.toolList(version).map((x) => x.name).join(', ')})`);
    }
    const a = p.arguments ?? {};
    try {
      if (t.write && !this.o.write) {
        throw new VecliteError('EREADONLY', `tool '${p.name}' writes, and this server is read-only: restart it as ` +
          `'veclite mcp --write ${this.cols.map((c) => c.file).join(' ')}' to ${p.name} (it then holds each file's writer lock)`);
      }
      checkValue(a, t.schema, 'arguments');
      const c = a.collection === undefined ? (this.cols.length === 1 ? this.cols[0] : null) : this.byName.get(a.collection);
      if (!c && p.name !== 'status') throw new VecliteError('EINVAL', `arguments.collection is required (one of ${[...this.byName.keys()].join(', ')})`);
      if (!t.write && !this.o.write && this.o.readOnlyRefresh) {
        for (const x of c && p.name !== 'status' ? [c] : this.cols) await x.col.refresh();
      }
      const doc = JSON.parse(toJson(await t.run(p.name === 'status' && a.collection === undefined ? null : c, a)));
      const r = { content: [{ type: 'text', text: JSON.stringify(doc) }] };
      if (version >= '2025-06-18') r.structuredContent = doc;
      return r;
    } catch (e) {
      const code = e?.name === 'VecliteError' ? e.code : 'EIO';
      const message = e?.name === 'VecliteError' ? oneLine(e.message) : `unexpected ${e?.name ?? 'error'}: ${oneLine(e?.message ?? e)}`;
      if (code === 'EIO' && e?.name !== 'VecliteError') this.io.stderr.write(`veclite mcp: ${p.name}: ${message}\n`);
      const r = { content: [{ type: 'text', text: `${code}: ${message}${e?.outcome ? ` (outcome: ${e.outcome})` : ''}` }], isError: true };
      if (version >= '2025-06-18') r.structuredContent = { error: { code, message, ...(e?.outcome ? { outcome: e.outcome } : {}) } };
      return r;
    }
  }

  /** The status tool: one collection, or all. */
  async status(c) {
    const out = [];
    for (const x of c ? [c] : this.cols) {
      const st = await x.col.status();
      // The store's fields, not this server's handle (as `veclite status`): plus who writes it.
      const { readOnly: _r, lock, cache: _c, ...store } = st;
      const writer = this.o.describeWriter(lock);
      if (writer && lock?.ours) writer.thisServer = true;
      out.push({ name: x.name, file: x.file, ...store, writer });
    }
    return { write: this.o.write, collections: out };
  }
}

const KNOWN = new Set(['tools/list', 'tools/call']);

/** Does this params._meta make a request stateless (any io.modelcontextprotocol/ request key)? */
function isModern(meta) {
  return isObject(meta) && (Object.hasOwn(meta, META_VERSION) || Object.hasOwn(meta, META_CAPS) || Object.hasOwn(meta, META_INFO));
}

/**
 * The revision a stateless request names, once its _meta is checked: the version a string and
 * served (else -32022 with the versions served), clientCapabilities an object, clientInfo (optional)
 * an object with string name and version. A missing or ill-typed key is -32602.
 */
function checkMeta(method, meta) {
  const need = `${method}, as a request of the stateless revision ${MODERN_VERSIONS[0]}, needs params._meta with ` +
    `"${META_VERSION}" (a string such as "${MODERN_VERSIONS[0]}") and "${META_CAPS}" (an object)`;
  if (!isObject(meta)) throw new RpcError(INVALID_PARAMS, `Invalid params: ${need}; params._meta is ${meta === undefined ? 'missing' : describe(meta)}`);
  if (!Object.hasOwn(meta, META_VERSION)) throw new RpcError(INVALID_PARAMS, `Invalid params: ${need}; "${META_VERSION}" is missing`);
  const v = meta[META_VERSION];
  if (typeof v !== 'string') throw new RpcError(INVALID_PARAMS, `Invalid params: "${META_VERSION}" must be a string (got ${describe(v)})`);
  if (!MODERN_VERSIONS.includes(v)) {
    // echoed as sent, but a string no version name could be (up to --max-message-bytes) is cut
    const requested = v.length > MAX_VERSION_ECHO ? `${v.slice(0, MAX_VERSION_ECHO)}…` : v;
    throw new RpcError(UNSUPPORTED_PROTOCOL_VERSION, `Unsupported protocol version: ${JSON.stringify(v.slice(0, 100))} (served per request: ` +
      `${MODERN_VERSIONS.join(', ')}; revisions ${PROTOCOL_VERSIONS.join(', ')} through "initialize")`,
    { supported: MODERN_VERSIONS, requested });
  }
  if (!isObject(meta[META_CAPS])) {
    const got = Object.hasOwn(meta, META_CAPS) ? describe(meta[META_CAPS]) : 'nothing';
    throw new RpcError(INVALID_PARAMS, `Invalid params: "${META_CAPS}" must be an object (got ${got})`);
  }
  const info = meta[META_INFO];
  if (info !== undefined && !(isObject(info) && typeof info.name === 'string' && typeof info.version === 'string')) {
    throw new RpcError(INVALID_PARAMS, `Invalid params: "${META_INFO}", when given, must be an object with string "name" and "version" (got ${describe(info)})`);
  }
  return v;
}

class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

function validId(id) {
  return typeof id === 'string' || Number.isInteger(id);
}

function errorMessage(id, code, message, data) {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}
