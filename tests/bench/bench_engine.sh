#!/bin/sh
# Daily engine benchmark: starts a fresh recoupd (embedded PostgreSQL,
# fsync on, the automatic daily run off) in a temporary directory, loads a
# year of a wholesale business's receivables (`recoup-gen demo
# --customers N`, imported with `recoup import`), then times, in the same
# run:
#   - the first engine run over that history (everything reached at once);
#   - one day of the engine, the day after;
#   - a catch-up of DAYS days after an outage (one run, every date in turn);
#   - the baseline: reading the open items of each of those dates
#     (`SELECT count(*), sum(balance_minor) FROM recoup_open_items(D)`,
#     psql \timing), the least any daily engine must do.
# The business date moves by restarting recoupd with RECOUP_TODAY. Prints
# the figures and a last line of JSON. Exits 1 when a check fails (the
# catch-up must record every date, and a second run for the same date
# must add nothing), 2 when it cannot run.
#
#   tests/bench/bench_engine.sh [BUILD-DIR] [--customers N] [--days N]
#                               [--as-of YYYY-MM-DD] [--keep]
#
# BUILD-DIR defaults to ./build at the top of the source tree; recoupd,
# recoup and recoup-gen are built there if needed. Needs psql.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
customers=3000
days=30
as_of=2026-10-31
keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --customers) customers=$2; shift 2 ;;
        --days) days=$2; shift 2 ;;
        --as-of) as_of=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_engine.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
command -v psql >/dev/null || { echo "bench_engine.sh: needs psql" >&2; exit 2; }

mkdir -p "$build"
build=$(cd "$build" && pwd)
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! cmake --build "$build" --target recoupd recoup recoup-gen --parallel 2 \
        >"$build/bench-engine-build.log" 2>&1; then
    cat "$build/bench-engine-build.log" >&2
    echo "bench_engine.sh: build failed (log: $build/bench-engine-build.log)" >&2
    exit 2
fi

