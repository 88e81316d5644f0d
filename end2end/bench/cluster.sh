#!/usr/bin/env bash
# What a cluster costs (`make bench` runs this after the single-server runs; alone, it leaves
# its JSON in target/bench-results/cluster-*.json for report.mjs). Each run: a fresh PostgreSQL
# database on the machine's server, a Redis of its own on a spare port, N instances of the
# release binary pinned to SERVER_CPU, end2end/bench/cluster.mjs pinned to LOAD_CPU, talking to
# the instances directly (no proxy: what is measured is the instances, the bus and the stores).
#
# Env (defaults): BENCH_CLUSTER_RUNS=2, BENCH_CLUSTER_SIZES="0 1 3" (0: one instance on
# PostgreSQL outside any cluster, the baseline), BENCH_PG_URL=postgres://root@127.0.0.1:5432,
# SERVER_CPU=1, LOAD_CPU=0.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
RUNS="${BENCH_CLUSTER_RUNS:-2}"
PG_URL="${BENCH_PG_URL:-postgres://root@127.0.0.1:5432}"
SERVER_CPU="${SERVER_CPU:-1}"
LOAD_CPU="${LOAD_CPU:-0}"
bin="$root/target/release/tagarela"
results="$root/target/bench-results"
say() { echo "bench cluster: $*" >&2; }

[ -x "$bin" ] || { say "no release binary ($bin)"; exit 1; }
command -v redis-server >/dev/null || { say "redis-server is required"; exit 1; }
psql "$PG_URL/postgres" -Atc 'SELECT 1' >/dev/null || { say "PostgreSQL at $PG_URL does not answer"; exit 1; }
mkdir -p "$results"
[ "${BENCH_CLUSTER_KEEP:-0}" = 1 ] || rm -f "$results"/cluster-*.json
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

spare_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

pids=()
db=""
work=""
stop_all() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  [ -n "$db" ] && psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  db=""
  [ -n "$work" ] && rm -rf "$work"
  work=""
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

# run <scenario> <instances, or 0 for one instance outside any cluster> <run number> [cluster.mjs arguments]
run() {
  local sc="$1" count="$2" n="$3" redis_url
  shift 3
  work="$(mktemp -d /tmp/tagarela-cluster-bench.XXXXXX)"
  db="tagarela_cluster_bench_$$_$n"
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  local redis_port urls="" instance_pids="" instances="$count"
  redis_port=$(spare_port)
  redis_url="redis://127.0.0.1:$redis_port"
  # The baseline: one instance on PostgreSQL with no REDIS_URL (no bus, no shared state).
  [ "$count" = 0 ] && { instances=1; redis_url=""; }
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
  local redis_pid=$!
  pids+=("$redis_pid")
  for i in $(seq "$instances"); do
    local port
    port=$(spare_port)
    (cd "$work" && exec env PORT="$port" BIND=127.0.0.1 DATABASE_URL="$PG_URL/$db" \
      REDIS_URL="$redis_url" INSTANCE_ID="b$i" \
      JWT_SECRET=bench-secret-bench-secret-bench-secret-0123456789 \
      MESSAGE_RATE=1000000/1s LOGIN_RATE=1000000/1s REGISTER_RATE=1000000/1s \
      MAX_SOCKETS_PER_USER=100000 HANDSHAKE_RATE=1000000/1s SOCKET_EVENT_RATE=1000000/1s \
      ADMIN_USERNAME=bench_admin ADMIN_PASSWORD=bench-password RUST_LOG=warn \
      TOKIO_WORKER_THREADS=1 taskset -c "$SERVER_CPU" "$bin") >"$work/instance$i.log" 2>&1 &
    pids+=("$!")
    instance_pids+="${instance_pids:+,}$!"
    urls+="${urls:+,}http://127.0.0.1:$port"
    for _ in $(seq 200); do
      curl -fs "http://127.0.0.1:$port/healthz/ready" >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  local out="$results/cluster-$sc-$count-$n.json"
  timeout --kill-after=5 300 taskset -c "$LOAD_CPU" node end2end/bench/cluster.mjs \
    --scenario "$sc" --label "$count" --urls "$urls" --pids "$instance_pids" \
    --redis-pid "$redis_pid" --pg-url "$PG_URL/$db" "$@" >"$out" 2>"$work/load.log" \
    || { say "$sc on $count instance(s), run $n: the load tool failed"; tail -5 "$work/load.log" >&2; }
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.error(`bench cluster: ${r.scenario} x${r.instances}: ${JSON.stringify(r.result)} ${r.problems.join("; ")}`)' "$out" || true
  stop_all
}

for n in $(seq "$RUNS"); do
  for count in ${BENCH_CLUSTER_SIZES:-0 1 3}; do
    run fanout "$count" "$n" --members 1000 --sockets-per-user 20 --rate 50 --duration 10
    run throughput "$count" "$n" --rooms 30 --duration 10
  done
  [ "${BENCH_CLUSTER_STORM:-1}" = 1 ] && run reconnect 3 "$n" --clients 1000 --sockets-per-user 20 --rate 20
done
say "done: target/bench-results/cluster-*.json"
