#!/usr/bin/env bash
# The hostile-input matrix of reliability.md, rebuilt and rerun (bench/hostile/gen.py makes the
# inputs, run.py runs them against the release build and prints the table).
#
# usage: bench/hostile/run.sh [GIB]    GIB scales the big cases (default 1); inputs go to
#        bench/data/hostile (git-ignored), the table to bench/results/DATE/hostile.md.
# needs: python3, zstd (optional, for the zstd bombs), about 12 GiB of free disk at GIB=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
GIB=${1:-1}
DATA=${DATA:-$ROOT/bench/data/hostile}
OUT=${OUT:-$ROOT/bench/results/$(date +%F)}
mkdir -p "$DATA" "$OUT"
cargo build --release -p cordon
[ -f "$DATA/.done-$GIB" ] || { python3 bench/hostile/gen.py "$DATA" "$GIB" && touch "$DATA/.done-$GIB"; }
python3 bench/hostile/run.py "$ROOT/target/release/cordon" "$DATA" "$OUT/hostile.md"
