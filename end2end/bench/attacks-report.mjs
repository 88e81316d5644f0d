#!/usr/bin/env node
// Writes the "Under attack" section of BENCHMARKS.md from the attack tool's results
// (end2end/bench/attacks.mjs): one table per attack, with a column for each of
// target/bench-results/attacks-before.json and attacks-after.json that exists.
//
//   node end2end/bench/attacks-report.mjs [--before FILE] [--after FILE] [--doc BENCHMARKS.md]
//
// The section sits between the markers below; the rest of the document is left as it is. Without
// the markers, it goes before "## What limits these numbers", or at the end. report.mjs, which
// regenerates the rest of BENCHMARKS.md, carries the section over (`existingSection`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const BEGIN = '<!-- attacks:begin -->';
export const END = '<!-- attacks:end -->';
const LIMITS_HEADING = '## What limits these numbers';

/** The section as it is in `doc` (markers included), or null. */
export function existingSection(doc) {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  return a >= 0 && b > a ? doc.slice(a, b + END.length) : null;
}

/** `doc` with `section` in place of the old one, or before the limits section, or at the end. */
export function placeSection(doc, section) {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a >= 0 && b > a) return doc.slice(0, a) + section + doc.slice(b + END.length);
  const at = doc.indexOf(`\n${LIMITS_HEADING}`);
  if (at >= 0) return `${doc.slice(0, at + 1)}${section}\n\n${doc.slice(at + 1)}`;
  return `${doc.replace(/\n*$/, '\n\n')}${section}\n`;
}

// What each attack does, in the order of the security review.
const ATTACKS = [
  {
    id: 'history',
    title: '1. One socket asks for history and never reads',
    what: (p) =>
      `A signed-in user opens one WebSocket (raw TCP, frames written by hand), sends ${p.events ?? 200} \`history {roomId, limit: 200}\` as fast as the limit of 50 events per second allows, in a room of ${p.messages ?? 220} messages of ${(p.size ?? 1000).toLocaleString('en-US')} characters (so each reply is about 0.25 MB), and never reads a byte; it only sends Engine.IO pongs every 5 s, which is all it takes to keep a socket that never reads alive (a failing write tells when the server has closed it). After 60 s it reads at last, to count what the server had kept for it, and closes.`,
  },
  {
    id: 'catchup',
    title: '1b. One socket asks for catch-up pages and never reads',
    what: (p) =>
      `The same with ${p.events ?? 100} \`joinRoom {roomId, since: 0}\` in a room of ${p.messages ?? 520} messages of ${(p.size ?? 1000).toLocaleString('en-US')} characters: each reply is a catch-up page of 500 messages (about 0.6 MB).`,
  },
  {
    id: 'static',
    title: '2. HTTP connections that never read the response',
    what: (p) =>
      `${p.connections ?? 200} connections each send \`GET ${p.path ?? '/pkg/tagarela.wasm'}\` with \`Accept-Encoding: identity\` (the biggest response the server has: the WASM bundle, or a page when the binary embeds no site) and never read; held for 65 s, then closed.`,
  },
  {
    id: 'apipage',
    title: '2b. HTTP connections that never read an API response',
    what: (p) =>
      `The same with \`GET /api/rooms/{id}/messages?limit=200\` by one signed-in user, in a room of 200 messages of 4,000 characters (about ${((p.response_bytes ?? 850000) / 1048576).toFixed(1)} MB of JSON): a big response that every binary serves, with or without the site.`,
  },
  {
    id: 'polling',
    title: '3. Anonymous long-polling handshakes',
    what: (p) =>
      `Up to ${(p.max_requests ?? 150000).toLocaleString('en-US')} \`GET /socket.io/?EIO=4&transport=polling\`, ${p.concurrency ?? 64} at a time over keep-alive connections, for at most ${p.limit_s ?? 25} s, without a token: each opens an Engine.IO connection that nobody uses. Connections that never send a Socket.IO CONNECT are closed by the server after a while, so memory is read again 60 s and 90 s after the flood, a poll with the last connection's id tells whether the server still has it, and a second flood the same tells freed memory (reused) from leaked memory (grows again).`,
  },
  {
    id: 'binary',
    title: '4. Binary attachments before signing in',
    what: (p) =>
      `${p.connections ?? 50} WebSockets that never authenticate each send a Socket.IO binary event header announcing ${p.announced_attachments ?? 151} attachments, then ${p.frames ?? 150} binary frames of ${((p.frame_bytes ?? 65472) / 1024).toFixed(0)} KiB (one fewer than announced, so the packet never completes), and keep the connection alive with pongs.`,
  },
  {
    id: 'million',
    title: '5. A room of a million messages',
    what: () =>
      'A room with 1,000,000 messages, written straight into the SQLite file while the server is stopped, and a member who has read none of them. Then the times of `GET /api/rooms` (the unread count) and of two history calls whose cursor is not one of the room\u2019s messages (`before=1`, a message of another room, and an id past the room\u2019s last), alone; then while 16 loops of that one account call those two history requests back to back for 10 s, how long another user waits for a `joinRoom` ack (in a small room) and for `GET /healthz`.',
  },
];

