#!/usr/bin/env node
// What one client can do to the server, measured from outside: each attack of the security review
// runs against a fresh server (end2end/bench/attacks.sh starts them), and this records the
// server's resident memory (VmRSS of /proc/<pid>/status) before, at its peak and at fixed times
// after the attack stops, what the server refused or closed, and, for the million-message room,
// how long queries take for the attacker and for everyone else. BENCHMARKS.md's "Under attack"
// section is rendered from the results by end2end/bench/attacks-report.mjs.
//
//   node end2end/bench/attacks.mjs --attack history --url http://127.0.0.1:3600 --server-pid PID \
//     --admin-user U --admin-password P --out target/bench-results/attacks-before.json
//
// Attacks: history, catchup, static, apipage, polling, binary, million (the last in three phases:
// `--phase setup` with the server running, `--phase seed --db FILE` with it stopped, `--phase
// measure` with it running again; `--state FILE` carries ids between them).
//
// Sockets are raw TCP with WebSocket frames written by hand, not socket.io-client: the attacks
// depend on a client that does not read what it is sent, and a client library always reads.
// Only loopback targets are accepted. Every attack is bounded by a watchdog, and `--out` is
// rewritten after each attack, so a run cut short keeps what it measured.
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { nowMs, poolRun, procCpuMs, procRssKb, sleep, summarize } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    attack: { type: 'string' },
    phase: { type: 'string', default: 'measure' },
    url: { type: 'string', default: 'http://127.0.0.1:3600' },
    'server-pid': { type: 'string' },
    'admin-user': { type: 'string', default: process.env.ADMIN_USERNAME || '' },
    'admin-password': { type: 'string', default: process.env.ADMIN_PASSWORD || '' },
    password: { type: 'string', default: 'attack-password' },
    out: { type: 'string' },
    label: { type: 'string', default: '' },
    'server-build': { type: 'string', default: '' },
    state: { type: 'string' },
    db: { type: 'string' },
    watchdog: { type: 'string', default: '170' },
    // Shortens every wait (not the counts), for trying the tool out; the report needs 1.
    'time-scale': { type: 'string', default: '1' },
  },
});

const base = new URL(opt.url);
if (!['127.0.0.1', 'localhost'].includes(base.hostname)) die('only loopback targets are allowed');
const HOST = '127.0.0.1';
const PORT = Number(base.port || 80);
const serverPid = opt['server-pid'] ? Number(opt['server-pid']) : null;
const SCALE = Number(opt['time-scale']);
const T0 = nowMs();

function die(msg) {
  console.error(`attacks: ${msg}`);
  process.exit(2);
}
const log = (...a) => console.error(`[${opt.attack} ${((nowMs() - T0) / 1000).toFixed(1)}s]`, ...a);
const round = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
const mb = (kb) => (kb === null || kb === undefined ? null : round(kb / 1024, 1));
/** Seconds of a wait, scaled (`--time-scale`), in ms. */
const secs = (s) => s * 1000 * SCALE;

// ---------- the result of this attack, merged into --out ----------

const result = {
  attack: opt.attack,
  phase: opt.phase,
  started_at: new Date().toISOString(),
  time_scale: SCALE,
  params: {},
  // What the report shows, in order: {key, label, value, unit}. `key` pairs a row of one run
  // with the same row of another (before / after).
  figures: [],
  rss_trace: [],
  notes: [],
  problems: [],
};
const fig = (key, label, value, unit = '') => {
  result.figures = result.figures.filter((f) => f.key !== key);
  result.figures.push({ key, label, value, unit });
};

let finished = false;
function finish(code = 0) {
  if (finished) return;
  finished = true;
  rss?.stop();
  result.elapsed_s = round((nowMs() - T0) / 1000, 1);
  result.ok = code === 0 && result.problems.length === 0;
  if (opt.out && opt.phase === 'measure') writeMerged(opt.out);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n', () => process.exit(code));
}

/** Adds this attack to the results file of the run (one file per label, one entry per attack). */
function writeMerged(path) {
  let doc = null;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    /* first attack of the run */
  }
  if (!doc || doc.tool !== 'tagarela end2end/bench/attacks.mjs') doc = { tool: 'tagarela end2end/bench/attacks.mjs', attacks: {} };
  doc.label = opt.label;
  doc.server_build = opt['server-build'] || doc.server_build;
  doc.host = hostInfo();
  doc.updated_at = new Date().toISOString();
  doc.attacks[opt.attack] = result;
  writeFileSync(path + '.tmp', JSON.stringify(doc, null, 2) + '\n');
  renameSync(path + '.tmp', path);
}

