#!/usr/bin/env bash
# Checks that intel/derived/ is exactly what `cordon intel build` makes from the pinned public
# datasets: fetches them by package name (npm, apt), rebuilds into a scratch copy of intel/,
# and compares. Exit 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${CORDON_INTEL_CACHE:-${TMPDIR:-/tmp}/cordon-intel-sources}
eval "$(scripts/fetch-intel-sources.sh "$cache")"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r intel "$scratch/intel"
cargo run --quiet --release --locked -p cordon -- intel build --repo "$scratch" \
    --asn-v4 "$ASN_V4" --asn-v6 "$ASN_V6" --ieee-dir "$IEEE_DIR"
if diff -r intel/derived "$scratch/intel/derived" >/dev/null; then
    echo "intel/derived is reproducible from the pinned datasets"
else
    diff -r intel/derived "$scratch/intel/derived" | head -20
    echo "error: intel/derived differs from a fresh build (run cordon intel build and commit)" >&2
    exit 1
fi
