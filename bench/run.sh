#!/usr/bin/env bash
# Reproducible side-by-side benchmarks of cordon against its peers (see BENCHMARKS.md).
#
# usage: bench/run.sh [conn] [pcap] [netflow] [criterion]     (default: all four)
#   env: RUNS (hyperfine runs per command, default 5), DATA (generated inputs, default
#        bench/data, git-ignored), OUT (results, default bench/results/DATE).
# needs: cargo, python3, npm, hyperfine grepcidr softflowd nfdump jq (Debian packages).
#
# Every comparison runs cordon and its peer in one hyperfine session, interleaved by
# hyperfine's run order, best-of-N, so a noisy shared machine hurts both alike; report the
# ratio, not the absolute figures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-5}
DATA=${DATA:-$ROOT/bench/data}
OUT=${OUT:-$ROOT/bench/results/$(date +%F)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CORDON=$CARGO_TARGET_DIR/release/cordon
SECTIONS=${*:-conn pcap netflow criterion}
mkdir -p "$DATA" "$OUT"

log() { printf '\n== %s\n' "$*" >&2; }
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
hf() { hyperfine --warmup 1 --runs "$RUNS" --style basic "$@"; }

log "machine"
{
    date -u +%FT%TZ
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)'
    free -h | sed -n 2p
    rustc --version
    for p in hyperfine grepcidr softflowd nfdump; do
        printf '%s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
    done
    git -C "$ROOT" rev-parse --short HEAD
} | tee "$OUT/machine.txt"

log "build"
cargo build --release -p cordon

log "intel sources"
ASN_V4=$(scripts/fetch-intel-sources.sh "$DATA/cache" 2>/dev/null | sed -n 's/^ASN_V4=//p')
[ -f "$ASN_V4" ] || { echo "error: asn-ipv4.csv not fetched" >&2; exit 1; }

# ---------------------------------------------------------------- conn.log vs grepcidr
if want conn; then
    log "conn: generate 2 M-line Zeek conn.log"
    C=$DATA/conn
    if [ ! -f "$C/conn.tsv" ]; then
        python3 "$ROOT/../shared/bench/gen_conn_bench.py" --asn-csv "$ASN_V4" --out "$C" -n 2000000
    fi
    # The Alibaba CIDR list: every prefix of the bundled snapshot whose ASN belongs to an
    # entity whose ultimate parent (group) is alibaba.
    python3 - "$C/alibaba.cidr" <<'EOF'
import csv, ipaddress, sys
comp = {r["id"]: r for r in csv.DictReader(open("intel/companies.csv"))}
def group(e):
    seen = set()
    while comp.get(e, {}).get("parent") and e not in seen:
        seen.add(e); e = comp[e]["parent"]
    return e
asns = {r["asn"] for r in csv.DictReader(open("intel/asn.csv")) if group(r["entity"]) == "alibaba"}
with open(sys.argv[1], "w") as f:
    for r in csv.DictReader(open("intel/derived/prefixes-v4.csv")):
        if r["asn"] in asns:
            a, b = ipaddress.IPv4Address(r["start"]), ipaddress.IPv4Address(r["end"])
            for n in ipaddress.summarize_address_range(a, b):
                f.write(f"{n}\n")
