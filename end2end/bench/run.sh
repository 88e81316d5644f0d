#!/usr/bin/env bash
# Side-by-side benchmark of Tagarela (release build) and the Node.js reference peer
# (../shared/bench/peer-node), then BENCHMARKS.md from the results. `make bench` runs this.
#
# One fresh server per scenario run, on a fresh database, pinned to SERVER_CPU; the load tool
# (end2end/bench/load.mjs) pinned to LOAD_CPU. Runs are interleaved (ours, peer, peer, ours, ...)
# so that a change in the machine's background load hits both alike.
#
# Env (defaults):
#   BENCH_RUNS=3                 runs of every scenario per server
#   BENCH_SCENARIOS="connections fanout throughput reconnect"   (reconnect: ours only)
#   BENCH_PORT=3400              first port; each server run gets the next one
#   SERVER_CPU=1 LOAD_CPU=0      taskset CPU lists
#   BENCH_BUILD=0                1: rebuild the release server even when it exists
#   BENCH_SERVERS="ours peer pg cluster" which servers to run (e.g. "ours" for a quick check); pg
#                                is ours on PostgreSQL, throughput only, a fresh database per
#                                run; cluster is end2end/bench/cluster.sh (1 and 3 instances on
#                                PostgreSQL and Redis; BENCH_CLUSTER_RUNS)
#   BENCH_PG_URL=postgres://root@127.0.0.1:5432   the PostgreSQL server pg runs on
#   BENCH_MAX_MINUTES=25         no new run starts after this
#   PEER_SRC=../shared/bench/peer-node
#   BENCH_PROFILE=1              0: skip the instruction counts (callgrind; needs valgrind)
# Raw results: target/bench-results/*.json (never committed). Report: BENCHMARKS.md.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
RUNS="${BENCH_RUNS:-3}"
SCENARIOS="${BENCH_SCENARIOS:-connections fanout throughput reconnect}"
PORT_NEXT="${BENCH_PORT:-3400}"
SERVER_CPU="${SERVER_CPU:-1}"
LOAD_CPU="${LOAD_CPU:-0}"
MAX_MINUTES="${BENCH_MAX_MINUTES:-25}"
PEER_SRC="${PEER_SRC:-$root/../shared/bench/peer-node}"
PROFILE="${BENCH_PROFILE:-1}"
PG_URL="${BENCH_PG_URL:-postgres://root@127.0.0.1:5432}"
SERVERS="${BENCH_SERVERS:-ours peer pg cluster}"
bin="$root/target/release/tagarela"
peer="$root/target/bench-peer"
results="$root/target/bench-results"
started=$SECONDS

# Limits meant for people, not for a benchmark (API.md, Limits), and the same secret for both.
JWT_SECRET="bench-secret-bench-secret-bench-secret-0123456789"
ADMIN_USERNAME="bench_admin"
ADMIN_PASSWORD="bench-password"
LOGIN_PASSWORD="bench-password"

say() { echo "bench: $*" >&2; }

for tool in node taskset timeout; do
  command -v "$tool" >/dev/null || { say "$tool is required"; exit 1; }
done
command -v sqlite3 >/dev/null || command -v python3 >/dev/null \
  || { say "sqlite3 or python3 is required (to count rows)"; exit 1; }
[ -d node_modules/socket.io-client ] || npm ci --no-audit --no-fund
case " $SERVERS " in *" pg "*)
  command -v psql >/dev/null || { say "psql is required for the PostgreSQL runs (BENCH_SERVERS without pg skips them)"; exit 1; }
  psql "$PG_URL/postgres" -Atc 'SELECT 1' >/dev/null \
    || { say "PostgreSQL at $PG_URL does not answer (BENCH_SERVERS without pg skips those runs)"; exit 1; } ;;
esac

# Our server: the release binary (plain cargo; the site it embeds may be empty for a benchmark).
if [ ! -x "$bin" ] || [ "${BENCH_BUILD:-0}" = 1 ]; then
  mkdir -p target/site
  say "building the release server"
  cargo build --release -p server --bin tagarela
fi

# The reference peer: a copy of peer-node with its npm packages (better-sqlite3 compiles from
# source: minutes, once; the copy is kept in target/bench-peer).
mkdir -p "$peer"
for f in package.json package-lock.json server.js; do
  cmp -s "$PEER_SRC/$f" "$peer/$f" || cp -f "$PEER_SRC/$f" "$peer/$f"
