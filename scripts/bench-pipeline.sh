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
start_release_ingest pipeline "$PORT"

log "pipeline: rates $RATES, ${SECONDS_PER_RATE}s each, flush every ${FLUSH_EVERY}s"
"$BIN/bench-tool" pipeline --ingest "http://127.0.0.1:$PORT" --rates "$RATES" \
  --seconds "$SECONDS_PER_RATE" --flush-every "$FLUSH_EVERY" --movies "$MOVIES" --users "$USERS" \
  --flush-bin "$BIN/flush-worker"
