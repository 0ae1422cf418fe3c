#!/usr/bin/env bash
# Rebuild on this machine: EVENTS views of MOVIES films by 100,000 users
# over the last DAYS days, imported and flushed by the release binaries,
# then `flush-worker rebuild` of those days twice: first with one day's
# documents of every film deleted and its totals damaged (a correction to
# write), then again (nothing to change). Prints each run's time, events/s
# and peak RSS, and checks the totals are exact afterwards.
# Knobs: EVENTS (1500000), MOVIES (10000), DAYS (7).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

EVENTS="${EVENTS:-1500000}"
MOVIES="${MOVIES:-10000}"
DAYS="${DAYS:-7}"
PORT="${BENCH_PORT:-18097}"
TOKEN=bench-rebuild-token

export ANALYTICS__INGEST__PRODUCER_TOKEN="$TOKEN" ANALYTICS__INGEST__MAX_BATCH_EVENTS=500
start_release_ingest benchreb "$PORT"
log "importing $EVENTS events over $MOVIES films and $DAYS days"
"$BIN/bench-tool" import --ingest "http://127.0.0.1:$PORT" --ingest-pid "$PID" --token "$TOKEN" \
  --events "$EVENTS" --movies "$MOVIES" --days "$DAYS" --batch 500 --concurrency 4 >"$DEV/log/bench-rebuild-import.out"
log "flushing them"
read -r flush_s _ _ < <(flush_until_idle bench-rebuild)
views=$("$BIN/bench-tool" sum-totals --action view)
[ "$views" = "$EVENTS" ] || die "the import counted $views views, not $EVENTS"

# The events are dated 1..DAYS days ago; a day either side covers any zone.
from=$(date -u -d "-$((DAYS + 1)) days" +%F)
to=$(date -u +%F)
damaged=$(date -u -d "-1 day" +%F)
log "damaging $damaged: its day and hour documents lost with what they added"
"$BIN/bench-tool" damage-rollups --date "$damaged" >"$DEV/log/bench-rebuild-damage.out"
rebuild() { # NAME
  local started=$SECONDS
  /usr/bin/time -v "$BIN/flush-worker" rebuild --from "$from" --to "$to" \
    >"$DEV/log/bench-rebuild-$1.out" 2>"$DEV/log/bench-rebuild-$1.err" \
    || { tail -5 "$DEV/log/bench-rebuild-$1.err" >&2; die "rebuild failed"; }
  local rss; rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DEV/log/bench-rebuild-$1.err")
  awk -v s="$((SECONDS - started))" -v r="$rss" -v e="$EVENTS" -v n="$1" 'BEGIN {
    printf "%-10s %d s (%.0f raw-log events/s), peak RSS %.1f MB\n", n, s, e / (s > 0 ? s : 1), r / 1024 }'
  sed 's/^/           /' "$DEV/log/bench-rebuild-$1.out"
}

printf '\n== rebuild benchmark (%s cores): %s events, %s films, %s days ==\n' "$(nproc)" "$EVENTS" "$MOVIES" "$DAYS"
echo "import     $(cat "$DEV/log/bench-rebuild-import.out")"
echo "flush      $flush_s s"
echo "damage     $(cat "$DEV/log/bench-rebuild-damage.out")"
rebuild first
views=$("$BIN/bench-tool" sum-totals --action view)
[ "$views" = "$EVENTS" ] || die "after the rebuild the totals hold $views views, not $EVENTS"
rebuild second
grep -q "^Nothing changed" "$DEV/log/bench-rebuild-second.out" || die "the second rebuild changed something"
echo "counted    views in totals $views after the rebuild (exact)"