done
chmod -R u+w "$peer"
if [ ! -f "$peer/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ] \
  || [ "$peer/package-lock.json" -nt "$peer/node_modules/.package-lock.json" ]; then
  say "installing the peer's packages (better-sqlite3 builds from source; a few minutes, once)"
  (cd "$peer" && npm ci --no-audit --no-fund)
fi

# 10,000 sockets need as many descriptors, on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "open files limit $(ulimit -n); load average $(cut -d' ' -f1-3 /proc/loadavg)"

mkdir -p "$results"
# Only this tool's results: the attack and first-visit measurements (make bench-attacks,
# first-visit.mjs) come from other runs and are kept.
find "$results" -maxdepth 1 -type f \( -name '*.json' -o -name '*.log' -o -name '*.load' -o -name '*.out.*' \) \
  ! -name 'attacks-*' ! -name 'first-visit*' -delete

pid=""
work=""
pg_db=""
# Tenths of a second a server gets to start, and to stop after SIGTERM (valgrind needs longer).
start_wait=200
stop_wait=50
stop_server() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "$stop_wait"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  pid=""
  [ -n "$work" ] && rm -rf "$work"
  work=""
  [ -n "$pg_db" ] && psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
  pg_db=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# Scenario parameters, the same for both servers (load.mjs has the presets).
scenario_args() {
  case "$1" in
    connections) echo "--sizes 1000,5000,10000 --sockets-per-user 100 --hold 5 --watchdog 150" ;;
    # One load worker for the fan-out: four sharing core 0 added up to their time slices to every
    # latency sample (p99 97 ms with four, 56 ms with one, same server and machine).
    fanout) echo "--workers 1 --members 1000 --sockets-per-user 20 --rate 50 --duration 10 --watchdog 120" ;;
    throughput) echo "--rooms 100 --members 4 --sockets-per-user 2 --duration 10 --watchdog 120" ;;
    reconnect) echo "--rooms 5 --clients 1000 --sockets-per-user 20 --rate 20 --burst 600 --watchdog 150" ;;
  esac
}

# What was measured: the commit, and whether the binary is older than the server's sources.
ours_build="binary built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC'), checkout $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- server app migrations 2>/dev/null || echo '+changes')"
if [ -n "$(find server/src app/src migrations -newer "$bin" -type f 2>/dev/null | head -1)" ]; then
  ours_build="$ours_build (some sources are newer than the binary: BENCH_BUILD=1 rebuilds)"
fi
peer_build="peer-node: socket.io $(node -p "require('$peer/node_modules/socket.io/package.json').version"), better-sqlite3 $(node -p "require('$peer/node_modules/better-sqlite3/package.json').version")"

# The instruction-count runs: ours under callgrind (about 50 times slower), so smaller, at a fixed
# rate for the fan-out; each scenario twice, differing only in how long it sends.
profile_args() {
  local slow="--ack-timeout 120000 --connect-timeout 120000 --watchdog 300"
  case "$1" in
    fanout) echo "--workers 1 --members 200 --sockets-per-user 20 --rate 10 --duration $2 $slow" ;;
    throughput) echo "--workers 1 --rooms 20 --members 4 --sockets-per-user 2 --duration $2 $slow" ;;
  esac
}
PROFILE_SCENARIOS="fanout throughput"
PROFILE_DURATIONS="4 12"