function hostInfo() {
  let cpu = 'unknown';
  try {
    cpu = (/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8')) || [])[1] || cpu;
  } catch {
    /* not Linux */
  }
  return { nproc: os.cpus().length, cpu_model: cpu, kernel: os.release(), node: process.version, loadavg: os.loadavg().map((x) => round(x, 2)) };
}

setTimeout(() => {
  result.problems.push(`watchdog: still running after ${opt.watchdog} s`);
  finish(3);
}, Number(opt.watchdog) * 1000).unref();
process.on('unhandledRejection', (e) => {
  result.problems.push(`error: ${(e && e.stack) || e}`);
  finish(4);
});

// ---------- server memory ----------

/** Samples the server's RSS five times a second: the peak, and a trace (one point a second). */
class RssWatch {
  constructor(pid) {
    this.pid = pid;
    this.t0 = nowMs();
    this.peak = 0;
    this.lastTrace = -1;
    this.timer = setInterval(() => this.tick(), 200);
  }
  tick() {
    const kb = procRssKb(this.pid);
    if (kb === null) return;
    if (kb > this.peak) this.peak = kb;
    const s = Math.floor((nowMs() - this.t0) / 1000);
    if (s !== this.lastTrace) {
      this.lastTrace = s;
      result.rss_trace.push([s, kb]);
    }
  }
  now() {
    this.tick();
    return procRssKb(this.pid);
  }
  stop() {
    clearInterval(this.timer);
  }
}
let rss = null;

/**
 * Kernel memory in TCP socket buffers, KiB, for the whole machine (/proc/net/sockstat counts
 * pages). Not part of any process's RSS: on loopback, whose segments are 64 KiB, the kernel takes
 * up to a few MB of what a non-reading client is sent per connection before the server's own
 * memory grows, so this is shown beside the RSS.
 */
function tcpMemKb() {
  try {
    const m = /^TCP:.* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
    return m ? Number(m[1]) * 4 : null;
  } catch {
    return null;
  }
}

/** The median of three readings 300 ms apart: the level before an attack, not a blip. */
async function steadyRss() {
  const v = [];
  for (let i = 0; i < 3; i++) {
    v.push(procRssKb(serverPid));
    await sleep(300);
  }
  return v.sort((a, b) => a - b)[1];
}

// ---------- HTTP ----------

const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/**
 * One HTTP request over `agent`; resolves {status, body, ms} (ms from the request's start to
 * the last byte of the response) and never rejects: a failure is status 0 with `error`.
 */
function request(method, path, { body, token, agent = setupAgent, timeoutMs = 30000, headers = {} } = {}) {
  return new Promise((resolve) => {
    const t = nowMs();
    const h = { ...headers };
    let data;
    if (body !== undefined) {
      data = Buffer.from(JSON.stringify(body));
      h['Content-Type'] = 'application/json';
      h['Content-Length'] = data.length;
    }
    if (token) h.Authorization = `Bearer ${token}`;
    const req = http.request({ host: HOST, port: PORT, method, path, headers: h, agent, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), ms: nowMs() - t }));
      res.on('error', (e) => resolve({ status: 0, error: e.code || e.message, ms: nowMs() - t }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => resolve({ status: 0, error: e.code || e.message, ms: nowMs() - t }));
    req.end(data);
  });
}

async function api(method, path, body, token) {
  const r = await request(method, path, { body, token });
  let json = null;
  try {
    json = JSON.parse(r.body.toString('utf8'));
  } catch {
    /* not JSON */
  }
  return { ...r, json };
}

async function must(what, p, ok = [200, 201]) {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${r.error || (r.body || '').toString().slice(0, 200)}`);
  return r.json;
}

const adminLogin = () =>
  must('admin login', api('POST', '/api/auth/login', { username: opt['admin-user'], password: opt['admin-password'] }));

/** Signs a user up (or in, when it exists): {token, user}. */
async function userLogin(username) {
  const r = await api('POST', '/api/auth/register', { username, password: opt.password });
  if (r.status === 201 || r.status === 200) return r.json;
  return must(`login ${username}`, api('POST', '/api/auth/login', { username, password: opt.password }));
}

const createRoom = (token, name) => must(`create room ${name}`, api('POST', '/api/admin/rooms', { name }, token));

/** About `size` characters of text, different for each message. */
function longText(i, size) {
  const words = `message ${i}: the quick brown fox jumps over the lazy dog while the chat keeps every word; `;
  return words.repeat(Math.ceil(size / words.length)).slice(0, size);
}

/** `count` messages of `size` characters in `room`, by `token`'s user (made a member first). */
async function seedMessages(token, room, count, size) {
  const s = await Sio.connect({ token });
  const join = await s.call('joinRoom', { roomId: room });
  s.close();
  if (!join?.ok) throw new Error(`joinRoom before seeding: ${JSON.stringify(join)}`);
  const t = nowMs();
  await poolRun(count, 8, (i) => must('seed message', api('POST', `/api/rooms/${room}/messages`, { text: longText(i, size) }, token)));
  log(`seeded ${count} messages of ${size} characters in ${((nowMs() - t) / 1000).toFixed(1)} s`);
}

// ---------- WebSocket by hand ----------

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One client frame: FIN set, masked (RFC 6455 requires clients to mask). */
function wsFrame(opcode, payload, mask = randomBytes(4)) {
  const len = payload.length;
  let head;
  if (len < 126) {
    head = Buffer.alloc(6);
    head[1] = 0x80 | len;
  } else if (len < 65536) {
    head = Buffer.alloc(8);
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(14);
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = 0x80 | opcode;
  mask.copy(head, head.length - 4);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, body]);
}

/** Server frames (never masked, rarely fragmented) out of a byte stream. */
class FrameReader {
  constructor(onFrame) {
    this.buf = Buffer.alloc(0);
    this.onFrame = onFrame;
    this.fragments = null;
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      const mask = masked ? b.subarray(off, off + 4) : null;
      if (masked) off += 4;
      if (b.length < off + len) return;
      let payload = b.subarray(off, off + len);
      if (mask) payload = Buffer.from(payload.map((x, i) => x ^ mask[i & 3]));
      this.buf = b.subarray(off + len);
      const fin = (b[0] & 0x80) !== 0;
      const opcode = b[0] & 0x0f;
      if (opcode === 0 && this.fragments) {
        this.fragments.parts.push(payload);
        if (fin) {
          const { op, parts } = this.fragments;
          this.fragments = null;
          this.onFrame(op, Buffer.concat(parts));
        }
      } else if (opcode < 8 && !fin) {
        this.fragments = { op: opcode, parts: [payload] };
      } else {
        this.onFrame(opcode, payload);
      }
    }
  }
}

/** Opens a TCP connection; rejects after `timeoutMs`. */
function tcpConnect(timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port: PORT });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('connect timeout'));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A WebSocket over a raw TCP socket, which can stop reading and still write. */
class Ws {
  static async open(path, headers = {}, timeoutMs = 10000) {
    const sock = await tcpConnect(timeoutMs);
    sock.setNoDelay(true);
    const key = randomBytes(16).toString('base64');
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(
      `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    const { head, rest } = await new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => done(new Error('no upgrade response')), timeoutMs);
      const onData = (d) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end >= 0) done(null, { head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) });
      };
      const onEnd = () => done(new Error('closed during the upgrade'));
      function done(err, v) {
        clearTimeout(timer);
        // Paused until `start`: bytes after the head (the open packet) wait for their reader.
        sock.pause();
        sock.removeListener('data', onData);
        sock.removeListener('error', onEnd);
        sock.removeListener('close', onEnd);
        if (err) {
          sock.destroy();
          reject(err);
        } else resolve(v);
      }
      sock.on('data', onData);
      sock.on('error', onEnd);
      sock.on('close', onEnd);
    });
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
    const accept = /sec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
    const expected = createHash('sha1').update(key + WS_GUID).digest('base64');
    if (status !== 101 || accept !== expected) {
      sock.destroy();
      throw new Error(`WebSocket upgrade refused: ${head.split('\r\n')[0]}`);
    }
    return new Ws(sock, rest);
  }

  constructor(sock, rest) {
    this.sock = sock;
    this.closed = false;
    this.closedAt = null;
    this.closeReason = null;
    this.bytesIn = 0;
    this.onText = null;
    this.onClose = null;
    this.reader = new FrameReader((op, payload) => this.frame(op, payload));
    this.onData = (d) => {
      this.bytesIn += d.length;
      this.reader.push(d);
    };
    this.rest = rest;
    sock.on('error', (e) => this.markClosed(`error ${e.code || e.message}`));
    sock.on('close', () => this.markClosed('closed'));
  }
  /** Starts reading, once the handlers are set (the first frames may have come with the head). */
  start() {
    const rest = this.rest;
    this.rest = null;
    if (rest.length) this.onData(rest);
    this.resumeReading();
  }
  markClosed(reason) {
    if (this.closed) return;
    this.closed = true;
    this.closedAt = nowMs();
    this.closeReason = reason;
    this.onClose?.();
  }
  frame(op, payload) {
    if (op === 1) this.onText?.(payload.toString('utf8'));
    else if (op === 8) this.markClosed('close frame');
    else if (op === 9) this.write(wsFrame(10, payload));
  }
  write(buf) {
    if (this.closed || this.sock.destroyed) return false;
    this.sock.write(buf);
    return true;
  }
  sendText(s) {
    return this.write(wsFrame(1, Buffer.from(s)));
  }
  /** From now on nothing is read: what the server sends stays in the kernel's buffers, then its own. */
  stopReading() {
    this.sock.removeListener('data', this.onData);
    this.sock.pause();
  }
  resumeReading() {
    this.sock.on('data', this.onData);
    this.sock.resume();
  }
  destroy() {
    this.sock.destroy();
  }
}

