# Shared helpers for the README's two commands and the benchmarks. Sourced, not run.
# Stores listen on loopback at project ports and keep their data under .dev/;
# set ANALYTICS_REDIS_URL / ANALYTICS_MYSQL_URL / ANALYTICS_MONGO_URL to use
# ones that are already running elsewhere instead.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEV="$ROOT/.dev"
mkdir -p "$DEV/run" "$DEV/log"

REDIS_PORT="${REDIS_PORT:-6390}"
MYSQL_PORT="${MYSQL_PORT:-3316}"
MONGO_PORT="${MONGO_PORT:-27027}"
SECANTUS_VERSION="0.5.3-beta.196"

export ANALYTICS_REDIS_URL="${ANALYTICS_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/}"
export ANALYTICS_MYSQL_URL="${ANALYTICS_MYSQL_URL:-mysql://analytics:analytics@127.0.0.1:$MYSQL_PORT/analytics}"
export ANALYTICS_MONGO_URL="${ANALYTICS_MONGO_URL:-mongodb://127.0.0.1:$MONGO_PORT/}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what="$1" limit="$2"; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "$what did not come up within ${limit}s (logs: $DEV/log)"
    sleep 0.2
  done
}

# secantusd-rs is the longest step of a fresh machine (5 min 38 s here,
# beside the services' build; docs/benchmarks.md). Its release profile asks
# for one codegen unit and LTO; sixteen units and no LTO let its last crates
# use both cores (no difference measured, most of its time is WiredTiger's
# C). ROOT_DIR installs it elsewhere (the fresh-machine benchmark).
install_secantus() {
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_LTO=false \
    cargo install secantus-mdb --version "$SECANTUS_VERSION" --ignore-rust-version --locked --quiet \
    ${ROOT_DIR:+--root "$ROOT_DIR"}
}

install_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v mariadbd >/dev/null || command -v mysqld >/dev/null || missing+=(mariadb-server)
  command -v cmake >/dev/null || missing+=(cmake)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v secantusd-rs >/dev/null && [ ! -x "$HOME/.cargo/bin/secantusd-rs" ]; then
    log "installing secantusd-rs (MongoDB wire server; compiles WiredTiger, a few minutes)"
    install_secantus
  fi
  export PATH="$HOME/.cargo/bin:$PATH"
}

# The page tests' tools: Debian's Chromium and ChromeDriver, and Node.js
# for the SDK's unit tests (the machine's own, or Debian's).
install_browser_tools() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  command -v node >/dev/null || missing+=(nodejs)
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

redis_pong() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

url_is_local_default() { [[ "$1" == *"127.0.0.1:$2"* ]]; }

start_redis() {
  url_is_local_default "$ANALYTICS_REDIS_URL" "$REDIS_PORT" || { log "redis: using $ANALYTICS_REDIS_URL"; return; }
  if port_open "$REDIS_PORT"; then
    wait_for "redis" 120 redis_pong
    log "redis: already running on :$REDIS_PORT"
    return
  fi
  mkdir -p "$DEV/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DEV/redis" --appendonly yes \
    --daemonize yes --pidfile "$DEV/run/redis.pid" --logfile "$DEV/log/redis.log" --save ""
  # PONG, not just an answer: while replaying its AOF Redis replies LOADING.
  wait_for "redis" 120 redis_pong
  log "redis: started on :$REDIS_PORT"
}

# A local 3-master Redis Cluster (redis-server in cluster mode, no
# replicas) for the scale-out tests and REDIS_CLUSTER=1 dev runs; exports
# ANALYTICS_REDIS_CLUSTER_NODES. Reused while its state is ok.
REDIS_CLUSTER_PORTS="${REDIS_CLUSTER_PORTS:-6391 6392 6393}"
cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
start_redis_cluster() {
  local ports=($REDIS_CLUSTER_PORTS) nodes=() port
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  export ANALYTICS_REDIS_CLUSTER_NODES="$(IFS=,; echo "${nodes[*]}")"
  if cluster_ok "${ports[0]}"; then
    log "redis cluster: already running on ${ports[*]}"
    return
  fi
  local known=1
  for port in "${ports[@]}"; do
    [ -f "$DEV/redis-cluster/$port/nodes.conf" ] || known=0
    port_open "$port" && continue
    mkdir -p "$DEV/redis-cluster/$port"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$DEV/redis-cluster/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --appendonly yes --save "" --daemonize yes --pidfile "$DEV/run/redis-$port.pid" \
      --logfile "$DEV/log/redis-$port.log"
    wait_for "redis :$port" 60 redis-cli -p "$port" ping
  done
  # Nodes that already know each other (a restart) form the cluster again
  # by themselves; new ones are joined and given the slots.
  if [ "$known" = 1 ]; then
    local deadline=$((SECONDS + 10))
    until cluster_ok "${ports[0]}" || (( SECONDS >= deadline )); do sleep 0.2; done
  fi
  if ! cluster_ok "${ports[0]}"; then
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
      >"$DEV/log/redis-cluster-create.log" 2>&1 \
      || die "redis cluster could not be created (see $DEV/log/redis-cluster-create.log)"
  fi
  for port in "${ports[@]}"; do wait_for "redis cluster :$port" 60 cluster_ok "$port"; done
  log "redis cluster: 3 masters on ${ports[*]}"
}

