#!/bin/sh
# Aging benchmark: starts a fresh recoupd (embedded PostgreSQL) in a
# temporary directory, loads a large ledger straight with SQL
# (aging_load.sql: 1,000,000 invoices over 2,000 customers, entries for
# 70% of them; triggers and checks stay on), then times, in the same run:
#   - `recoup report aging --as-of D --json`, end to end (client start,
#     CURVE handshake, the report, JSON out), and with --by-customer;
#   - the baseline `SELECT count(*), sum(amount_minor) FROM invoices`
#     through psql, end to end too;
# each several times, reporting the median. It checks the report's open
# counts and totals against the schema's plain recoup_open_items(). Prints
# the figures and a last line of JSON. Exits 1 when the check fails,
# 2 when it cannot run; a missed target is only reported (machines are
# noisy; the target is a median under 1000 ms).
#
#   tests/bench/bench_aging.sh [BUILD-DIR] [--invoices N] [--customers N]
#                              [--runs N] [--as-of YYYY-MM-DD] [--keep]
#
# BUILD-DIR defaults to ./build at the top of the source tree; recoupd and
# recoup are built there if needed. Needs psql.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
invoices=1000000
customers=2000
runs=7
as_of=2026-10-31
keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --invoices) invoices=$2; shift 2 ;;
        --customers) customers=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --as-of) as_of=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_aging.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v psql >/dev/null || { echo "bench_aging.sh: needs psql" >&2; exit 2; }

mkdir -p "$build"
build=$(cd "$build" && pwd)
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! cmake --build "$build" --target recoupd recoup --parallel 2 \
        >"$build/bench-aging-build.log" 2>&1; then
    cat "$build/bench-aging-build.log" >&2
    echo "bench_aging.sh: build failed (log: $build/bench-aging-build.log)" >&2
    exit 2
fi