/**
 * Whether the server has closed a connection this client does not read. A paused socket sees no
 * FIN (it queues behind the unread data), but the server's kernel answers data sent to a closed
 * socket with a reset, and the write after that fails: so write, wait, write, wait.
 */
async function probeClosed(conns, write) {
  for (const c of conns) if (!c.closed) write(c);
  await sleep(200);
  for (const c of conns) if (!c.closed) write(c);
  await sleep(200);
  return conns.filter((c) => c.closed).length;
}

/**
 * Engine.IO v4 / Socket.IO v5 on `Ws`: the open packet, CONNECT, events with ack ids, acks.
 * Answers the server's pings only while reading (a non-reading client sends pongs on a timer).
 */
class Sio {
  static async connect({ token, via = 'auth', timeoutMs = 15000 } = {}) {
    const headers = token && via === 'header' ? { Authorization: `Bearer ${token}` } : {};
    const ws = await Ws.open('/socket.io/?EIO=4&transport=websocket', headers, timeoutMs);
    const s = new Sio(ws);
    await s.wait(() => s.open, timeoutMs, 'no Engine.IO open packet');
    if (token !== undefined) {
      ws.sendText(via === 'auth' ? `40${JSON.stringify({ token })}` : '40');
      await s.wait(() => s.sid || s.connectError, timeoutMs, 'no CONNECT reply');
      if (s.connectError) {
        ws.destroy();
        throw new Error(`connect_error ${JSON.stringify(s.connectError)}`);
      }
    }
    return s;
  }

  constructor(ws) {
    this.ws = ws;
    this.open = null;
    this.sid = null;
    this.connectError = null;
    this.nextAck = 1;
    this.pending = new Map();
    this.acks = { ok: 0, refused: 0, errors: {} };
    this.waiters = [];
    ws.onText = (t) => this.text(t);
    ws.onClose = () => this.poke();
    ws.start();
  }
  poke() {
    this.waiters = this.waiters.filter((w) => !w());
  }
  wait(cond, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(what)), timeoutMs);
      const check = () => {
        if (cond()) {
          clearTimeout(timer);
          resolve();
          return true;
        }
        if (this.ws.closed) {
          clearTimeout(timer);
          reject(new Error(`${what}: connection ${this.ws.closeReason}`));
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.push(check);
    });
  }
  text(t) {
    if (t[0] === '0') this.open = JSON.parse(t.slice(1));
    else if (t[0] === '2') this.ws.sendText('3');
    else if (t[0] === '4') this.packet(t.slice(1));
    else if (t[0] === '1') this.ws.markClosed('engine.io close');
    this.poke();
  }
  packet(p) {
    if (p[0] === '0') this.sid = JSON.parse(p.slice(1) || '{}').sid || 'connected';
    else if (p[0] === '4') this.connectError = JSON.parse(p.slice(1) || '{}');
    else if (p[0] === '3') {
      const m = /^3(\d+)/.exec(p);
      if (!m) return;
      let reply = null;
      try {
        reply = JSON.parse(p.slice(m[0].length))[0];
      } catch {
        /* counted as refused below */
      }
      if (reply?.ok === true) this.acks.ok++;
      else {
        this.acks.refused++;
        const code = reply?.error?.error || 'unreadable';
        this.acks.errors[code] = (this.acks.errors[code] || 0) + 1;
      }
      const id = Number(m[1]);
      this.pending.get(id)?.(reply);
      this.pending.delete(id);
    }
  }
  /** Sends an event with an ack id; returns the id. */
  emit(event, data) {
    const id = this.nextAck++;
    this.ws.sendText(`42${id}${JSON.stringify([event, data])}`);
    return id;
  }
  /** An event and its ack (the client must be reading). */
  call(event, data, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      const id = this.emit(event, data);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${event}: no ack in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }
  close() {
    this.ws.destroy();
  }
}

/** The engine.io pong: what keeps a socket that never reads the server's pings alive. */
const PONG = wsFrame(1, Buffer.from('3'));

