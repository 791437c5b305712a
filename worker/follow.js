// worker/follow.js — the polling timer behind openCollection(path, { readOnly: true, follow }).
//
// A follower calls `tick` (the collection's refresh) every intervalMs when the file's size or
// identity changed since the last tick. Invariants: the timer is unref()ed, so a follower never
// keeps the process alive; ticks never overlap; stop() (called by close()) ends it for good; a
// failing tick is reported to onError (default: ignored until the next change) and does not stop
// the follower.

/**
 * @param {{ statSync: (p: string) => { size: number, ino: number, dev: number } }} fs
 * @param {string} path
 * @param {number} intervalMs
 * @param {() => Promise<unknown>} tick
 * @param {(e: unknown) => void} [onError]
 * @returns {() => void} stop
 */
export function startFollow(fs, path, intervalMs, tick, onError = () => {}) {
  let last = '';
  let busy = false;
  let stopped = false;
  const timer = setInterval(async () => {
    if (busy || stopped) return;
    let key;
    try {
      const st = fs.statSync(path);
      key = `${st.dev}:${st.ino}:${st.size}`;
    } catch {
      return; // the file is being replaced: look again next time
    }
    if (key === last) return;
    busy = true;
    try {
      await tick();
      last = key;
    } catch (e) {
      onError(e);
    } finally {
      busy = false;
    }
  }, intervalMs);
  timer.unref?.();
  return () => { stopped = true; clearInterval(timer); };
}
