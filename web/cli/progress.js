// web/cli/progress.js — the progress bar `veclite ingest` and `veclite bench` draw on stderr.
//
// Invariants:
// - It draws only when the stream is a terminal (stream.isTTY) and the caller enabled it (not
//   --json, not --no-progress). Otherwise every method is a no-op: not one byte, so no escape
//   codes or carriage returns end up in logs or pipes.
// - It redraws at most every `intervalMs` (default 100 ms), one line: `\r` + text + ESC[K
//   (erase to end of line), and done() erases the line, so the command's own output starts on
//   a clean line.
// - ETA comes from the fraction done (rows of a known total, else bytes of a known size) and
//   the elapsed time; with neither known it shows only rows and rate.

/**
 * @typedef {{ write(s: string): any, isTTY?: boolean, columns?: number }} ProgressStream
 */

export class Progress {
  /**
   * @param {{ stream: ProgressStream, enabled: boolean, label: string, totalRows?: number|null,
   *   totalBytes?: number|null, intervalMs?: number, now?: () => number }} opts
   */
  constructor({ stream, enabled, label, totalRows = null, totalBytes = null, intervalMs = 100, now = () => performance.now() }) {
    this.stream = stream;
    this.active = Boolean(enabled && stream && stream.isTTY);
    this.label = label;
    this.totalRows = totalRows;
    this.totalBytes = totalBytes;
    this.intervalMs = intervalMs;
    this.now = now;
    this.start = now();
    this.last = -Infinity;
    this.drawn = false;
  }

  /**
   * Report progress; redraws when the interval has passed (or force).
   * @param {number} rows rows done
   * @param {number|null} [bytesDone] input bytes consumed
   * @param {boolean} [force]
   */
  update(rows, bytesDone = null, force = false) {
    if (!this.active) return;
    const t = this.now();
    if (!force && t - this.last < this.intervalMs) return;
    this.last = t;
    this.stream.write(`\r${this.render(rows, bytesDone, t)}\x1b[K`);
    this.drawn = true;
  }

  /**
   * The text of one frame (no control characters).
   * @param {number} rows
   * @param {number|null} bytesDone
   * @param {number} t now, in ms
   * @returns {string}
   */
  render(rows, bytesDone, t) {
    const sec = (t - this.start) / 1000;
    const rate = sec > 0 ? rows / sec : 0;
    let frac = null;
    if (this.totalRows) frac = rows / this.totalRows;
    else if (this.totalBytes && bytesDone !== null) frac = bytesDone / this.totalBytes;
    if (frac !== null) frac = Math.min(1, Math.max(0, frac));
    const eta = frac && frac > 0 ? sec * (1 - frac) / frac : NaN;
    const parts = [
      this.label,
      `${rows.toLocaleString('en-US')}${this.totalRows ? `/${this.totalRows.toLocaleString('en-US')}` : ''} ${rows === 1 && !this.totalRows ? 'row' : 'rows'}`,
      `${Math.round(rate).toLocaleString('en-US')} rows/s`,
    ];
    if (frac !== null) parts.push(`ETA ${fmtClock(eta)}`);
    let text = parts.join('  ');
    if (frac !== null) {
      const cols = this.stream.columns || 80;
      const width = 24;
      if (text.length + width + 8 <= cols) {
        const fill = Math.round(frac * width);
        text += `  [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
      } else {
        text += `  ${Math.floor(frac * 100)}%`;
      }
    }
    return text;
  }

  /** Erase the bar (if one was drawn). */
  done() {
    if (this.active && this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

function fmtClock(sec) {
  if (!Number.isFinite(sec) || sec < 0) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}
