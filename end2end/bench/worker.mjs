// One load-generator thread: owns a share of the sockets, connects them, joins rooms, sends, and
// tracks every message it receives. The main thread (load.mjs) drives it with commands
// `{id, cmd, ...}` and gets `{id, result}` or `{id, error}` back. Commands may overlap (a send
// keeps running while the main thread drops and reconnects other sockets).
import { parentPort, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io } from 'socket.io-client';
import { BitSet, Samples, makeClientId, nowMs, parseClientId, sleep } from './lib.mjs';

const { url, specs, opts } = workerData;
// opts: {connectTimeoutMs, ackTimeoutMs, textSize, seqMode}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

/** One socket of this worker. `rooms` are the chat rooms it joins. */
const clients = specs.map((spec) => ({
  idx: spec.idx,
  token: spec.token,
  rooms: spec.rooms,
  socket: null,
  connected: false,
  expectDisconnect: false,
  // per sender: the message numbers received (exactly-once check)
  got: new Map(),
  // seq mode: per room {last, applied, bits, catching, again, ...}
  seqs: new Map(),
  awaitingCatchUp: false,
  reconnectStartedAt: 0,
  connectedAt: 0,
  caughtUpAt: 0,
}));

const recv = { total: 0, unique: 0, dups: 0, unknown: 0, lastAt: 0, latencies: new Samples(1 << 16) };
const counters = { unexpectedDisconnects: 0, catchUpErrors: 0, catchUpPages: 0, catchUpRepeats: 0, gapsInPages: 0 };
let recordLatency = true;
const stopFlags = new Set();
const maxSeqAcked = {};
const catchUpWaiters = [];

// ---------- receiving ----------

function onNewMessage(client, m) {
  const at = nowMs();
  recv.total++;
  recv.lastAt = at;
  if (opts.seqMode) return onLiveSeq(client, m);
  const id = parseClientId(m && m.client_id);
  if (!id) {
    recv.unknown++;
    return;
  }
  let set = client.got.get(id.sender);
  if (!set) client.got.set(id.sender, (set = new BitSet(64)));
  if (set.add(id.n)) {
    recv.unique++;
    if (recordLatency) recv.latencies.push(at - id.sentAt);
  } else {
    recv.dups++;
  }
}

function roomState(client, roomId) {
  let rs = client.seqs.get(roomId);
  if (!rs) {
    rs = { roomId, last: 0, applied: 0, doubles: 0, ignored: 0, bits: new BitSet(64), catching: false, pending: new Set() };
    client.seqs.set(roomId, rs);
  }
  return rs;
}

/** Applies a room change in seq order: the next seq is applied, older ones are ignored. */
function applySeq(client, rs, seq) {
  if (seq <= rs.last) {
    rs.ignored++;
    return true;
  }
  if (seq !== rs.last + 1) return false;
  rs.last = seq;
  rs.applied++;
  if (!rs.bits.add(seq)) rs.doubles++;
  if (client.awaitingCatchUp) checkCaughtUp(client);
  return true;
}

function onLiveSeq(client, m) {
  const rs = client.seqs.get(m && m.room_id);
  if (!rs || !Number.isInteger(m.seq)) {
    recv.unknown++;
    return;
  }
  if (m.seq <= rs.last) {
    recv.dups++;
    rs.ignored++;
    return;
  }
  recv.unique++;
  if (!rs.catching && m.seq === rs.last + 1) {
    applySeq(client, rs, m.seq);
    return;
  }
  // Kept until the catch-up in flight (or started now: a gap means something was missed,
  // offline or by a full buffer on the server) has applied everything before it.
  rs.pending.add(m.seq);
  if (!rs.catching) catchUp(client, rs);
}

/**
 * `joinRoom {roomId, since: last}` page after page while `hasMore`, then the live events that
 * arrived meanwhile; once more only if a gap is left (an event the server could not deliver).
 */
