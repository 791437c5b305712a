// worker/errors.js — the one error type veclite throws (docs/api.md §8, docs/conventions.md §6).
//
// Every failure that reaches a caller is a VecliteError with a stable `code` and a message that
// says what to do. C return codes become VecliteErrors exactly once, in worker/bind.js; argument
// validation (web/args.js, the session) throws them directly. This module is a leaf: it imports nothing, so
// every layer may use it.

/** The stable error codes (docs/api.md §8): the engine's published VL_E* names (vl__wasm_consts), checked at load by worker/config.js checkConstants. */
export const ERROR_CODES = Object.freeze([
  'EINVAL', 'ENOTFOUND', 'ELOCK', 'EREADONLY', 'ECORRUPT', 'EVERSION', 'EBACKEND', 'EBUDGET',
  'ECLOSED', 'EIO',
]);

/**
 * A veclite failure. `code` is one of {@link ERROR_CODES}.
 */
export class VecliteError extends Error {
  /**
   * @param {string} code one of ERROR_CODES
   * @param {string} message what went wrong and what to do about it
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    /** @type {string} */
    this.code = code;
    /** @type {'VecliteError'} */
    this.name = 'VecliteError';
  }
}

// A write that rejects with EIO after it began changing the store's file also carries
// `outcome` (set by worker/bind.js): 'notWritten' — the engine rolled it back, nothing of it is
// in the file, durably, so a reopen never shows it; 'unknown' — the rollback failed too, so a
// reopen shows either the whole write or none of it (never a part). Other errors have no
// outcome property.

/**
 * Shorthand for `new VecliteError('EINVAL', message)`.
 * @param {string} message
 * @returns {VecliteError}
 */
export function einval(message) {
  return new VecliteError('EINVAL', message);
}

/**
 * EREADONLY for a write on a database opened with createDatabase({ path, readOnly: true }).
 * @param {string} what the call, e.g. 'createCollection'
 * @param {string|null} path the database's directory
 * @returns {VecliteError}
 */
export function readOnlyDatabase(what, path) {
  return new VecliteError('EREADONLY', `${what}: the database${path ? ` at ${path}` : ''} was opened with readOnly: true, ` +
    'which takes no writer lock and never writes; use createDatabase({ path }) without readOnly to write (one writer at a time)');
}

/**
 * A count and its noun, singular for 1: plural(1, 'row') -> '1 row', plural(3, 'row') -> '3 rows',
 * plural(2, 'entry', 'entries'). For library messages (no "1 rows").
 */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 || n === 1n ? one : many}`;
}
