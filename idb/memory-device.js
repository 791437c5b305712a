// idb/memory-device.js — a growable byte buffer in JavaScript as a storage device (the five
// operations of src/io.h), for stores whose bytes must be handed on: a pooled writer's store in
// memory ships what it appends to its replicas, and each replica's store reads them from here.
//
// Operations (synchronous, like every device the engine calls from inside a C call):
//   read(off, dst)   fill dst from [off, off + dst.length); past the end throws (never short)
//   append(src)      copy src to the end (the buffer doubles as it grows)
//   size()           bytes held
//   truncate(n)      forget everything from n on (a rolled-back commit)
//   sync()           nothing to do: memory is as durable as it gets
// And for the pool: slice(from, to) (a copy), extend(from, bytes) (a replica receives what its
// writer appended at `from`).
//
// Invariants:
// - extend() only appends at the current end: a gap or an overlap means a message was lost or
//   replayed, and throws instead of corrupting the image.
// - A device whose writes were refused (refuseWrites) throws EREADONLY on append/truncate.

class MemoryDeviceError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

export class MemoryDevice {
  #buf;
  #len;
  #refused = null;

  /** @param {Uint8Array} [bytes] initial contents (copied) */
  constructor(bytes) {
    const n = bytes ? bytes.length : 0;
    this.#buf = new Uint8Array(Math.max(4096, n));
    if (n) this.#buf.set(bytes);
    this.#len = n;
  }

  read(off, dst) {
    if (off < 0 || off + dst.length > this.#len) {
      throw new MemoryDeviceError('EIO', `read of ${dst.length} bytes at ${off} passes the end (${this.#len} bytes)`);
    }
    dst.set(this.#buf.subarray(off, off + dst.length));
  }

  append(src) {
    if (this.#refused) throw this.#refused;
    this.#reserve(this.#len + src.length);
    this.#buf.set(src, this.#len);
    this.#len += src.length;
  }

  size() { return this.#len; }

  truncate(n) {
    if (this.#refused) throw this.#refused;
    if (n < this.#len) this.#len = n;
    else this.append(new Uint8Array(n - this.#len));
  }

  sync() {}

  close() {}

  refuseWrites(why) {
    this.#refused = new MemoryDeviceError('EREADONLY', why?.message ?? String(why));
  }

  /**
   * Forget bytes from n on, even on a device that refuses writes: a follower keeps only what its
   * store accepted as committed, so bytes of a commit its writer later rolled back are re-read.
   */
  cut(n) {
    if (n < this.#len) this.#len = n;
  }

  /** A copy of bytes [from, to). */
  slice(from, to = this.#len) {
    return this.#buf.slice(from, Math.min(to, this.#len));
  }

  /** Append bytes a writer wrote at offset `from`, which must be this device's end. */
  extend(from, bytes) {
    if (from !== this.#len) {
      throw new MemoryDeviceError('EIO', `replica is at byte ${this.#len} but its writer sent bytes from ${from}; ` +
        'the replica must be reopened from the writer\'s image');
    }
    this.#reserve(this.#len + bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  #reserve(n) {
    if (n <= this.#buf.length) return;
    let cap = this.#buf.length;
    while (cap < n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
}
