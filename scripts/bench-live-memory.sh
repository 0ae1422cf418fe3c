#!/usr/bin/env bash
# read-api's memory across waves of live-feed clients: is what stays after
# they leave a leak, or the allocator keeping pages it was given back? Runs
# a release read-api, then ROUNDS waves of CLIENTS WebSocket clients for
# SECONDS each, and after each wave, once the connection gauge is back at
# 0, prints the process's RSS. A leak grows with every wave; kept pages do
# not. Then the same with MALLOC_ARENA_MAX=2: glibc gives each thread that
# allocates under contention an arena of its own and rarely returns their
# freed pages to the system, the usual holder of "lost" memory in a
# multi-threaded server.
# Knobs: CLIENTS (3000), ROUNDS (3), SECONDS (10).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

CLIENTS="${CLIENTS:-3000}"
ROUNDS="${ROUNDS:-3}"
SECS="${SECONDS_PER_WAVE:-10}"
PORT="${BENCH_PORT:-18098}"
TOKEN=bench-live-memory-admin-token

start_stores
log "building release binaries"
cargo build --release -p read-api -p flush-worker --bins --quiet
cargo build --release -p analytics-bench --bin bench-tool --quiet
BIN="$ROOT/target/release"
bench_namespace benchlive
export ANALYTICS__READ_API__ADMIN_TOKEN="$TOKEN"
export ANALYTICS__READ_API__LIVE_MAX_CONNECTIONS="$((CLIENTS + 100))"
export ANALYTICS__READ_API__BIND="127.0.0.1:$PORT"

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
no_clients() {
  curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -qx 'analytics_live_feed_connections 0'
}

# series LABEL [VAR=value...]: one read-api, ROUNDS waves, RSS after each.
series() {
  local label="$1"; shift
  env "$@" "$BIN/read-api" >"$DEV/log/bench-live-memory.log" 2>&1 &
  local pid=$!
  wait_for "read-api" 30 curl -fsS "http://127.0.0.1:$PORT/ready"
  local line
  line=$(printf '%-24s idle %s MB' "$label" "$(rss_mb "$pid")")
  for round in $(seq "$ROUNDS"); do
    "$BIN/bench-tool" live-clients --url "ws://127.0.0.1:$PORT/ws" --token "$TOKEN" \
      --clients "$CLIENTS" --seconds "$SECS" >"$DEV/log/bench-live-memory-wave.out"
    wait_for "the clients' departure" 60 no_clients
    line+=$(printf ', after wave %d %s MB' "$round" "$(rss_mb "$pid")")
  done
  line+=$(printf ' (peak %s MB)' "$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$line"
}

printf '\n== live-feed memory (%s cores): %s clients x %s waves of %s s ==\n' "$(nproc)" "$CLIENTS" "$ROUNDS" "$SECS"
series "glibc default arenas"
series "MALLOC_ARENA_MAX=2" MALLOC_ARENA_MAX=2
