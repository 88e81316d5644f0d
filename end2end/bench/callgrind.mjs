#!/usr/bin/env node
// Sums what callgrind counted in one run of our server (one file per thread) into one JSON record
// for the report: user-space instructions per function, grouped by the component they belong to.
//
//   node end2end/bench/callgrind.mjs --load <load-tool result.json> --out <profile.json> <callgrind.out files>
//
// Instruction counts do not depend on how busy the machine is, unlike CPU time: two runs of the
// same binary on the same input count nearly the same. The report takes two runs of one scenario
// that differ only in how long they send, and divides the difference in instructions by the
// difference in operations, so start-up, sign-ups and handshakes cancel out.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { basename } from 'node:path';

const { values: flags, positionals: files } = parseArgs({
  options: { load: { type: 'string' }, out: { type: 'string' } },
  allowPositionals: true,
});
if (!flags.load || !flags.out || files.length === 0) {
  console.error('usage: callgrind.mjs --load result.json --out profile.json callgrind.out...');
  process.exit(2);
}
const load = JSON.parse(readFileSync(flags.load, 'utf8'));

/** Exclusive instructions per function of one callgrind file, from `callgrind_annotate`. */
function functionsOf(file) {
  const text = execFileSync('callgrind_annotate', ['--threshold=100', '--auto=no', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const counts = new Map();
  // Lines look like "  1,234,567 (12.34%)  file:function [object]".
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!m || m[2].startsWith('PROGRAM TOTALS')) continue;
    // Drop the source file; keep the object only when it is not the server itself (libc, ld.so).
    const object = / \[([^\]]*)\]$/.exec(m[2])?.[1] ?? '';
    let name = m[2].replace(/^\S*?:(?=[^:])/, '').replace(/ \[[^\]]*\]$/, '');
    if (object.includes('.so')) name += ` [${basename(object)}]`;
    counts.set(name, (counts.get(name) || 0) + Number(m[1].replaceAll(',', '')));
  }
  return counts;
}

const functions = {};
// With --separate-threads, the file named by --callgrind-out-file stays empty beside the threads' own.
const threadFiles = files.filter((f) => statSync(f).size > 0);
for (const file of threadFiles) {
  for (const [name, n] of functionsOf(file)) functions[name] = (functions[name] || 0) + n;
}

const ops = load.scenario === 'fanout' ? load.result?.deliveries : load.result?.acked;
writeFileSync(
  flags.out,
  JSON.stringify({
    tool: 'callgrind',
    scenario: load.scenario,
    label: load.label,
    server_build: load.server_build,
    started_at: load.started_at,
    host: load.host,
    params: load.params,
    ops,
    ops_kind: load.scenario === 'fanout' ? 'delivery' : 'ack',
    ok: load.ok && !(load.problems || []).length,
    threads: threadFiles.length,
    total: Object.values(functions).reduce((a, b) => a + b, 0),
    functions,
  }),
);
