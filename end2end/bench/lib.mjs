// Small helpers shared by the load tool (main thread and workers) and the report generator.
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Wall clock in milliseconds since the epoch, sub-millisecond, comparable across worker threads. */
export const nowMs = () => performance.timeOrigin + performance.now();

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const CLK_TCK = 100;

/** CPU time (user + system, ms) of a process, or null when it is gone. */
export function procCpuMs(pid) {
  const t = procCpuTimes(pid);
  return t && t.user + t.system;
}

/**
 * CPU time of a process split into user and system (kernel: syscalls, and the loopback TCP work
 * that the kernel charges to the sender), ms, or null when it is gone.
 */
export function procCpuTimes(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return { user: (utime * 1000) / CLK_TCK, system: (stime * 1000) / CLK_TCK };
  } catch {
    return null;
  }
}

/**
 * CPU time (ms) of every PostgreSQL server process now, by pid: the postmaster, its background
 * workers and one backend per connection (a pool keeps its connections, so they live through a run).
 */
export function postgresCpuByPid() {
  const byPid = {};
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const t = procCpuTimes(pid);
      if (t) byPid[pid] = t.user + t.system;
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** Resident memory (VmRSS, KiB) of a process, or null when it is gone. */
export function procRssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Context switches (voluntary + involuntary) of all the threads of a process, or null. */
export function procCtxSwitches(pid) {
  try {
    let n = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        for (const m of st.matchAll(/ctxt_switches:\s+(\d+)/g)) n += Number(m[1]);
      } catch {
        /* the thread ended */
      }
    }
    return n;
  } catch {
    return null;
  }
}

/** p50/p90/p99/max/mean of a list of numbers (sorted in place when it is a typed array). */
export function summarize(values) {
  const n = values.length;
  if (n === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sorted = values instanceof Float64Array ? values.sort() : Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(n - 1, Math.floor(q * n))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const r = (x) => Math.round(x * 100) / 100;
  return { count: n, p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(sorted[n - 1]), mean: r(sum / n) };
}

/** A growable list of doubles (latency samples), cheap to hand to another thread. */
export class Samples {
  constructor(capacity = 1024) {
    this.buf = new Float64Array(capacity);
    this.length = 0;
  }
  push(x) {
    if (this.length === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = x;
  }
  toArray() {
    return this.buf.slice(0, this.length);
  }
}

/** A growable set of small non-negative integers (message numbers, seqs). */
export class BitSet {
  constructor(bytes = 16) {
    this.bits = new Uint8Array(bytes);
  }
  /** Sets bit n; returns false when it was already set. */
  add(n) {
    const byte = n >> 3;
    if (byte >= this.bits.length) {
      const bigger = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      bigger.set(this.bits);
      this.bits = bigger;
    }
    const mask = 1 << (n & 7);
    if (this.bits[byte] & mask) return false;
    this.bits[byte] |= mask;
    return true;
  }
  static from(bytes) {
    const s = new BitSet(1);
    s.bits = bytes;
    return s;
  }
  has(n) {
    const byte = n >> 3;
    return byte < this.bits.length && (this.bits[byte] & (1 << (n & 7))) !== 0;
  }
  /** How many bits of `this` are not set in `other`. */
  countMissingFrom(other) {
    let missing = 0;
    for (let i = 0; i < this.bits.length; i++) {
      const o = i < other.bits.length ? other.bits[i] : 0;
      missing += popcount(this.bits[i] & ~o & 0xff);
    }
    return missing;
  }
  size() {
    let n = 0;
    for (let i = 0; i < this.bits.length; i++) n += popcount(this.bits[i]);
    return n;
  }
}

function popcount(b) {
  b = b - ((b >> 1) & 0x55);
  b = (b & 0x33) + ((b >> 2) & 0x33);
  return (b + (b >> 4)) & 0x0f;
}

/** The message's client id carries who sent it, its number and when: `<sender>.<n>.<epoch ms>`. */
export function makeClientId(sender, n, sentAt) {
  return `${sender}.${n}.${sentAt.toFixed(2)}`;
}

export function parseClientId(clientId) {
  if (typeof clientId !== 'string') return null;
  const a = clientId.indexOf('.');
  const b = a < 0 ? -1 : clientId.indexOf('.', a + 1);
  if (b < 0) return null;
  const sender = Number(clientId.slice(0, a));
  const n = Number(clientId.slice(a + 1, b));
  const sentAt = Number(clientId.slice(b + 1));
  if (!Number.isInteger(sender) || !Number.isInteger(n) || !Number.isFinite(sentAt)) return null;
  return { sender, n, sentAt };
}

/** Median, min and max of a list of numbers (nulls ignored). */
export function spread(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: null, min: null, max: null, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/** Runs `fn(0..n)` with at most `limit` at once; the results in order. */
export async function poolRun(n, limit, fn) {
  const out = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}
