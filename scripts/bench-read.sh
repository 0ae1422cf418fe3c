#!/usr/bin/env bash
# read-api latency and the live feed, in three parts (PART=catalogue|viewing|admin|all):
#  catalogue: ENTITIES movies (default 1,000,000) of seeded rollups; wrk drives
#    `top` (today, all time) and `entities` (random movies).
#  viewing: HISTORY events (default 1,500,000) of the v2 mix over the last
#    7 days, ENTITIES Zipf-popular movies and USERS users (100,000), plus one
#    user with 10,000 playback events, counted by the real ingest script and
#    flushed by the real flush; wrk drives every viewing, search and
#    recommendation route computed on each request (report cache off) and
#    served from the report cache, then realtime under ingest load, then
#    CLIENTS WebSocket clients (1,000) on the live feed.
#  admin: a generated MySQL catalogue (200,000 movies, 20,000 actors, 2,000
#    tags, links, engagement over 90 days, queue rows) and its actor-genre
#    index; wrk drives the admin snapshot computed on each request (cold) and
#    kept per period (warm), and every actor analytics route both ways.
# Prints p50/p99 and requests/s per route, the feed's fan-out lag and cadence,
# and read-api's peak RSS. Knobs: PART, ENTITIES, HISTORY, USERS, CLIENTS,
# DURATION (s per route, 10), CONNECTIONS (8).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

PART="${PART:-all}"
ENTITIES="${ENTITIES:-1000000}"
HISTORY="${HISTORY:-1500000}"
USERS="${USERS:-100000}"
CLIENTS="${CLIENTS:-1000}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-8}"
PORT="${BENCH_PORT:-18091}"
INGEST_PORT="${BENCH_INGEST_PORT:-18092}"
TOKEN="bench-admin-token"
BIN="$ROOT/target/release"

start_stores
log "building read-api, ingest-svc, flush-worker and bench-tool (release)"
cargo build --release -p read-api -p ingest-svc -p flush-worker --bins --quiet
cargo build --release -p analytics-bench --bin bench-tool --quiet

PIDS=()
RUNS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for run in "${RUNS[@]}"; do
    ANALYTICS__MONGO__DATABASE="$run" drop_run_data "$run" "$BIN"
  done
}
trap cleanup EXIT

# namespace NAME: points every binary at a fresh namespace and migrates it.
namespace() {
  RUN="$1$(date +%s)"
  RUNS+=("$RUN")
  export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
  export ANALYTICS__MONGO__URL="$ANALYTICS_MONGO_URL" ANALYTICS__MONGO__DATABASE="$RUN"
  export ANALYTICS__MYSQL__URL="${ANALYTICS_MYSQL_URL%/*}/$RUN"
  export ANALYTICS__READ_API__BIND="127.0.0.1:$PORT" ANALYTICS__READ_API__ADMIN_TOKEN="$TOKEN"
  export ANALYTICS__INGEST__BIND="127.0.0.1:$INGEST_PORT" ANALYTICS__INGEST__RATE_LIMIT_PER_MINUTE=0
  export RUST_LOG=warn
  mysql_admin -e "CREATE DATABASE IF NOT EXISTS \`$RUN\`"
  "$BIN/flush-worker" migrate >/dev/null
}

# start_read_api CACHE_MS: (re)starts read-api with that report (and
# snapshot) cache.
READ_PID=""
start_read_api() {
  [ -z "$READ_PID" ] || { kill "$READ_PID"; wait "$READ_PID" 2>/dev/null || true; }
  ANALYTICS__READ_API__REPORT_CACHE_MS="$1" ANALYTICS__READ_API__SNAPSHOT_CACHE_MS="$1" \
    "$BIN/read-api" >>"$DEV/log/bench-read.log" 2>&1 &
  READ_PID=$!
  PIDS+=("$READ_PID")
  wait_for "read-api" 30 curl -fsS "http://127.0.0.1:$PORT/ready"
}

results=()
# measure LABEL PATH [CONNECTIONS]: wrk on one route; a non-2xx answer fails the run.
measure() {
  local label="$1" route="$2" conns="${3:-$CONNECTIONS}"
  log "wrk ${DURATION}s, $conns connections: $label $route"
  BENCH_PATH="$route" BENCH_ENTITIES="$ENTITIES" BENCH_TOKEN="$TOKEN" BENCH_BODY="${BODY:-}" \
    wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 60s --latency -s scripts/bench/read.lua "http://127.0.0.1:$PORT" \
    >"$DEV/log/bench-read-wrk.txt"
  read -r rps p50 p99 non2xx done_n < <(wrk_summary "$DEV/log/bench-read-wrk.txt")
  results+=("$(printf '%-8s %-72s %9s req/s  p50 %-8s p99 %-8s requests %s  non-2xx %s' "$label" "$route" "$rps" "$p50" "$p99" "$done_n" "${non2xx:-0}")")
  # Kept as measured too, so a run that dies later loses no figure.
  printf '%s\n' "${results[-1]}" >>"$RESULTS"
  # A benchmark of failures measures nothing: the run fails at the end.
  [ "${non2xx:-0}" = 0 ] || FAILED+=("$route: $non2xx non-2xx")
}
# prime PATH: one request, so a "warm" figure is the cache serving, not its
# first computation (which the cold figures measure).
prime() {
  local post=()
  [ -z "${BODY:-}" ] || post=(-X POST -H 'content-type: application/json' -d "$BODY")
  curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "${post[@]}" \
    "http://127.0.0.1:$PORT${1//\{id\}/movie-0000001}"
}
FAILED=()
RESULTS="$DEV/log/bench-read-results.txt"
: >"$RESULTS"