/** A sentence the figures of one run support on their own, or null. */
function reading(id, e) {
  const v = (k) => e.figures?.find((f) => f.key === k)?.value;
  if (id === 'polling') {
    const peak = v('rss_peak');
    const after = v('rss_after_1');
    const second = v('second');
    const alive = String(v('alive') ?? '');
    if (!(peak > 0 && after > 0 && second > 0) || !alive.startsWith('closed')) return null;
    if (after < 0.5 * peak) return 'the memory went back once the connections had expired.';
    const start = v('rss_start');
    if (start > 0 && peak - start < 10) return `few connections were opened, so the memory hardly moved (${Math.round(start)} → ${Math.round(peak)} MB) and stayed there.`;
    const grew = second - peak;
    return `the connections had expired (a poll with the last one's id answered 400), yet the process kept ${Math.round(after)} MB: freed memory the allocator does not return. The second flood reused it (its peak ${grew >= 0 ? `only ${Math.round(grew)} MB higher` : 'no higher'}), so it is held, not leaked; until reused, it is the server's.`;
  }
  if (id === 'apipage' || id === 'static') {
    const tcp = String(v('tcp_mem') ?? '').split(' / ').map(Number);
    const grew = (v('rss_peak') ?? 0) - (v('rss_start') ?? 0);
    if (tcp.length === 2 && tcp[1] - tcp[0] > 2 * Math.max(grew, 1)) {
      return `the responses went into the kernel's socket buffers (${Math.round(tcp[1] - tcp[0])} MB, on loopback whose segments are 64 KiB) more than into the server's memory (${Math.round(grew)} MB); the server had handed them over, so its idle-connection timeout applied.`;
    }
  }
  return null;
}

function fmt(f) {
  if (!f) return '–';
  const v = f.value;
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') {
    const d = f.unit === 'MB' || f.unit === 'ms' || f.unit === 's' ? (Math.abs(v) >= 100 ? 0 : 1) : 0;
    return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  return String(v);
}

