#!/usr/bin/env bash
# One command from a fresh machine to a running pipeline: installs and starts
# Redis, MariaDB and secantusd-rs on loopback (data under .dev/, or the stores
# named by ANALYTICS_REDIS_URL / ANALYTICS_MYSQL_URL / ANALYTICS_MONGO_URL),
# runs migrations, starts ingest-svc and a flush every 60 s. REDIS_CLUSTER=1
# puts Redis on a local 3-master Redis Cluster instead.
# Re-running reuses whatever is already up. Stop with scripts/dev-down.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

INGEST_PORT="${INGEST_PORT:-8080}"
READ_API_PORT="${READ_API_PORT:-8081}"
TELEMETRY_PORT="${TELEMETRY_PORT:-8082}"
FLUSH_EVERY="${FLUSH_EVERY:-60}"
PROFILE="${PROFILE:-debug}"

# On a fresh machine the services compile while the stores install (the
# Debian packages download, secantusd-rs compiles): the two take about as
# long, and together they keep both cores busy. Only the four services are
# built; the test tools come with scripts/test.sh.
log "building the services ($PROFILE) while the stores start (log: .dev/log/build.log)"
build_flags=(--quiet -p ingest-svc -p read-api -p telemetry-svc -p flush-worker)
[ "$PROFILE" = release ] && build_flags+=(--release)
cargo build "${build_flags[@]}" >"$DEV/log/build.log" 2>&1 &
build_pid=$!
trap 'kill "$build_pid" 2>/dev/null || true' EXIT

start_stores
# REDIS_CLUSTER=1: every service and job on a local 3-master Redis Cluster.
if [ "${REDIS_CLUSTER:-0}" = 1 ]; then
  start_redis_cluster
  export ANALYTICS__REDIS__CLUSTER_NODES="$ANALYTICS_REDIS_CLUSTER_NODES"
fi

if ! wait "$build_pid"; then
  tail -n 40 "$DEV/log/build.log" >&2
  die "the services did not build (log: $DEV/log/build.log)"
fi
trap - EXIT
log "services built"
BIN="$ROOT/target/$PROFILE"

export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL"
export ANALYTICS__MONGO__URL="$ANALYTICS_MONGO_URL"
export ANALYTICS__MYSQL__URL="$ANALYTICS_MYSQL_URL"
export ANALYTICS__INGEST__BIND="127.0.0.1:$INGEST_PORT"
export ANALYTICS__READ_API__BIND="127.0.0.1:$READ_API_PORT"
export ANALYTICS__TELEMETRY__BIND="127.0.0.1:$TELEMETRY_PORT"
# Pages served by the usual local dev servers may post events and read the
# public counts (CORS); EXTRA_ORIGINS (comma-separated) adds to the list,
# DEV_ORIGINS replaces it.
LOCAL_ORIGINS=""
for port in 3000 4200 5173 8000 8888; do
  LOCAL_ORIGINS+="http://localhost:$port,http://127.0.0.1:$port,"
done
DEV_ORIGINS="${DEV_ORIGINS:-${LOCAL_ORIGINS%,}}${EXTRA_ORIGINS:+,$EXTRA_ORIGINS}"
export ANALYTICS__INGEST__CORS_ALLOWED_ORIGINS="${ANALYTICS__INGEST__CORS_ALLOWED_ORIGINS:-$DEV_ORIGINS}"
export ANALYTICS__READ_API__CORS_ALLOWED_ORIGINS="${ANALYTICS__READ_API__CORS_ALLOWED_ORIGINS:-$DEV_ORIGINS}"
ADMIN_TOKEN="${ANALYTICS__READ_API__ADMIN_TOKEN:-dev-admin-token}"

log "migrations and indexes"
"$BIN/flush-worker" migrate
# What the admin analytics derive from the catalogue as it is now (a CronJob
# in a cluster; rerun it after loading catalogue data).
"$BIN/flush-worker" refresh-catalogue-index