print(f"alibaba ASNs {sorted(asns, key=int)}", file=sys.stderr)
EOF
    lines=$(grep -vc '^#' "$C/conn.tsv")
    # Apples to apples: the generator puts a 10/8 address in id.orig_h on every line, so the
    # only address grepcidr can match is id.resp_h, the remote cordon attributes. Both are
    # checked: grepcidr over the whole line and over the resp_h column alone.
    g_line=$(grepcidr -f "$C/alibaba.cidr" "$C/conn.tsv" | wc -l)
    g_resp=$(awk -F'\t' '!/^#/ {print $5}' "$C/conn.tsv" | grepcidr -f "$C/alibaba.cidr" | wc -l)
    "$CORDON" scan "$C/conn.tsv" --format jsonl > "$DATA/conn.jsonl"
    c_ali=$(jq -s '[.[] | select(.type=="exposure" and .group=="alibaba") | .flows] | add // 0' "$DATA/conn.jsonl")
    c_rec=$(jq -s '[.[] | select(.type=="summary") | .records] | add' "$DATA/conn.jsonl")
    # The same count from the terminal summary: "alibaba <name>  N asset(s), M flows, ...".
    t_ali=$("$CORDON" scan "$C/conn.tsv" | awk '$1 == "alibaba" { for (i = 2; i <= NF; i++) if ($i == "flows,") { print $(i - 1); exit } }')
    {
        echo "conn lines: $lines  cordon records: $c_rec"
        echo "alibaba cidrs: $(wc -l < "$C/alibaba.cidr")  watch cidrs: $(wc -l < "$C/watch.cidr")"
        echo "alibaba flows: grepcidr whole line $g_line, grepcidr resp_h only $g_resp, cordon jsonl $c_ali, cordon text $t_ali"
        [ "$g_line" = "$c_ali" ] && [ "$g_resp" = "$c_ali" ] && [ "$t_ali" = "$c_ali" ] && echo "alibaba counts: EQUAL" || echo "alibaba counts: DIFFER"
    } | tee "$OUT/conn-check.txt"

    log "conn: throughput"
    # The text summary is what `cordon scan` prints by default (per-company flow counts, the
    # Alibaba one included); JSONL writes every exposure and finding with its evidence.
    hf --export-json "$OUT/conn.json" \
        -n "cordon scan (text, all cores)" "$CORDON scan $C/conn.tsv" \
        -n "cordon scan (text, RAYON_NUM_THREADS=1)" "RAYON_NUM_THREADS=1 $CORDON scan $C/conn.tsv" \
        -n "cordon scan --format jsonl" "$CORDON scan $C/conn.tsv --format jsonl" \
        -n "grepcidr -f alibaba.cidr" "grepcidr -f $C/alibaba.cidr $C/conn.tsv" \
        -n "grepcidr -f watch.cidr" "grepcidr -f $C/watch.cidr $C/conn.tsv"
    CORDON_TIMINGS=1 "$CORDON" scan "$C/conn.tsv" 2>&1 >/dev/null | tee "$OUT/conn-stages.txt"
    echo "$lines" > "$OUT/conn-lines.txt"

    log "conn: 50 internal assets, text output, threat indicators"
    # The same lines with id.orig_h one of 50 addresses: an office or plant rather than one
    # asset per line. Random indicator lists of 10 k and 1 M addresses.
    [ -f "$C/conn-50assets.tsv" ] || awk -F'\t' 'BEGIN{OFS="\t"} /^#/ {print; next} {$3="10.0.0."(NR%50); print}' \
        "$C/conn.tsv" > "$C/conn-50assets.tsv"
    [ -f "$C/ind1m.txt" ] || python3 -c "
import random
r = random.Random(1)
for n, name in ((1000000, 'ind1m.txt'), (10000, 'ind10k.txt')):
    with open('$C/' + name, 'w') as f:
        for _ in range(n):
            f.write('%d.%d.%d.%d\\n' % (r.randrange(1, 224), r.randrange(256), r.randrange(256), r.randrange(256)))
"
    hf --export-json "$OUT/conn-extra.json" \
        -n "cordon scan 50 assets" "$CORDON scan $C/conn-50assets.tsv" \
        -n "cordon scan 50 assets --format jsonl" "$CORDON scan $C/conn-50assets.tsv --format jsonl" \
        -n "cordon scan 50 assets (RAYON_NUM_THREADS=1)" "RAYON_NUM_THREADS=1 $CORDON scan $C/conn-50assets.tsv --format jsonl" \
        -n "cordon scan 50 assets + 10k indicators" "$CORDON scan $C/conn-50assets.tsv --format jsonl --indicators $C/ind10k.txt" \
        -n "cordon scan 50 assets + 1M indicators" "$CORDON scan $C/conn-50assets.tsv --format jsonl --indicators $C/ind1m.txt" \
        -n "grepcidr -f alibaba.cidr 50 assets" "grepcidr -f $C/alibaba.cidr $C/conn-50assets.tsv"
fi

# ---------------------------------------------------------------- pcap vs softflowd
if want pcap || want netflow; then
    P=$DATA/pcap
    mkdir -p "$P"
    if [ ! -f "$P/big.pcap" ]; then
        log "pcap: build ~100 MB capture"
        python3 bench/mkpcap.py "$P/big.pcap" 100 \
            "$ROOT/../shared/corpus/pcap/zeek/wikipedia.pcap" "$ROOT/../shared/corpus/pcap/zeek/var-services-std-ports.pcap"
    fi