/**
 * Holds until each checkpoint (seconds after `from`), sending every open WebSocket a pong every
 * `keepaliveS` seconds and probing every connection every `probeEveryS` seconds (so that a close
 * is seen, and timed, within that); at each checkpoint, the server's RSS and how many
 * connections it has closed.
 */
async function hold({ from, checkpoints, conns, keepaliveS = 20, probe, probeEveryS = 5 }) {
  const out = [];
  let nextKeepalive = nowMs() + secs(keepaliveS);
  let nextProbe = probe ? nowMs() + secs(probeEveryS) : Infinity;
  for (const cp of checkpoints) {
    const at = from + secs(cp);
    while (nowMs() < at) {
      await sleep(Math.max(0, Math.min(at, nextKeepalive, nextProbe) - nowMs()));
      if (nowMs() >= nextKeepalive) {
        for (const c of conns) if (c.ws && !c.ws.closed) c.ws.write(PONG);
        nextKeepalive += secs(keepaliveS);
      }
      if (nowMs() >= nextProbe && nowMs() < at - 500) {
        await probe();
        nextProbe += secs(probeEveryS);
      }
    }
    const kb = rss.now();
    const tcp = tcpMemKb();
    const closed = probe ? await probe() : null;
    out.push({ at_s: round(cp * SCALE, 1), rss_kb: kb, tcp_kb: tcp, closed });
    log(`+${round(cp * SCALE, 1)} s: RSS ${mb(kb)} MB${closed === null ? '' : `, ${closed} of ${conns.length} closed by the server`}`);
  }
  return out;
}

/** When the server closed connections, in seconds after `from`: the first and the last. */
function closeTimes(conns, from) {
  const t = conns.filter((c) => c.closed && c.closedAt).map((c) => (c.closedAt - from) / 1000).sort((a, b) => a - b);
  return t.length ? { first: round(t[0], 1), last: round(t[t.length - 1], 1), n: t.length } : null;
}
const closeText = (ct, what) => (ct ? `${ct.first}–${ct.last} s after ${what}` : 'never');

/** The row for the kernel's TCP buffers: before the attack, and the most seen at a checkpoint. */
function tcpFigure(startKb, marks) {
  const most = Math.max(...marks.map((m) => m.tcp_kb ?? 0));
  fig('tcp_mem', 'kernel TCP buffers, whole machine (not in the RSS): before / most while held, MB', `${mb(startKb)} / ${mb(most)}`, 'text');
}

// ---------- 1 and 1b: a socket that asks for big replies and never reads them ----------

/**
 * One authenticated socket asks for big pages (`history` of 200 messages, or `joinRoom` catch-up
 * pages of 500) as fast as the per-socket event limit lets it, and never reads the replies.
 */
async function attackNonReading(kind) {
  const P =
    kind === 'history'
      ? { messages: 220, size: 1000, events: 200, event: 'history', what: 'history pages of 200 messages' }
      : { messages: 520, size: 1000, events: 100, event: 'joinRoom', what: 'joinRoom catch-up pages (since 0, up to 500 messages)' };
  result.params = { ...P, checkpoints_s: [10, 40, 60], events_per_window: 45, window_ms: 1100 };
  const admin = await adminLogin();
  const room = await createRoom(admin.token, `attack-${kind}`);
  await seedMessages(admin.token, room.id, P.messages, P.size);
  const attacker = await userLogin(`attacker_${kind}`);
  const payload = kind === 'history' ? { roomId: room.id, limit: 200 } : { roomId: room.id, since: 0 };

  const sio = await Sio.connect({ token: attacker.token });
  // The handshake has been read; from here on nothing is, until the drain at the end.
  sio.ws.stopReading();
  const start = await steadyRss();
  const tcpStart = tcpMemKb();
  rss = new RssWatch(serverPid);
  log(`RSS before: ${mb(start)} MB; sending ${P.events} ${P.event}`);

  // 50 events per second per socket are allowed (API.md Limits): 45 per 1.1 s stays under the
  // budget, so every request is served, not refused.
  let sent = 0;
  while (sent < P.events && !sio.ws.closed) {
    const n = Math.min(45, P.events - sent);
    for (let i = 0; i < n; i++) {
      sio.emit(P.event, payload);
      sent++;
    }
    if (sent < P.events) await sleep(1100);
  }
  const sentAt = nowMs();
  log(`sent ${sent} in ${((sentAt - rss.t0) / 1000).toFixed(1)} s; holding without reading`);
  const marks = await hold({
    from: sentAt,
    checkpoints: [10, 40, 60],
    conns: [sio],
    keepaliveS: 20,
    probe: () => probeClosed([sio.ws], (c) => c.write(PONG)),
  });
  const closedByServer = sio.ws.closed;
  // From the first request: a server may close the socket while it is still asking.
  const closedAfter = closedByServer ? round((sio.ws.closedAt - rss.t0) / 1000, 1) : null;

  // Read at last: what the server kept for this client arrives now (or nothing, if it closed).
  const bytesBefore = sio.ws.bytesIn;
  const drainStart = nowMs();
  if (!sio.ws.closed) {
    sio.ws.resumeReading();
    await sio.wait(() => sio.acks.ok + sio.acks.refused >= sent, secs(20), 'drain').catch(() => {});
  }
  const drained = sio.ws.bytesIn - bytesBefore;
  const drainS = round((nowMs() - drainStart) / 1000, 1);
  sio.close();
  await sleep(secs(5));
  const afterClose = rss.now();

  fig('rss_start', 'server RSS before, MB', mb(start), 'MB');
  fig('rss_peak', 'server RSS peak, MB', mb(rss.peak), 'MB');
  marks.forEach((m, i) => fig(`rss_hold_${i}`, `server RSS ${m.at_s} s after the last request (socket open, unread), MB`, mb(m.rss_kb), 'MB'));
  fig('rss_closed', 'server RSS 5 s after the client closed, MB', mb(afterClose), 'MB');
  tcpFigure(tcpStart, marks);
  fig('sent', `${P.what} requested`, sent);
  fig('closed', 'server closed the socket (within 60 s of the last request)', closedByServer ? `yes, ${closedAfter} s after the first request` : 'no', 'text');
  fig('replies_ok', 'replies read when the client finally read: ok', sio.acks.ok);
  fig('replies_refused', '… refused', sio.acks.refused);
  fig('queued_mb', 'bytes the server still had for the client, MB', round(drained / 1048576, 1), 'MB');
  result.counts = { sent, closed_by_server: closedByServer, closed_after_s: closedAfter, acks: sio.acks, drained_bytes: drained, drain_s: drainS };
  result.rss_kb = { start, peak: rss.peak, marks, after_close: afterClose };
}

