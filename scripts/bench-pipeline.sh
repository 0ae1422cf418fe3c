#!/usr/bin/env bash
# The whole pipeline under a realistic load: a release ingest-svc takes a v2
# mix (80 % views and progress; movies Zipf-distributed over 1,000,000,
# 100,000 users) in batches at each of RATES events/s for SECONDS, while the
# real flush runs every FLUSH_EVERY s. Prints, per rate, whether the backlog
# stays bounded (the flush keeps up), the ingest→visible delay of probe
# events (p50/p99), the longest flush and its peak RSS; and the Redis memory
# per accepted event.
# Knobs: RATES (default "5000,10000,20000"), SECONDS (300 per rate),
# FLUSH_EVERY (10), MOVIES (1000000), USERS (100000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

RATES="${RATES:-5000,10000,20000}"
SECONDS_PER_RATE="${SECONDS:-300}"
FLUSH_EVERY="${FLUSH_EVERY:-10}"
MOVIES="${MOVIES:-1000000}"
USERS="${USERS:-100000}"
PORT="${BENCH_PORT:-18096}"
RUN="pipe$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"

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

"$BIN/ingest-svc" >"$DEV/log/pipeline-ingest.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  drop_run_data "$RUN" "$BIN"
}
trap cleanup EXIT
wait_for "ingest-svc" 30 curl -fsS "http://127.0.0.1:$PORT/ready"

log "pipeline: rates $RATES, ${SECONDS_PER_RATE}s each, flush every ${FLUSH_EVERY}s"
"$BIN/bench-tool" pipeline --ingest "http://127.0.0.1:$PORT" --rates "$RATES" \
  --seconds "$SECONDS_PER_RATE" --flush-every "$FLUSH_EVERY" --movies "$MOVIES" --users "$USERS" \
  --flush-bin "$BIN/flush-worker"
