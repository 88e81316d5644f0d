#!/usr/bin/env bash
# Runs the attacks of end2end/bench/attacks.mjs against one server binary and renders the
# "Under attack" section of BENCHMARKS.md (end2end/bench/attacks-report.mjs).
#
#   end2end/bench/attacks.sh <server binary> <label>     e.g. target/release/tagarela after
#
# Each attack gets a fresh server: a new scratch folder and database, the next free port,
# pinned to SERVER_CPU, started with only the variables below (`env -i`): the limits under test
# keep their defaults, whatever the binary's version; only the rate limits that would stop the
# setup (sign-ins, room seeding) are raised. The attack tool is pinned to LOAD_CPU and bounded
# by `timeout`; the server is stopped after every attack, and on any exit.
#
# Env (defaults):
#   ATTACKS="history catchup static apipage polling binary million"   which attacks; a subset replaces
#                                only those entries of an existing results file
#   ATTACKS_PORT=3600            first port tried
#   SERVER_CPU=1 LOAD_CPU=0      taskset CPU lists
#   ATTACKS_REPORT=1             0: do not rewrite BENCHMARKS.md at the end
#   ATTACKS_TIME_SCALE=1         shortens the attacks' waits, to try the tool out (not for the report)
# Results: target/bench-results/attacks-<label>.json (never committed). About 9 minutes.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
say() { echo "attacks: $*" >&2; }
[ $# -eq 2 ] || { say "usage: $0 <server binary> <label>"; exit 2; }
bin="$(realpath "$1")"
label="$2"
[ -x "$bin" ] || { say "$bin is not an executable"; exit 2; }
case "$label" in '' | *[!A-Za-z0-9_-]*) say "label must be letters, digits, - or _"; exit 2 ;; esac
cd "$root"
for tool in node taskset timeout python3; do
  command -v "$tool" >/dev/null || { say "$tool is required"; exit 1; }
done

ALL="history catchup static apipage polling binary million"
LIST="${ATTACKS:-$ALL}"
PORT_NEXT="${ATTACKS_PORT:-3600}"
SERVER_CPU="${SERVER_CPU:-1}"
LOAD_CPU="${LOAD_CPU:-0}"
results="$root/target/bench-results"
out="$results/attacks-$label.json"
JWT_SECRET="attack-secret-attack-secret-attack-secret-0123"
ADMIN_USERNAME="attack_admin"
ADMIN_PASSWORD="attack-password"
started=$SECONDS
mkdir -p "$results"
# A full run starts a fresh file, so that no figure of an older binary survives in it.
[ -z "${ATTACKS:-}" ] && rm -f "$out"

# What was measured: the binary's checksum and date, and the checkout it was run from.
build="$(basename "$bin") sha256:$(sha256sum "$bin" | cut -c1-12), built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC'); run from checkout $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

# The attacks open a few hundred sockets at most; the server's own limit is its business.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

pid=""
work=""
log=""
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # Graceful shutdown waits for responses in flight, and a client that never reads never lets
    # one finish: 5 s, then SIGKILL.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  pid=""
}
cleanup() {
  stop_server
  [ -n "$work" ] && rm -rf "$work"
  work=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# start_server <database file>: sets $pid and $port once the port accepts connections.
start_server() {
  local db="$1"
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT_NEXT") 2>/dev/null; do PORT_NEXT=$((PORT_NEXT + 1)); done
  port=$PORT_NEXT
  PORT_NEXT=$((PORT_NEXT + 1))
  # cwd = the scratch folder, so no .env of the checkout is read.
  (cd "$work" && exec env -i PATH="$PATH" HOME="$work" PORT="$port" BIND=127.0.0.1 \
    DATABASE_URL="sqlite://$db?mode=rwc" JWT_SECRET="$JWT_SECRET" \
    ADMIN_USERNAME="$ADMIN_USERNAME" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    MESSAGE_RATE=1000000/1s LOGIN_RATE=1000000/1s REGISTER_RATE=1000000/1s RUST_LOG=warn \
    taskset -c "$SERVER_CPU" "$bin") >>"$log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { say "the server did not start:"; tail -20 "$log" >&2; pid=""; return 1; }
    sleep 0.1
  done
  say "the server did not listen within 20 s"
  return 1
}

# tool <seconds> <args...>: the attack tool, pinned and bounded.
tool() {
  local limit="$1"
  shift
  timeout --kill-after=5 "$limit" taskset -c "$LOAD_CPU" node end2end/bench/attacks.mjs \
    --url "http://127.0.0.1:$port" --admin-user "$ADMIN_USERNAME" --admin-password "$ADMIN_PASSWORD" \
    --label "$label" --server-build "$build" --watchdog "$((limit - 5))" \
    --time-scale "${ATTACKS_TIME_SCALE:-1}" "$@" >/dev/null 2>>"$log"
}

# Seconds each attack may take (its watchdog is 5 s shorter).
budget() {
  case "$1" in
    history | catchup) echo 140 ;;
    static | apipage) echo 110 ;;
    polling) echo 190 ;;
    binary) echo 120 ;;
    million) echo 170 ;;
  esac
}

for attack in $LIST; do
  case " $ALL " in *" $attack "*) ;; *) say "unknown attack $attack (one of: $ALL)"; exit 2 ;; esac
  work="$(mktemp -d /tmp/tagarela-attack.XXXXXX)"
  db="$work/db.sqlite"
  log="$results/attacks-$label-$attack.log"
  : >"$log"
  say "$attack against $(basename "$bin") ($label), $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s in"
  ok=1
  if [ "$attack" = million ]; then
    # The rows go straight into the database file while no server has it open.
    start_server "$db" && tool 60 --attack million --phase setup --state "$work/state.json" || ok=0
    stop_server
    [ $ok = 1 ] && { tool 180 --attack million --phase seed --state "$work/state.json" --db "$db" || ok=0; }
    [ $ok = 1 ] && { start_server "$db" && tool "$(budget million)" --attack million --phase measure \
      --state "$work/state.json" --server-pid "$pid" --out "$out" || ok=0; }
  else
    start_server "$db" && tool "$(budget "$attack")" --attack "$attack" --server-pid "$pid" --out "$out" || ok=0
  fi
  cleanup
  [ $ok = 1 ] || say "$attack failed (see $log)"
done

say "done in $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s: $out"
if [ "${ATTACKS_REPORT:-1}" = 1 ]; then
  node end2end/bench/attacks-report.mjs
fi
