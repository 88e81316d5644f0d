#!/usr/bin/env node
// What a cluster costs: Tagarela instances on one PostgreSQL database and one Redis, started by
// end2end/bench/cluster.sh, driven directly on their ports with the official socket.io-client
// (clients spread over the instances in turn). Prints one JSON report.
//
//   node end2end/bench/cluster.mjs --scenario fanout|throughput|reconnect \
//     --urls http://127.0.0.1:A,http://127.0.0.1:B --pids PA,PB [--redis-pid P] --pg-url URL
//
// - fanout: one sender at --rate messages/s to a room of --members sockets; delivery latency
//   (send to receipt, per socket) and server CPU per delivery (instances, PostgreSQL, Redis).
// - throughput: --rooms rooms of --members senders each, as fast as acks allow for --duration s;
//   acked messages/s, rows == acks, CPU per ack.
// - reconnect: --clients sockets on the last instance, which is killed (SIGKILL) while a sender
//   on the first sends at --rate; the clients reconnect to the other instances, rejoin with
//   `since` and page until they hold every message: time until all are caught up.
// Only loopback addresses are accepted; every phase is bounded and a watchdog ends the process.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { nowMs, poolRun, postgresCpuByPid, procCpuMs, sleep, summarize } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    scenario: { type: 'string' },
    urls: { type: 'string' },
    pids: { type: 'string', default: '' },
    'redis-pid': { type: 'string' },
    'pg-url': { type: 'string' },
    label: { type: 'string', default: '' },
    password: { type: 'string', default: 'bench-password' },
    'admin-user': { type: 'string', default: 'bench_admin' },
    'admin-password': { type: 'string', default: 'bench-password' },
    members: { type: 'string', default: '1000' },
    'sockets-per-user': { type: 'string', default: '20' },
    rate: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    rooms: { type: 'string', default: '30' },
    clients: { type: 'string', default: '1000' },
    watchdog: { type: 'string', default: '240' },
  },
});

const urls = (opt.urls || '').split(',').filter(Boolean);
if (!urls.length) die('--urls is required');
for (const u of urls) {
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(u).hostname)) die('only loopback targets are allowed');
}
const pids = opt.pids.split(',').filter(Boolean).map(Number);
const redisPid = opt['redis-pid'] ? Number(opt['redis-pid']) : null;
const T0 = nowMs();
const log = (...a) => console.error(`[${((nowMs() - T0) / 1000).toFixed(1)}s]`, ...a);
const round = (x, d = 2) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
// --label 0: one instance outside any cluster (the baseline); else the number of instances.
const report = { tool: 'end2end/bench/cluster.mjs', scenario: opt.scenario, label: opt.label, instances: opt.label === '0' ? 0 : urls.length, params: { ...opt, password: undefined, 'admin-password': undefined }, result: {}, problems: [] };

function die(msg) {
  console.error(`cluster bench: ${msg}`);
  process.exit(2);
}
function finish(code = 0) {
  report.elapsed_s = round((nowMs() - T0) / 1000, 1);
  report.ok = code === 0 && report.problems.length === 0;
  process.stdout.write(JSON.stringify(report, null, 2) + '\n', () => process.exit(code));
}
setTimeout(() => {
  report.problems.push(`watchdog: still running after ${opt.watchdog}s`);
  finish(3);
}, Number(opt.watchdog) * 1000).unref();

// ---------- HTTP and sockets ----------