// ---------- 2 and 2b: HTTP connections that never read the response ----------

/** The biggest file (or page) this server serves, read in full once, uncompressed. */
async function biggestAsset() {
  const candidates = ['/pkg/tagarela.wasm', '/pkg/tagarela_bg.wasm', '/vendor/socket.io.min.js', '/pkg/tagarela.js', '/pkg/tagarela.css', '/login', '/register', '/'];
  const found = [];
  for (const path of candidates) {
    const r = await request('GET', path, { headers: { 'Accept-Encoding': 'identity' } });
    if (r.status === 200) found.push({ path, bytes: r.body.length });
  }
  found.sort((a, b) => b.bytes - a.bytes);
  result.params.candidates = found;
  if (!found.length) throw new Error('the server serves none of the candidate paths');
  return found[0];
}

/**
 * A history page of 200 messages of 4,000 characters (about 0.8 MB of JSON) that any signed-in
 * user can ask for: the same attack as the static file, on every binary, site or not.
 */
async function bigApiPage() {
  const admin = await adminLogin();
  const room = await createRoom(admin.token, 'attack-apipage');
  await seedMessages(admin.token, room.id, 200, 4000);
  const attacker = await userLogin('attacker_apipage');
  const path = `/api/rooms/${room.id}/messages?limit=200`;
  const r = await request('GET', path, { token: attacker.token, headers: { 'Accept-Encoding': 'identity' } });
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}`);
  return { path, bytes: r.body.length, token: attacker.token };
}

async function attackNonReadingHttp(kind) {
  const N = 200;
  const target = kind === 'static' ? await biggestAsset() : await bigApiPage();
  result.params = { ...result.params, connections: N, path: target.path, response_bytes: target.bytes, checkpoints_s: [5, 35, 65] };
  if (kind === 'static' && !target.path.endsWith('.wasm')) result.notes.push(`no WASM bundle in this binary (built without the site): the biggest response it has is \`${target.path}\`, ${target.bytes} bytes`);
  log(`target ${target.path}, ${target.bytes} bytes`);
  const start = await steadyRss();
  const tcpStart = tcpMemKb();
  rss = new RssWatch(serverPid);
  const auth = target.token ? `Authorization: Bearer ${target.token}\r\n` : '';
  const req = `GET ${target.path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nAccept-Encoding: identity\r\n${auth}\r\n`;
  let refused = 0;
  const conns = (
    await poolRun(N, 50, async () => {
      const c = { closed: false, closedAt: null };
      try {
        c.sock = await new Promise((resolve, reject) => {
          const s = net.connect({ host: HOST, port: PORT });
          // Paused before it connects, Node never starts reading: not one byte of the response
          // leaves the kernel's receive buffer.
          s.pause();
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
      } catch {
        refused++;
        return null;
      }
      c.sock.on('error', () => {});
      c.sock.on('close', () => {
        c.closed = true;
        c.closedAt = nowMs();
      });
      c.sock.write(req);
      return c;
    })
  ).filter(Boolean);
  const sentAt = nowMs();
  log(`${conns.length} requests sent (${refused} connections refused); holding without reading`);
  // The probe is an empty line: if the connection is still open, HTTP/1.1 allows blank lines
  // before the next request, so it changes nothing.
  const marks = await hold({
    from: sentAt,
    checkpoints: [5, 35, 65],
    conns,
    probe: () => probeClosed(conns, (c) => !c.sock.destroyed && c.sock.write('\r\n')),
  });
  // Before the client closes them itself, which would count too.
  const ct = closeTimes(conns, sentAt);
  for (const c of conns) c.sock.destroy();
  await sleep(secs(5));
  const afterClose = rss.now();
  const size = target.bytes >= 100 * 1024 ? `${(target.bytes / 1048576).toFixed(2)} MB` : `${(target.bytes / 1024).toFixed(1)} KB`;
  fig('target', 'response asked for', `\`${target.path.replace(/\/api\/rooms\/\d+/, '/api/rooms/{id}')}\`, ${size}`, 'text');
  fig('rss_start', 'server RSS before, MB', mb(start), 'MB');
  fig('rss_peak', 'server RSS peak, MB', mb(rss.peak), 'MB');
  marks.forEach((m, i) => fig(`rss_hold_${i}`, `server RSS ${m.at_s} s after the requests, MB`, mb(m.rss_kb), 'MB'));
  fig('rss_closed', 'server RSS 5 s after the client closed them, MB', mb(afterClose), 'MB');
  tcpFigure(tcpStart, marks);
  fig('opened', 'connections opened / refused', `${conns.length} / ${refused}`, 'text');
  marks.forEach((m, i) => fig(`closed_${i}`, `connections closed by the server at +${m.at_s} s`, m.closed));
  fig('closed_when', 'the server closed them (seen within 5 s)', closeText(ct, 'the requests'), 'text');
  result.counts = { opened: conns.length, refused, closed_at_marks: marks.map((m) => m.closed), close_times_s: ct };
  result.rss_kb = { start, peak: rss.peak, marks, after_close: afterClose };
}

// ---------- 3: anonymous long-polling handshakes ----------

/**
 * `max` Engine.IO handshakes over long-polling, `concurrency` at a time, for at most `limitS`
 * seconds; the statuses, and the session ids of the first and last handshakes.
 */
async function pollingFlood(max, concurrency, limitS) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const path = '/socket.io/?EIO=4&transport=polling';
  const t0 = nowMs();
  const deadline = t0 + secs(limitS);
  const status = {};
  const errors = {};
  const sids = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < max && nowMs() < deadline) {
        sent++;
        const r = await request('GET', path, { agent, timeoutMs: 10000 });
        if (r.status === 0) errors[r.error] = (errors[r.error] || 0) + 1;
        else status[r.status] = (status[r.status] || 0) + 1;
        // '0{"sid":…}': a session was opened; keep the first and the latest.
        if (r.status === 200 && r.body[0] === 0x30) {
          const sid = /"sid":"([^"]+)"/.exec(r.body.toString('utf8', 0, 200))?.[1];
          if (sid) sids[sids.length ? 1 : 0] = sid;
        }
        // A server that refuses by closing would otherwise be hammered in a tight loop.
        if (r.status === 0) await sleep(5);
      }
    }),
  );
  agent.destroy();
  const ok = status[200] || 0;
  const failed = Object.values(errors).reduce((a, b) => a + b, 0);
  return { sent, ok, refused: sent - ok - failed, failed, status, errors, sids, seconds: (nowMs() - t0) / 1000 };
}

