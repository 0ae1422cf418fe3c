#!/usr/bin/env bash
# Ingest throughput on this machine: wrk POSTs single events with distinct
# ids to a release ingest-svc; then redis-benchmark runs the same Lua script
# straight against Redis so the HTTP overhead ratio is known.
# Prints requests/s, p50/p99 latency and ingest-svc peak RSS.
# Knobs: DURATION (s, default 20), CONNECTIONS (64), WRK_THREADS (1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

DURATION="${DURATION:-20}"
CONNECTIONS="${CONNECTIONS:-64}"
WRK_THREADS="${WRK_THREADS:-1}"
PORT="${BENCH_PORT:-18090}"
RUN="bench$(date +%s)"

start_stores
log "building ingest-svc (release)"
cargo build --release -p ingest-svc --quiet

export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
export ANALYTICS__INGEST__BIND="127.0.0.1:$PORT" ANALYTICS__INGEST__RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn
"$ROOT/target/release/ingest-svc" >"$DEV/log/bench-ingest.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  redis-cli -u "$ANALYTICS_REDIS_URL" --scan --pattern "$RUN:*" | xargs -r -n 1000 redis-cli -u "$ANALYTICS_REDIS_URL" unlink >/dev/null
}
trap cleanup EXIT
wait_for "ingest-svc" 30 curl -fsS "http://127.0.0.1:$PORT/ready"

log "wrk: ${DURATION}s, $CONNECTIONS connections, $WRK_THREADS thread(s)"
BENCH_RUN="$RUN" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
  -s scripts/bench/ingest.lua "http://127.0.0.1:$PORT/api/v1/analytics/events" >"$DEV/log/bench-wrk.txt"
cat "$DEV/log/bench-wrk.txt"
read -r rps p50 p99 non2xx _ < <(wrk_summary "$DEV/log/bench-wrk.txt")
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
accepted=$(curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '/^analytics_events_accepted_total/ {s+=$2} END {print s+0}')

log "redis-benchmark: the same ingest script without HTTP"
LUA=$(cat crates/analytics-store/src/hot_counters/lua/ingest.lua)
SHA=$(redis-cli -u "$ANALYTICS_REDIS_URL" SCRIPT LOAD "$LUA")
today=$(date -u +%F); hour=$(date -u +%H)
redis-benchmark -u "$ANALYTICS_REDIS_URL" -c "$CONNECTIONS" -n 500000 -r 100000000 -q \
  EVALSHA "$SHA" 4 "$RUN:{1}:evt:rb__rand_int__" "$RUN:{1}:cnt:jav:movie:m__rand_int__" "$RUN:{1}:dirty" "$RUN:{1}:waiting" \
  fp 172800 "view|$today|$hour" 1 12345 2>&1 | tr '\r' '\n' | grep -v '^ *$' | tail -1 >"$DEV/log/bench-redis.txt"
cat "$DEV/log/bench-redis.txt"
bare=$(grep -oE '[0-9.]+ requests per second' "$DEV/log/bench-redis.txt" | tail -1 | awk '{print $1}')
[ -n "$bare" ] || die "redis-benchmark of the ingest script failed: $(cat "$DEV/log/bench-redis.txt")"

printf '\n== ingest benchmark (%s cores) ==\n' "$(nproc)"
printf 'ingest-svc     %s requests/s   p50 %s   p99 %s   non-2xx %s   counted %s\n' "$rps" "$p50" "$p99" "${non2xx:-0}" "$accepted"
printf 'bare script    %s calls/s (redis-benchmark, %s connections)\n' "$bare" "$CONNECTIONS"
awk -v a="$rps" -v b="$bare" 'BEGIN { if (b > 0) printf "ratio          %.2f of the bare Redis script rate\n", a / b }'
printf 'peak RSS       %.1f MB (ingest-svc VmHWM)\n' "$(echo "$rss_kb / 1024" | bc -l 2>/dev/null || echo "$rss_kb/1024" | awk -F/ '{print $1/$2}')"