async function call(base, method, path, body, token) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function tokenFor(base, username, password) {
  let r = await call(base, 'POST', '/api/auth/login', { username, password });
  if (r.status !== 200) r = await call(base, 'POST', '/api/auth/register', { username, password });
  if (r.status !== 200 && r.status !== 201) throw new Error(`sign-in of ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

function connect(url, token) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, timeout: 20000, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (e) => reject(new Error(`connect to ${url}: ${e.message}`)));
  });
}

function request(socket, event, payload, timeout = 20000) {
  return socket.timeout(timeout).emitWithAck(event, payload);
}

/** CPU (ms) of the instances, PostgreSQL's processes and Redis now. */
function cpuNow() {
  const instances = pids.reduce((a, p) => a + (procCpuMs(p) || 0), 0);
  const pg = Object.values(postgresCpuByPid()).reduce((a, b) => a + b, 0);
  const redis = redisPid ? procCpuMs(redisPid) || 0 : 0;
  return { instances, pg, redis };
}
function cpuSince(before) {
  const now = cpuNow();
  return { instances_ms: now.instances - before.instances, postgres_ms: now.pg - before.pg, redis_ms: now.redis - before.redis };
}

function rows(sql) {
  return Number(execFileSync('psql', [opt['pg-url'], '-Atc', sql], { encoding: 'utf8', timeout: 20000 }).trim());
}

async function createRoom(admin, name) {
  const r = await call(urls[0], 'POST', '/api/admin/rooms', { name }, admin);
  if (r.status !== 201) throw new Error(`create room: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/** `count` sockets of `users` users (`perUser` each), instance by instance in turn, all joined to `room`. */
async function members(count, perUser, room, prefix, urlsFor = urls) {
  const users = Math.ceil(count / perUser);
  const tokens = [];
  await poolRun(users, 8, async (u) => {
    tokens[u] = await tokenFor(urls[0], `${prefix}${u}`, opt.password);
  });
  const sockets = [];
  await poolRun(count, 50, async (i) => {
    const socket = await connect(urlsFor[i % urlsFor.length], tokens[Math.floor(i / perUser)]);
    sockets[i] = socket;
    const ack = await request(socket, 'joinRoom', { roomId: room });
    if (!ack.ok) throw new Error(`joinRoom: ${JSON.stringify(ack)}`);
  });
  return { sockets, tokens };
}

// ---------- scenarios ----------

async function fanout() {
  const admin = await tokenFor(urls[0], opt['admin-user'], opt['admin-password']);
  const room = await createRoom(admin, `fanout-${Date.now()}`);
  const n = Number(opt.members);
  const { sockets } = await members(n, Number(opt['sockets-per-user']), room, 'bench_f');
  const latencies = [];
  let delivered = 0;
  for (const socket of sockets) {
    socket.on('newMessage', (m) => {
      delivered++;
      const sentAt = Number(m.text.split(' ')[0]);
      latencies.push(nowMs() - sentAt);
    });
  }
  const sender = await connect(urls[0], admin);
  await request(sender, 'joinRoom', { roomId: room });
  const rate = Number(opt.rate);
  const total = rate * Number(opt.duration);
  log(`fanout: ${n} members on ${urls.length} instance(s), ${total} messages at ${rate}/s`);
  const cpu0 = cpuNow();
  const t0 = nowMs();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - nowMs();
    if (wait > 0) await sleep(wait);
    sender.emit('sendMessage', { roomId: room, text: `${nowMs()} m${i}` });
  }
  const deadline = nowMs() + 30000;
  while (delivered < total * n && nowMs() < deadline) await sleep(100);
  const cpu = cpuSince(cpu0);
  const all = cpu.instances_ms + cpu.postgres_ms + cpu.redis_ms;
  const lat = summarize(latencies);
  report.result = {
    members: n,
    messages: total,
    deliveries: delivered,
    expected_deliveries: total * n,
    latency_ms: { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max) },
    cpu,
    cpu_us_per_delivery: round((all * 1000) / Math.max(1, delivered), 1),
    instances_cpu_us_per_delivery: round((cpu.instances_ms * 1000) / Math.max(1, delivered), 1),
  };
  if (delivered < total * n) report.problems.push(`${total * n - delivered} deliveries missing`);
  for (const s of [...sockets, sender]) s.close();
}

