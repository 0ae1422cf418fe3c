#!/usr/bin/env bash
# Refreshes the vendored list of crawler, monitor and headless-browser
# user-agent patterns (services/ingest-svc/bots/) from the npm package
# `isbot` (https://github.com/omrilotan/isbot, public domain: the Unlicense).
# The list is compiled into ingest-svc; review the diff, then rebuild.
#   scripts/refresh-bot-list.sh            newest release
#   ISBOT_VERSION=5.2.3 scripts/refresh-bot-list.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
command -v npm >/dev/null || die "npm is needed (Node.js)"
out="$ROOT/services/ingest-svc/bots"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "isbot@${ISBOT_VERSION:-latest}" >/dev/null && tar xzf isbot-*.tgz)
version="$(node -p 'require(process.argv[1]).version' "$work/package/package.json")"
{
  echo "# User-agent patterns of crawlers, monitors and headless browsers, one"
  echo "# regular expression per line, matched case-insensitively anywhere in"
  echo "# the user agent. From the npm package isbot $version"
  echo "# (https://github.com/omrilotan/isbot), public domain (LICENSE beside this"
  echo "# file). Refreshed by scripts/refresh-bot-list.sh; do not edit by hand:"
  echo "# add patterns with events.bot_patterns instead."
  node -e 'for (const p of require(process.argv[1]).list) console.log(p)' "$work/package/index.js"
} >"$out/isbot-patterns.txt"
cp "$work/package/LICENSE" "$out/LICENSE"
log "isbot $version: $(grep -vc '^#' "$out/isbot-patterns.txt") patterns in $out/isbot-patterns.txt"
