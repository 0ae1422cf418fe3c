#!/usr/bin/env bash
# The browser SDK's figures for docs/benchmarks.md (and its integrity hash
# for docs/api.md): its size as served, minified
# (terser, fetched from npm on first use) and minified + gzipped, and the
# Subresource Integrity hash of the file ingest-svc serves at
# /sdk/v1/analytics.js.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
command -v node >/dev/null || install_browser_tools

SDK=sdk/analytics.js
MIN="$DEV/analytics.min.js"
npx --yes terser@5 "$SDK" --module --compress --mangle --output "$MIN" 2>/dev/null
bytes() { wc -c <"$1" | tr -d ' '; }
printf 'sdk/analytics.js      %6d bytes\n' "$(bytes "$SDK")"
printf '  gzipped (as served) %6d bytes\n' "$(gzip -9 -c "$SDK" | wc -c)"
printf '  minified            %6d bytes\n' "$(bytes "$MIN")"
printf '  minified + gzipped  %6d bytes\n' "$(gzip -9 -c "$MIN" | wc -c)"
printf 'integrity             sha384-%s\n' "$(openssl dgst -sha384 -binary "$SDK" | openssl base64 -A)"
