#!/usr/bin/env bash
# The whole test suite against real stores: installs and starts Redis,
# MariaDB and secantusd-rs if needed (reusing running ones), then format,
# lint and every test of the workspace; then the integration suite again on
# a local 3-master Redis Cluster.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

start_stores
install_browser_tools

# A failing test prints its message and place; a backtrace would push the
# message out of the tail of a CI log. ANALYTICS_TEST_BACKTRACE=1 brings
# backtraces back.
export RUST_BACKTRACE="${ANALYTICS_TEST_BACKTRACE:-0}"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "k8s overlays render and validate"
bash "$ROOT/scripts/check-k8s.sh"

log "building binaries the end-to-end tests run"
cargo build --workspace --bins --quiet

log "dropping what earlier test runs left in the stores"
target/debug/clean-test-data

log "fuzzing every service from its OpenAPI document (short pass)"
EXAMPLES="${FUZZ_EXAMPLES:-25}" bash "$ROOT/scripts/fuzz-api.sh"

log "browser SDK unit tests (node --test)"
(cd sdk && node --disable-warning=ExperimentalWarning --test test/)

# Page tests write their screenshots here for review.
export ANALYTICS_TEST_OUTPUT="${ANALYTICS_TEST_OUTPUT:-$ROOT/target/test-output}"
rm -rf "$ANALYTICS_TEST_OUTPUT/screenshots"
log "page screenshots go to $ANALYTICS_TEST_OUTPUT/screenshots"

if cargo nextest --version >/dev/null 2>&1; then
  log "cargo nextest run"
  cargo nextest run --workspace --no-fail-fast --failure-output final
else
  log "cargo test"
  cargo test --workspace --no-fail-fast
fi

# The integration suite again with every service and job on a local
# 3-master Redis Cluster (tests of one server's own outage, memory or
# refusals keep a private single Redis). The pages' browser tests are left
# to the first pass: they add nothing Redis-specific and take the longest.
start_redis_cluster
export ANALYTICS_TEST_REDIS_CLUSTER="$ANALYTICS_REDIS_CLUSTER_NODES"
if cargo nextest --version >/dev/null 2>&1; then
  log "cargo nextest run: the integration suite on the Redis Cluster"
  cargo nextest run -p analytics-tests --no-fail-fast --failure-output final \
    -E 'not test(/^(sdk_in_browser|operator_page|admin_dashboard)::/)'
else
  log "cargo test: the integration suite on the Redis Cluster"
  cargo test -p analytics-tests --no-fail-fast -- \
    --skip sdk_in_browser:: --skip operator_page:: --skip admin_dashboard::
fi
