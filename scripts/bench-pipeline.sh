#!/usr/bin/env bash
# The whole pipeline under a realistic load: a release ingest-svc takes a v2
# mix (80 % views and progress; movies Zipf-distributed over 1,000,000,
# 100,000 users) in batches at each of RATES events/s for SECONDS, while the
# real flush runs every FLUSH_EVERY s. Prints, per rate, whether the backlog
# stays bounded (the flush keeps up), the ingest→visible delay of probe
# events (p50/p99), the longest flush and its peak RSS; and the Redis memory
# per accepted event.
# First it measures single-event ingest capacity in the same run (wrk for
# CAPACITY_SECONDS against a second ingest-svc in a namespace of its own),
# and prints each rate as a share of it.
# Knobs: RATES (default "5000,10000,20000"), SECONDS (300 per rate),
# FLUSH_EVERY (10), MOVIES (1000000), USERS (100000), CAPACITY_SECONDS (20;
# 0 skips the capacity pass).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

RATES="${RATES:-5000,10000,20000}"
SECONDS_PER_RATE="${SECONDS:-300}"
FLUSH_EVERY="${FLUSH_EVERY:-10}"
MOVIES="${MOVIES:-1000000}"
USERS="${USERS:-100000}"
PORT="${BENCH_PORT:-18096}"
CAPACITY_SECONDS="${CAPACITY_SECONDS:-20}"
start_release_ingest pipeline "$PORT"

capacity=""
if (( CAPACITY_SECONDS > 0 )); then
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  cap_port=$((PORT + 1))
  ANALYTICS__REDIS__KEY_PREFIX="${RUN}cap" ANALYTICS__INGEST__BIND="127.0.0.1:$cap_port" \
    "$BIN/ingest-svc" >"$DEV/log/pipeline-capacity-ingest.log" 2>&1 &
  cap_pid=$!
  wait_for "ingest-svc (capacity)" 30 curl -fsS "http://127.0.0.1:$cap_port/ready"
  log "single-event ingest capacity: wrk ${CAPACITY_SECONDS}s, 64 connections"
  BENCH_RUN="${RUN}cap" BENCH_BATCH=0 wrk -t1 -c64 -d"${CAPACITY_SECONDS}s" --latency \
    -s scripts/bench/ingest.lua "http://127.0.0.1:$cap_port/api/v1/analytics/events" \
    >"$DEV/log/pipeline-capacity.txt"
  read -r capacity cap_p50 cap_p99 cap_bad _ < <(wrk_summary "$DEV/log/pipeline-capacity.txt")
  kill "$cap_pid" 2>/dev/null || true
  wait "$cap_pid" 2>/dev/null || true
  drop_redis_keys "${RUN}cap"
  log "single-event ingest: $capacity events/s, p50 $cap_p50, p99 $cap_p99, non-2xx $cap_bad"
fi

log "pipeline: rates $RATES, ${SECONDS_PER_RATE}s each, flush every ${FLUSH_EVERY}s"
"$BIN/bench-tool" pipeline --ingest "http://127.0.0.1:$PORT" --rates "$RATES" \
  --seconds "$SECONDS_PER_RATE" --flush-every "$FLUSH_EVERY" --movies "$MOVIES" --users "$USERS" \
  --flush-bin "$BIN/flush-worker"
if [ -n "$capacity" ]; then
  log "each rate as a share of single-event ingest ($capacity events/s, measured above)"
  for rate in ${RATES//,/ }; do
    awk -v r="$rate" -v c="$capacity" 'BEGIN { printf "  %6d events/s = %4.1f %%\n", r, 100 * r / c }'
  done
fi
