// web/cli/output.js — how `veclite` prints: JSON documents, human text, and error lines.
//
// Invariants:
// - JSON output is exact: a bigint (ids above 2^53-1, u64 metadata) becomes its decimal string,
//   never a rounded number; a Float32Array becomes an array of the float32 values widened to
//   double (JSON.stringify prints the shortest text that reads back to the same double, so
//   Math.fround(x) of each printed x gives back the stored float); a Uint8Array (BYTES metadata)
//   becomes { "$base64": "..." } (user metadata keys cannot start with '$', so this cannot clash).
// - An error is exactly one line on stderr: `veclite: CODE: message` (newlines in the message
//   become spaces). Usage errors add a hint line after it.

/**
 * JSON text of v with bigint, typed arrays and bytes handled as described above.
 * @param {unknown} v
 * @param {number|string} [indent]
 * @returns {string}
 */
export function toJson(v, indent) {
  return JSON.stringify(v, (key, x) => {
    if (typeof x === 'bigint') return x.toString();
    if (x instanceof Uint8Array) return { $base64: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64') };
    if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
      return Array.from(x, (e) => (typeof e === 'bigint' ? e.toString() : e));
    }
    return x;
  }, indent);
}

/** A message squeezed onto one line. */
export function oneLine(s) {
  return String(s).replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** An id as text (bigint and number alike print exactly). */
export function idText(id) {
  return typeof id === 'string' ? id : String(id);
}

/** Right-aligned human number with thousands separators. */
export function num(n, digits = 0) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/**
 * A count and its noun, singular for exactly one: plural(1, 'row') is '1 row', plural(2, 'row')
 * '2 rows', plural(3, 'entry', 'entries') '3 entries'. Numbers print with thousands separators.
 * @param {number|bigint} n
 * @param {string} one
 * @param {string} [many] default: one + 's'
 */
export function plural(n, one, many = `${one}s`) {
  return `${typeof n === 'number' ? num(n) : String(n)} ${n === 1 || n === 1n ? one : many}`;
}

/** Bytes as "1.2 MB". */
export function bytes(n) {
  if (typeof n !== 'number') return String(n);
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  let v = n;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]} (${n.toLocaleString('en-US')} bytes)`;
}

/** Seconds as "1:05" / "1:02:03". */
export function clock(sec) {
  if (!Number.isFinite(sec) || sec < 0) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(r).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * "key: value" lines, keys padded; nested objects print as JSON.
 * @param {Record<string, unknown>} obj
 * @returns {string}
 */
export function keyValues(obj) {
  const keys = Object.keys(obj);
  const w = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => {
    const v = obj[k];
    const text = v !== null && typeof v === 'object' ? toJson(v) : v === undefined ? '' : String(v);
    return `${`${k}:`.padEnd(w + 1)} ${text}`;
  }).join('\n') + '\n';
}

/**
 * A plain text table: header row, then rows; columns padded, numbers right-aligned.
 * @param {string[]} head
 * @param {unknown[][]} rows
 */
export function table(head, rows) {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === undefined || c === null ? '' : typeof c === 'object' ? toJson(c) : String(c))))];
  const w = head.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const right = head.map((_, j) => rows.length > 0 && rows.every((r) => typeof r[j] === 'number' || typeof r[j] === 'bigint'));
  return cells.map((r) => r.map((c, j) => (j === r.length - 1 && !right[j] ? c : right[j] ? c.padStart(w[j]) : c.padEnd(w[j]))).join('  ').trimEnd()).join('\n') + '\n';
}
