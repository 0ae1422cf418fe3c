#!/usr/bin/env bash
# read-api latency with ENTITIES movies in the rollups (default 1,000,000):
# seeds totals and today's daily bucket, then wrk drives `top` (today and all
# time) and `entities` (random movies) and prints p50/p99 and requests/s.
# Knobs: ENTITIES, DURATION (s, default 10), CONNECTIONS (default 8).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

ENTITIES="${ENTITIES:-1000000}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-8}"
PORT="${BENCH_PORT:-18091}"
RUN="benchread$(date +%s)"

start_stores
log "building read-api and bench-tool (release)"
cargo build --release -p read-api -p flush-worker --bins --quiet
cargo build --release -p analytics-tests --bin bench-tool --quiet

export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
export ANALYTICS__MONGO__URL="$ANALYTICS_MONGO_URL" ANALYTICS__MONGO__DATABASE="$RUN"
export ANALYTICS__MYSQL__URL="$ANALYTICS_MYSQL_URL" ANALYTICS__READ_API__BIND="127.0.0.1:$PORT"
export ANALYTICS__READ_API__ADMIN_TOKEN="bench-admin-token" RUST_LOG=warn

# top reads movie titles from the catalogue: its tables must exist.
target/release/flush-worker migrate >/dev/null
log "seeding rollups of $ENTITIES movies"
target/release/bench-tool seed-rollups --entities "$ENTITIES"

target/release/read-api >"$DEV/log/bench-read.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; target/release/bench-tool drop-database || true' EXIT
wait_for "read-api" 30 curl -fsS "http://127.0.0.1:$PORT/ready"

results=()
for route in \
  "/api/v1/admin/analytics/top?period=day&limit=10" \
  "/api/v1/admin/analytics/top?period=all&action=download&limit=10" \
  "/api/v1/admin/analytics/entities/movie/{id}?granularity=day"; do
  log "wrk ${DURATION}s, $CONNECTIONS connections: $route"
  BENCH_PATH="$route" BENCH_ENTITIES="$ENTITIES" BENCH_TOKEN="bench-admin-token" \
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 60s --latency -s scripts/bench/read.lua "http://127.0.0.1:$PORT" \
    >"$DEV/log/bench-read-wrk.txt"
  read -r rps p50 p99 non2xx done_n < <(wrk_summary "$DEV/log/bench-read-wrk.txt")
  results+=("$(printf '%-66s %9s req/s  p50 %-8s p99 %-8s requests %s  non-2xx %s' "$route" "$rps" "$p50" "$p99" "$done_n" "${non2xx:-0}")")
  # A benchmark of failures measures nothing.
  [ "${non2xx:-0}" = 0 ] || { tail -5 "$DEV/log/bench-read.log"; die "$route answered non-2xx ($non2xx)"; }
done
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")

printf '\n== read-api benchmark (%s cores, %s movies in the rollups) ==\n' "$(nproc)" "$ENTITIES"
printf '%s\n' "${results[@]}"
awk -v r="$rss_kb" 'BEGIN { printf "peak RSS %.1f MB (read-api)\n", r / 1024 }'