/** Whether the server still has an Engine.IO connection: a poll answers 200 (packets) or 400 (unknown sid). */
async function sessionAlive(sid) {
  if (!sid) return null;
  const r = await request('GET', `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`, { timeoutMs: secs(30) + 5000 });
  return r.status === 200 ? 'open' : r.status === 0 ? `no answer (${r.error})` : `closed (HTTP ${r.status})`;
}

async function attackPolling() {
  const MAX = 150000;
  const CONCURRENCY = 64;
  const LIMIT_S = 25;
  result.params = { max_requests: MAX, concurrency: CONCURRENCY, limit_s: LIMIT_S * SCALE, checkpoints_s: [60, 90] };
  const start = await steadyRss();
  rss = new RssWatch(serverPid);
  const cpu0 = procCpuMs(serverPid);
  const first = await pollingFlood(MAX, CONCURRENCY, LIMIT_S);
  const endAt = nowMs();
  const cpu = procCpuMs(serverPid) - cpu0;
  const atEnd = rss.now();
  const peakFirst = rss.peak;
  log(`${first.sent} requests in ${first.seconds.toFixed(1)} s: ${JSON.stringify(first.status)} errors ${JSON.stringify(first.errors)}; RSS ${mb(atEnd)} MB`);
  const marks = await hold({ from: endAt, checkpoints: [60, 90], conns: [] });
  // Closed sessions or not: RSS alone cannot tell (an allocator keeps freed memory), a poll can.
  const alive = await sessionAlive(first.sids[1] || first.sids[0]);
  // The same flood again: if the first flood's memory was freed (and kept by the allocator), the
  // second reuses it and the peak barely moves; if it leaked, the peak grows by as much again.
  const second = await pollingFlood(MAX, CONCURRENCY, LIMIT_S);
  await sleep(1000);
  const peakSecond = rss.peak;
  log(`second flood: ${second.ok} connections in ${second.seconds.toFixed(1)} s; RSS peak ${mb(peakSecond)} MB; first flood's last Engine.IO connection ${alive}`);
  fig('sent', `handshake requests sent (in ${round(first.seconds, 1)} s, ${CONCURRENCY} at a time)`, first.sent);
  fig('ok', '… answered 200 (a connection opened)', first.ok);
  fig('refused', '… refused (another status) / failed (connection error)', `${first.refused} / ${first.failed}`, 'text');
  fig('rss_start', 'server RSS before, MB', mb(start), 'MB');
  fig('rss_peak', 'server RSS peak, MB', mb(peakFirst), 'MB');
  fig('rss_end', 'server RSS when the flood stopped, MB', mb(atEnd), 'MB');
  marks.forEach((m, i) => fig(`rss_after_${i}`, `server RSS ${m.at_s} s after, MB`, mb(m.rss_kb), 'MB'));
  fig('alive', `the flood's last Engine.IO connection ${marks.at(-1).at_s} s after`, alive, 'text');
  fig('second', `the same flood again (${second.ok.toLocaleString('en-US')} connections): server RSS peak, MB`, mb(peakSecond), 'MB');
  fig('cpu_per_1k', 'server CPU per 1,000 requests, ms', round((cpu / Math.max(1, first.sent)) * 1000, 0), 'ms');
  result.counts = { first: { ...first, sids: undefined }, second: { ...second, sids: undefined }, last_session_after: alive, server_cpu_ms: cpu };
  result.rss_kb = { start, peak_first: peakFirst, at_end: atEnd, marks, peak_second: peakSecond };
}

// ---------- 4: binary attachments from sockets that never sign in ----------

