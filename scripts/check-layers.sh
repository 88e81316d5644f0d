#!/usr/bin/env bash
# The layering check run by `make lint`: domain code (what decides) names no transport, so the
# seams described at the top of server/src/lib.rs stay. Fails, naming file and line, when a
# domain file mentions a forbidden crate outside a comment.
set -euo pipefail
cd "$(dirname "$0")/.."

# The domain: rules, the events it publishes, the bus port, ephemeral state, the services.
domain=(
  server/src/auth server/src/rooms server/src/messages server/src/users server/src/ephemeral
  server/src/events.rs server/src/bus server/src/state.rs server/src/limits.rs
  server/src/error.rs server/src/store/mod.rs
)
# Socket.IO belongs to realtime/, the database drivers to store/sqlite/ and store/postgres/, and
# imports point inward: no domain file reaches up into an adapter (realtime/, a store backend, the
# admin pages, start-up, the accept loop, the embedded site). The store port (store/mod.rs) is
# what the domain asks of a database.
forbidden='socketioxide|engineioxide|sqlx|rusqlite|redis|crate::(realtime|cluster|store::(sqlite|postgres|driver)|admin::pages|startup|serve|assets)'

found=0
while IFS= read -r file; do
  # Strip line comments (`//`, `///`, `//!`) before looking, so prose may name a crate.
  if hits=$(sed -E 's#//.*$##' "$file" | grep -nE "(^|[^[:alnum:]_])($forbidden)([^[:alnum:]_]|$)"); then
    while IFS= read -r hit; do
      echo "layering: $file:${hit%%:*} uses ${hit#*:}" >&2
    done <<<"$hits"
    found=1
  fi
done < <(find "${domain[@]}" -name '*.rs' | sort)

if [ "$found" = 1 ]; then
  echo "layering: domain code must not use ($forbidden): publish an Event (server/src/events.rs), and let the adapter call the domain" >&2
  exit 1
fi
echo "layering: domain code uses none of ($forbidden)"
