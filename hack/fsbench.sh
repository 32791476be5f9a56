#!/usr/bin/env bash
# fsbench: the fs benchmarks on every file system of the matrix
# (hack/fsmatrix.sh), one table of fs/os ratios from the same run.
#
#   hack/fsbench.sh [CASE_REGEXP]
#
# Each case is a Go benchmark of the root package, run with its data in the
# file system's directory; a cell is fs over os in that run (above 1: fs is
# faster). Cases a file system cannot run (no page cache to drop on tmpfs)
# show "skip". PEBBLE=1 adds contrib/pebble's workload (total time, vfs.Default
# over fs; PEBBLE_FLAGS reach it). URING_BENCH_TIME sets the time per case.
# FSMATRIX_EXTRA="name dir ..." adds directories that are already mounted
# (the container's own root file system, say).
set -euo pipefail
cd "$(dirname "$0")/.."

cases=${1:-'^BenchmarkFS(ReadAtWarm1|ReadAtWarm64|ReadAtCold64|ReadAtDirect64|ReadFile10k|ReadFiles10k|WriteAt1|AppendSync|ReadDir)$'}
bin=$(mktemp -d)/uring.test
go test -c -o "$bin" . >&2

rows=()
while read -r name dir; do rows+=("$name $dir"); done < <(hack/fsmatrix.sh list)
extra=(${FSMATRIX_EXTRA:-})
for ((i = 0; i + 1 < ${#extra[@]}; i += 2)); do rows+=("${extra[i]} ${extra[i+1]}"); done
if [ ${#rows[@]} = 0 ]; then
  echo "fsbench: no file system mounted: run hack/fsmatrix.sh mount as root (or make fsmatrix)" >&2
  exit 1
fi

out=$(mktemp -d)
for row in "${rows[@]}"; do
  read -r name dir <<<"$row"
  echo "fsbench: $name ($dir)" >&2
  work=$(mktemp -d "$dir/fsbench-XXXXXX")
  # Only fs and os run: the C and Ring.Do contenders are other benchmarks' anchors.
  URING_BENCH_DIR=$work URING_BENCH_DIR_ONLY=1 TMPDIR=$work URING_BENCH_ONLY='^(fs|os)[ .]' \
    "$bin" -test.run '^$' -test.bench "$cases" -test.benchtime 1x -test.timeout 60m >"$out/$name" 2>&1 || true
  rm -rf "$work"
  if [ "${PEBBLE:-}" = 1 ]; then
    pw=$(mktemp -d "$dir/fsbench-pebble-XXXXXX")
    (cd contrib/pebble && go test -run '^$' -bench '^BenchmarkWorkload$' -benchtime=1x -count=1 -timeout=60m \
      -workload.dir="$pw" ${PEBBLE_FLAGS:-} .) >"$out/$name.pebble" 2>&1 || true
    rm -rf "$pw"
  fi
done

# One table: a row per file system, a column per case.
benches=$(cat "$out"/* | grep -oE '^BenchmarkFS[A-Za-z0-9]+' | sed 's/^BenchmarkFS//' | awk '!seen[$0]++')
printf '| fs/os |'; for b in $benches; do printf ' %s |' "$b"; done
[ "${PEBBLE:-}" = 1 ] && printf ' pebble total |'
echo
printf '|---|'; for b in $benches; do printf -- '---|'; done; [ "${PEBBLE:-}" = 1 ] && printf -- '---|'; echo
for row in "${rows[@]}"; do
  read -r name dir <<<"$row"
  printf '| %s |' "$name"
  for b in $benches; do
    cell=$(grep -E "^BenchmarkFS$b(-[0-9]+)?\s" "$out/$name" | grep -oE '[0-9.]+ xOS' | awk '{print $1}' | head -1 || true)
    [ -z "$cell" ] && grep -qE "^--- SKIP: BenchmarkFS$b\b" "$out/$name" && cell=skip
    [ -z "$cell" ] && grep -qE "^--- FAIL: BenchmarkFS$b\b" "$out/$name" && cell=FAIL
    printf ' %s |' "${cell:--}"
  done
  if [ "${PEBBLE:-}" = 1 ]; then
    cell=$(grep -E '^\s*total\b' "$out/$name.pebble" | grep -oE '[0-9.]+x' | head -1 || true)
    printf ' %s |' "${cell:--}"
  fi
  echo
done
echo "fsbench: raw output in $out" >&2