/** The section's Markdown, markers included, from the parsed result files (either may be null). */
export function renderAttacks(runs) {
  const cols = runs.filter((r) => r.doc);
  const out = [BEGIN, '## Under attack', ''];
  const p = (s = '') => out.push(s);
  p('What one client can do to the server, from the security review: each attack runs against a fresh');
  p('server on a fresh database (pinned to one core, as above), started with the limits under test at their');
  p('defaults (only the sign-in, sign-up and message rates are raised, for the setup). The attacker is');
  p('`end2end/bench/attacks.mjs` on the other core: raw TCP, with WebSocket frames written by hand, because a');
  p('client library always reads what it is sent. Memory is the server\u2019s resident set (VmRSS), read five times a');
  p('second. What a client does not read sits partly in the kernel\u2019s socket buffers, which no RSS shows (on');
  p('loopback, whose segments are 64 KiB, they took the whole 0.8 MB response of 2b per connection); a row gives');
  p('them, for the whole machine. `make bench-attacks` reruns it all (about 9 minutes per binary; `BEFORE_BIN=<old binary>` adds the');
  p('before column); this section is rendered by `node end2end/bench/attacks-report.mjs` from');
  p('`target/bench-results/attacks-<label>.json`; do not edit by hand.');
  p();
  for (const r of cols) {
    const d = r.doc;
    const host = d.host || {};
    p(`- **${r.label}**: ${d.server_build || '?'}; measured ${String(d.updated_at || '').slice(0, 16).replace('T', ' ')} UTC on ${host.nproc ?? '?'} CPUs (${host.cpu_model ?? '?'}), Node.js ${host.node ?? '?'}.`);
  }
  if (!cols.length) p('No results yet: run `make bench-attacks`.');
  p();
  for (const a of ATTACKS) {
    const entries = cols.map((r) => r.doc.attacks?.[a.id] || null);
    if (!entries.some(Boolean)) continue;
    const params = entries.filter(Boolean).at(-1).params || {};
    p(`### ${a.title}`);
    p();
    p(a.what(params));
    p();
    // Rows in the order of the newest run, then any that only an older run has.
    const keys = [];
    const labels = new Map();
    for (const e of [...entries].reverse()) {
      for (const f of e?.figures || []) {
        if (!labels.has(f.key)) {
          keys.push(f.key);
          labels.set(f.key, f.label);
        }
      }
    }
    p(`| | ${cols.map((r) => r.label).join(' | ')} |`);
    p(`|---|${cols.map(() => '---|').join('')}`);
    for (const k of keys) {
      p(`| ${labels.get(k)} | ${entries.map((e) => fmt(e?.figures?.find((f) => f.key === k))).join(' | ')} |`);
    }
    p();
    const remarks = [];
    entries.forEach((e, i) => {
      if (!e) return;
      const who = cols[i].label;
      for (const n of new Set(e.notes || [])) remarks.push(`${who}: ${n}`);
      const r = reading(a.id, e);
      if (r) remarks.push(`${who}: ${r}`);
      for (const pr of e.problems || []) remarks.push(`${who}: **problem**: ${pr.split('\n')[0]}`);
      if (e.time_scale && e.time_scale !== 1) remarks.push(`${who}: waits scaled by ${e.time_scale} (a trial run)`);
    });
    if (!entries[entries.length - 1]) remarks.push(`${cols[cols.length - 1].label}: not run`);
    for (const r of remarks) p(`- ${r}`);
    if (remarks.length) p();
  }
  while (out[out.length - 1] === '') out.pop();
  out.push(END);
  return out.join('\n');
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const root = new URL('../../', import.meta.url);
  const { values } = parseArgs({
    options: {
      before: { type: 'string', default: fileURLToPath(new URL('target/bench-results/attacks-before.json', root)) },
      after: { type: 'string', default: fileURLToPath(new URL('target/bench-results/attacks-after.json', root)) },
      doc: { type: 'string', default: fileURLToPath(new URL('BENCHMARKS.md', root)) },
    },
  });
  const read = (f) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null);
  const runs = [
    { label: 'before', doc: read(values.before) },
    { label: 'after', doc: read(values.after) },
  ];
  if (!runs.some((r) => r.doc)) {
    console.error(`attacks-report: neither ${values.before} nor ${values.after} exists; BENCHMARKS.md left as it is`);
    process.exit(1);
  }
  const doc = existsSync(values.doc) ? readFileSync(values.doc, 'utf8') : '# Benchmarks\n';
  writeFileSync(values.doc, placeSection(doc, renderAttacks(runs)));
  console.error(`attacks-report: "Under attack" written into ${values.doc}`);
}
