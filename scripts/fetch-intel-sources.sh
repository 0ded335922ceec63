#!/bin/sh
# Fetch the public datasets that `cordon intel build` reads, by package name and pinned
# version, into a cache directory, and print the paths to pass to the build.
#
# usage: scripts/fetch-intel-sources.sh [CACHE_DIR]
#   CACHE_DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/cordon/intel-sources
# needs: npm (for @ip-location-db/asn) and apt-get (Debian/Ubuntu, as root) for ieee-data
# and publicsuffix. Versions match intel/datasets.csv; bump both together.
set -eu

ASN_VERSION=2.3.2026061719
CACHE=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/cordon/intel-sources}
mkdir -p "$CACHE"

asn_dir="$CACHE/ip-location-db-asn-$ASN_VERSION"
if [ ! -f "$asn_dir/package/asn-ipv4.csv" ]; then
    mkdir -p "$asn_dir"
    (cd "$asn_dir" && npm pack --silent "@ip-location-db/asn@$ASN_VERSION" >/dev/null \
        && tar xzf ip-location-db-asn-"$ASN_VERSION".tgz)
fi

if [ ! -f /usr/share/ieee-data/oui.csv ] || [ ! -f /usr/share/publicsuffix/public_suffix_list.dat ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: ieee-data and publicsuffix are missing; run as root or apt-get install them" >&2
        exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ieee-data publicsuffix >/dev/null
fi

echo "ieee-data version: $(dpkg-query -W -f='${Version}' ieee-data 2>/dev/null || echo unknown)" >&2
echo "publicsuffix version: $(dpkg-query -W -f='${Version}' publicsuffix 2>/dev/null || echo unknown)" >&2
echo "ASN_V4=$asn_dir/package/asn-ipv4.csv"
echo "ASN_V6=$asn_dir/package/asn-ipv6.csv"
echo "IEEE_DIR=/usr/share/ieee-data"
echo "PUBLIC_SUFFIX_LIST=/usr/share/publicsuffix/public_suffix_list.dat"