async function throughput() {
  const admin = await tokenFor(urls[0], opt['admin-user'], opt['admin-password']);
  const roomCount = Number(opt.rooms);
  const perRoom = 4;
  const rooms = [];
  for (let r = 0; r < roomCount; r++) rooms.push(await createRoom(admin, `tp-${Date.now()}-${r}`));
  const senders = [];
  const tokens = [];
  await poolRun(roomCount * perRoom, 8, async (i) => {
    tokens[i] = await tokenFor(urls[0], `bench_t${i}`, opt.password);
  });
  await poolRun(roomCount * perRoom, 50, async (i) => {
    const socket = await connect(urls[i % urls.length], tokens[i]);
    const room = rooms[Math.floor(i / perRoom)];
    const ack = await request(socket, 'joinRoom', { roomId: room });
    if (!ack.ok) throw new Error(`joinRoom: ${JSON.stringify(ack)}`);
    senders[i] = { socket, room };
  });
  const before = rows('SELECT COUNT(*) FROM messages');
  log(`throughput: ${senders.length} senders in ${roomCount} rooms on ${urls.length} instance(s) for ${opt.duration}s`);
  const cpu0 = cpuNow();
  const t0 = nowMs();
  const end = t0 + Number(opt.duration) * 1000;
  let acked = 0;
  let failed = 0;
  await Promise.all(
    senders.map(async ({ socket, room }, i) => {
      let n = 0;
      while (nowMs() < end) {
        try {
          const ack = await request(socket, 'sendMessage', { roomId: room, text: `t${i}-${n}`, clientId: `t-${i}-${n}` });
          if (ack.ok) acked++;
          else failed++;
        } catch {
          failed++;
        }
        n++;
      }
    }),
  );
  const seconds = (nowMs() - t0) / 1000;
  const cpu = cpuSince(cpu0);
  const stored = rows('SELECT COUNT(*) FROM messages') - before;
  report.result = {
    senders: senders.length,
    acked,
    failed,
    rows: stored,
    acked_per_s: round(acked / seconds, 0),
    cpu,
    cpu_us_per_ack: round(((cpu.instances_ms + cpu.postgres_ms + cpu.redis_ms) * 1000) / Math.max(1, acked), 1),
    instances_cpu_us_per_ack: round((cpu.instances_ms * 1000) / Math.max(1, acked), 1),
  };
  if (stored !== acked) report.problems.push(`rows ${stored} != acks ${acked}`);
  if (failed) report.problems.push(`${failed} sends failed`);
  for (const s of senders) s.socket.close();
}

async function reconnect() {
  if (urls.length < 2) die('reconnect needs two instances or more');
  const admin = await tokenFor(urls[0], opt['admin-user'], opt['admin-password']);
  const room = await createRoom(admin, `storm-${Date.now()}`);
  const n = Number(opt.clients);
  const victim = urls[urls.length - 1];
  const survivors = urls.slice(0, -1);
  const { sockets, tokens } = await members(n, Number(opt['sockets-per-user']), room, 'bench_r', [victim]);
  const last = new Array(n).fill(0);
  sockets.forEach((s, i) => s.on('newMessage', (m) => (last[i] = Math.max(last[i], m.seq))));
  const sender = await connect(urls[0], admin);
  await request(sender, 'joinRoom', { roomId: room });
  const rate = Number(opt.rate);
  let sent = 0;
  let sending = true;
  const sends = (async () => {
    while (sending) {
      const ack = await request(sender, 'sendMessage', { roomId: room, text: `s${sent}` });
      if (ack.ok) sent = ack.message.seq;
      await sleep(1000 / rate);
    }
  })();
  await sleep(2000);
  log(`reconnect: killing the instance of ${n} clients (pid ${pids[pids.length - 1]})`);
  process.kill(pids[pids.length - 1], 'SIGKILL');
  const killedAt = nowMs();
  // Every client reconnects to a surviving instance and catches up from its last seq, 100 at once.
  const caughtUpAt = new Array(n).fill(null);
  let failures = 0;
  const target = () => sent;
  await poolRun(n, 100, async (i) => {
    sockets[i].close();
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const socket = await connect(survivors[i % survivors.length], tokens[Math.floor(i / Number(opt['sockets-per-user']))]);
        let since = last[i];
        socket.on('newMessage', (m) => (since = Math.max(since, m.seq)));
        for (;;) {
          const ack = await request(socket, 'joinRoom', { roomId: room, since });
          if (!ack.ok) throw new Error(JSON.stringify(ack));
          for (const m of ack.messages) since = Math.max(since, m.seq);
          if (!ack.hasMore) break;
        }
        while (since < target()) await sleep(20);
        caughtUpAt[i] = nowMs() - killedAt;
        sockets[i] = socket;
        return;
      } catch {
        failures++;
        await sleep(200);
      }
    }
  });
  sending = false;
  await sends;
  const times = caughtUpAt.filter((t) => t !== null);
  const s = summarize(times);
  report.result = {
    clients: n,
    caught_up: times.length,
    reconnect_failures: failures,
    messages_sent: sent,
    all_caught_up_ms: round(Math.max(...times), 0),
    caught_up_ms: { p50: round(s.p50, 0), p99: round(s.p99, 0) },
  };
  if (times.length < n) report.problems.push(`${n - times.length} clients never caught up`);
  for (const s of [...sockets, sender]) s.close();
}

const scenarios = { fanout, throughput, reconnect };
if (!scenarios[opt.scenario]) die(`--scenario must be one of ${Object.keys(scenarios).join(', ')}`);
scenarios[opt.scenario]()
  .then(() => finish(0))
  .catch((e) => {
    report.problems.push(`error: ${(e && e.stack) || e}`);
    finish(4);
  });
