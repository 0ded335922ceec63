#!/usr/bin/env bash
# Builds and runs the cargo-fuzz targets in fuzz/.
#
#   scripts/fuzz.sh replay        build every target, run each once over its committed seeds
#                                 and regressions (-runs=0: no new fuzzing; fast, for CI)
#   scripts/fuzz.sh run SECONDS   fuzz each target for SECONDS; new inputs go to the ignored
#                                 fuzz/corpus/<target>, crashes to fuzz/artifacts/<target>
#
# Works on stable (RUSTC_BOOTSTRAP=1 unlocks the sanitizer flags cargo-fuzz passes) or on a
# toolchain named by FUZZ_TOOLCHAIN (e.g. FUZZ_TOOLCHAIN=nightly). Needs cargo-fuzz
# (`cargo install cargo-fuzz --locked`). Exits non-zero if any target failed; the other targets
# still run, and a summary line per target is printed at the end.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
cargo_fuzz=(cargo ${FUZZ_TOOLCHAIN:+"+$FUZZ_TOOLCHAIN"} fuzz)

usage() {
    echo "usage: $0 replay | run SECONDS" >&2
    exit 2
}

mode=${1:-}
case "$mode" in
replay) [[ $# -eq 1 ]] || usage ;;
run) [[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || usage ;;
*) usage ;;
esac

mapfile -t targets < <("${cargo_fuzz[@]}" list)
"${cargo_fuzz[@]}" build

failed=()
summary=()
for t in "${targets[@]}"; do
    # Only directories that exist: libFuzzer refuses a missing corpus directory.
    dirs=()
    for d in "seeds/$t" "regressions/$t"; do
        [[ -d $d ]] && dirs+=("$d")
    done
    log=$(mktemp)
    # Corpus directories go before `--`: given none, cargo-fuzz would add fuzz/corpus/<target>.
    if [[ $mode == replay ]]; then
        # -runs=0 executes every input of every directory once and stops.
        corpora=("${dirs[@]}")
        args=(-runs=0)
    else
        # The first directory is where libFuzzer writes new inputs: keep the committed seeds
        # read-only by putting the scratch corpus first.
        mkdir -p "corpus/$t" "artifacts/$t"
        corpora=("corpus/$t" "${dirs[@]}")
        args=(-max_total_time="$2" -artifact_prefix="artifacts/$t/")
    fi
    args+=(-print_final_stats=1)
    echo "== $t ($mode)"
    if "${cargo_fuzz[@]}" run "$t" "${corpora[@]}" -- "${args[@]}" >"$log" 2>&1; then
        status=ok
    else
        status="FAILED (crash, leak, timeout or build error: see above; reproducer in artifacts/$t)"
        failed+=("$t")
        tail -n 40 "$log"
    fi
    # libFuzzer's final stats, and its last status line (coverage and corpus size).
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
    rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
    last=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [^ ]+' "$log" | tail -n 1 || true)
    summary+=("$t: $status; ${execs:-?} executions (${rate:-?}/s); ${last:-no status line}")
    rm -f "$log"
done

printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