running() { [ -f "$DEV/run/$1.pid" ] && kill -0 "$(cat "$DEV/run/$1.pid")" 2>/dev/null; }

# start_service NAME PORT: runs a service binary in the background until /ready.
start_service() {
  local name="$1" port="$2"
  if running "$name"; then
    log "$name: already running"
    return
  fi
  nohup "$BIN/$name" >>"$DEV/log/$name.log" 2>&1 &
  echo $! >"$DEV/run/$name.pid"
  wait_for "$name" 30 curl -fsS "http://127.0.0.1:$port/ready"
  log "$name: started on :$port"
}
start_service ingest-svc "$INGEST_PORT"
start_service read-api "$READ_API_PORT"
start_service telemetry-svc "$TELEMETRY_PORT"

if running flush-loop; then
  log "flush loop: already running"
else
  # The local stand-in for the Kubernetes CronJob.
  nohup bash -c "while true; do '$BIN/flush-worker' flush; sleep $FLUSH_EVERY; done" \
    >>"$DEV/log/flush.log" 2>&1 &
  echo $! >"$DEV/run/flush-loop.pid"
  log "flush loop: every ${FLUSH_EVERY}s (log: .dev/log/flush.log)"
fi

cat <<INFO

Pipeline is up.
  ingest-svc   http://127.0.0.1:$INGEST_PORT   (/health /ready /metrics)
  read-api     http://127.0.0.1:$READ_API_PORT   (/openapi.json; admin token: $ADMIN_TOKEN)
  telemetry    http://127.0.0.1:$TELEMETRY_PORT   (POST /api/v1/telemetry/jobs/events; producer token: dev-producer-token)
  redis        ${ANALYTICS__REDIS__CLUSTER_NODES:-$ANALYTICS_REDIS_URL}
  mariadb      $ANALYTICS_MYSQL_URL
  mongodb      $ANALYTICS_MONGO_URL   (secantusd-rs)
  logs         $DEV/log/

Pages:
  dashboard    http://127.0.0.1:$READ_API_PORT/admin/   (admin token: $ADMIN_TOKEN)
  operators    http://127.0.0.1:$TELEMETRY_PORT/ops/   (operator token: dev-operator-token)
  browser SDK  http://127.0.0.1:$INGEST_PORT/sdk/v1/analytics.js
  API docs     http://127.0.0.1:$INGEST_PORT/docs/  http://127.0.0.1:$READ_API_PORT/docs/  http://127.0.0.1:$TELEMETRY_PORT/docs/

Send a first event (as a browser would: curl's own user agent is a bot's,
whose events are filtered, not counted):
  curl -i -X POST http://127.0.0.1:$INGEST_PORT/api/v1/analytics/events \\
    -A 'Mozilla/5.0 (dev quickstart)' -H 'content-type: application/json' \\
    -d '{"event_id":"'\$(cat /proc/sys/kernel/random/uuid)'","domain":"jav","entity_type":"movie","entity_id":"f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273","action":"view","occurred_at":"'\$(date -u +%FT%TZ)'"}'

Read it back (fresh before any flush), then the admin top list:
  curl -s http://127.0.0.1:$READ_API_PORT/api/v1/analytics/counts/movie/f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273
  curl -s -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$READ_API_PORT/api/v1/admin/analytics/top?period=day"

Pages of these origins may post events and read counts (CORS):
  ${ANALYTICS__INGEST__CORS_ALLOWED_ORIGINS//,/ }
Add one: scripts/dev-down.sh && EXTRA_ORIGINS=http://my.site:9000 scripts/dev-up.sh
  (a refused origin is logged in $DEV/log/ingest-svc.log and counted in analytics_cors_refused_total)

Flush now instead of waiting:   $BIN/flush-worker flush
Check parity:                   $BIN/flush-worker parity-check
Re-index the catalogue:         $BIN/flush-worker refresh-catalogue-index
Stop everything started here:   scripts/dev-down.sh
INFO