start_mariadb() {
  url_is_local_default "$ANALYTICS_MYSQL_URL" "$MYSQL_PORT" || { log "mysql: using $ANALYTICS_MYSQL_URL"; return; }
  if port_open "$MYSQL_PORT"; then log "mariadb: already running on :$MYSQL_PORT"; return; fi
  local data="$DEV/mariadb" sock="$DEV/run/mariadb.sock"
  if [ ! -d "$data/mysql" ]; then
    mariadb-install-db --user="$(id -un)" --datadir="$data" --auth-root-authentication-method=socket \
      >"$DEV/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed (see $DEV/log/mariadb-install.log)"
  fi
  nohup mariadbd --user="$(id -un)" --datadir="$data" --socket="$sock" --port="$MYSQL_PORT" \
    --bind-address=127.0.0.1 --pid-file="$DEV/run/mariadb.pid" --log-error="$DEV/log/mariadb.log" \
    --innodb-buffer-pool-size=256M --max-connections=500 --skip-name-resolve >/dev/null 2>&1 &
  wait_for "mariadb" 60 mariadb --socket="$sock" -uroot -e "SELECT 1"
  mariadb --socket="$sock" -uroot <<SQL
CREATE USER IF NOT EXISTS 'analytics'@'127.0.0.1' IDENTIFIED BY 'analytics';
CREATE USER IF NOT EXISTS 'analytics'@'localhost' IDENTIFIED BY 'analytics';
GRANT ALL PRIVILEGES ON *.* TO 'analytics'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'analytics'@'localhost';
CREATE DATABASE IF NOT EXISTS analytics;
SQL
  log "mariadb: started on :$MYSQL_PORT"
}

start_mongo() {
  url_is_local_default "$ANALYTICS_MONGO_URL" "$MONGO_PORT" || { log "mongo: using $ANALYTICS_MONGO_URL"; return; }
  if port_open "$MONGO_PORT"; then log "secantusd-rs: already running on :$MONGO_PORT"; return; fi
  mkdir -p "$DEV/mongo"
  nohup secantusd-rs --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$DEV/mongo" \
    --cache-size 1G --log-level WARNING >"$DEV/log/secantusd.log" 2>&1 &
  echo $! >"$DEV/run/secantusd.pid"
  wait_for "secantusd-rs" 60 port_open "$MONGO_PORT"
  log "secantusd-rs: started on :$MONGO_PORT"
}

start_stores() {
  install_packages
  start_redis
  start_mariadb
  start_mongo
}

# mysql_admin ARGS...: the mariadb client as an account that may create and
# drop schemas (root over the socket the scripts started, else the analytics user).
mysql_admin() {
  mariadb --socket="$DEV/run/mariadb.sock" -uroot "$@" 2>/dev/null \
    || mariadb -h127.0.0.1 -P"$MYSQL_PORT" -uanalytics -panalytics "$@"
}

# drop_run_data RUN BIN: removes what a script run left under its own name
# (its Mongo database via the ANALYTICS__ env, its MySQL schema, its Redis keys).
drop_run_data() {
  "$2/bench-tool" drop-database >/dev/null 2>&1 || true
  mysql_admin -e "DROP DATABASE IF EXISTS \`$1\`" || true
  drop_redis_keys "$1"
}

# drop_redis_keys PREFIX: unlinks every Redis key under PREFIX. One key per
# line, taken literally: fuzzed event ids put quotes and spaces in key names.
drop_redis_keys() {
  redis-cli -u "$ANALYTICS_REDIS_URL" --scan --pattern "$1:*" \
    | xargs -r -d '\n' -n 1000 redis-cli -u "$ANALYTICS_REDIS_URL" unlink >/dev/null
}