async function catchUp(client, rs) {
  if (rs.catching) return true;
  rs.catching = true;
  let failures = 0;
  try {
    for (;;) {
      let more = true;
      while (more) {
        if (!client.connected) return false; // the connect handler starts over
        let resp;
        try {
          resp = await ask(client.socket, 'joinRoom', { roomId: rs.roomId, since: rs.last });
        } catch (e) {
          resp = { ok: false, error: { error: String(e.message || e) } };
        }
        if (!resp || resp.ok !== true) {
          counters.catchUpErrors++;
          if (++failures > 20) return false;
          await sleep(100 * failures);
          continue;
        }
        counters.catchUpPages++;
        for (const m of resp.messages || []) {
          if (!applySeq(client, rs, m.seq)) {
            counters.gapsInPages++;
            break;
          }
        }
        more = resp.hasMore === true;
      }
      while (rs.pending.has(rs.last + 1)) {
        rs.pending.delete(rs.last + 1);
        applySeq(client, rs, rs.last + 1);
      }
      for (const seq of rs.pending) if (seq <= rs.last) rs.pending.delete(seq);
      if (rs.pending.size === 0) return true;
      counters.catchUpRepeats++;
    }
  } finally {
    rs.catching = false;
    if (client.awaitingCatchUp) checkCaughtUp(client);
  }
}

function checkCaughtUp(client) {
  for (const rs of client.seqs.values()) {
    if (rs.catching || rs.last < (rs.target || 0)) return;
  }
  client.awaitingCatchUp = false;
  client.caughtUpAt = nowMs();
  if (catchUpWaiters.length && clients.every((c) => !c.awaitingCatchUp)) {
    for (const w of catchUpWaiters.splice(0)) w();
  }
}

// ---------- sockets ----------

