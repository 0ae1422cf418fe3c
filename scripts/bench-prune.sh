#!/usr/bin/env bash
# Retention on this machine: ROWS raw-log rows older than the 90 days kept
# and KEEP recent ones in MySQL analytics_events (with every index the
# product creates), then one release `flush-worker prune`. Prints the time,
# rows/s, the longest single DELETE (the longest any lock was held), peak
# RSS, and checks that exactly the recent rows are left.
# Knobs: ROWS (10000000), KEEP (100000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

ROWS="${ROWS:-10000000}"
KEEP="${KEEP:-100000}"

start_stores
log "building flush-worker and bench-tool (release)"
cargo build --release -p flush-worker -p analytics-bench --bin flush-worker --bin bench-tool --quiet

bench_namespace benchprune
mysql_root() { mariadb --socket="$DEV/run/mariadb.sock" -uroot "$@"; }
# Rows as ingest writes them: a user, a session, a user agent; a million per
# statement, spread over a day 200 days ago (the kept ones over the last hour).
insert() { # PREFIX FROM TO AGE_SECONDS SPREAD_SECONDS
  mysql_root "$RUN" -e "INSERT INTO analytics_events (event_id, domain, entity_type, entity_id,
      action, value, occurred_at, local_date, local_hour, user_id, session_id, user_agent, received_at)
    SELECT CONCAT('$1-', seq), 'jav', 'movie', CONCAT('movie-', seq % 100000), 'view', 1,
      UTC_TIMESTAMP() - INTERVAL $4 SECOND + INTERVAL (seq % $5) SECOND,
      DATE(UTC_TIMESTAMP() - INTERVAL $4 SECOND), 12, CONCAT('u-', seq % 50000), CONCAT('s-', seq % 200000),
      'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36', UTC_TIMESTAMP()
    FROM seq_$2_to_$3"
}
log "seeding $ROWS expired raw-log rows (a million per statement)"
started=$SECONDS
for ((from = 0; from < ROWS; from += 1000000)); do
  to=$((from + 1000000 < ROWS ? from + 1000000 - 1 : ROWS - 1))
  insert old "$from" "$to" $((200 * 86400)) 86400
done
insert new 0 $((KEEP - 1)) 3600 3600
log "seeded in $((SECONDS - started)) s"

log "prune"
/usr/bin/time -v target/release/flush-worker prune >"$DEV/log/bench-prune.out" 2>"$DEV/log/bench-prune.err" \
  || { cat "$DEV/log/bench-prune.err"; die "prune failed"; }
cat "$DEV/log/bench-prune.out"
secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$DEV/log/bench-prune.err")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DEV/log/bench-prune.err")
longest=$(grep -oE 'longest statement took [0-9.]+' "$DEV/log/bench-prune.err" | grep -oE '[0-9.]+$')
left=$(mysql_root "$RUN" -N -e "SELECT COUNT(*) FROM analytics_events")

printf '\n== prune benchmark (%s cores): %s expired raw-log rows, %s kept ==\n' "$(nproc)" "$ROWS" "$KEEP"
awk -v n="$ROWS" -v s="$secs" -v r="$rss_kb" -v l="$longest" 'BEGIN {
  printf "prune          %.1f s: %.0f rows/s, in DELETEs of 5,000 rows\n", s, n / s
  printf "longest        %.3f s for one statement (the longest any lock was held)\n", l
  printf "peak RSS       %.1f MB (flush-worker)\n", r / 1024
}'
echo "left           $left rows (kept: $KEEP)"
[ "$left" -eq "$KEEP" ] || die "prune left $left rows, expected $KEEP"
