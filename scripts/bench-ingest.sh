#!/usr/bin/env bash
# Ingest throughput on this machine: wrk POSTs events with distinct ids to a
# release ingest-svc, first one per request, then in batches; then
# redis-benchmark runs the same Lua script straight against Redis (alone,
# and pipelined as deep as a batch) so the HTTP overhead ratio is known.
# Then the same two wrk passes against an ingest-svc on a local 3-master
# Redis Cluster (CLUSTER=0 skips them), as a ratio to one Redis.
# Prints events/s, p50/p99 latency and ingest-svc peak RSS.
# Knobs: DURATION (s, default 20), CONNECTIONS (64), WRK_THREADS (1),
# BATCH (events per batch request, 100), CLUSTER (1), BENCH_BIN.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

DURATION="${DURATION:-20}"
CONNECTIONS="${CONNECTIONS:-64}"
WRK_THREADS="${WRK_THREADS:-1}"
BATCH="${BATCH:-100}"
PORT="${BENCH_PORT:-18090}"
CLUSTER="${CLUSTER:-1}"
RUN="bench$(date +%s)"

start_stores
# BENCH_BIN: a directory holding an ingest-svc built earlier (another
# commit's, to compare), used unbuilt.
BIN="${BENCH_BIN:-$ROOT/target/release}"
if [ -z "${BENCH_BIN:-}" ]; then
  log "building ingest-svc (release)"
  cargo build --release -p ingest-svc --quiet
fi

export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
export ANALYTICS__INGEST__BIND="127.0.0.1:$PORT" ANALYTICS__INGEST__RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn
# Batches of 100 events are ~20 KB.
export ANALYTICS__INGEST__BODY_LIMIT_BYTES=16384
"$BIN/ingest-svc" >"$DEV/log/bench-ingest.log" 2>&1 &
PID=$!
CLUSTER_PID=""
cleanup() {
  kill "$PID" $CLUSTER_PID 2>/dev/null || true
  drop_redis_keys "$RUN"
  [ -z "$CLUSTER_PID" ] || drop_cluster_keys "$RUN"
}
trap cleanup EXIT
wait_for "ingest-svc" 30 curl -fsS "http://127.0.0.1:$PORT/ready"

# wrk_run NAME URL BATCH: one wrk pass; sets rps p50 p99 non2xx.
wrk_run() {
  log "wrk ($1): ${DURATION}s, $CONNECTIONS connections, $WRK_THREADS thread(s)"
  BENCH_RUN="$RUN-$1" BENCH_BATCH="$3" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -s scripts/bench/ingest.lua "$2" >"$DEV/log/bench-wrk-$1.txt"
  cat "$DEV/log/bench-wrk-$1.txt"
  read -r rps p50 p99 non2xx _ < <(wrk_summary "$DEV/log/bench-wrk-$1.txt")
}
# Redis's own CPU seconds (user + sys) so far.
redis_cpu() {
  redis-cli -u "$ANALYTICS_REDIS_URL" info cpu | tr -d '\r' \
    | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.6f", s}'
}
accepted_events() {
  curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^analytics_events_accepted_total/ {s+=$2} END {print s+0}'
}
wrk_run single "http://127.0.0.1:$PORT/api/v1/analytics/events" 0
single_rps=$rps single_p50=$p50 single_p99=$p99 single_non2xx=${non2xx:-0}
cpu_before=$(redis_cpu) events_before=$(accepted_events)
wrk_run batch "http://127.0.0.1:$PORT/api/v1/analytics/events/batch" "$BATCH"
batch_rps=$rps batch_p50=$p50 batch_p99=$p99 batch_non2xx=${non2xx:-0}
batch_cpu_us=$(awk -v a="$cpu_before" -v b="$(redis_cpu)" -v e0="$events_before" -v e1="$(accepted_events)" \
  'BEGIN { if (e1 > e0) printf "%.1f", (b - a) * 1e6 / (e1 - e0); else print "n/a" }')
# What dedupe keeps per accepted event: the day hashes' memory over the
# events (the raw log and counters leave Redis with the next flush).
seen_bytes=$(redis-cli -u "$ANALYTICS_REDIS_URL" --scan --pattern "$RUN:{*}:seen:*" \
  | sed 's/^/MEMORY USAGE /' | redis-cli -u "$ANALYTICS_REDIS_URL" | awk '{s += $1} END {print s+0}')
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
accepted=$(accepted_events)

