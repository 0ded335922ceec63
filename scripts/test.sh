#!/usr/bin/env bash
# Runs cordon's tests, after installing the real peers some tests drive (softflowd and nfdump
# for flow-export interop, adnanh's webhook as the alert receiver that checks cordon serve's
# signatures, Chromium for the HTML report). Without root or apt-get, missing
# peers are reported and their tests skip with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

want=(softflowd nfdump webhook chromium)
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "note: ${missing[*]} not installed: the tests that need them will skip" >&2
    fi
fi

cargo test --workspace --locked "$@"
