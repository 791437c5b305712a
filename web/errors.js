// web/errors.js — the one error type veclite throws (SPEC.md "Errors", STYLE.md §6).
//
// Every failure that reaches a caller is a VecliteError with a stable `code` and a message that
// says what to do. C return codes become VecliteErrors exactly once, in worker/bind.js; argument
// validation in web/index.js throws them directly. This module is a leaf: it imports nothing, so
// every layer may use it.

/** The stable error codes (SPEC.md). */
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

/**
 * Shorthand for `new VecliteError('EINVAL', message)`.
 * @param {string} message
 * @returns {VecliteError}
 */
export function einval(message) {
  return new VecliteError('EINVAL', message);
}
