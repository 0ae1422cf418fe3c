#!/usr/bin/env bash
# Steady ingest for a while, as production sees it: a release ingest-svc
# takes events at a share of its measured capacity while the real flush
# runs every 30 s. Prints 5xx count, ingest RSS over time, Redis memory per
# accepted event, the backlog, the longest flush run, and checks every total
# is exact at the end (exit non-zero otherwise).
# Knobs: MINUTES (default 5), SHARE of capacity (0.5), CAPACITY (events/s;
# measured with a 10 s wrk burst when unset), MOVIES (10000), FLUSH_EVERY (30).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

MINUTES="${MINUTES:-5}"
SHARE="${SHARE:-0.5}"
MOVIES="${MOVIES:-10000}"
FLUSH_EVERY="${FLUSH_EVERY:-30}"
PORT="${SOAK_PORT:-18095}"
RUN="soak$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"

start_stores
log "building release binaries"
cargo build --release -p ingest-svc -p flush-worker --bins --quiet
cargo build --release -p analytics-tests --bin bench-tool --quiet
BIN="$ROOT/target/release"

export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
export ANALYTICS__MONGO__URL="$ANALYTICS_MONGO_URL" ANALYTICS__MONGO__DATABASE="$RUN"
export ANALYTICS__MYSQL__URL="${ANALYTICS_MYSQL_URL%/*}/$RUN"
export ANALYTICS__INGEST__BIND="127.0.0.1:$PORT" ANALYTICS__INGEST__RATE_LIMIT_PER_MINUTE=0
export RUST_LOG=warn
mysql_admin -e "CREATE DATABASE IF NOT EXISTS \`$RUN\`"
"$BIN/flush-worker" migrate >/dev/null

"$BIN/ingest-svc" >"$DEV/log/soak-ingest.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  drop_run_data "$RUN" "$BIN"
}
trap cleanup EXIT
wait_for "ingest-svc" 30 curl -fsS "http://127.0.0.1:$PORT/ready"

if [ -z "${CAPACITY:-}" ]; then
  log "measuring capacity: wrk, 10 s, 64 connections"
  BENCH_RUN="${RUN}cap" wrk -t1 -c64 -d10s --latency -s scripts/bench/ingest.lua \
    "http://127.0.0.1:$PORT/api/v1/analytics/events" >"$DEV/log/soak-capacity.txt"
  read -r CAPACITY _ < <(wrk_summary "$DEV/log/soak-capacity.txt")
  CAPACITY="${CAPACITY%.*}"
  "$BIN/flush-worker" flush >/dev/null   # the burst's events, out of the way
fi
RATE=$(awk -v c="$CAPACITY" -v s="$SHARE" 'BEGIN { printf "%d", c * s }')
log "soak: $MINUTES min at $RATE events/s ($SHARE of $CAPACITY), flush every ${FLUSH_EVERY}s"
"$BIN/bench-tool" soak --ingest "http://127.0.0.1:$PORT" --ingest-pid "$PID" \
  --rate "$RATE" --seconds $((MINUTES * 60)) --movies "$MOVIES" \
  --flush-every "$FLUSH_EVERY" --flush-bin "$BIN/flush-worker"