async function attackBinary() {
  const CONNS = 50;
  const FRAMES = 150;
  // Just under the 64 KiB per-message limit (API.md Limits), so no frame is refused for its size.
  const FRAME_BYTES = 64 * 1024 - 64;
  // One attachment more than is sent: the packet never completes, so the server has nothing to
  // hand to a handler and nothing to refuse; it can only keep the parts or drop the connection.
  const ANNOUNCED = FRAMES + 1;
  result.params = { connections: CONNS, frames: FRAMES, frame_bytes: FRAME_BYTES, announced_attachments: ANNOUNCED, checkpoints_s: [10, 40, 70] };
  const start = await steadyRss();
  const tcpStart = tcpMemKb();
  rss = new RssWatch(serverPid);
  let refused = 0;
  const conns = (
    await poolRun(CONNS, 10, async () => {
      try {
        const s = await Sio.connect({}); // Engine.IO open, no Socket.IO CONNECT, no token
        s.ws.stopReading();
        return s;
      } catch (e) {
        refused++;
        result.notes.push(`handshake failed: ${e.message}`);
        return null;
      }
    })
  ).filter(Boolean);
  const placeholders = Array.from({ length: ANNOUNCED }, (_, num) => ({ _placeholder: true, num }));
  const header = `45${ANNOUNCED}-${JSON.stringify(['x', ...placeholders])}`;
  log(`${conns.length} sockets open (${refused} refused); sending ${FRAMES} × ${FRAME_BYTES} B each`);
  let framesWritten = 0;
  const sendStart = nowMs();
  await Promise.all(
    conns.map(async (s) => {
      // One masked frame per connection, written 150 times: masking 490 MB anew would take the
      // load tool's core longer than the server takes to receive it.
      const frame = wsFrame(2, randomBytes(FRAME_BYTES));
      s.ws.sendText(header);
      for (let i = 0; i < FRAMES && !s.ws.closed; i++) {
        const more = s.ws.sock.write(frame);
        framesWritten++;
        if (!more) {
          await new Promise((resolve) => {
            const done = () => {
              s.ws.sock.removeListener('drain', done);
              s.ws.sock.removeListener('close', done);
              resolve();
            };
            s.ws.sock.once('drain', done);
            s.ws.sock.once('close', done);
          });
        }
      }
    }),
  );
  const sentAt = nowMs();
  const closedDuringSend = conns.filter((s) => s.ws.closed).length;
  log(`sent in ${((sentAt - sendStart) / 1000).toFixed(1)} s (${closedDuringSend} closed while sending); RSS ${mb(rss.now())} MB`);
  const marks = await hold({
    from: sentAt,
    checkpoints: [10, 40, 70],
    conns,
    keepaliveS: 20,
    probe: () => probeClosed(conns.map((s) => s.ws), (c) => c.write(PONG)),
  });
  const ct = closeTimes(conns.map((c) => c.ws), sentAt);
  for (const s of conns) s.close();
  fig('sent', `binary parts sent (${conns.length} sockets × ${FRAMES} × ${(FRAME_BYTES / 1024).toFixed(0)} KiB), MB`, round((framesWritten * FRAME_BYTES) / 1048576, 0), 'MB');
  fig('rss_start', 'server RSS before, MB', mb(start), 'MB');
  fig('rss_peak', 'server RSS peak, MB', mb(rss.peak), 'MB');
  marks.forEach((m, i) => fig(`rss_hold_${i}`, `server RSS ${m.at_s} s after the last part, MB`, mb(m.rss_kb), 'MB'));
  tcpFigure(tcpStart, marks);
  fig('closed_send', 'sockets closed by the server while sending', closedDuringSend);
  marks.forEach((m, i) => fig(`closed_${i}`, `sockets closed by the server at +${m.at_s} s`, m.closed));
  fig('closed_when', 'the server closed them (seen within 5 s)', closeText(ct, 'the last part'), 'text');
  result.counts = { sockets: conns.length, refused, frames_written: framesWritten, closed_during_send: closedDuringSend, closed_at_marks: marks.map((m) => m.closed), close_times_s: ct };
  result.rss_kb = { start, peak: rss.peak, marks };
}

// ---------- 5: a room of a million messages ----------

const MILLION = 1000000;

function readState() {
  if (!opt.state) throw new Error('--state is required for the million attack');
  return existsSync(opt.state) ? JSON.parse(readFileSync(opt.state, 'utf8')) : {};
}
function writeState(s) {
  writeFileSync(opt.state, JSON.stringify(s, null, 2) + '\n');
}

/** With the server running: the users and rooms (ids go to --state). */
async function millionSetup() {
  const admin = await adminLogin();
  const lobby = await createRoom(admin.token, 'lobby');
  const big = await createRoom(admin.token, 'million');
  // One message in another room first, so that message id 1 is not the big room's: `before=1`
  // is then a cursor from elsewhere, which history resolves by scanning the room.
  await seedMessages(admin.token, lobby.id, 1, 20);
  const reader = await userLogin('reader');
  const other = await userLogin('other');
  writeState({ lobby: lobby.id, room: big.id, author: admin.user.id, reader: reader.user.id, other: other.user.id });
}

/** With the server stopped: a million messages by the admin, straight into the SQLite file. */
function millionSeed() {
  const s = readState();
  if (!opt.db) throw new Error('--db is required for the seed phase');
  const script = `
import json, sqlite3, sys, time
db, room, author, reader, n = sys.argv[1], *map(int, sys.argv[2:6])
t = time.time()
con = sqlite3.connect(db, isolation_level=None)
con.execute('PRAGMA synchronous=OFF')
con.execute('BEGIN IMMEDIATE')
base = con.execute('SELECT last_seq FROM rooms WHERE id = ?', (room,)).fetchone()[0]
rows = ((room, author, s, s, 'message %d of a room of a million, seeded straight into the database' % s)
        for s in range(base + 1, base + n + 1))
con.executemany('INSERT INTO messages (room_id, user_id, seq, created_seq, text, client_id) '
                'VALUES (?, ?, ?, ?, ?, NULL)', rows)
con.execute('UPDATE rooms SET last_seq = ? WHERE id = ?', (base + n, room))
con.execute('INSERT INTO memberships (user_id, room_id, last_read_seq) VALUES (?, ?, 0) '
            'ON CONFLICT (user_id, room_id) DO UPDATE SET last_read_seq = 0', (reader, room))
first, last = con.execute('SELECT MIN(id), MAX(id) FROM messages WHERE room_id = ?', (room,)).fetchone()
con.execute('COMMIT')
con.execute('PRAGMA wal_checkpoint(TRUNCATE)')
print(json.dumps({'seconds': round(time.time() - t, 1), 'first_id': first, 'last_id': last, 'rows': n}))
`;
  const out = execFileSync('python3', ['-c', script, opt.db, s.room, s.author, s.reader, MILLION].map(String), { encoding: 'utf8', timeout: 170000 });
  writeState({ ...s, seed: JSON.parse(out.trim().split('\n').pop()) });
  log(`seeded: ${out.trim()}`);
}

/** `n` sequential calls; their times in ms, and the statuses seen. */
async function timed(n, fn) {
  const ms = [];
  const status = {};
  for (let i = 0; i < n; i++) {
    const r = await fn();
    ms.push(r.ms);
    status[r.status] = (status[r.status] || 0) + 1;
  }
  return { ...summarize(ms), status };
}

/** One joinRoom over a reading socket, timed like an HTTP call. */
async function joinTimed(sio, roomId) {
  const t = nowMs();
  try {
    const reply = await sio.call('joinRoom', { roomId }, 30000);
    return { ms: nowMs() - t, status: reply?.ok ? 'ok' : reply?.error?.error || 'refused' };
  } catch (e) {
    return { ms: nowMs() - t, status: e.message };
  }
}

