#!/usr/bin/env node
// Tagarela load tool: drives a running chat server through the public contract (docs/API.md)
// with the official socket.io-client, from several worker threads, and prints one JSON report.
//
//   node end2end/bench/load.mjs --scenario connections|fanout|throughput|reconnect \
//     --url http://127.0.0.1:3100 [--server-pid PID] [--db path/to/db.sqlite] [--out file.json]
//
// Users are registered (or logged in) over HTTP with one shared password; rooms named bench-1..N
// are created by the admin (ADMIN_USERNAME/ADMIN_PASSWORD) when the server has one, otherwise
// the server's own rooms of those names are used (the Node peer seeds them). Only loopback
// addresses are accepted. Every phase is bounded, and a watchdog ends the process.
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { BitSet, nowMs, poolRun, postgresCpuByPid, procCpuMs, procCpuTimes, procCtxSwitches, procRssKb, sleep, summarize } from './lib.mjs';

const PRESETS = {
  connections: { sizes: '1000,5000,10000', 'sockets-per-user': '100', 'connect-concurrency': '100', hold: '5', settle: '2' },
  fanout: { members: '1000', 'sockets-per-user': '20', rate: '50', duration: '10' },
  throughput: { rooms: '100', members: '4', 'sockets-per-user': '2', duration: '10', window: '1' },
  reconnect: { rooms: '5', clients: '1000', 'sockets-per-user': '20', rate: '20', burst: '600', warm: '3', offline: '2', after: '2' },
};

const { values: flags } = parseArgs({
  options: {
    scenario: { type: 'string' },
    url: { type: 'string', default: 'http://127.0.0.1:3100' },
    'server-pid': { type: 'string' },
    db: { type: 'string' },
    // A server on PostgreSQL: its database (rows are counted with psql), and its CPU is measured too.
    'pg-url': { type: 'string' },
    out: { type: 'string' },
    label: { type: 'string', default: '' },
    'server-build': { type: 'string', default: '' },
    workers: { type: 'string', default: '4' },
    password: { type: 'string', default: process.env.LOGIN_PASSWORD || 'bench-password' },
    'admin-user': { type: 'string', default: process.env.ADMIN_USERNAME || '' },
    'admin-password': { type: 'string', default: process.env.ADMIN_PASSWORD || '' },
    'user-prefix': { type: 'string', default: 'bench_u' },
    'text-size': { type: 'string', default: '100' },
    'ack-timeout': { type: 'string', default: '15000' },
    'connect-timeout': { type: 'string', default: '20000' },
    'connect-concurrency': { type: 'string' },
    'register-concurrency': { type: 'string', default: '8' },
    watchdog: { type: 'string', default: '240' },
    sizes: { type: 'string' },
    'sockets-per-user': { type: 'string' },
    hold: { type: 'string' },
    settle: { type: 'string' },
    members: { type: 'string' },
    rooms: { type: 'string' },
    clients: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    window: { type: 'string' },
    burst: { type: 'string' },
    warm: { type: 'string' },
    offline: { type: 'string' },
    after: { type: 'string' },
  },
});

const scenario = flags.scenario;
if (!PRESETS[scenario]) die(`--scenario must be one of ${Object.keys(PRESETS).join(', ')}`);
const opt = { ...PRESETS[scenario], ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) };
const num = (k, d) => (opt[k] === undefined ? d : Number(opt[k]));
const base = new URL(opt.url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname)) die('only loopback targets are allowed');
const baseUrl = base.origin;
const serverPid = opt['server-pid'] ? Number(opt['server-pid']) : null;
const WORKERS = Math.max(1, num('workers', 4));

function die(msg) {
  console.error(`load: ${msg}`);
  process.exit(2);
}
const log = (...a) => console.error(`[${((nowMs() - T0) / 1000).toFixed(1)}s]`, ...a);
const T0 = nowMs();

// ---------- report and watchdog ----------

const report = {
  tool: 'tagarela end2end/bench/load.mjs',
  scenario,
  label: opt.label,
  server_build: opt['server-build'],
  url: baseUrl,
  started_at: new Date().toISOString(),
  params: Object.fromEntries(Object.entries(opt).filter(([k]) => !['password', 'admin-password'].includes(k))),
  host: hostInfo(),
  setup: {},
  result: {},
  server: {},
  generator: {},
  problems: [],
};

function finish(code = 0) {
  report.host.loadavg_end = os.loadavg().map((x) => Math.round(x * 100) / 100);
  report.elapsed_s = round((nowMs() - T0) / 1000, 1);
  report.ok = code === 0 && report.problems.length === 0;
  const json = JSON.stringify(report, null, 2);
  if (opt.out) writeFileSync(opt.out, json + '\n');
  process.stdout.write(json + '\n', () => process.exit(code));
}