bench_catalogue() {
  namespace benchread
  log "seeding rollups of $ENTITIES movies"
  "$BIN/bench-tool" seed-rollups --entities "$ENTITIES"
  start_read_api 5000
  measure "" "/api/v1/admin/analytics/top?period=day&limit=10"
  measure "" "/api/v1/admin/analytics/top?period=all&action=download&limit=10"
  measure "" "/api/v1/admin/analytics/entities/movie/{id}?granularity=day"
  measure "" "/api/v1/admin/analytics/top?period=week&limit=10"
  measure "" "/api/v1/admin/analytics/top?period=year&action=download&limit=10"
  measure "" "/api/v1/admin/analytics/entities/movie/{id}?granularity=week"
  measure "" "/api/v1/admin/analytics/entities/movie/{id}?granularity=month"
  measure "" "/api/v1/admin/analytics/entities/movie/{id}?granularity=year"
}

VIEWING_ROUTES=(
  "/api/v1/analytics/content/popular?days=7&limit=10"
  "/api/v1/analytics/content/popular?days=7&limit=10&sort=watch_time"
  "/api/v1/analytics/content/popular?days=7&limit=10&sort=unique_viewers"
  "/api/metrics/video/movie-0000000?days=7"
  "/api/metrics/video/{id}?days=7"
  "/api/v1/analytics/peak-hours?days=7"
  "/api/v1/analytics/trends?days=7"
  "/api/v1/admin/analytics/search/queries?days=7"
  "/api/v1/admin/analytics/recommendations?days=7&by=both"
  "/api/v1/admin/analytics/recommendations/movies?days=7"
)

bench_viewing() {
  namespace benchview
  log "seeding $HISTORY events over 7 days ($ENTITIES movies, $USERS users, one user with 10,000)"
  "$BIN/bench-tool" seed-history --events "$HISTORY" --movies "$ENTITIES" --users "$USERS"
  log "flushing them (rollups, boards, raw log)"
  local started=$SECONDS
  RUST_LOG=warn,flush_worker=info "$BIN/flush-worker" flush >"$DEV/log/bench-view-flush.out" 2>"$DEV/log/bench-view-flush.err" \
    || { tail -5 "$DEV/log/bench-view-flush.err"; die "flush failed"; }
  FLUSH_SECS=$((SECONDS - started))
  LOG_ROWS=$(mysql_admin "$RUN" -N -e "SELECT COUNT(*) FROM analytics_events")
  DAY_DOCS=$("$BIN/bench-tool" count-documents --collection analytics_entity_daily 2>/dev/null || echo "?")

  start_read_api 0
  # One at a time first: a computation's own latency, no queue (and no
  # slow log query of another route still running in MySQL).
  measure "cold/1" "/api/v1/analytics/user/bench-heavy/stats?days=7" 1
  measure "cold/1" "/api/v1/analytics/content/popular?days=7&limit=10" 1
  measure "cold/1" "/api/v1/analytics/peak-hours?days=7" 1
  measure cold "/api/v1/analytics/user/bench-heavy/stats?days=7"
  for route in "${VIEWING_ROUTES[@]}"; do measure cold "$route"; done
  start_read_api 60000
  # The generation raised every 5 s, as a flush that wrote something would
  # (12 times the CronJob's pace): kept reports are recomputed that often.
  (while sleep 5; do redis-cli -u "$ANALYTICS_REDIS_URL" INCR "$RUN:rollups:generation" >/dev/null; done) &
  local flushes=$!
  PIDS+=("$flushes")
  for route in "${VIEWING_ROUTES[@]}"; do prime "$route"; measure warm "$route"; done
  kill "$flushes"

  # A fresh process, so its peak RSS is the live feed's.
  start_read_api 60000
  log "ingest-svc under load for realtime and the live feed"
  "$BIN/ingest-svc" >"$DEV/log/bench-read-ingest.log" 2>&1 &
  local ingest_pid=$!
  PIDS+=("$ingest_pid")
  wait_for "ingest-svc" 30 curl -fsS "http://127.0.0.1:$INGEST_PORT/ready"
  BENCH_RUN="$RUN" wrk -t1 -c4 -d"$((DURATION + 45))s" -s scripts/bench/ingest.lua \
    "http://127.0.0.1:$INGEST_PORT/api/v1/analytics/events" >"$DEV/log/bench-read-load.txt" 2>&1 &
  local load_pid=$!
  PIDS+=("$load_pid")
  measure live "/api/metrics/realtime"
  log "$CLIENTS WebSocket clients on the live feed for 30 s"
  LIVE=$("$BIN/bench-tool" live-clients --url "ws://127.0.0.1:$PORT/ws" --token "$TOKEN" --clients "$CLIENTS" --seconds 30)
  READ_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$READ_PID/status")
  printf 'live feed:\n%s\nread-api peak RSS %s kB\n' "$LIVE" "$READ_RSS_KB" >>"$RESULTS"
  wait "$load_pid" 2>/dev/null || true
}