# As root the embedded database runs as user postgres: the directory must
# be reachable by it (mode 0711, as the tests' directories).
tmp=$(mktemp -d /tmp/recoup-bench-aging-XXXXXX)
chmod 711 "$tmp"
server=
cleanup () {
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# Milliseconds since the epoch (GNU date).
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
# Median of the numbers on stdin.
median () { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

RECOUP_TODAY=$as_of "$build/recoupd" --data "$tmp/data" \
    --commands 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' \
    >"$tmp/recoupd.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
    [ -f "$tmp/data/ready" ] && break
    kill -0 "$server" 2>/dev/null || { tail -20 "$tmp/recoupd.log" >&2; exit 2; }
    sleep 0.1
done
[ -f "$tmp/data/ready" ] || { echo "bench_aging.sh: recoupd did not start" >&2; exit 2; }
db=$(cat "$tmp/data/db.conninfo")
recoup () {
    "$build/recoup" --identity "$tmp/data/admin.identity" --timeout 60000 "$@"
}

echo "== loading $invoices invoices over $customers customers (as of $as_of)"
start=$(now_ms)
psql -X -q "$db" -v customers="$customers" -v invoices="$invoices" \
     -v as_of="$as_of" -f "$here/aging_load.sql" >"$tmp/load.log" 2>&1 \
    || { cat "$tmp/load.log" >&2; exit 2; }
load_ms=$(( $(now_ms) - start ))
counts=$(psql -X -qAt -F ' ' "$db" -c \
    "SELECT (SELECT count(*) FROM invoices), (SELECT count(*) FROM entries),
            (SELECT count(DISTINCT invoice_id) FROM entries)")
read -r n_invoices n_entries n_with_entries <<EOT
$counts
EOT
echo "   $n_invoices invoices, $n_entries entries on $n_with_entries of them, loaded in $load_ms ms"

# One timed run of a command, its output to a file: prints milliseconds.
timed () {
    out=$1
    shift
    t0=$(now_ms)
    "$@" >"$out" 2>"$tmp/timed.err" || { cat "$tmp/timed.err" >&2; exit 2; }
    echo $(( $(now_ms) - t0 ))
}

# Warm up (caches, the reader's prepared statements), then measure the
# three in turns so that they see the same machine.
recoup report aging --as-of "$as_of" --json >/dev/null
psql -X -qAt "$db" -c "SELECT count(*), sum(amount_minor) FROM invoices" >/dev/null
: >"$tmp/aging.ms"; : >"$tmp/by_customer.ms"; : >"$tmp/baseline.ms"
for _ in $(seq 1 "$runs"); do
    timed "$tmp/aging.json" recoup report aging --as-of "$as_of" --json >>"$tmp/aging.ms"
    timed "$tmp/by_customer.json" recoup report aging --as-of "$as_of" --by-customer \
        --json >>"$tmp/by_customer.ms"
    timed "$tmp/baseline.txt" psql -X -qAt "$db" \
        -c "SELECT count(*), sum(amount_minor) FROM invoices" >>"$tmp/baseline.ms"
done
# The baseline query alone, inside one psql session (no process start,
# no connection): what the database itself takes to read every invoice.
{
    printf '%s\n' '\timing on'
    for _ in $(seq 1 "$runs"); do
        echo 'SELECT count(*), sum(amount_minor) FROM invoices;'
    done
} | psql -X -qAt "$db" | sed -n 's/^Time: \([0-9]*\).*/\1/p' >"$tmp/baseline_query.ms"
aging_ms=$(median <"$tmp/aging.ms")
baseline_query_ms=$(median <"$tmp/baseline_query.ms")
by_customer_ms=$(median <"$tmp/by_customer.ms")
baseline_ms=$(median <"$tmp/baseline.ms")

# The report against the plain definition: open counts and totals per
# currency from recoup_open_items (0002), one invoice at a time.
got=$(grep -o '"currency":"[A-Z]*","open_count":[0-9]*,"total_minor":-\{0,1\}[0-9]*' \
          "$tmp/aging.json" | sed 's/"currency":"\([A-Z]*\)","open_count":\([0-9]*\),"total_minor":\(.*\)/\1 \2 \3/')
want=$(psql -X -qAt -F ' ' "$db" -c \
    "SELECT currency, count(*), sum(balance_minor) FROM recoup_open_items('$as_of')
     GROUP BY currency ORDER BY currency")
if [ "$got" = "$want" ]; then check=ok; else check=MISMATCH; fi

ratio=$(awk -v a="$aging_ms" -v b="$baseline_ms" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }')
if [ "$aging_ms" -lt 1000 ]; then target=met; else target="NOT met"; fi
echo "== report aging as of $as_of, median of $runs runs, end to end"
printf '   %-44s %6s ms\n' "recoup report aging --json" "$aging_ms"
printf '   %-44s %6s ms\n' "recoup report aging --by-customer --json" "$by_customer_ms"
printf '   %-44s %6s ms\n' "psql: SELECT count(*), sum(amount_minor)" "$baseline_ms"
printf '   %-44s %6s ms\n' "  the same query alone (psql \\timing)" "$baseline_query_ms"
echo "   aging / baseline: ${ratio}x; target (aging under 1000 ms): $target"
echo "   per run (ms): aging $(tr '\n' ' ' <"$tmp/aging.ms")| by customer $(tr '\n' ' ' <"$tmp/by_customer.ms")| baseline $(tr '\n' ' ' <"$tmp/baseline.ms")"
echo "   open counts and totals against recoup_open_items(): $check"
echo "$got" | sed 's/^/     /'
printf '{"bench":"aging","as_of":"%s","invoices":%s,"entries":%s,"invoices_with_entries":%s,"customers":%s,"runs":%s,"load_ms":%s,"aging_ms":%s,"aging_by_customer_ms":%s,"baseline_ms":%s,"baseline_query_ms":%s,"ratio":%s,"target_ms":1000,"target_met":%s,"check":"%s"}\n' \
    "$as_of" "$n_invoices" "$n_entries" "$n_with_entries" "$customers" "$runs" \
    "$load_ms" "$aging_ms" "$by_customer_ms" "$baseline_ms" "$baseline_query_ms" "$ratio" \
    "$([ "$target" = met ] && echo true || echo false)" "$check"
[ "$check" = ok ] || exit 1
