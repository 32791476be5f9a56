#!/usr/bin/env bash
# fuzz.sh [PACKAGES...]: run every Fuzz target in the given packages (default
# ./...) for FUZZTIME each (default 10s). go test -fuzz takes one target in one
# package at a time, so list them first. New crashers land in testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

ran=0
for pkg in $(go list "${pkgs[@]}"); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime="$fuzztime" "$pkg"
    ran=$((ran + 1))
  done
done
echo "fuzz: $ran target(s) run"