fi
if want pcap; then
    log "pcap: throughput"
    # softflowd needs an export target: port 9 (discard) on loopback, nothing listening.
    # -a: times from the capture; -6: track IPv6 too (cordon does); -v 9: NetFlow v9.
    softflowd -r "$P/big.pcap" -n 127.0.0.1:9 -v 9 -a -6 -p "$P/softflowd.pid" 2>&1 | tail -n 8 | tee "$OUT/pcap-softflowd.txt"
    "$CORDON" scan "$P/big.pcap" --format jsonl | tail -n 1 | jq -c '{records, bytes, inputs}' | tee "$OUT/pcap-cordon.txt"
    hf --export-json "$OUT/pcap.json" \
        -n "cordon scan big.pcap" "$CORDON scan $P/big.pcap --format jsonl" \
        -n "cordon scan big.pcap (RAYON_NUM_THREADS=1)" "RAYON_NUM_THREADS=1 $CORDON scan $P/big.pcap --format jsonl" \
        -n "softflowd -r big.pcap" "softflowd -r $P/big.pcap -n 127.0.0.1:9 -v 9 -a -6 -p $P/softflowd.pid"
    ls -l "$P/big.pcap" | awk '{print $5}' > "$OUT/pcap-bytes.txt"
fi

# ---------------------------------------------------------------- NetFlow vs nfdump
if want netflow; then
    log "netflow: export the capture with softflowd, keep the datagrams, collect with nfcapd"
    N=$DATA/netflow
    for v in 9 10; do
        d=$N/v$v
        if [ ! -f "$d/export.dat" ]; then
            rm -rf "$d"; mkdir -p "$d/nfcapd"
            nfcapd -b 127.0.0.1 -p $((41000 + v)) -B 67108864 -w "$d/nfcapd" -I bench > "$d/nfcapd.log" 2>&1 &
            nfpid=$!
            python3 bench/udptee.py $((40000 + v)) "$d/export.dat" $((41000 + v)) 2> "$d/udptee.log" &
            teepid=$!
            sleep 1
            softflowd -r "$P/big.pcap" -n 127.0.0.1:$((40000 + v)) -v $v -a -6 -p "$d/softflowd.pid" > "$d/softflowd.log" 2>&1
            sleep 2
            kill -TERM "$teepid"; wait "$teepid" || true
            sleep 1
            kill -TERM "$nfpid"; wait "$nfpid" || true
        fi
        f=$(ls "$d"/nfcapd/nfcapd.* | grep -v current | head -n 1)
        ln -sf "$f" "$d/flows.nfcapd"
        {
            echo "v$v: $(grep -h 'Flows exported' "$d/softflowd.log") ; $(cat "$d/udptee.log")"
            echo "nfdump:  $(nfdump -r "$d/flows.nfcapd" -I | grep -E '^(Flows|Bytes):' | tr '\n' ' ')"
            echo "cordon:  $("$CORDON" scan "$d/export.dat" --format jsonl | tail -n 1 | jq -c '{records, bytes}')"
        } | tee "$OUT/netflow-v$v-check.txt"
    done
    hf --export-json "$OUT/netflow.json" \
        -n "cordon scan v9 datagrams" "$CORDON scan $N/v9/export.dat --format jsonl" \
        -n "nfdump -r v9 -o csv" "nfdump -r $N/v9/flows.nfcapd -q -o csv" \
        -n "cordon scan IPFIX datagrams" "$CORDON scan $N/v10/export.dat --format jsonl" \
        -n "nfdump -r IPFIX -o csv" "nfdump -r $N/v10/flows.nfcapd -q -o csv" \
        -n "nfdump -r IPFIX -A srcip,dstip" "nfdump -r $N/v10/flows.nfcapd -q -A srcip,dstip"
fi

# ---------------------------------------------------------------- criterion
if want criterion; then
    log "criterion: LPM lookups and snapshot load"
    CORDON_ASN_V4_CSV=$ASN_V4 cargo bench -p cordon-index --bench lookup -- --warm-up-time 1 --measurement-time 4 2>&1 \
        | grep -E '^(table|[a-z_0-9]+/|ipv|\s+(time|thrpt):)' | tee "$OUT/criterion-lookup.txt"
    cargo bench -p cordon --bench load -- --warm-up-time 1 --measurement-time 4 2>&1 \
        | grep -E '^([a-z_0-9]+/|[a-z_]+ |\s+(time|thrpt):)' | tee "$OUT/criterion-load.txt"
fi

log "results in $OUT"
