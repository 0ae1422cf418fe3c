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
start_release_ingest soak "$PORT"

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