const watchdog = setTimeout(() => {
  report.problems.push(`watchdog: still running after ${opt.watchdog}s`);
  finish(3);
}, num('watchdog', 240) * 1000);

process.on('unhandledRejection', (e) => {
  report.problems.push(`error: ${(e && e.stack) || e}`);
  finish(4);
});

function hostInfo() {
  const cpuinfo = safeRead('/proc/cpuinfo');
  const meminfo = safeRead('/proc/meminfo');
  return {
    nproc: os.cpus().length,
    generator_cpus: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    cpu_model: (/model name\s*:\s*(.*)/.exec(cpuinfo) || [])[1] || os.cpus()[0]?.model || 'unknown',
    mem_total_kb: Number((/MemTotal:\s+(\d+)/.exec(meminfo) || [])[1] || 0),
    kernel: os.release(),
    node: process.version,
    loadavg_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
function safeRead(p) {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
const round = (x, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

// ---------- server and generator sampling ----------

function sample() {
  const cpu = process.cpuUsage();
  const times = serverPid ? procCpuTimes(serverPid) : null;
  return {
    t: nowMs(),
    cpu: times && times.user + times.system,
    sys: times && times.system,
    rss: serverPid ? procRssKb(serverPid) : null,
    ctx: serverPid ? procCtxSwitches(serverPid) : null,
    gen: (cpu.user + cpu.system) / 1000,
    pg: opt['pg-url'] ? postgresCpuByPid() : null,
  };
}
/** Server and generator CPU between two samples. */
function cpuBetween(a, b) {
  const wall = b.t - a.t;
  const server = a.cpu === null || b.cpu === null ? null : b.cpu - a.cpu;
  return {
    wall_s: round(wall / 1000, 3),
    server_cpu_ms: server,
    server_system_cpu_ms: a.sys === null || b.sys === null ? null : b.sys - a.sys,
    server_cpu_pct: server === null ? null : round((100 * server) / wall, 1),
    server_ctx_switches: a.ctx === null || b.ctx === null ? null : b.ctx - a.ctx,
    generator_cpu_pct: round((100 * (b.gen - a.gen)) / wall, 1),
    // Every PostgreSQL process's CPU; one that started meanwhile counts from zero.
    postgres_cpu_ms: a.pg && b.pg ? round(Object.entries(b.pg).reduce((t, [pid, ms]) => t + ms - (a.pg[pid] ?? 0), 0), 0) : null,
  };
}
async function steadyRss() {
  const v = [];
  for (let i = 0; i < 3; i++) {
    v.push(procRssKb(serverPid));
    await sleep(300);
  }
  return v.sort((a, b) => a - b)[1];
}

// The server's peak RSS over the whole run, sampled four times a second.
let rssPeak = 0;
const rssTimer = setInterval(() => {
  const r = serverPid ? procRssKb(serverPid) : null;
  if (r > rssPeak) rssPeak = r;
}, 250);

// ---------- HTTP (setup only) ----------

async function http(method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20000),
  });
  let json = null;
  try {
    json = await res.json();
  } catch {
    /* empty body */
  }
  return { status: res.status, json };
}

async function waitHealthy() {
  for (let i = 0; i < 100; i++) {
    for (const path of ['/healthz', '/health']) {
      try {
        if ((await http('GET', path)).status === 200) return;
      } catch {
        /* not up yet */
      }
    }
    await sleep(200);
  }
  throw new Error('server not healthy after 20 s');
}

/** Registers (or logs in) `count` users; returns their tokens. */
async function makeUsers(count) {
  const t = nowMs();
  const s0 = sample();
  const password = opt.password;
  const tokens = await poolRun(count, num('register-concurrency', 8), async (i) => {
    const username = `${opt['user-prefix']}${i}`;
    for (let attempt = 0; attempt < 20; attempt++) {
      let r = await http('POST', '/api/auth/register', { username, password });
      if (r.status === 409) r = await http('POST', '/api/auth/login', { username, password });
      if (r.status === 200 || r.status === 201) return r.json.token;
      if (r.status !== 429 && r.status < 500) throw new Error(`register ${username}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
      await sleep(200 * (attempt + 1));
    }
    throw new Error(`register ${username}: gave up`);
  });
  const s1 = sample();
  report.setup.users = count;
  report.setup.register_s = round((nowMs() - t) / 1000, 2);
  report.setup.register_server_cpu_ms_per_user = s0.cpu === null ? null : round((s1.cpu - s0.cpu) / count, 2);
  return tokens;
}

/** Room ids of bench-1..bench-n: created by the admin when there is one, else the server's own. */
async function benchRooms(n, anyToken) {
  const admin = opt['admin-user'];
  if (admin) {
    const r = await http('POST', '/api/auth/login', { username: admin, password: opt['admin-password'] });
    if (r.status === 200) {
      await poolRun(n, 8, async (i) => {
        const c = await http('POST', '/api/admin/rooms', { name: `bench-${i + 1}` }, r.json.token);
        if (c.status !== 201 && c.status !== 409) throw new Error(`create room: HTTP ${c.status} ${JSON.stringify(c.json)}`);
      });
      report.setup.rooms_created_by = 'admin';
    } else {
      report.setup.rooms_created_by = 'server';
    }
  }
  const list = await http('GET', '/api/rooms', undefined, anyToken);
  if (list.status !== 200) throw new Error(`GET /api/rooms: HTTP ${list.status}`);
  const byName = new Map(list.json.map((room) => [room.name, room.id]));
  const ids = [];
  for (let i = 1; i <= n; i++) {
    if (!byName.has(`bench-${i}`)) throw new Error(`room bench-${i} missing (${list.json.length} rooms on the server)`);
    ids.push(byName.get(`bench-${i}`));
  }
  report.setup.rooms = n;
  return ids;
}

// ---------- workers ----------

let workers = [];
const pending = new Map();
let nextId = 1;

/** Starts the workers; socket `idx` goes to worker `idx % WORKERS`, at local index `idx / WORKERS`. */
async function startWorkers(specs, workerOpts) {
  const shares = Array.from({ length: WORKERS }, () => []);
  for (const s of specs) shares[s.idx % WORKERS].push(s);
  workers = shares.map((share) => {
    const w = new Worker(new URL('./worker.mjs', import.meta.url), {
      workerData: {
        url: baseUrl,
        specs: share,
        opts: {
          connectTimeoutMs: num('connect-timeout', 20000),
          ackTimeoutMs: num('ack-timeout', 15000),
          textSize: num('text-size', 100),
          seqMode: false,
          ...workerOpts,
        },
      },
    });
    w.on('message', ({ id, result, error }) => {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      if (error) p.reject(new Error(error));
      else p.resolve(result);
    });
    w.on('error', (e) => report.problems.push(`worker error: ${e.stack || e}`));
    return w;
  });
}
const local = (idx) => ({ w: idx % WORKERS, local: Math.floor(idx / WORKERS) });

function call(w, cmd, args) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    workers[w].postMessage({ id, cmd, args });
  });
}
const all = (cmd, argsFor = () => ({})) => Promise.all(workers.map((_, w) => call(w, cmd, argsFor(w))));

/** Local index range of worker w for global socket indexes [from, to). */
function localRange(w, from, to) {
  const first = Math.max(0, Math.ceil((from - w) / WORKERS));
  const end = Math.max(0, Math.ceil((to - w) / WORKERS));
  return { from: first, to: end };
}

function mergeErrors(list) {
  const by = {};
  for (const e of list) for (const [k, v] of Object.entries(e || {})) by[k] = (by[k] || 0) + v;
  return by;
}
function concat(arrays) {
  const n = arrays.reduce((a, x) => a + x.length, 0);
  const out = new Float64Array(n);
  let o = 0;
  for (const x of arrays) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

async function connectRange(from, to, concurrency) {
  const res = await all('connect', (w) => ({ ...localRange(w, from, to), concurrency: Math.max(1, Math.ceil(concurrency / WORKERS)) }));
  return {
    attempted: res.reduce((a, r) => a + r.attempted, 0),
    connected: res.reduce((a, r) => a + r.connected, 0),
    failed: res.reduce((a, r) => a + r.failed, 0),
    errors: mergeErrors(res.map((r) => r.errors)),
    latency_ms: summarize(concat(res.map((r) => r.latencies))),
  };
}

async function joinAll(concurrency = 100) {
  const t = nowMs();
  const res = await all('join', () => ({ concurrency: Math.max(1, Math.ceil(concurrency / WORKERS)) }));
  const out = { joins: res.reduce((a, r) => a + r.joins, 0), failed: res.reduce((a, r) => a + r.failed, 0), errors: mergeErrors(res.map((r) => r.errors)), seconds: round((nowMs() - t) / 1000) };
  if (out.failed) report.problems.push(`${out.failed} joinRoom failed: ${JSON.stringify(out.errors)}`);
  return out;
}

/** Waits until `expected` unique deliveries arrived, or nothing arrived for `quietMs`. */
async function drain(expected, { quietMs = 1500, maxMs = 15000 } = {}) {
  const t = nowMs();
  let last = -1;
  let lastChange = nowMs();
  for (;;) {
    const counts = await all('count');
    const unique = counts.reduce((a, c) => a + c.unique, 0);
    if (unique >= expected) return { drained: true, seconds: round((nowMs() - t) / 1000) };
    if (unique !== last) {
      last = unique;
      lastChange = nowMs();
    }
    if (nowMs() - lastChange > quietMs || nowMs() - t > maxMs) return { drained: false, seconds: round((nowMs() - t) / 1000) };
    await sleep(100);
  }
}

/** Sends from the given global socket indexes; one `send` command per worker. */
async function sendFrom(senderList, args) {
  const per = Array.from({ length: WORKERS }, () => []);
  for (const s of senderList) {
    const { w, local: l } = local(s.idx);
    per[w].push({ local: l, room: s.room, sender: s.idx });
  }
  const res = await Promise.all(per.map((senders, w) => (senders.length ? call(w, 'send', { ...args, senders }) : null)));
  const ok = res.filter(Boolean);
  const senders = ok.flatMap((r) => r.senders);
  const maxSeq = {};
  for (const r of ok) for (const [room, s] of Object.entries(r.maxSeq)) maxSeq[room] = Math.max(maxSeq[room] || 0, s);
  return {
    endedAt: Math.max(...ok.map((r) => r.endedAt)),
    senders,
    sent: senders.reduce((a, s) => a + s.sent, 0),
    acked: senders.reduce((a, s) => a + s.acked, 0),
    failed: senders.reduce((a, s) => a + s.failed, 0),
    timeouts: ok.reduce((a, r) => a + r.timeouts, 0),
    errors: mergeErrors(ok.map((r) => r.errors)),
    ackLatency: summarize(concat(ok.map((r) => r.ackLatencies))),
    maxSeq,
  };
}

/** Exactly-once check: every acked message reached every member of its room once. */
async function deliveryCheck(specs, sendResult) {
  const stats = await all('stats');
  const got = new Map(); // `${receiver}:${sender}` -> BitSet
  for (const s of stats) for (const [r, snd, bits] of s.pairs) got.set(`${r}:${snd}`, BitSet.from(bits));
  const membersOf = new Map();
  for (const s of specs) for (const room of s.rooms) (membersOf.get(room) || membersOf.set(room, []).get(room)).push(s.idx);
  let expected = 0;
  let lost = 0;
  let unacked = 0;
  for (const snd of sendResult.senders) {
    const acked = BitSet.from(snd.ackedBits);
    for (const r of membersOf.get(snd.room) || []) {
      expected += snd.acked;
      const g = got.get(`${r}:${snd.idx}`) || new BitSet(1);
      lost += acked.countMissingFrom(g);
      unacked += g.countMissingFrom(acked);
    }
  }
  const unique = stats.reduce((a, s) => a + s.unique, 0);
  return {
    expected,
    received_unique: unique,
    lost,
    duplicates: stats.reduce((a, s) => a + s.dups, 0),
    unknown: stats.reduce((a, s) => a + s.unknown, 0),
    delivered_but_not_acked: unacked,
    latency_ms: summarize(concat(stats.map((s) => s.latencies))),
    generator_loop_delay_ms: {
      p99: round(Math.max(...stats.map((s) => s.loopDelayMs.p99))),
      max: round(Math.max(...stats.map((s) => s.loopDelayMs.max))),
    },
    unexpected_disconnects: stats.reduce((a, s) => a + s.counters.unexpectedDisconnects, 0),
  };
}

function dbQuery(sql) {
  if (opt['pg-url']) {
    try {
      return execFileSync('psql', [opt['pg-url'], '-Atc', sql], { encoding: 'utf8', timeout: 20000 }).trim();
    } catch (e) {
      report.problems.push(`database query failed: ${e.message}`);
      return null;
    }
  }
  if (!opt.db) return null;
  try {
    return execFileSync('sqlite3', ['-readonly', '-batch', opt.db, sql], { encoding: 'utf8', timeout: 20000 }).trim();
  } catch {
    const py = 'import sqlite3,sys\nc=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True,timeout=10)\nfor r in c.execute(sys.argv[2]): print("|".join(map(str,r)))';
    try {
      return execFileSync('python3', ['-c', py, opt.db, sql], { encoding: 'utf8', timeout: 20000 }).trim();
    } catch (e) {
      report.problems.push(`database query failed: ${e.message}`);
      return null;
    }
  }
}

// ---------- scenarios ----------

async function connections() {
  const sizes = opt.sizes.split(',').map(Number).sort((a, b) => a - b);
  const n = sizes[sizes.length - 1];
  const spu = num('sockets-per-user');
  const conc = num('connect-concurrency', 100);
  const tokens = await makeUsers(Math.ceil(n / spu));
  const specs = Array.from({ length: n }, (_, i) => ({ idx: i, token: tokens[Math.floor(i / spu)], rooms: [] }));
  await startWorkers(specs);
  await sleep(num('settle') * 1000);
  const rss0 = serverPid ? await steadyRss() : null;
  report.server.rss_baseline_kb = rss0;
  const steps = [];
  let prev = 0;
  let held = 0;
  for (const size of sizes) {
    log(`connecting ${prev}..${size}`);
    const a = sample();
    const c = await connectRange(prev, size, conc);
    const b = sample();
    await sleep(num('settle') * 1000);
    held += c.connected;
    const rss = serverPid ? await steadyRss() : null;
    const cpu = cpuBetween(a, b);
    steps.push({
      sockets: held,
      new: c.connected,
      failed: c.failed,
      errors: c.errors,
      seconds: cpu.wall_s,
      handshakes_per_s: round(c.connected / cpu.wall_s, 1),
      server_cpu_ms: cpu.server_cpu_ms,
      server_cpu_ms_per_handshake: cpu.server_cpu_ms === null ? null : round(cpu.server_cpu_ms / c.connected, 3),
      server_ctx_switches_per_handshake: cpu.server_ctx_switches === null ? null : round(cpu.server_ctx_switches / c.connected, 2),
      server_cpu_pct: cpu.server_cpu_pct,
      generator_cpu_pct: cpu.generator_cpu_pct,
      connect_latency_ms: c.latency_ms,
      rss_kb: rss,
    });
    if (c.failed) report.problems.push(`${c.failed} of ${c.attempted} handshakes failed: ${JSON.stringify(c.errors)}`);
    prev = size;
  }
  log(`holding ${held} sockets`);
  const h0 = sample();
  await sleep(num('hold') * 1000);
  const h1 = sample();
  const counts = await all('count');
  const stats = await all('stats', () => ({ withBits: false }));
  const totalNew = steps.reduce((a, s) => a + s.new, 0);
  const totalSecs = steps.reduce((a, s) => a + s.seconds, 0);
  const totalCpu = steps.reduce((a, s) => a + (s.server_cpu_ms || 0), 0);
  const slope = (x, y) => (x.rss_kb && y.rss_kb && y.sockets > x.sockets ? round((y.rss_kb - x.rss_kb) / (y.sockets - x.sockets), 2) : null);
  const slopes = [];
  for (let i = 1; i < steps.length; i++) slopes.push({ from: steps[i - 1].sockets, to: steps[i].sockets, kb_per_socket: slope(steps[i - 1], steps[i]) });
  report.result = {
    sockets_held: counts.reduce((a, c) => a + c.connected, 0),
    sockets_wanted: n,
    unexpected_disconnects: stats.reduce((a, s) => a + s.counters.unexpectedDisconnects, 0),
    handshakes_per_s: round(totalNew / totalSecs, 1),
    server_cpu_ms_per_handshake: serverPid ? round(totalCpu / totalNew, 3) : null,
    server_ctx_switches_per_handshake: serverPid ? round(steps.reduce((a, s) => a + (s.server_ctx_switches_per_handshake || 0) * s.new, 0) / totalNew, 2) : null,
    handshakes_per_server_cpu_s: serverPid && totalCpu ? round(totalNew / (totalCpu / 1000), 1) : null,
    rss_per_socket_kb: slope(steps[0], steps[steps.length - 1]),
    rss_slopes: slopes,
    hold: { seconds: num('hold'), ...cpuBetween(h0, h1) },
    steps,
  };
  report.generator.loop_delay_ms_max = round(Math.max(...stats.map((s) => s.loopDelayMs.max)));
  if (report.result.sockets_held < n) report.problems.push(`held ${report.result.sockets_held} of ${n} sockets`);
}

async function fanout() {
  const m = num('members');
  const spu = num('sockets-per-user');
  const tokens = await makeUsers(Math.ceil(m / spu));
  const [room] = await benchRooms(1, tokens[0]);
  const specs = Array.from({ length: m }, (_, i) => ({ idx: i, token: tokens[Math.floor(i / spu)], rooms: [room] }));
  await startWorkers(specs);
  log(`connecting ${m} sockets`);
  const c = await connectRange(0, m, 100);
  if (c.failed) report.problems.push(`${c.failed} handshakes failed: ${JSON.stringify(c.errors)}`);
  report.setup.connect = { connected: c.connected, failed: c.failed };
  report.setup.join = await joinAll();
  await sleep(2000); // presence batches settle
  await all('resetLatencies');
  log(`sending at ${opt.rate}/s for ${opt.duration}s`);
  const a = sample();
  const rate = num('rate');
  const send = await sendFrom([{ idx: 0, room }], { name: 'fan', rate, durationMs: num('duration') * 1000, startAt: nowMs() + 100 });
  const s = sample();
  const dr = await drain(send.acked * m, { quietMs: 1500, maxMs: 15000 });
  const b = sample();
  const d = await deliveryCheck(specs, send);
  const cpu = cpuBetween(a, b);
  const sendCpu = cpuBetween(a, s);
  report.result = {
    members: m,
    rate_per_s: rate,
    sent: send.sent,
    acked: send.acked,
    send_failed: send.failed,
    ack_latency_ms: send.ackLatency,
    deliveries: d.received_unique,
    deliveries_expected: d.expected,
    lost: d.lost,
    duplicates: d.duplicates,
    latency_ms: d.latency_ms,
    deliveries_per_s: round(d.received_unique / sendCpu.wall_s, 1),
    server_cpu_ms_per_1k_deliveries: cpu.server_cpu_ms === null ? null : round((1000 * cpu.server_cpu_ms) / d.received_unique, 2),
    server_system_cpu_ms_per_1k_deliveries: cpu.server_system_cpu_ms === null ? null : round((1000 * cpu.server_system_cpu_ms) / d.received_unique, 2),
    deliveries_per_server_cpu_s: cpu.server_cpu_ms ? round(d.received_unique / (cpu.server_cpu_ms / 1000), 0) : null,
    server_ctx_switches_per_message: cpu.server_ctx_switches === null ? null : round(cpu.server_ctx_switches / send.acked, 1),
    drained: dr,
    unexpected_disconnects: d.unexpected_disconnects,
  };
  report.server = { ...report.server, ...cpu, rss_kb: procRssKb(serverPid) };
  report.generator = { cpu_pct_send_phase: sendCpu.generator_cpu_pct, loop_delay_ms: d.generator_loop_delay_ms };
  if (d.lost || d.duplicates) report.problems.push(`lost ${d.lost}, duplicated ${d.duplicates}`);
}

async function throughput() {
  const roomsN = num('rooms');
  const m = num('members');
  const spu = num('sockets-per-user');
  if (m % spu) die('--members must be a multiple of --sockets-per-user');
  const n = roomsN * m;
  const tokens = await makeUsers(n / spu);
  const rooms = await benchRooms(roomsN, tokens[0]);
  const specs = Array.from({ length: n }, (_, i) => ({ idx: i, token: tokens[Math.floor(i / spu)], rooms: [rooms[Math.floor(i / m)]] }));
  await startWorkers(specs);
  log(`connecting ${n} sockets in ${roomsN} rooms of ${m}`);
  const c = await connectRange(0, n, 100);
  if (c.failed) report.problems.push(`${c.failed} handshakes failed: ${JSON.stringify(c.errors)}`);
  report.setup.connect = { connected: c.connected, failed: c.failed };
  report.setup.join = await joinAll();
  await sleep(1500);
  await all('resetLatencies');
  const durationMs = num('duration') * 1000;
  log(`every socket sends, closed loop (window ${opt.window}), for ${opt.duration}s`);
  const startAt = nowMs() + 200;
  const a = sample();
  const send = await sendFrom(specs.map((s) => ({ idx: s.idx, room: s.rooms[0] })), { name: 'tp', rate: 0, window: num('window'), durationMs, startAt });
  const s = sample();
  const expectedDeliveries = send.acked * m;
  const dr = await drain(expectedDeliveries, { quietMs: 2000, maxMs: 20000 });
  const b = sample();
  const d = await deliveryCheck(specs, send);
  const sendCpu = cpuBetween({ ...a, t: startAt }, s);
  const allCpu = cpuBetween(a, b);
  const rows = dbQuery('SELECT COUNT(*) FROM messages');
  report.result = {
    rooms: roomsN,
    members_per_room: m,
    senders: n,
    window: num('window'),
    sent: send.sent,
    acked: send.acked,
    send_failed: send.failed,
    ack_timeouts: send.timeouts,
    ack_errors: send.errors,
    acked_per_s: round(send.acked / sendCpu.wall_s, 1),
    ack_latency_ms: send.ackLatency,
    server_cpu_ms_per_1k_acks: sendCpu.server_cpu_ms === null ? null : round((1000 * sendCpu.server_cpu_ms) / send.acked, 2),
    server_system_cpu_ms_per_1k_acks: sendCpu.server_system_cpu_ms === null ? null : round((1000 * sendCpu.server_system_cpu_ms) / send.acked, 2),
    acks_per_server_cpu_s: sendCpu.server_cpu_ms ? round(send.acked / (sendCpu.server_cpu_ms / 1000), 0) : null,
    postgres_cpu_ms_per_1k_acks: sendCpu.postgres_cpu_ms === null ? null : round((1000 * sendCpu.postgres_cpu_ms) / send.acked, 2),
    server_ctx_switches_per_ack: sendCpu.server_ctx_switches === null ? null : round(sendCpu.server_ctx_switches / send.acked, 2),
    server_cpu_pct_send_phase: sendCpu.server_cpu_pct,
    deliveries_expected: d.expected,
    deliveries: d.received_unique,
    lost: d.lost,
    duplicates: d.duplicates,
    delivered_but_not_acked: d.delivered_but_not_acked,
    delivery_latency_ms: d.latency_ms,
    server_cpu_ms_per_1k_deliveries: allCpu.server_cpu_ms === null ? null : round((1000 * allCpu.server_cpu_ms) / d.received_unique, 2),
    db_rows: rows === null ? null : Number(rows),
    db_rows_match_acks: rows === null ? null : Number(rows) === send.acked,
    drained: dr,
    unexpected_disconnects: d.unexpected_disconnects,
  };
  report.server = { ...report.server, send_phase: sendCpu, rss_kb: procRssKb(serverPid) };
  report.generator = { cpu_pct_send_phase: sendCpu.generator_cpu_pct, loop_delay_ms: d.generator_loop_delay_ms };
  if (d.lost || d.duplicates) report.problems.push(`lost ${d.lost}, duplicated ${d.duplicates}`);
  if (rows !== null && Number(rows) !== send.acked) report.problems.push(`database has ${rows} messages, ${send.acked} were acked`);
}

async function reconnect() {
  const roomsN = num('rooms');
  const n = num('clients');
  const spu = num('sockets-per-user');
  const perRoom = n / roomsN;
  if (!Number.isInteger(perRoom) || perRoom % spu) die('--clients / --rooms must be a multiple of --sockets-per-user');
  const clientUsers = n / spu;
  const tokens = await makeUsers(clientUsers + roomsN);
  const rooms = await benchRooms(roomsN, tokens[0]);
  const specs = Array.from({ length: n }, (_, i) => ({ idx: i, token: tokens[Math.floor(i / spu)], rooms: [rooms[Math.floor(i / perRoom)]] }));
  // one sender per room, its own user, never dropped
  for (let r = 0; r < roomsN; r++) specs.push({ idx: n + r, token: tokens[clientUsers + r], rooms: [rooms[r]] });
  const senders = specs.slice(n).map((s) => ({ idx: s.idx, room: s.rooms[0] }));
  await startWorkers(specs, { seqMode: true });
  log(`connecting ${specs.length} sockets`);
  const c = await connectRange(0, specs.length, 100);
  if (c.failed) report.problems.push(`${c.failed} handshakes failed: ${JSON.stringify(c.errors)}`);
  report.setup.connect = { connected: c.connected, failed: c.failed };
  report.setup.join = await joinAll();
  const rate = num('rate');
  log(`flow: ${rate} msgs/s in each of ${roomsN} rooms`);
  const flow = sendFrom(senders, { name: 'flow', rate, durationMs: 120000 });
  await sleep(num('warm') * 1000);
  const atDrop = await all('maxSeq');
  const dropAt = nowMs();
  const dropped = (await all('drop', () => ({ maxIdx: n }))).reduce((a, x) => a + x, 0);
  log(`dropped ${dropped} sockets; burst of ${opt.burst} per room while they are away`);
  const burst = await sendFrom(senders, { name: 'burst', rate: 0, window: 8, max: num('burst'), durationMs: 30000 });
  await sleep(Math.max(0, dropAt + num('offline') * 1000 - nowMs()));
  const targets = {};
  for (const t of await all('maxSeq')) for (const [room, s] of Object.entries(t)) targets[room] = Math.max(targets[room] || 0, s);
  const seqAtDrop = {};
  for (const t of atDrop) for (const [room, s] of Object.entries(t)) seqAtDrop[room] = Math.max(seqAtDrop[room] || 0, s);
  log(`reconnecting ${dropped} sockets at once; targets ${JSON.stringify(targets)}`);
  const a = sample();
  const t0 = nowMs();
  const rec = await all('reconnect', () => ({ targets, timeoutMs: 30000 }));
  const b = sample();
  const caught = concat(rec.map((r) => r.caughtUpAt)).map((x) => x - t0);
  const conn = concat(rec.map((r) => r.connectedAt)).map((x) => x - t0);
  const notCaughtUp = rec.reduce((x, r) => x + r.notCaughtUp, 0);
  await sleep(num('after') * 1000);
  await all('stop', () => ({ name: 'flow' }));
  const flowResult = await flow;
  await drain(Infinity, { quietMs: 1500, maxMs: 10000 });
  let finals = {};
  const dbMax = dbQuery('SELECT room_id, MAX(seq) FROM messages GROUP BY room_id');
  if (dbMax) {
    for (const line of dbMax.split('\n')) {
      const [room, s] = line.split('|').map(Number);
      finals[room] = s;
    }
  } else {
    for (const t of await all('maxSeq')) for (const [room, s] of Object.entries(t)) finals[room] = Math.max(finals[room] || 0, s);
  }
  const ver = await all('verify', () => ({ finals }));
  const sum = (k) => ver.reduce((x, v) => x + v[k], 0);
  const counters = {};
  for (const v of ver) for (const [k, x] of Object.entries(v.counters)) counters[k] = (counters[k] || 0) + x;
  const missedPerRoom = Object.keys(targets).map((r) => targets[r] - (seqAtDrop[r] || 0));
  const cu = summarize(caught);
  const storm = cpuBetween(a, b);
  report.result = {
    clients_dropped: dropped,
    rooms: roomsN,
    senders: roomsN,
    flow_rate_per_room: rate,
    offline_s: round((t0 - dropAt) / 1000, 2),
    missed_per_room: summarize(missedPerRoom),
    caught_up: caught.length,
    not_caught_up: notCaughtUp,
    caught_up_s: round(cu.max / 1000, 3),
    caught_up_ms: cu,
    reconnected_ms: summarize(conn),
    connect_failed: rec.reduce((x, r) => x + r.connectFailed, 0),
    connect_errors: mergeErrors(rec.map((r) => r.connectErrors)),
    storm_server_cpu: storm,
    catch_up_pages: counters.catchUpPages,
    catch_up_errors: counters.catchUpErrors,
    catch_up_repeats: counters.catchUpRepeats,
    gaps_inside_pages: counters.gapsInPages,
    flow: { sent: flowResult.sent, acked: flowResult.acked, failed: flowResult.failed },
    burst: { sent: burst.sent, acked: burst.acked, failed: burst.failed },
    final_seq: finals,
    verified_sockets: sum('clients'),
    verified_ok: sum('ok'),
    missing: sum('missing'),
    applied_twice: sum('doubles'),
    beyond_final: sum('extra'),
    redundant_events_ignored: sum('ignoredRedundant'),
    bad_samples: ver.flatMap((v) => v.badSamples).slice(0, 5),
    unexpected_disconnects: counters.unexpectedDisconnects,
  };
  if (notCaughtUp) report.problems.push(`${notCaughtUp} clients did not catch up in 30 s`);
  if (report.result.missing || report.result.applied_twice || report.result.verified_ok !== report.result.verified_sockets) {
    report.problems.push(`verification: ${report.result.verified_ok}/${report.result.verified_sockets} sockets complete, ${report.result.missing} seqs missing`);
  }
}

// ---------- main ----------

try {
  await waitHealthy();
  const run = { connections, fanout, throughput, reconnect }[scenario];
  log(`scenario ${scenario} against ${baseUrl}${serverPid ? ` (pid ${serverPid})` : ''}, ${WORKERS} workers`);
  await run();
  report.server.rss_end_kb = serverPid ? procRssKb(serverPid) : null;
  report.server.rss_peak_sampled_kb = rssPeak || null;
  report.server.cpu_total_ms = serverPid ? procCpuMs(serverPid) : null;
} catch (e) {
  report.problems.push(`error: ${(e && e.stack) || e}`);
}
clearTimeout(watchdog);
clearInterval(rssTimer);
if (workers.length) await Promise.race([all('close'), sleep(2000)]);
log(report.problems.length ? `problems: ${report.problems.join('; ')}` : 'done');
finish(0);
