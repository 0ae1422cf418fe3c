#!/usr/bin/env bash
# Stops only what scripts/dev-up.sh (or test.sh) started, newest first.
# Data under .dev/ is kept; delete it for a clean slate.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

cluster=()
for port in $REDIS_CLUSTER_PORTS; do cluster+=("redis-$port"); done
for name in flush-loop telemetry-svc read-api ingest-svc secantusd mariadb redis "${cluster[@]}"; do
  pidfile="$DEV/run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    log "$name stopped"
  fi
  rm -f "$pidfile"
done
