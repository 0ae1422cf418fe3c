#!/usr/bin/env bash
# What scripts/test.sh spends compiling from a clean target/: its clippy
# pass, the binaries the end-to-end tests run, then the test binaries. The
# revision (REV, default HEAD) is checked out into a scratch worktree with
# its own target/, so the working tree and its target/ are left alone, and
# two revisions can be compared on the same machine:
#   REV=<before> scripts/bench-test-build.sh; scripts/bench-test-build.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

REV="${REV:-HEAD}"
WORK="$(mktemp -d /tmp/test-build.XXXXXX)"
trap 'git -C "$ROOT" worktree remove --force "$WORK/tree" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git worktree add --detach --quiet "$WORK/tree" "$REV"
cd "$WORK/tree"
export CARGO_TARGET_DIR="$WORK/target"
stamp() { date +%s.%N; }
took() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f s", b - a }'; }

log "clean target for $(git rev-parse --short HEAD) under $WORK"
t0=$(stamp)
cargo clippy --workspace --all-targets --quiet -- -D warnings
t1=$(stamp)
cargo build --workspace --bins --quiet
t2=$(stamp)
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-run >/dev/null 2>&1
else
  cargo test --workspace --no-run --quiet
fi
t3=$(stamp)

cat <<REPORT

scripts/test.sh's builds from a clean target/, revision $(git rev-parse --short HEAD), $(nproc) cores:
  clippy, every target   $(took "$t0" "$t1")
  binaries               $(took "$t1" "$t2")
  test binaries          $(took "$t2" "$t3")
  all                    $(took "$t0" "$t3")
REPORT
