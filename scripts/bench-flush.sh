#!/usr/bin/env bash
# Flush throughput on this machine: counts EVENTS events over ENTITIES movies
# (all with catalogue rows) through the real ingest script, runs one release
# flush, then upserts the same rollup documents with a bare bulk write (no
# transaction, no ledger) for comparison.
# Prints keys/s, Mongo writes/s, flush peak RSS and the ratio to the bare rate.
# MIX=v2 counts the v2 mix instead of views only (users, so unique-viewer
# registers; playback sums; the raw event log, copied to MySQL by the flush).
# Knobs: EVENTS (1000000), ENTITIES (100000), BATCH (flush.batch_size, 2000),
# MIX (v1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

EVENTS="${EVENTS:-1000000}"
ENTITIES="${ENTITIES:-100000}"
BATCH="${BATCH:-2000}"
MIX="${MIX:-v1}"
RUN="benchflush$(date +%s)"

start_stores
log "building flush-worker and bench-tool (release)"
cargo build --release -p flush-worker -p analytics-bench --bin flush-worker --bin bench-tool --quiet

MYSQL_BASE="${ANALYTICS_MYSQL_URL%/*}"
export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
export ANALYTICS__MONGO__URL="$ANALYTICS_MONGO_URL" ANALYTICS__MONGO__DATABASE="$RUN"
export ANALYTICS__MYSQL__URL="$MYSQL_BASE/$RUN" ANALYTICS__FLUSH__BATCH_SIZE="$BATCH" RUST_LOG=warn
mysql_root() { mariadb --socket="$DEV/run/mariadb.sock" -uroot "$@"; }

cleanup() {
  drop_redis_keys "$RUN"
  mysql_root -e "DROP DATABASE IF EXISTS \`$RUN\`" 2>/dev/null || true
  ANALYTICS__MONGO__DATABASE="$RUN" target/release/bench-tool drop-database || true
  ANALYTICS__MONGO__DATABASE="${RUN}bare" target/release/bench-tool drop-database || true
}
trap cleanup EXIT

mysql_root -e "CREATE DATABASE \`$RUN\`"
target/release/flush-worker migrate >/dev/null
log "catalogue: $ENTITIES jav rows"
mysql_root "$RUN" -e "INSERT INTO jav (uuid, code, title) SELECT CONCAT('movie-', LPAD(seq, 6, '0')), CONCAT('BEN-', seq), 'bench' FROM seq_0_to_$((ENTITIES - 1))"

log "seeding $EVENTS events over $ENTITIES movies"
target/release/bench-tool seed --events "$EVENTS" --entities "$ENTITIES" --mix "$MIX"

log "one flush (batch size $BATCH)"
RUST_LOG=warn,flush_worker=info /usr/bin/time -v target/release/flush-worker flush >"$DEV/log/bench-flush.out" 2>"$DEV/log/bench-flush.err" \
  || { cat "$DEV/log/bench-flush.err"; die "flush failed"; }
cat "$DEV/log/bench-flush.out"
summary=$(grep '"flush finished"' "$DEV/log/bench-flush.err")
field() { sed -E "s/.*\"$1\":([0-9]+).*/\1/" <<<"$summary"; }
keys=$(field keys); docs=$(field documents); replicas=$(field replicas_updated)
log_rows=$(field log_rows); log_ms=$(field log_copy_ms)
redis_ms=$(field redis_ms); mongo_ms=$(field mongo_ms); replica_ms=$(field replica_ms); board_ms=$(field leaderboard_ms)
secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$DEV/log/bench-flush.err")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DEV/log/bench-flush.err")
views=$(mysql_root "$RUN" -N -e "SELECT SUM(views) FROM jav")

log "bare bulk upsert of the same documents"
export ANALYTICS__MONGO__DATABASE="${RUN}bare"
bare_line=$(target/release/bench-tool bare-upsert --entities "$ENTITIES" --batch "$BATCH" --mix "$MIX")
echo "$bare_line"
bare=$(grep -oE '\(([0-9]+) writes/s\)' <<<"$bare_line" | tr -dc '0-9')

printf '\n== flush benchmark (%s cores): %s events (mix %s) over %s movies ==\n' "$(nproc)" "$EVENTS" "$MIX" "$ENTITIES"
awk -v k="$keys" -v d="$docs" -v s="$secs" -v b="$bare" -v r="$rss_kb" -v rep="$replicas" -v v="$views" \
    -v lr="${log_rows:-0}" -v lm="${log_ms:-0}" -v rm="$redis_ms" -v mm="$mongo_ms" -v pm="$replica_ms" -v bm="$board_ms" 'BEGIN {
  printf "flush          %.1f s for %d keys: %.0f keys/s\n", s, k, k / s
  printf "raw log        %d rows copied to MySQL in %.1f s\n", lr, lm / 1000
  printf "mongo writes   %d documents: %.0f writes/s over the rest of the run (transactional, with ledger)\n", d, d / (s - lm / 1000)
  printf "bare upsert    %d writes/s (no transaction, no ledger)\n", b
  printf "ratio          %.2f of the bare rate\n", (d / (s - lm / 1000)) / b
  printf "time went to   Mongo transactions %.1f s (%.0f writes/s, %.2f of bare), Redis %.1f s, MySQL replicas %.1f s, leaderboards %.1f s\n", mm / 1000, d / (mm / 1000), (d / (mm / 1000)) / b, rm / 1000, pm / 1000, bm / 1000
  printf "mysql          %d replica rows updated; SUM(jav.views) = %d\n", rep, v
  printf "peak RSS       %.1f MB (flush-worker)\n", r / 1024
}'
