# Tagarela's task runner. The two commands a user needs:
#   make run    build and start the app on http://127.0.0.1:3000
#   make test   lints, Rust tests and browser tests
# Both first run `setup`, which installs whatever is missing and is quick when all is there.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO_LEPTOS_VERSION := 0.3.10
CARGO_DENY_VERSION := 0.20.2
# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
# npm's binaryen provides the wasm-opt cargo-leptos looks for on PATH (Debian's is too old).
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CARGO_TEST := $(shell command -v cargo-nextest >/dev/null && echo "nextest run --no-tests=fail" || echo test)
# The PostgreSQL run leaves out the tests about SQLite, and those that bring a PostgreSQL of their
# own (named postgres_…), which the first run already ran.
NOT_SQLITE := $(shell command -v cargo-nextest >/dev/null && echo "-E 'not test(/sqlite|postgres_/)'" || echo "-- --skip sqlite --skip postgres_")

.PHONY: help setup py-clients run test lint test-rust test-e2e release sqlx-prepare bench bench-attacks cluster

help:
	@echo "make run      build and start Tagarela on http://127.0.0.1:3000"
	@echo "make test     run every check: fmt, clippy, Rust tests, Playwright"
	@echo "make release  build the self-contained binary target/release/tagarela"
	@echo "make bench    benchmark side by side with the Node.js peer, rewrite BENCHMARKS.md"
	@echo "make cluster  three instances on PostgreSQL and Redis behind nginx, on one port"
	@echo "make bench-attacks  measure what one abusive client does to the server (BEFORE_BIN=old binary)"

## setup: idempotent; installs only what is missing.
setup:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
	@cargo leptos --version 2>/dev/null | grep -qF ' $(CARGO_LEPTOS_VERSION)' \
	  || cargo install cargo-leptos@$(CARGO_LEPTOS_VERSION) --locked
	@# Not --locked: the registry here lacks some of the newest crates its lock file pins.
	@wasm-bindgen --version 2>/dev/null | grep -qF ' $(WASM_BINDGEN_VERSION)' \
	  || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
	@# The official Socket.IO browser client, served by the app from /vendor/ (never committed).
	@mkdir -p public/vendor && cp -u node_modules/socket.io-client/dist/socket.io.min.js public/vendor/
	@command -v chromium >/dev/null \
	  || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

## The official Python Socket.IO client, for the tests of outside clients
## (server/tests/api/clients.rs); only the tests need it, so `make run` does not install it.
py-clients:
	@[ target/py-clients/.installed -nt end2end/clients/requirements.txt ] || { \
	  rm -rf target/py-clients; \
	  python3 -m venv target/py-clients 2>/dev/null || { rm -rf target/py-clients \
	    && $(SUDO) apt-get update -q \
	    && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv \
	    && python3 -m venv target/py-clients; }; \
	  target/py-clients/bin/pip install -q --disable-pip-version-check \
	    -r end2end/clients/requirements.txt; \
	  touch target/py-clients/.installed; }

run: setup
	@# --split as in `make release`: the lazy routes (admin pages) need the split step in every build.
	cargo leptos serve --split

test: setup py-clients lint test-rust test-e2e cluster-check

## PostgreSQL's server programs (initdb, pg_ctl), for the test that kills and restarts a
## PostgreSQL of its own. The tests' shared server (127.0.0.1:5432) is the machine's.
.PHONY: pg-server-programs
pg-server-programs:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
	  || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

## lint-tools: cargo-deny for `make lint`; idempotent like setup.
.PHONY: lint-tools
lint-tools:
	@cargo deny --version 2>/dev/null | grep -qF ' $(CARGO_DENY_VERSION)' \
	  || cargo install cargo-deny@$(CARGO_DENY_VERSION) --locked

