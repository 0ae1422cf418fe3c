#!/usr/bin/env bash
# Import of old events on this machine: EVENTS views of MOVIES films by
# 100,000 users, dated over the last DAYS days, posted to a release
# ingest-svc's import route in batches of BATCH, CONCURRENCY at a time; the
# release flush drains them into the rollups and the raw log. Then the same
# EVENTS again with the Redis dedupe markers deleted (as 48 h later): every
# one must be a duplicate, and nothing counted. Prints events/s and
# ingest-svc's peak RSS for both passes, the flush's time and peak RSS, and
# checks the totals and the raw log hold each event once.
# Knobs: EVENTS (1000000), MOVIES (10000), DAYS (60), BATCH (500),
# CONCURRENCY (4).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

EVENTS="${EVENTS:-1000000}"
MOVIES="${MOVIES:-10000}"
DAYS="${DAYS:-60}"
BATCH="${BATCH:-500}"
CONCURRENCY="${CONCURRENCY:-4}"
PORT="${BENCH_PORT:-18096}"
TOKEN=bench-import-token

export ANALYTICS__INGEST__PRODUCER_TOKEN="$TOKEN" ANALYTICS__INGEST__MAX_BATCH_EVENTS="$BATCH"
start_release_ingest benchimp "$PORT"
redis() { redis-cli -u "$ANALYTICS_REDIS_URL" "$@"; }

send() {
  log "import pass $1: $EVENTS events over $MOVIES films and $DAYS days, batches of $BATCH, $CONCURRENCY at a time"
  "$BIN/bench-tool" import --ingest "http://127.0.0.1:$PORT" --ingest-pid "$PID" --token "$TOKEN" \
    --events "$EVENTS" --movies "$MOVIES" --days "$DAYS" --batch "$BATCH" --concurrency "$CONCURRENCY" \
    | tee "$DEV/log/bench-import-$1.out"
}
send first
log "flushing the imported events"
read -r flush_s flush_runs flush_peak < <(flush_until_idle bench-import)
views=$("$BIN/bench-tool" sum-totals --action view)
logged=$(mysql_admin -N "$RUN" -e "SELECT COUNT(*) FROM analytics_events")
log "deleting the Redis dedupe markers (as when they expire after 48 h)"
redis --scan --pattern "$RUN:*:evt:*" | xargs -r -d '\n' -n 1000 redis-cli -u "$ANALYTICS_REDIS_URL" unlink >/dev/null
send second
read -r _ _ _ < <(flush_until_idle bench-import)
views_after=$("$BIN/bench-tool" sum-totals --action view)

printf '\n== import benchmark (%s cores): %s events, %s films, %s days ==\n' "$(nproc)" "$EVENTS" "$MOVIES" "$DAYS"
echo "first pass     $(cat "$DEV/log/bench-import-first.out")"
awk -v s="$flush_s" -v n="$flush_runs" -v r="$flush_peak" -v e="$EVENTS" 'BEGIN {
  printf "flush          %d s in %d runs (%.0f events/s), peak RSS %.1f MB\n", s, n, e / (s > 0 ? s : 1), r / 1024 }'
echo "second pass    $(cat "$DEV/log/bench-import-second.out")"
echo "counted        views in totals $views after the first pass, $views_after after the second; raw log rows $logged"
[ "$views" = "$EVENTS" ] && [ "$logged" = "$EVENTS" ] || die "the first pass did not count every event once"
[ "$views_after" = "$EVENTS" ] || die "the second pass counted something again"
grep -q "accepted 0, duplicates $EVENTS," "$DEV/log/bench-import-second.out" || die "the second pass was not all duplicates"