function ask(socket, event, payload, timeoutMs = opts.ackTimeoutMs) {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

function makeSocket(client) {
  const socket = io(url, {
    transports: ['websocket'],
    auth: { token: client.token },
    reconnection: false,
    forceNew: true,
    autoConnect: false,
    timeout: opts.connectTimeoutMs,
  });
  socket.on('newMessage', (m) => onNewMessage(client, m));
  socket.on('connect', () => {
    client.connected = true;
    client.connectedAt = nowMs();
    if (opts.seqMode && client.awaitingCatchUp) {
      for (const rs of client.seqs.values()) catchUp(client, rs);
    }
  });
  socket.on('disconnect', () => {
    client.connected = false;
    if (!client.expectDisconnect) counters.unexpectedDisconnects++;
  });
  return socket;
}

/** Opens one socket (or reopens it); resolves to {ok, ms, error}. */
function connectOne(client) {
  return new Promise((resolve) => {
    const started = nowMs();
    let done = false;
    const finish = (ok, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.socket.off('connect', onOk);
      client.socket.off('connect_error', onErr);
      resolve({ ok, ms: nowMs() - started, error });
    };
    const onOk = () => finish(true);
    const onErr = (e) => finish(false, String((e && e.message) || e));
    const timer = setTimeout(() => finish(false, 'connect timeout'), opts.connectTimeoutMs + 1000);
    client.expectDisconnect = false;
    if (!client.socket) client.socket = makeSocket(client);
    client.socket.on('connect', onOk);
    client.socket.on('connect_error', onErr);
    client.socket.connect();
  });
}

/** Runs `fn` over `items` with at most `limit` in flight (limit 0: all at once). */
async function pool(items, limit, fn) {
  if (!limit || limit >= items.length) return Promise.all(items.map(fn));
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const countErrors = (list) => {
  const by = {};
  for (const e of list) if (e) by[e] = (by[e] || 0) + 1;
  return by;
};

// ---------- commands ----------

const commands = {
  /** Opens sockets `from..to` (indexes into this worker's list). */
  async connect({ from = 0, to = clients.length, concurrency = 50 }) {
    const chosen = clients.slice(from, to);
    const results = await pool(chosen, concurrency, connectOne);
    const ok = results.filter((r) => r.ok);
    return {
      attempted: results.length,
      connected: ok.length,
      failed: results.length - ok.length,
      errors: countErrors(results.map((r) => r.error)),
      latencies: Float64Array.from(ok.map((r) => r.ms)),
    };
  },

  /** Every connected socket joins its rooms (seq mode: `since` its last seq, paging). */
  async join({ concurrency = 50 }) {
    const jobs = [];
    for (const c of clients) if (c.connected) for (const r of c.rooms) jobs.push([c, r]);
    const results = await pool(jobs, concurrency, async ([c, roomId]) => {
      if (opts.seqMode) {
        return (await catchUp(c, roomState(c, roomId))) ? null : 'catch-up failed';
      }
      try {
        const resp = await ask(c.socket, 'joinRoom', { roomId });
        return resp && resp.ok === true ? null : `join: ${JSON.stringify(resp && resp.error)}`;
      } catch (e) {
        return `join: ${e.message || e}`;
      }
    });
    const errors = results.filter(Boolean);
    return { joins: jobs.length, failed: errors.length, errors: countErrors(errors) };
  },

  /**
   * Sends from `senders` ([{local, room, sender}]): open loop at `rate` msgs/s per sender
   * (latency from the scheduled time), or closed loop (`rate` 0) with `window` sends in flight.
   * Runs for `durationMs`, or until `max` per sender, or until the `stop` command names it.
   */
  async send({ name, senders, rate = 0, durationMs = 10000, window = 1, max = Infinity, startAt = nowMs() }) {
    const deadline = startAt + durationMs;
    const ackLat = new Samples(1 << 12);
    const errors = {};
    let timeouts = 0;
    const maxSeq = {};
    const text = (cid) => {
      const base = `bench ${cid} `;
      return base.length >= opts.textSize ? base : base + 'x'.repeat(opts.textSize - base.length);
    };
    const stopped = () => stopFlags.has(name) || nowMs() >= deadline;
    const runOne = async (s) => {
      const client = clients[s.local];
      const st = { idx: s.sender, room: s.room, sent: 0, acked: new BitSet(64), ackedCount: 0, failed: 0 };
      const sendOne = async (n, scheduledAt) => {
        const cid = makeClientId(s.sender, n, scheduledAt);
        st.sent++;
        try {
          const resp = await ask(client.socket, 'sendMessage', { roomId: s.room, text: text(cid), clientId: cid });
          if (resp && resp.ok === true) {
            st.acked.add(n);
            st.ackedCount++;
            ackLat.push(nowMs() - scheduledAt);
            const seq = resp.message && resp.message.seq;
            if (Number.isInteger(seq) && !(maxSeq[s.room] >= seq)) maxSeq[s.room] = seq;
            if (Number.isInteger(seq) && !(maxSeqAcked[s.room] >= seq)) maxSeqAcked[s.room] = seq;
          } else {
            st.failed++;
            const code = (resp && resp.error && resp.error.error) || 'bad ack';
            errors[code] = (errors[code] || 0) + 1;
          }
        } catch {
          st.failed++;
          timeouts++;
        }
      };
      await sleep(Math.max(0, startAt - nowMs()));
      if (rate > 0) {
        // open loop: one send per 1/rate seconds, not waiting for acks
        const period = 1000 / rate;
        const inflight = new Set();
        for (let n = 0; n < max && !stopped(); n++) {
          const at = startAt + n * period;
          const wait = at - nowMs();
          if (wait > 0) await sleep(wait);
          if (stopped()) break;
          const p = sendOne(n, at);
          inflight.add(p);
          p.finally(() => inflight.delete(p));
        }
        await Promise.all(inflight);
      } else {
        let n = 0;
        await Promise.all(
          Array.from({ length: window }, async () => {
            while (n < max && !stopped()) await sendOne(n++, nowMs());
          }),
        );
      }
      return st;
    };
    const per = await Promise.all(senders.map(runOne));
    stopFlags.delete(name);
    return {
      endedAt: nowMs(),
      senders: per.map((st) => ({ idx: st.idx, room: st.room, sent: st.sent, acked: st.ackedCount, failed: st.failed, ackedBits: st.acked.bits })),
      ackLatencies: ackLat.toArray(),
      errors,
      timeouts,
      maxSeq,
    };
  },

  maxSeq() {
    return maxSeqAcked;
  },

  stop({ name }) {
    stopFlags.add(name);
    return true;
  },

  /** Cheap progress numbers, for draining. */
  count() {
    return { total: recv.total, unique: recv.unique, dups: recv.dups, lastAt: recv.lastAt, connected: clients.filter((c) => c.connected).length };
  },

  /** What was received: per (receiver, sender) the message numbers, and the latencies. */
  stats({ withBits = true } = {}) {
    const pairs = [];
    if (withBits) for (const c of clients) for (const [sender, set] of c.got) pairs.push([c.idx, sender, set.bits]);
    const out = {
      total: recv.total,
      unique: recv.unique,
      dups: recv.dups,
      unknown: recv.unknown,
      latencies: recv.latencies.toArray(),
      pairs,
      counters,
      connected: clients.filter((c) => c.connected).length,
      loopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    };
    return out;
  },

  resetLatencies({ record = true } = {}) {
    recv.latencies = new Samples(1 << 16);
    recordLatency = record;
    loopDelay.reset();
    return true;
  },

  /** Closes every socket from the client side (the "drop"). */
  drop({ maxIdx = Infinity }) {
    let n = 0;
    for (const c of clients) {
      if (c.idx >= maxIdx) continue;
      c.dropped = true;
      c.expectDisconnect = true;
      if (c.socket) c.socket.disconnect();
      n++;
    }
    return n;
  },

  /** Seq mode: reconnects every socket at once; resolves when all have caught up to `targets`. */
  async reconnect({ targets, timeoutMs = 30000 }) {
    const t0 = nowMs();
    const dropped = clients.filter((c) => c.dropped);
    for (const c of dropped) {
      for (const rs of c.seqs.values()) rs.target = targets[rs.roomId] || 0;
      c.awaitingCatchUp = true;
      c.caughtUpAt = 0;
      c.connectedAt = 0;
    }
    const all = new Promise((resolve) => catchUpWaiters.push(resolve));
    if (dropped.length === 0) catchUpWaiters.splice(0).forEach((w) => w());
    const conn = dropped.map((c) => {
      c.dropped = false;
      return connectOne(c);
    });
    const timedOut = await Promise.race([all.then(() => false), sleep(timeoutMs).then(() => true)]);
    const connResults = await Promise.race([Promise.all(conn), sleep(1000).then(() => [])]);
    return {
      t0,
      timedOut,
      clients: dropped.length,
      connectFailed: connResults.filter((r) => !r.ok).length,
      connectErrors: countErrors(connResults.map((r) => r.error)),
      connectedAt: Float64Array.from(dropped.filter((c) => c.connectedAt).map((c) => c.connectedAt)),
      caughtUpAt: Float64Array.from(dropped.filter((c) => c.caughtUpAt).map((c) => c.caughtUpAt)),
      notCaughtUp: dropped.filter((c) => c.awaitingCatchUp).length,
    };
  },

  /** Seq mode: every client applied every seq 1..final of each of its rooms exactly once. */
  verify({ finals }) {
    let ok = 0;
    let missing = 0;
    let extra = 0;
    let doubles = 0;
    let ignored = 0;
    const badSamples = [];
    for (const c of clients) {
      let good = true;
      for (const rs of c.seqs.values()) {
        const final = finals[rs.roomId] || 0;
        const have = rs.bits.size();
        let miss = 0;
        for (let s = 1; s <= final; s++) if (!rs.bits.has(s)) miss++;
        missing += miss;
        extra += Math.max(0, rs.last - final);
        doubles += rs.doubles;
        ignored += rs.ignored;
        if (miss || rs.doubles || have !== final || rs.applied !== final) {
          good = false;
          if (badSamples.length < 5) badSamples.push({ idx: c.idx, room: rs.roomId, last: rs.last, applied: rs.applied, final, missing: miss });
        }
      }
      if (good) ok++;
    }
    return { clients: clients.length, ok, missing, extra, doubles, ignoredRedundant: ignored, badSamples, counters };
  },

  close() {
    for (const c of clients) {
      c.expectDisconnect = true;
      if (c.socket) c.socket.disconnect();
    }
    setTimeout(() => process.exit(0), 200);
    return true;
  },
};

parentPort.on('message', async ({ id, cmd, args }) => {
  try {
    const result = await commands[cmd](args || {});
    const transfer = [];
    if (result && typeof result === 'object') {
      for (const v of Object.values(result)) if (ArrayBuffer.isView(v)) transfer.push(v.buffer);
    }
    parentPort.postMessage({ id, result }, transfer);
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.stack) || e) });
  }
});
