#!/usr/bin/env bash
# `make cluster`: Tagarela as a cluster on this machine, on loopback. A fresh PostgreSQL
# database, a Redis of its own, three instances and nginx in front on one port; prints the URL
# and stops everything on Ctrl-C (the database is dropped too).
#
#   CLUSTER_PORT   nginx's port (default 8080; a spare one for CLUSTER_CHECK)
#   PG_SERVER      the PostgreSQL server to create the database on
#                  (default postgres://root@127.0.0.1:5432)
#   TAGARELA_BIN   the server binary (default target/release/tagarela)
#   CLUSTER_CHECK  when 1: check the cluster through nginx (sign up, sign in, ready on every
#                  instance) and stop, instead of waiting for Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."

spare_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [ "${CLUSTER_CHECK:-0}" = 1 ]; then port=${CLUSTER_PORT:-$(spare_port)}; else port=${CLUSTER_PORT:-8080}; fi
pg_server=${PG_SERVER:-postgres://root@127.0.0.1:5432}
bin=${TAGARELA_BIN:-target/release/tagarela}
[ -x "$bin" ] || { echo "cluster: no server binary at $bin (make release)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "cluster: redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "cluster: nginx is missing (apt-get install nginx)" >&2; exit 1; }

work=$(mktemp -d)
db="tagarela_cluster_$(date +%s)_$$"
pids=()
stop() {
  trap - INT TERM EXIT
  echo "cluster: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg_server/postgres" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop INT TERM EXIT

psql "$pg_server/postgres" -qAtc "CREATE DATABASE $db" \
  || { echo "cluster: cannot create a database on $pg_server (is PostgreSQL running?)" >&2; exit 1; }

redis_port=$(spare_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  >"$work/redis.log" 2>&1 &
pids+=($!)

upstreams=""
instance_ports=()
for i in 1 2 3; do
  p=$(spare_port)
  instance_ports+=("$p")
  PORT=$p BIND=127.0.0.1 DATABASE_URL="$pg_server/$db" REDIS_URL="redis://127.0.0.1:$redis_port" \
    INSTANCE_ID="i$i" TRUSTED_PROXIES=127.0.0.1 PUBLIC_URL="http://127.0.0.1:$port" \
    RUST_LOG="${RUST_LOG:-info}" "$bin" >"$work/instance$i.log" 2>&1 &
  pids+=($!)
  upstreams+="server 127.0.0.1:$p max_fails=1 fail_timeout=5s; "
  # One at a time: the first migrates the new database.
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$p/healthz/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fs "http://127.0.0.1:$p/healthz/ready" >/dev/null \
    || { echo "cluster: instance $i did not start; its log:" >&2; cat "$work/instance$i.log" >&2; exit 1; }
done

mkdir -p "$work/nginx"
sed -e "s#{{PREFIX}}#$work/nginx#g" -e "s#{{LISTEN}}#127.0.0.1:$port#g" \
  -e "s#{{UPSTREAMS}}#$upstreams#g" deploy/nginx.conf >"$work/nginx/nginx.conf"
"$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.log" &
pids+=($!)
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/healthz/ready" >/dev/null 2>&1 && break
  sleep 0.2
done

url="http://127.0.0.1:$port"
echo "cluster: Tagarela at $url (instances on ${instance_ports[*]}, Redis on $redis_port, database $db); Ctrl-C stops it"

if [ "${CLUSTER_CHECK:-0}" = 1 ]; then
  curl -fsS "$url/healthz/ready" >/dev/null
  status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    -d '{"username":"admin","password":"cluster-check-password"}' "$url/api/auth/register")
  [ "$status" = 201 ] || { echo "cluster: sign-up through nginx answered $status" >&2; exit 1; }
  for p in "${instance_ports[@]}"; do
    status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
      -d '{"username":"admin","password":"cluster-check-password"}' "http://127.0.0.1:$p/api/auth/login")
    [ "$status" = 200 ] || { echo "cluster: sign-in on instance port $p answered $status" >&2; exit 1; }
  done
  echo "cluster: check passed"
  exit 0
fi
wait