# run_one <ours|peer|callgrind> <scenario> <run number, or seconds of sending for callgrind>
run_one() {
  local label="$1" sc="$2" n="$3"
  # the next free port
  while (exec 3<>"/dev/tcp/127.0.0.1/$PORT_NEXT") 2>/dev/null; do PORT_NEXT=$((PORT_NEXT + 1)); done
  local port=$PORT_NEXT
  PORT_NEXT=$((PORT_NEXT + 1))
  local build="$ours_build"
  [ "$label" = peer ] && build="$peer_build"
  work="$(mktemp -d /tmp/tagarela-bench.XXXXXX)"
  local db="$work/db.sqlite" log="$results/$n-$label-$sc.log"
  local wrap=() args database_url db_args
  database_url="sqlite://$db"
  db_args=(--db "$db")
  if [ "$label" = pg ]; then
    pg_db="tagarela_bench_${n}_$sc"
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" -c "CREATE DATABASE $pg_db" >/dev/null
    database_url="$PG_URL/$pg_db"
    db_args=(--pg-url "$database_url")
  fi
  args="$(scenario_args "$sc")"
  start_wait=200
  stop_wait=50
  if [ "$label" = callgrind ]; then
    wrap=(valgrind --tool=callgrind --separate-threads=yes "--callgrind-out-file=$results/$n-callgrind-$sc.out.%p")
    args="$(profile_args "$sc" "$n")"
    start_wait=1200
    stop_wait=1200
  fi
  if [ "$label" != peer ]; then
    # cwd = the scratch folder, so no .env of the checkout is read. Pinned to one core, the
    # server gets one tokio worker (the default, one per CPU, would have two fight over it).
    (cd "$work" && exec env PORT="$port" BIND=127.0.0.1 DATABASE_URL="$database_url" \
      JWT_SECRET="$JWT_SECRET" MESSAGE_RATE=1000000/1s LOGIN_RATE=1000000/1s \
      REGISTER_RATE=1000000/1s MAX_SOCKETS_PER_USER=100000 ADMIN_USERNAME="$ADMIN_USERNAME" \
      HANDSHAKE_RATE=1000000/1s SOCKET_EVENT_RATE=1000000/1s \
      ADMIN_PASSWORD="$ADMIN_PASSWORD" SQLITE_SYNCHRONOUS=NORMAL RUST_LOG=warn \
      TOKIO_WORKER_THREADS=1 \
      taskset -c "$SERVER_CPU" "${wrap[@]}" "$bin") >"$log" 2>&1 &
  else
    (cd "$work" && exec env PORT="$port" HOST=127.0.0.1 JWT_SECRET="$JWT_SECRET" \
      PROTOCOL=tagarela SQLITE_SYNC=NORMAL DB_PATH="$db" PEER_ROOMS=100 \
      LOGIN_PASSWORD="$LOGIN_PASSWORD" taskset -c "$SERVER_CPU" node "$peer/server.js") >"$log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq "$start_wait"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { say "$label did not start:"; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  local out="$results/$n-$label-$sc.json"
  # Not *.json: the report reads the callgrind summary of this run, not the load tool's result.
  [ "$label" = callgrind ] && out="$results/$n-callgrind-$sc.load"
  # shellcheck disable=SC2046
  timeout --kill-after=5 200 taskset -c "$LOAD_CPU" node end2end/bench/load.mjs \
    --scenario "$sc" --label "$label" --url "http://127.0.0.1:$port" --server-pid "$pid" \
    "${db_args[@]}" --admin-user "$ADMIN_USERNAME" --admin-password "$ADMIN_PASSWORD" \
    --password "$LOGIN_PASSWORD" --server-build "$build" --out "$out" $args >/dev/null 2>>"$log" \
    || say "$label $sc run $n: the load tool failed (see $log)"
  # Stopped, a server under callgrind writes its counts (one file per thread).
  stop_server
  [ -f "$out" ] && node end2end/bench/report.mjs --summary "$out" >&2
  if [ "$label" = callgrind ] && [ -f "$out" ]; then
    node end2end/bench/callgrind.mjs --load "$out" --out "$results/profile-$sc-$n.json" \
      "$results/$n-callgrind-$sc".out.* || say "callgrind $sc $n: no counts (see $log)"
    rm -f "$results/$n-callgrind-$sc".out.*
  fi
  return 0
}

for n in $(seq "$RUNS"); do
  for sc in $SCENARIOS; do
    # alternate which server goes first
    if [ $((n % 2)) = 1 ]; then order="ours peer pg"; else order="pg peer ours"; fi
    for label in $order; do
      [ "$sc" = reconnect ] && [ "$label" = peer ] && continue   # the peer has no catch-up
      [ "$label" = pg ] && [ "$sc" != throughput ] && continue   # PostgreSQL: throughput only
      case " $SERVERS " in *" $label "*) ;; *) continue ;; esac
      if [ $(( (SECONDS - started) / 60 )) -ge "$MAX_MINUTES" ]; then
        say "time budget of $MAX_MINUTES minutes spent: skipping $label $sc run $n"
        continue
      fi
      run_one "$label" "$sc" "$n"
    done
  done
done

if [ "$PROFILE" = 1 ]; then
  if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
    for sc in $PROFILE_SCENARIOS; do
      for d in $PROFILE_DURATIONS; do
        say "instruction counts: $sc, $d s of sending, under callgrind"
        run_one callgrind "$sc" "$d"
      done
    done
  else
    say "valgrind is not installed: no instruction counts (BENCH_PROFILE=0 skips them)"
  fi
fi

case " $SERVERS " in *" cluster "*)
  say "several instances: end2end/bench/cluster.sh"
  end2end/bench/cluster.sh || say "the cluster runs failed (see above)" ;;
esac

# Through a temporary file, so that a failed report leaves the last BENCHMARKS.md as it was.
node end2end/bench/report.mjs "$results"/*.json > "$results/BENCHMARKS.md"
mv "$results/BENCHMARKS.md" BENCHMARKS.md
say "done in $(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s: BENCHMARKS.md, raw results in target/bench-results/"
