#!/usr/bin/env bash
# Cut-over of a catalogue with history on this machine: FILMS catalogue rows
# whose jav.views / jav.downloads hold the totals plus, for three films in
# four, history the rollups never saw; the rollups (totals and a day) of every
# film; LEGACY unflushed counter hashes and MARKERS dedupe markers of the PHP
# system in Redis. Runs `flush-worker cutover` (release) twice and prints its
# time, films/s and peak RSS, the second run's time, and checks the balances:
# the opening balances must add up to the history seeded, and the first flush
# after must count the drained counters exactly.
# Knobs: FILMS (200000), LEGACY (20000), MARKERS (100000).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

FILMS="${FILMS:-200000}"
LEGACY="${LEGACY:-20000}"
MARKERS="${MARKERS:-100000}"

start_stores
log "building flush-worker and bench-tool (release)"
cargo build --release -p flush-worker -p analytics-bench --bin flush-worker --bin bench-tool --quiet

bench_namespace benchcut
export ANALYTICS__CUTOVER__LEGACY_COUNTER_PREFIX="$RUN:old:counters"
export ANALYTICS__CUTOVER__LEGACY_FLUSHING_PREFIX="$RUN:old:flushing:"
export ANALYTICS__CUTOVER__LEGACY_MARKER_PREFIX="$RUN:old:evt:"
mysql_root() { mariadb --socket="$DEV/run/mariadb.sock" -uroot "$@"; }
redis() { redis-cli -u "$ANALYTICS_REDIS_URL" "$@"; }
log "rollups of $FILMS films (totals and today)"
target/release/bench-tool seed-rollups --entities "$FILMS" >/dev/null
log "catalogue: $FILMS jav rows, three in four with history above their totals"
# The seeded totals are view = (i*7919 mod 100000) + 1, download = i mod 13.
mysql_root "$RUN" -e "INSERT INTO jav (uuid, code, title, views, downloads)
  SELECT CONCAT('movie-', LPAD(seq, 7, '0')), CONCAT('CUT-', seq), 'bench',
    (seq * 7919) % 100000 + 1 + IF(seq % 4 <> 0, seq % 5000 + 1, 0),
    seq % 13 + IF(seq % 4 <> 0, seq % 50, 0)
  FROM seq_0_to_$((FILMS - 1))"
read -r history_views history_downloads < <(mysql_root "$RUN" -N -e "
  SELECT SUM(IF(seq % 4 <> 0, seq % 5000 + 1, 0)), SUM(IF(seq % 4 <> 0, seq % 50, 0))
  FROM seq_0_to_$((FILMS - 1))")
log "the PHP system's Redis: $LEGACY counter hashes (3 views each, one a total-only), $MARKERS markers"
redis EVAL "
  for i = 0, tonumber(ARGV[3]) - 1 do
    local key = ARGV[1] .. ':jav:movie:movie-' .. string.format('%07d', i)
    redis.call('HSET', key, 'view', 3, 'view:2026-12-01', 2)
  end
  for i = 0, tonumber(ARGV[4]) - 1 do
    redis.call('SET', ARGV[2] .. 'old-event-' .. i, '1', 'EX', 86400)
  end
  return 1" 0 "$ANALYTICS__CUTOVER__LEGACY_COUNTER_PREFIX" "$ANALYTICS__CUTOVER__LEGACY_MARKER_PREFIX" \
  "$LEGACY" "$MARKERS" >/dev/null
views_before=$(mysql_root "$RUN" -N -e "SELECT SUM(views) FROM jav")

run_cutover() {
  /usr/bin/time -v target/release/flush-worker cutover >"$DEV/log/bench-cutover-$1.out" 2>"$DEV/log/bench-cutover-$1.err" \
    || { cat "$DEV/log/bench-cutover-$1.err"; die "cutover failed"; }
}
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$1"; }
rss() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }

log "cutover, first run"
run_cutover first
cat "$DEV/log/bench-cutover-first.out"
log "cutover, second run"
run_cutover second
cat "$DEV/log/bench-cutover-second.out"
log "one flush of the drained counters"
target/release/flush-worker flush
views_after=$(mysql_root "$RUN" -N -e "SELECT SUM(views) FROM jav")

first=$(wall "$DEV/log/bench-cutover-first.err"); second=$(wall "$DEV/log/bench-cutover-second.err")
opening=$(grep -oE '\+[0-9]+ views, \+[0-9]+ downloads' "$DEV/log/bench-cutover-first.out" | tr -dc '0-9 ' )
read -r opening_views opening_downloads <<<"$opening"
printf '\n== cutover benchmark (%s cores): %s films, %s legacy counters, %s legacy markers ==\n' "$(nproc)" "$FILMS" "$LEGACY" "$MARKERS"
awk -v f="$FILMS" -v s="$first" -v s2="$second" -v r="$(rss "$DEV/log/bench-cutover-first.err")" \
    -v r2="$(rss "$DEV/log/bench-cutover-second.err")" 'BEGIN {
  printf "first run      %.1f s: %.0f films/s, peak RSS %.1f MB\n", s, f / s, r / 1024
  printf "second run     %.1f s (nothing to change), peak RSS %.1f MB\n", s2, r2 / 1024
}'
echo "balances       +$opening_views views, +$opening_downloads downloads (history seeded: $history_views / $history_downloads)"
echo "catalogue      SUM(jav.views) $views_before before, $views_after after the flush (+$((views_after - views_before)); drained: $((LEGACY * 3)))"
[ "$opening_views" = "$history_views" ] && [ "$opening_downloads" = "$history_downloads" ] \
  || die "the opening balances differ from the history seeded"
[ $((views_after - views_before)) -eq $((LEGACY * 3)) ] || die "the drained counters were not counted exactly once"
grep -q "Nothing changed" "$DEV/log/bench-cutover-second.out" || die "the second run changed something"