# drop_cluster_keys PREFIX: the same on the local Redis Cluster, node by
# node (a node's SCAN lists its own keys; one UNLINK each, so no command
# spans two slots).
drop_cluster_keys() {
  local port
  for port in $REDIS_CLUSTER_PORTS; do
    redis-cli -p "$port" --scan --pattern "$1:*" | sed 's/^/UNLINK /' \
      | redis-cli -p "$port" >/dev/null
  done
}

# start_release_ingest NAME PORT: builds the release binaries, points every
# binary at a namespace of its own (RUN: Redis prefix, Mongo database, MySQL
# schema), migrates it, and runs ingest-svc on PORT until /ready; sets RUN,
# BIN and PID, and drops the namespace on exit. BENCH_BIN names a directory
# of binaries built earlier (another commit's, to compare), used unbuilt.
start_release_ingest() {
  local name="$1" port="$2"
  RUN="$name$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  start_stores
  if [ -n "${BENCH_BIN:-}" ]; then
    BIN="$BENCH_BIN"
    [ -x "$BIN/ingest-svc" ] && [ -x "$BIN/flush-worker" ] && [ -x "$BIN/bench-tool" ] \
      || die "BENCH_BIN=$BIN lacks ingest-svc, flush-worker or bench-tool"
  else
    log "building release binaries"
    cargo build --release -p ingest-svc -p flush-worker --bins --quiet
    cargo build --release -p analytics-bench --bin bench-tool --quiet
    BIN="$ROOT/target/release"
  fi
  export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
  export ANALYTICS__MONGO__URL="$ANALYTICS_MONGO_URL" ANALYTICS__MONGO__DATABASE="$RUN"
  export ANALYTICS__MYSQL__URL="${ANALYTICS_MYSQL_URL%/*}/$RUN"
  export ANALYTICS__INGEST__BIND="127.0.0.1:$port" ANALYTICS__INGEST__RATE_LIMIT_PER_MINUTE=0
  export RUST_LOG=warn
  mysql_admin -e "CREATE DATABASE IF NOT EXISTS \`$RUN\`"
  "$BIN/flush-worker" migrate >/dev/null
  "$BIN/ingest-svc" >"$DEV/log/$name-ingest.log" 2>&1 &
  PID=$!
  trap 'kill "$PID" 2>/dev/null || true; drop_run_data "$RUN" "$BIN"' EXIT
  wait_for "ingest-svc" 30 curl -fsS "http://127.0.0.1:$port/ready"
}

# wrk_summary FILE: "req/s p50 p99 non-2xx requests" from a `wrk --latency` report.
wrk_summary() {
  awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {bad=$5}
       /requests in/ {n=$1} END {printf "%s %s %s %s %s\n", rps, p50, p99, bad+0, n}' "$1"
}

# bench_namespace NAME: a benchmark run's own namespace (RUN = NAME plus the
# time: Redis prefix, Mongo database, MySQL schema), every binary pointed at
# it (RUST_LOG=warn), created, migrated, and dropped on exit. Needs the
# release flush-worker and bench-tool built.
bench_namespace() {
  RUN="$1$(date +%s)"
  export ANALYTICS__REDIS__URL="$ANALYTICS_REDIS_URL" ANALYTICS__REDIS__KEY_PREFIX="$RUN"
  export ANALYTICS__MONGO__URL="$ANALYTICS_MONGO_URL" ANALYTICS__MONGO__DATABASE="$RUN"
  export ANALYTICS__MYSQL__URL="${ANALYTICS_MYSQL_URL%/*}/$RUN" RUST_LOG=warn
  trap 'drop_run_data "$RUN" "$ROOT/target/release"' EXIT
  mysql_admin -e "CREATE DATABASE \`$RUN\`"
  "$ROOT/target/release/flush-worker" migrate >/dev/null
}

# flush_until_idle NAME: release flush runs until one finds nothing waiting;
# prints "seconds runs peak-RSS-kB". Needs BIN (start_release_ingest).
flush_until_idle() {
  local name="$1" started=$SECONDS runs=0 peak=0 rss
  while :; do
    /usr/bin/time -v "$BIN/flush-worker" flush >"$DEV/log/$name-flush.out" 2>"$DEV/log/$name-flush.err" \
      || { tail -5 "$DEV/log/$name-flush.err" >&2; die "flush failed"; }
    runs=$((runs + 1))
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DEV/log/$name-flush.err")
    if (( rss > peak )); then peak=$rss; fi
    grep -q "^Flushed 0 keys" "$DEV/log/$name-flush.out" && break
  done
  echo "$((SECONDS - started)) $runs $peak"
}