ACTOR_ROUTES=(
  "/api/v1/admin/analytics/actors/distribution?genre=genre-0000&dimension=age_bucket"
  "/api/v1/admin/analytics/actors/distribution?genre=genre-0000&dimension=birthplace"
  "/api/v1/admin/analytics/actors/association?segment_type=blood_type&segment_value=A"
  "/api/v1/admin/analytics/actors/association?segment_value=23-27"
  "/api/v1/admin/analytics/actors/trends?dimension=blood_type&interval=month"
  "/api/v1/admin/analytics/actors/trends?genre=genre-0001&interval=week"
  "/api/v1/admin/analytics/actors/overview"
  "/api/v1/admin/analytics/actors/quality"
  "/api/v1/admin/analytics/actors/suggest?type=actor&q=Actor%2012"
  "/api/v1/admin/analytics/actors/suggest?type=birthplace&q=a"
  "/api/v1/admin/analytics/actors/insights?actor_uuid=00000000-0000-4000-8000-000000000001"
  "/api/v1/admin/analytics/actors/insights?actor_uuid=00000000-0000-4000-8000-000000004321"
)

bench_admin() {
  namespace benchadmin
  log "seeding the MySQL catalogue"
  CATALOGUE=$("$BIN/bench-tool" seed-catalogue)
  printf 'admin %s\n' "$CATALOGUE" >>"$RESULTS"
  INDEX=$("$BIN/flush-worker" refresh-catalogue-index)
  printf 'admin %s\n' "$INDEX" >>"$RESULTS"
  start_read_api 0
  measure "cold/1" "/api/v1/admin/analytics/snapshot?days=14" 1
  measure "cold/1" "/api/v1/admin/analytics/snapshot?days=90" 1
  measure cold "/api/v1/admin/analytics/snapshot?days=14"
  # The actor analytics are computed on every request (no cache).
  local predict='{"age": 25, "blood_type": "A", "birthplace": "Tokyo", "movie_tags": ["genre-0003"], "size": 5}'
  for route in "${ACTOR_ROUTES[@]}"; do measure "cold/1" "$route" 1; done
  BODY="$predict" measure "cold/1" "/api/v1/admin/analytics/actors/predict" 1
  for route in "${ACTOR_ROUTES[@]}"; do measure cold "$route"; done
  BODY="$predict" measure cold "/api/v1/admin/analytics/actors/predict"
  start_read_api 15000
  prime "/api/v1/admin/analytics/snapshot?days=14"
  measure warm "/api/v1/admin/analytics/snapshot?days=14"
  for route in "${ACTOR_ROUTES[@]}"; do prime "$route"; measure warm "$route"; done
  BODY="$predict"
  prime "/api/v1/admin/analytics/actors/predict"
  measure warm "/api/v1/admin/analytics/actors/predict"
  BODY=""
}

case "$PART" in
  catalogue) bench_catalogue ;;
  viewing) bench_viewing ;;
  admin) bench_admin ;;
  all) bench_catalogue; bench_viewing; bench_admin ;;
  *) die "PART must be catalogue, viewing, admin or all" ;;
esac

printf '\n== read-api benchmark (%s cores) ==\n' "$(nproc)"
case "$PART" in catalogue|all) printf 'catalogue: %s movies in the rollups\n' "$ENTITIES" ;; esac
case "$PART" in admin|all) printf 'admin %s\n' "$CATALOGUE" ;; esac
if [ "$PART" = viewing ] || [ "$PART" = all ]; then
  printf 'viewing: %s events over 7 days, %s movies, %s users; flushed in %s s (%s log rows, %s daily documents)\n' \
    "$HISTORY" "$ENTITIES" "$USERS" "$FLUSH_SECS" "$LOG_ROWS" "$DAY_DOCS"
  printf 'cold = report computed on every request (report_cache_ms 0; cold/1: one connection); warm = the report cache, outdated every 5 s as by a flush\n'
fi
printf '%s\n' "${results[@]}"
if [ "$PART" = viewing ] || [ "$PART" = all ]; then
  printf 'live feed:\n%s\n' "$LIVE"
  awk -v r="$READ_RSS_KB" 'BEGIN { printf "peak RSS %.1f MB (read-api, through the live-feed run)\n", r / 1024 }'
fi
[ "${#FAILED[@]}" = 0 ] || die "non-2xx answers: ${FAILED[*]}"