# As root the embedded database runs as user postgres: the directory must
# be reachable by it (mode 0711, as the tests' directories).
tmp=$(mktemp -d /tmp/recoup-bench-engine-XXXXXX)
chmod 711 "$tmp"
server=
stop_server () {
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=
    fi
}
cleanup () {
    stop_server
    if [ "$keep" = 1 ]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
# The date `n` days after `d` (GNU date).
day_after () { date -u -d "$1 + $2 days" +%Y-%m-%d; }

# Starts recoupd for business date $1 on the same data directory.
start_server () {
    rm -f "$tmp/data/ready"
    RECOUP_TODAY=$1 RECOUP_ENGINE_DAILY=off "$build/recoupd" --data "$tmp/data" \
        --commands 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' \
        >>"$tmp/recoupd.log" 2>&1 &
    server=$!
    for _ in $(seq 1 600); do
        [ -f "$tmp/data/ready" ] && return 0
        kill -0 "$server" 2>/dev/null || { tail -20 "$tmp/recoupd.log" >&2; exit 2; }
        sleep 0.1
    done
    echo "bench_engine.sh: recoupd did not start" >&2
    exit 2
}
recoup () {
    "$build/recoup" --identity "$tmp/data/admin.identity" --timeout 600000 "$@"
}
# Runs the engine as of $1; prints milliseconds, keeps the JSON reply.
engine_ms () {
    t0=$(now_ms)
    recoup --json engine run --as-of "$1" >"$tmp/engine.json" 2>"$tmp/engine.err" \
        || { cat "$tmp/engine.err" >&2; exit 2; }
    echo $(( $(now_ms) - t0 ))
}
# A number field of the last engine reply.
field () {
    sed -n 's/.*"summary":{\([^}]*\)}.*/\1/p' "$tmp/engine.json" \
        | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1
}

echo "== a year of receivables for $customers customers up to $as_of"
"$build/recoup-gen" demo --out "$tmp/demo" --customers "$customers" --as-of "$as_of" \
    >"$tmp/gen.log" 2>&1 || { cat "$tmp/gen.log" >&2; exit 2; }
start_server "$as_of"
for kind in customers invoices payments; do
    recoup import "$kind" "$tmp/demo/$kind.csv" >"$tmp/import.log" 2>&1 \
        || { cat "$tmp/import.log" >&2; exit 2; }
done
db=$(cat "$tmp/data/db.conninfo")
counts=$(psql -X -qAt -F ' ' "$db" -c \
    "SELECT (SELECT count(*) FROM invoices), (SELECT count(*) FROM payments),
            (SELECT count(*) FROM recoup_open_items('$as_of'))")
read -r n_invoices n_payments n_open <<EOT
$counts
EOT
echo "   $n_invoices invoices, $n_payments payments; $n_open open on $as_of"

first_ms=$(engine_ms "$as_of")
first_due=$(field due)
first_skipped=$(field skipped)
again_ms=$(engine_ms "$as_of")
again_dates=$(field dates)
echo "   first run: $first_ms ms ($first_due due, $first_skipped skipped); again: $again_ms ms"

next=$(day_after "$as_of" 1)
last=$(day_after "$as_of" $(( days + 1 )))
stop_server
start_server "$last"
day_ms=$(engine_ms "$next")
day_due=$(field due)
catch_ms=$(engine_ms "$last")
catch_dates=$(field dates)
catch_due=$(field due)
catch_skipped=$(field skipped)
catch_queued=$(field queued)
events=$(psql -X -qAt "$db" -c "SELECT count(*) FROM events")
echo "   one day ($next): $day_ms ms ($day_due due)"
echo "   catch-up of $days days to $last: $catch_ms ms ($catch_dates dates, $catch_due due, $catch_skipped skipped, $catch_queued queued)"

# The baseline: the open items of each date of the catch-up, read once.
d=$(day_after "$as_of" 2)
{
    printf '%s\n' '\timing on'
    i=0
    while [ "$i" -lt "$days" ]; do
        echo "SELECT count(*), sum(balance_minor) FROM recoup_open_items('$(day_after "$d" "$i")');"
        i=$(( i + 1 ))
    done
} | psql -X -qAt "$db" | sed -n 's/^Time: \([0-9.]*\).*/\1/p' >"$tmp/baseline.ms"
baseline_ms=$(awk '{ s += $1 } END { printf "%d", s }' "$tmp/baseline.ms")
per_day_ms=$(( catch_ms / days ))
baseline_day_ms=$(( baseline_ms / days ))
ratio=$(awk -v a="$catch_ms" -v b="$baseline_ms" 'BEGIN { printf "%.1f", (b > 0) ? a / b : 0 }')
echo "== engine against reading the open items (same run)"
printf '   %-48s %7s ms\n' "catch-up, per day" "$per_day_ms"
printf '   %-48s %7s ms\n' "baseline: recoup_open_items(D), per day" "$baseline_day_ms"
echo "   engine / baseline: ${ratio}x"

check=ok
[ "$again_dates" = 0 ] || { echo "   a second run for $as_of ran $again_dates dates" >&2; check=FAILED; }
[ "$catch_dates" = "$days" ] || { echo "   the catch-up ran $catch_dates dates, not $days" >&2; check=FAILED; }
echo "   checks: $check"
printf '{"bench":"engine","as_of":"%s","customers":%s,"invoices":%s,"payments":%s,"open":%s,"first_ms":%s,"first_due":%s,"first_skipped":%s,"again_ms":%s,"day_ms":%s,"catch_up_days":%s,"catch_up_ms":%s,"catch_up_due":%s,"catch_up_skipped":%s,"catch_up_queued":%s,"baseline_ms":%s,"ratio":%s,"events":%s,"check":"%s"}\n' \
    "$as_of" "$customers" "$n_invoices" "$n_payments" "$n_open" "$first_ms" "$first_due" \
    "$first_skipped" "$again_ms" "$day_ms" "$days" "$catch_ms" "$catch_due" "$catch_skipped" \
    "$catch_queued" "$baseline_ms" "$ratio" "$events" "$check"
[ "$check" = ok ] || exit 1
