#!/usr/bin/env bash
# Where the README's first command spends its time on a fresh machine, on
# this one: crates fetched into an empty CARGO_HOME, secantusd-rs and the four
# services compiled from nothing side by side (as scripts/dev-up.sh does), the
# Debian packages' download (they are installed here already, so only
# --download-only into an empty cache can be timed; unpacking adds some
# seconds), then what scripts/test.sh compiles on top of that target (the
# test tools, and any crate built again because its features changed).
# Prints each step's wall time; nothing here touches .dev/ or target/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"

WORK="${WORK:-$(mktemp -d /tmp/fresh-machine.XXXXXX)}"
export CARGO_HOME="$WORK/cargo-home" CARGO_TARGET_DIR="$WORK/target"
mkdir -p "$CARGO_HOME" "$WORK/apt/partial"
stamp() { date +%s.%N; }
took() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f s", b - a }'; }

log "fresh CARGO_HOME and target under $WORK"
t0=$(stamp)
( cargo build --message-format=json -p ingest-svc -p read-api -p telemetry-svc -p flush-worker \
    >"$WORK/build.json" 2>"$WORK/build.log"; stamp >"$WORK/build.end" ) &
build=$!
( ROOT_DIR="$WORK/secantus" install_secantus >"$WORK/secantus.log" 2>&1; stamp >"$WORK/secantus.end" ) &
secantus=$!
apt_start=$(stamp)
apt-get install -y -qq --reinstall --download-only --no-install-recommends \
  -o Dir::Cache::archives="$WORK/apt" redis-server mariadb-server cmake >/dev/null 2>&1 || true
apt_end=$(stamp)
wait "$build" || { tail -20 "$WORK/build.log"; die "the services did not build"; }
wait "$secantus" || { tail -20 "$WORK/secantus.log"; die "secantusd-rs did not build"; }
both=$(stamp)
apt_mb=$(du -sm "$WORK/apt" | cut -f1)

log "what scripts/test.sh compiles on top"
t1=$(stamp)
cargo build --workspace --bins --message-format=json >"$WORK/test-build.json" 2>/dev/null
t2=$(stamp)
cargo nextest run --workspace --no-run >/dev/null 2>&1 || cargo test --workspace --no-run >/dev/null 2>&1
t3=$(stamp)
# Crates the second build compiled that the first had compiled already (a
# feature set that differs between the two builds makes cargo build a crate
# twice).
again=$(python3 - "$WORK/build.json" "$WORK/test-build.json" <<'PY'
import json, sys
def compiled(path):
    names = set()
    for line in open(path):
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if m.get("reason") == "compiler-artifact" and not m.get("fresh"):
            # By package id: two versions of a crate are not a rebuild.
            names.add(f'{m["target"]["name"]} {m["package_id"].rsplit("#", 1)[-1]}')
    return names
first, second = compiled(sys.argv[1]), compiled(sys.argv[2])
print(f"{len(second)} crates, {len(first & second)} of them built again: {' '.join(sorted(first & second)[:12])}")
PY
)

cat <<REPORT

fresh machine, this 2-core box (Debian packages already installed):
  Debian packages' download        $(took "$apt_start" "$apt_end") (${apt_mb} MB)
  the four services, from nothing  $(took "$t0" "$(cat "$WORK/build.end")") (crates fetched into an empty CARGO_HOME)
  secantusd-rs, from nothing       $(took "$t0" "$(cat "$WORK/secantus.end")") (side by side with the services)
  both done                        $(took "$t0" "$both")
then scripts/test.sh's builds on top:
  every binary (bench-tool too)    $(took "$t1" "$t2"): $again
  the test binaries                $(took "$t2" "$t3")
REPORT