# The same script without HTTP: one event per call, with a log entry and
# both unique-viewer registers, as ingest-svc sends it (registers at a fixed
# index: random ones would grow the hashes beyond the 16,384 a real one
# holds). Unpipelined for the
# single-event comparison; pipelined $BATCH deep for the batch one.
log "redis-benchmark: the same ingest script without HTTP"
LUA=$(cat crates/analytics-store/src/hot_counters/lua/ingest.lua)
SHA=$(redis-cli -u "$ANALYTICS_REDIS_URL" SCRIPT LOAD "$LUA")
today=$(date -u +%F); hour=$(date -u +%H)
entry="{\"event_id\":\"rb\",\"domain\":\"jav\",\"entity_type\":\"movie\",\"entity_id\":\"m\",\"action\":\"view\",\"value\":1,\"occurred_at\":\"${today}T${hour}:00:00Z\",\"local_date\":\"$today\",\"local_hour\":$((10#$hour)),\"user_id\":42,\"received_at\":\"${today}T${hour}:00:00.000Z\",\"client_network\":\"127.0.0.0\"}"
bare_run() {
  redis-benchmark -u "$ANALYTICS_REDIS_URL" -c "$CONNECTIONS" -n "$2" -r 100000000 -P "$1" -q \
    EVALSHA "$SHA" 5 "$RUN:{1}:dirty" "$RUN:{1}:waiting" "$RUN:{1}:log" \
    "$RUN:{1}:cnt:jav:movie:m__rand_int__" "$RUN:{1}:cnt:jav:site:p1" \
    "$RUN:{1}:seen:" 1 172800 7 "rb__rand_int__" fingerpr 12345 678 1 "$entry" 1 "view|$today|$hour" 1 \
    1 "~$today|1234" 3 1 "~$today|$hour|1234" 3 \
    2>&1 | tr '\r' '\n' | grep -v '^ *$' | tail -1 | grep -oE '[0-9.]+ requests per second' | awk '{print $1}'
}
bare=$(bare_run 1 300000)
bare_pipelined=$(bare_run "$BATCH" 2000000)
[ -n "$bare" ] && [ -n "$bare_pipelined" ] || die "redis-benchmark of the ingest script failed"

if [ "$CLUSTER" = 1 ]; then
  # One ingest-svc at a time: the first is stopped so both get the cores.
  kill "$PID"; wait "$PID" 2>/dev/null || true
  start_redis_cluster
  ANALYTICS__REDIS__CLUSTER_NODES="$ANALYTICS_REDIS_CLUSTER_NODES" \
    ANALYTICS__INGEST__BIND="127.0.0.1:$((PORT + 1))" \
    "$BIN/ingest-svc" >"$DEV/log/bench-ingest-cluster.log" 2>&1 &
  CLUSTER_PID=$!
  wait_for "ingest-svc on the cluster" 30 curl -fsS "http://127.0.0.1:$((PORT + 1))/ready"
  wrk_run cluster-single "http://127.0.0.1:$((PORT + 1))/api/v1/analytics/events" 0
  cluster_single_rps=$rps cluster_single_p99=$p99 cluster_single_non2xx=${non2xx:-0}
  wrk_run cluster-batch "http://127.0.0.1:$((PORT + 1))/api/v1/analytics/events/batch" "$BATCH"
  cluster_batch_rps=$rps cluster_batch_p99=$p99 cluster_batch_non2xx=${non2xx:-0}
fi

printf '\n== ingest benchmark (%s cores) ==\n' "$(nproc)"
printf 'single         %s events/s   p50 %s   p99 %s   non-2xx %s\n' "$single_rps" "$single_p50" "$single_p99" "$single_non2xx"
awk -v r="$batch_rps" -v n="$BATCH" -v p50="$batch_p50" -v p99="$batch_p99" -v e="$batch_non2xx" \
  'BEGIN { printf "batch of %d   %.0f events/s (%.0f requests/s)   p50 %s   p99 %s   non-2xx %s\n", n, r * n, r, p50, p99, e }'
printf 'bare script    %s events/s (redis-benchmark, %s connections)\n' "$bare" "$CONNECTIONS"
printf 'bare, pipelined %s events/s (redis-benchmark -P %s)\n' "$bare_pipelined" "$BATCH"
awk -v a="$single_rps" -v b="$bare" 'BEGIN { if (b > 0) printf "single ratio   %.2f of the bare script\n", a / b }'
awk -v a="$batch_rps" -v n="$BATCH" -v b="$bare_pipelined" 'BEGIN { if (b > 0) printf "batch ratio    %.2f of the pipelined bare script\n", a * n / b }'
printf 'counted        %s events\n' "$accepted"
printf 'redis time     %s µs of Redis CPU per event in batches of %s\n' "$batch_cpu_us" "$BATCH"
awk -v b="$seen_bytes" -v n="$accepted" 'BEGIN { if (n > 0) printf "dedupe memory  %.1f bytes of Redis per accepted event (%d bytes of day hashes)\n", b / n, b }'
printf 'peak RSS       %.1f MB (ingest-svc VmHWM)\n' "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')"
if [ "$CLUSTER" = 1 ]; then
  printf 'cluster single %s events/s   p99 %s   non-2xx %s   (3-master Redis Cluster, same machine)\n' \
    "$cluster_single_rps" "$cluster_single_p99" "$cluster_single_non2xx"
  awk -v r="$cluster_batch_rps" -v n="$BATCH" -v p99="$cluster_batch_p99" -v e="$cluster_batch_non2xx" \
    'BEGIN { printf "cluster batch  %.0f events/s   p99 %s   non-2xx %s\n", r * n, p99, e }'
  awk -v c="$cluster_single_rps" -v s="$single_rps" -v cb="$cluster_batch_rps" -v sb="$batch_rps" \
    'BEGIN { if (s > 0 && sb > 0) printf "cluster ratio  %.2f of one Redis (single), %.2f (batches)\n", c / s, cb / sb }'
fi