lint: lint-tools
	cargo fmt --all -- --check
	@# Domain code names no transport and imports no adapter: the seams of server/src/lib.rs's map stay.
	scripts/check-layers.sh
	@# Licenses, duplicate crates (a warning), crates.io as the only source: rules in deny.toml.
	cargo deny check --hide-inclusion-graph bans licenses sources
	@# RustSec advisories, against the copy of the database cargo-deny keeps in
	@# ~/.cargo/advisory-dbs: it is a git repository, which cargo-deny fetches where GitHub is
	@# reachable (`cargo deny fetch`) and which these machines cannot fetch; without it, say so.
	@if ls -d $(HOME)/.cargo/advisory-dbs/advisory-db-* >/dev/null 2>&1; then \
	  cargo deny --offline check --hide-inclusion-graph advisories; \
	else echo "lint: RustSec advisories NOT checked: no advisory database in ~/.cargo/advisory-dbs (run 'cargo deny fetch' where GitHub is reachable)"; fi
	cargo clippy -p server -p app --features app/ssr --all-targets -- -D warnings
	cargo clippy -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

## redis-server and nginx, for the cluster tests (each starts its own) and `make cluster`.
.PHONY: cluster-programs
cluster-programs:
	@command -v redis-server >/dev/null && { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } \
	  || { $(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server nginx; }

test-rust: py-clients pg-server-programs cluster-programs
	cargo $(CARGO_TEST) -p server -p app --features app/ssr
	@# The API tests again on PostgreSQL (127.0.0.1:5432 unless TAGARELA_TEST_PG_URL says
	@# otherwise; each test creates its own database and drops it).
	TAGARELA_TEST_BACKEND=postgres cargo $(CARGO_TEST) -p server --features app/ssr --test api $(NOT_SQLITE)

# The browser tests run the release binary, as people run it (the build checks it too), on a fresh database.
test-e2e: release
	cd end2end && npx playwright test

# The site first, then the server that embeds it: one self-contained executable.
# Locked: exactly the dependency versions in Cargo.lock (cargo-leptos spells it --cargo-locked).
release: setup
	@# --precompress: each site file also brotli- (highest quality) and gzip-compressed, which
	@# the binary embeds and sends as they are (server/src/assets.rs). --split: each lazy route
	@# (the admin pages, app/src/pages/admin) becomes a WASM part of its own, loaded when opened.
	cargo leptos build --release --cargo-locked --precompress --split
	cargo build --release --locked -p server --bin tagarela
	@ls -l target/release/tagarela

# Three instances, a Redis and nginx on loopback, on a fresh PostgreSQL database; Ctrl-C stops
# them all (scripts/cluster.sh says which variables it reads).
cluster: release cluster-programs
	scripts/cluster.sh

# `make cluster`'s smoke check (sign-up through nginx, sign-in on each instance), on the
# release binary the browser tests built.
.PHONY: cluster-check
cluster-check: release cluster-programs
	CLUSTER_CHECK=1 scripts/cluster.sh

# After changing a query: regenerate the committed .sqlx/ data from a scratch database.
sqlx-prepare:
	rm -rf .sqlx target/sqlx-dev.db && mkdir -p .sqlx target
	cat migrations/sqlite/*.sql | sqlite3 target/sqlx-dev.db
	touch server/src/lib.rs
	DATABASE_URL=sqlite://$(CURDIR)/target/sqlx-dev.db SQLX_OFFLINE=false SQLX_OFFLINE_DIR=$(CURDIR)/.sqlx \
	  cargo check -p server --all-targets

# Side by side with the Node.js reference peer (../shared/bench/peer-node); about 10 minutes.
bench: setup
	end2end/bench/run.sh

# What one client can do to the server (the security review's attacks), each on a fresh server:
# the release build as "after", and BEFORE_BIN (an older binary), when given, as "before"; then
# the "Under attack" section of BENCHMARKS.md. About 9 minutes per binary.
bench-attacks:
	@[ -x target/release/tagarela ] || $(MAKE) release
	@if [ -n "$${BEFORE_BIN:-}" ]; then ATTACKS_REPORT=0 end2end/bench/attacks.sh "$$BEFORE_BIN" before; fi
	end2end/bench/attacks.sh target/release/tagarela after