const lat = (s) => `${round(s.p50, 1)} / ${round(s.p99, 1)} / ${round(s.max, 1)}`;

/** With the server running again: query times, alone and while one account hammers. */
async function millionMeasure() {
  const s = readState();
  result.params = { messages: MILLION, seed: s.seed, samples: 20, hammer_loops: 16, hammer_s: 10 * SCALE };
  rss = new RssWatch(serverPid);
  const start = await steadyRss();
  const reader = await userLogin('reader');
  const other = await userLogin('other');
  const readerGet = (path) => () => request('GET', path, { token: reader.token });
  const past = (s.seed?.last_id ?? MILLION) + 1000;
  const paths = {
    rooms: '/api/rooms',
    before1: `/api/rooms/${s.room}/messages?before=1&limit=50`,
    past: `/api/rooms/${s.room}/messages?before=${past}&limit=50`,
  };
  const list = await api('GET', paths.rooms, undefined, reader.token);
  const unread = Array.isArray(list.json) ? list.json.find((r) => r.id === s.room)?.unread : null;
  for (const p of Object.values(paths)) await request('GET', p, { token: reader.token }); // first reads fill the page cache
  const tRooms = await timed(20, readerGet(paths.rooms));
  const tBefore1 = await timed(20, readerGet(paths.before1));
  const tPast = await timed(20, readerGet(paths.past));
  log(`rooms ${tRooms.p50} ms, before=1 ${tBefore1.p50} ms, before=past ${tPast.p50} ms`);

  // Another user: a socket and a plain HTTP client, each on its own connection, so that neither
  // waits in the hammer's queue on this side.
  const sio = await Sio.connect({ token: other.token });
  const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const health = () => request('GET', '/healthz', { agent: healthAgent });
  const idleJoin = await timed(20, () => joinTimed(sio, s.lobby));
  const idleHealth = await timed(20, health);

  const hammerAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const hammerStatus = {};
  let hammered = 0;
  const stopAt = nowMs() + secs(10);
  const joinMs = [];
  const healthMs = [];
  const cpu0 = procCpuMs(serverPid);
  const t0 = nowMs();
  await Promise.all([
    ...Array.from({ length: 16 }, async (_, i) => {
      for (let k = i; nowMs() < stopAt; k++) {
        const r = await request('GET', k % 2 ? paths.before1 : paths.past, { token: reader.token, agent: hammerAgent });
        hammered++;
        hammerStatus[r.status || r.error] = (hammerStatus[r.status || r.error] || 0) + 1;
      }
    }),
    (async () => {
      while (nowMs() < stopAt) {
        joinMs.push((await joinTimed(sio, s.lobby)).ms);
        await sleep(100);
      }
    })(),
    (async () => {
      while (nowMs() < stopAt) {
        healthMs.push((await health()).ms);
        await sleep(100);
      }
    })(),
  ]);
  const hammerS = (nowMs() - t0) / 1000;
  const cpuPct = round(((procCpuMs(serverPid) - cpu0) / 10) / hammerS, 0);
  hammerAgent.destroy();
  healthAgent.destroy();
  sio.close();
  const busyJoin = summarize(joinMs);
  const busyHealth = summarize(healthMs);
  const ok200 = hammerStatus[200] || 0;

  fig('seed', 'seeding 1,000,000 rows (one transaction, server stopped), s', s.seed?.seconds, 's');
  fig('unread', "the reader's unread count in `GET /api/rooms`", unread);
  fig('rooms', '`GET /api/rooms` (median of 20), ms', round(tRooms.p50, 1), 'ms');
  fig('before1', '`GET …/messages?before=1&limit=50` (median of 20), ms', round(tBefore1.p50, 1), 'ms');
  fig('past', '`GET …/messages?before=<past the last id>` (median of 20), ms', round(tPast.p50, 1), 'ms');
  fig('cursor_status', 'status of the two history calls', `${Object.keys(tBefore1.status).join(',')} / ${Object.keys(tPast.status).join(',')}`, 'text');
  fig('hammer', `hammer: 16 loops of one account for ${round(hammerS, 0)} s, requests answered 200 / other`, `${ok200} / ${hammered - ok200}`, 'text');
  fig('hammer_cpu', '… server CPU meanwhile, % of its core', cpuPct);
  fig('join_idle', "another user's `joinRoom` ack, idle: median / p99 / max, ms", lat(idleJoin), 'text');
  fig('join_busy', '… during the hammer, ms', lat(busyJoin), 'text');
  fig('health_idle', '`GET /healthz`, idle: median / p99 / max, ms', lat(idleHealth), 'text');
  fig('health_busy', '… during the hammer, ms', lat(busyHealth), 'text');
  fig('rss_peak', 'server RSS before / peak, MB', `${mb(start)} / ${mb(rss.peak)}`, 'text');
  result.timings_ms = { rooms: tRooms, before1: tBefore1, past: tPast, join_idle: idleJoin, join_busy: busyJoin, health_idle: idleHealth, health_busy: busyHealth };
  result.counts = { unread, hammer_requests: hammered, hammer_status: hammerStatus, hammer_s: round(hammerS, 1), server_cpu_pct: cpuPct };
  result.rss_kb = { start, peak: rss.peak };
}

// ---------- main ----------

const ATTACKS = {
  history: () => attackNonReading('history'),
  catchup: () => attackNonReading('catchup'),
  static: () => attackNonReadingHttp('static'),
  apipage: () => attackNonReadingHttp('apipage'),
  polling: attackPolling,
  binary: attackBinary,
  million: async () => {
    if (opt.phase === 'setup') return millionSetup();
    if (opt.phase === 'seed') return millionSeed();
    return millionMeasure();
  },
};

if (!ATTACKS[opt.attack]) die(`--attack must be one of ${Object.keys(ATTACKS).join(', ')}`);
if (opt.phase === 'measure' && !serverPid) die('--server-pid is required');
if (opt.phase !== 'seed' && !opt['admin-user']) die('--admin-user and --admin-password are required');
try {
  await ATTACKS[opt.attack]();
  finish(0);
} catch (e) {
  result.problems.push(`error: ${e.stack || e}`);
  log(e.stack || e);
  finish(1);
}
