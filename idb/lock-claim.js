// idb/lock-claim.js — kernel-held claims: the part of the writer lock that dies with its holder.
//
// A claim is a listening Unix socket bound to a name in Linux's abstract socket namespace
// ("\0veclite/..."). The kernel gives three properties no lock *file* has:
//   - bind() is atomic and exclusive: of any number of racing binders exactly one succeeds, the
//     others get EADDRINUSE;
//   - the name is freed the instant its holder dies — SIGKILL, a crash, worker.terminate() (Node
//     closes a terminated worker's handles) — with nothing left on disk to judge;
//   - connect() to it succeeds while the holder lives, even while its event loop is blocked in a
//     long synchronous call (the kernel queues the connection), and fails with ECONNREFUSED once it
//     is gone. That is a proof of life or death that needs no pid, no clock and no timeout.
// idb/lock-file.js uses two kinds of claim:
//   identity  "\0veclite/i/<dev>/<ino>"  one per .rvf FILE (inode), whatever name reaches it: hard
//             links, renames, symlinks, two databases over one folder. Exactly one writer holds it.
//   writer    "\0veclite/w/<writer id>"  one per writer; its id is written in the `.lock` file, so
//             whoever finds that file can probe whether its writer still lives.
// Invariants:
// - Abstract names are per network namespace and exist only on Linux. available() says whether
//   this process can use them (probed once); where it cannot, callers fall back to the lock file's
//   own rules and say so. A writer records its network namespace in its writer id, and a probe is
//   only trusted for a writer of the same namespace.
// - Servers are unref()ed: a claim never keeps a process or worker alive. On connection the holder
//   writes one JSON line describing itself ({pid, host, path, writerId}) and closes; a reader
//   that gets no line in time still learned that the holder lives.
// - Nothing here touches the file system.

import net from 'node:net';
import fs from 'node:fs';

const PREFIX = '\0veclite/';

let netnsId; // undefined: not read yet
/** This process's network namespace inode (Linux), or 0 when it cannot be read. */
export function netns() {
  if (netnsId === undefined) {
    netnsId = 0;
    try {
      const m = /^net:\[(\d+)\]$/.exec(fs.readlinkSync('/proc/self/ns/net'));
      if (m && Number(m[1]) > 0 && Number(m[1]) <= 0xffffffff) netnsId = Number(m[1]);
    } catch {
      // no /proc: not Linux, or a sandbox without it
    }
  }
  return netnsId;
}

let availability; // Promise<boolean>
/** Whether abstract-namespace claims work here (Linux with /proc). Probed once. */
export function available() {
  if (!availability) {
    availability = (async () => {
      if (process.platform !== 'linux' || netns() === 0) return false;
      const probeName = `probe/${process.pid}/${Math.random().toString(36).slice(2)}`;
      const c = await claim(probeName, {});
      if (!c) return false;
      c.close();
      return true;
    })().catch(() => false);
  }
  return availability;
}

/** The claim name of one file (inode). */
export function identityName(dev, ino) {
  return `i/${dev}/${ino}`;
}

/** The claim name of one writer (its 16-byte id as hex). */
export function writerName(writerIdHex) {
  return `w/${writerIdHex}`;
}

/**
 * A held claim. close() frees it (idempotent); the holder's death frees it too.
 */
class Claim {
  #server;
  constructor(server, name) {
    this.#server = server;
    this.name = name;
  }
  close() {
    if (!this.#server) return;
    const s = this.#server;
    this.#server = null;
    s.close();
  }
  get held() {
    return this.#server !== null;
  }
}

/**
 * Bind `name`. Resolves to a Claim, or to null when someone else holds it (EADDRINUSE).
 * @param {string} name without the prefix
 * @param {object | (() => object|null)} hello what whoever connects is told (serialized anew each
 *   time); a function may return null to give the claim up: the connection is then closed without
 *   a hello (the prober sees 'gone' and may bind the name) and so is the claim
 * @returns {Promise<Claim|null>}
 * @throws the socket error for anything but EADDRINUSE
 */
export function claim(name, hello) {
  return new Promise((resolve, reject) => {
    let c = null;
    const server = net.createServer((sock) => {
      sock.on('error', () => {}); // a prober that hangs up early is not our problem
      const h = typeof hello === 'function' ? hello() : hello;
      if (h === null) {
        if (c) c.close(); // first: the prober that sees our hang-up must find the name free
        sock.destroy();
        return;
      }
      sock.end(JSON.stringify(h) + '\n');
    });
    server.once('error', (e) => {
      if (e?.code === 'EADDRINUSE') resolve(null);
      else reject(e);
    });
    server.listen(PREFIX + name, () => {
      server.unref();
      server.removeAllListeners('error');
      server.on('error', () => {}); // a listening server has nothing more to report
      c = new Claim(server, name);
      resolve(c);
    });
  });
}

/**
 * Is `name` held? 'alive' with the holder's hello; 'busy' when it accepted the connection but sent
 * nothing within helloMs (alive, in a long synchronous call); 'gone' when it hung up without a
 * hello (it let go of the claim just now); 'dead' when nobody holds the name.
 * @param {string} name without the prefix
 * @param {number} [helloMs] how long to wait for the hello line after connecting
 * @returns {Promise<{ state: 'alive'|'busy'|'gone'|'dead', hello: object|null }>}
 * @throws the socket error for anything but ECONNREFUSED / ENOENT
 */
export function probe(name, helloMs = 300) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(PREFIX + name);
    let buf = '';
    let connected = false;
    let timer = null;
    let settled = false;
    const done = (v) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    sock.on('connect', () => {
      connected = true;
      timer = setTimeout(() => done({ state: 'busy', hello: null }), helloMs);
    });
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        let hello = null;
        try { hello = JSON.parse(buf.slice(0, nl)); } catch { /* a garbled hello is still a live holder */ }
        done({ state: 'alive', hello });
      }
    });
    sock.on('end', () => done({ state: 'gone', hello: null }));
    sock.on('error', (e) => {
      // A reset or broken pipe is a holder that let go while we connected.
      if (connected || e?.code === 'ECONNRESET' || e?.code === 'EPIPE') return done({ state: 'gone', hello: null });
      if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOENT') done({ state: 'dead', hello: null });
      else {
        settled = true;
        reject(e);
      }
    });
  });
}
