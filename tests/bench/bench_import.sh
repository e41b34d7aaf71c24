#!/bin/sh
# The import benchmark: how fast `recoup import invoices` loads a large
# file end to end, compared with PostgreSQL's own COPY of the same file
# into a plain table on the same database, and how much memory the
# client and recoupd take while it does.
#
#   tests/bench/bench_import.sh [BUILD-DIR] [--rows N] [--customers K]
#                               [--timeout S] [--keep]
#
# It builds recoupd, recoup and recoup-gen (BUILD-DIR, default ./build),
# starts a fresh recoupd (embedded PostgreSQL, fsync on) in a temporary
# directory, generates N invoices (default 1,000,000) over K customers
# (default 2,000) with recoup-gen, imports the customers, then in the
# same run:
#   (a) baseline: psql \copy of the invoice file into a plain table with
#       the same columns (text, date, numeric: COPY cannot read "12.34"
#       into a bigint of cents), no index;
#   (a2) the same COPY into a table with the ledger's indexes (key,
#       unique number, per-customer index), to show what indexing alone
#       costs;
#   (b) `recoup import invoices FILE --json`, end to end: parsing and
#       checking, staging, the commit that checks and applies every row;
#   (c) the same import again, which must change nothing.
# Prints rows/s for each, the time ratio import/COPY, the peak resident
# memory of the client (GNU time, or VmHWM polled from /proc) and of
# recoupd (VmHWM before and after), and a last line of JSON with every
# figure. An import still running after --timeout seconds (default 1800)
# is stopped, and so is the statement the server was running for it.
# Exits 1 if an import failed or timed out or the ledger does not hold
# exactly the file afterwards, 2 if the benchmark could not run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$src/build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
rows=1000000
customers=2000
limit=1800
keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --rows) rows=${2:?--rows needs a number}; shift 2 ;;
        --customers) customers=${2:?--customers needs a number}; shift 2 ;;
        --timeout) limit=${2:?--timeout needs seconds}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "bench_import: unknown option $1 (--help for usage)" >&2; exit 2 ;;
    esac
done

say () { echo "bench_import: $*" >&2; }
fail () { say "$*"; exit 2; }

mkdir -p "$build"
build=$(cd "$build" && pwd)
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" >/dev/null
fi
if ! cmake --build "$build" --target recoupd recoup recoup-gen --parallel 2 \
        >"$build/bench-import-build.log" 2>&1; then
    cat "$build/bench-import-build.log" >&2
    fail "build failed (log: $build/bench-import-build.log)"
fi
command -v psql >/dev/null || fail "psql is missing (Debian package postgresql-client)"

# Seconds since the epoch, with nanoseconds.
now () { date +%s.%N; }
# awk arithmetic: calc EXPR [-v VAR=VALUE...], two decimals; rate: none.
calc () { e=$1; shift; awk "$@" "BEGIN { printf \"%.2f\", $e }"; }
rate () { e=$1; shift; awk "$@" "BEGIN { printf \"%.0f\", $e }"; }
# VmHWM (peak resident set) of a process, in kB, or 0.
hwm () {
    h=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    echo "${h:-0}"
}
# Whether a process runs (kill -0 also succeeds on a zombie).
alive () {
    st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}
# Cancels what the server's database connections are running (after an
# import timed out, the server would otherwise go on with it).
cancel_statements () {
    [ -n "$conninfo" ] || return 0
    psql "$conninfo" -X -q -tAc "SELECT count(pg_cancel_backend(pid))
        FROM pg_stat_activity WHERE datname = current_database()
        AND pid <> pg_backend_pid() AND state = 'active'" >/dev/null 2>&1 || true
}

# Runs a command for at most $limit seconds and records its wall time in
# $elapsed, its peak resident memory (kB) in $peak (GNU time when there,
# else VmHWM read from /proc while it runs: the last reading is the
# peak, VmHWM only grows) and its exit status in $status (124: timed
# out). The command's stdout goes to $1.
gnu_time=0
/usr/bin/time -f %M -o /dev/null true 2>/dev/null && gnu_time=1
measure () {
    out=$1
    shift
    t0=$(now)
    status=0
    if [ "$gnu_time" = 1 ]; then
        /usr/bin/time -f %M -o "$dir/time.out" timeout "$limit" "$@" >"$out" || status=$?
        t1=$(now)
        peak=$(tail -1 "$dir/time.out")
        case $peak in *[!0-9]*|"") peak=0 ;; esac
    else
        timeout "$limit" "$@" >"$out" &
        child=$!
        peak=0
        while alive "$child"; do
            for p in $(cat "/proc/$child/task/$child/children" 2>/dev/null); do
                h=$(hwm "$p")
                [ "$h" -gt "$peak" ] && peak=$h
            done
            sleep 0.05
        done
        wait "$child" || status=$?
        t1=$(now)
    fi
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [ "$status" = 124 ]; then
        say "$* still running after $limit s: stopped"
        cancel_statements
    fi
}

dir=$(mktemp -d /tmp/recoup-bench-import-XXXXXX)
# 0711: as root the embedded database runs as postgres, which must be
# able to reach the data directory below.
chmod 711 "$dir"
data=$dir/data
server=
conninfo=
cleanup () {
    if [ -n "$server" ]; then
        kill -TERM "$server" 2>/dev/null || true
        # recoupd finishes the statement in flight before it stops: give
        # it 30 s, then cancel that statement, then 30 s more.
        for round in 1 2; do
            for _ in $(seq 1 300); do
                alive "$server" || break
                sleep 0.1
            done
            alive "$server" || break
            [ "$round" = 1 ] && cancel_statements
        done
        if alive "$server"; then
            say "recoupd did not stop; killed (its PostgreSQL may still run: $data/pg)"
            kill -KILL "$server" 2>/dev/null || true
        fi
        wait "$server" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then
        say "kept $dir"
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

"$build/recoupd" --data "$data" --commands 'tcp://127.0.0.1:*' \
    --events 'tcp://127.0.0.1:*' >"$dir/recoupd.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
    [ -f "$data/ready" ] && break
    alive "$server" || { tail -20 "$dir/recoupd.log" >&2; fail "recoupd exited"; }
    sleep 0.1
done
[ -f "$data/ready" ] || fail "recoupd not ready within 60 s (log: $dir/recoupd.log)"
conninfo=$(cat "$data/db.conninfo")
export RECOUP_IDENTITY="$data/admin.identity"
recoup="$build/recoup"
sql () { psql "$conninfo" -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "import benchmark: $rows invoices over $customers customers"
echo "  server    $build/recoupd (pid $server), data $data"
echo "  postgres  $(sql -tAc 'show server_version'), fsync $(sql -tAc 'show fsync'), synchronous_commit $(sql -tAc 'show synchronous_commit')"

# The files.
t0=$(now)
"$build/recoup-gen" customers --count "$customers" --seed 1 --quiet --out "$dir/customers.csv"
"$build/recoup-gen" invoices --count "$rows" --customers "$customers" --seed 1 --quiet \
    --out "$dir/invoices.csv"
gen_s=$(calc "b - a" -v a="$t0" -v b="$(now)")
bytes=$(wc -c <"$dir/invoices.csv")
echo "  generated $rows invoices ($(calc "b / 1048576" -v b="$bytes") MiB) in $gen_s s"

"$recoup" import customers "$dir/customers.csv" --json >"$dir/customers.json" ||
    fail "the customer import failed: $(cat "$dir/customers.json")"
failed=0

# (a) COPY into a plain table: what PostgreSQL alone takes to load it.
sql -c "CREATE TABLE plain_invoices (customer text, invoice text, issued date,
        due date, amount numeric)"
measure "$dir/copy.out" psql "$conninfo" -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy plain_invoices from '$dir/invoices.csv' csv header"
[ "$status" = 0 ] || fail "COPY failed: $(cat "$dir/copy.out")"
copy_s=$elapsed
copied=$(sql -tAc "SELECT count(*) FROM plain_invoices")
[ "$copied" = "$rows" ] || fail "COPY loaded $copied rows, not $rows"
copy_rate=$(rate "n / s" -v n="$rows" -v s="$copy_s")
echo "  (a) COPY into a plain table     $copy_s s   $copy_rate rows/s"

# (a2) COPY into a table with the ledger's indexes (a bigserial key, the
# unique invoice number, the per-customer index by due date): what the
# same rows cost PostgreSQL when they are indexed the way the ledger must
# index them, still without any checking.
sql -c "CREATE TABLE indexed_invoices (id bigserial PRIMARY KEY, customer text,
        invoice text UNIQUE, issued date, due date, amount numeric);
        CREATE INDEX ON indexed_invoices (customer, due)"
measure "$dir/copy2.out" psql "$conninfo" -X -q -v ON_ERROR_STOP=1 \
    -c "\\copy indexed_invoices (customer, invoice, issued, due, amount) from '$dir/invoices.csv' csv header"
[ "$status" = 0 ] || fail "COPY failed: $(cat "$dir/copy2.out")"
copy_indexed_s=$elapsed
copy_indexed_rate=$(rate "n / s" -v n="$rows" -v s="$copy_indexed_s")
echo "  (a2) COPY, ledger's indexes     $copy_indexed_s s   $copy_indexed_rate rows/s"

# What became of a measured import: "ok", "timed out" or "failed".
outcome () {
    case $status in
        0) echo ok ;;
        124) echo "timed out after $limit s" ;;
        *) echo "failed (exit $status)" ;;
    esac
}

# (b) recoup import, end to end.
server_hwm_before=$(hwm "$server")
measure "$dir/import.json" "$recoup" import invoices "$dir/invoices.csv" --json
import_s=$elapsed
client_kb=$peak
import_ok=true
import_outcome=$(outcome)
server_hwm_after=$(hwm "$server")
held=$(sql -tAc "SELECT count(*) FROM invoices")
if [ "$status" != 0 ]; then
    say "the import $import_outcome: $(head -c 2000 "$dir/import.json")"
    import_ok=false
elif [ "$held" != "$rows" ]; then
    say "after the import the ledger holds $held invoices, not $rows"
    import_ok=false
fi
if [ "$import_ok" = true ]; then
    import_rate=$(rate "n / s" -v n="$rows" -v s="$import_s")
    ratio=$(calc "i / c" -v i="$import_s" -v c="$copy_s")
    rate_ratio=$(awk -v i="$import_s" -v c="$copy_s" 'BEGIN { printf "%.3f", c / i }')
    rate_ratio_indexed=$(awk -v i="$import_s" -v c="$copy_indexed_s" 'BEGIN { printf "%.3f", c / i }')
    echo "  (b) recoup import invoices      $import_s s   $import_rate rows/s   ${ratio}x the COPY time"
    echo "      import rate / COPY rate: $rate_ratio (plain table), $rate_ratio_indexed (ledger's indexes)"
    echo "      $(head -c 300 "$dir/import.json")..."
else
    import_rate=null
    ratio=null
    rate_ratio=null
    rate_ratio_indexed=null
    failed=1
    echo "  (b) recoup import invoices      $import_s s   $import_outcome"
fi

# (c) The same file again: every row unchanged, no event, nothing written.
seq_before=$("$recoup" status --json | sed -n 's/.*"seq":\([0-9]*\).*/\1/p') || true
measure "$dir/reimport.json" "$recoup" import invoices "$dir/invoices.csv" --json
reimport_s=$elapsed
reimport_kb=$peak
reimport_ok=true
reimport_outcome=$(outcome)
seq_after=$("$recoup" status --json | sed -n 's/.*"seq":\([0-9]*\).*/\1/p') || true
if [ "$status" != 0 ]; then
    say "the re-import $reimport_outcome: $(head -c 2000 "$dir/reimport.json")"
    reimport_ok=false
elif ! grep -q "\"unchanged\":$rows[,}]" "$dir/reimport.json" \
  || ! grep -q '"inserted":0[,}]' "$dir/reimport.json" \
  || ! grep -q '"updated":0[,}]' "$dir/reimport.json" \
  || [ "$seq_before" != "$seq_after" ] \
  || [ "$(sql -tAc "SELECT count(*) FROM invoices")" != "$held" ]; then
    say "the re-import was not a no-op (events $seq_before -> $seq_after): $(head -c 600 "$dir/reimport.json")"
    reimport_outcome="not a no-op"
    reimport_ok=false
fi
if [ "$reimport_ok" = true ]; then
    reimport_rate=$(rate "n / s" -v n="$rows" -v s="$reimport_s")
    echo "  (c) the same import again       $reimport_s s   $reimport_rate rows/s   (no-op: all unchanged, no event)"
else
    reimport_rate=null
    failed=1
    echo "  (c) the same import again       $reimport_s s   $reimport_outcome"
fi
server_hwm_end=$(hwm "$server")
echo "  memory    client peak RSS $(calc "k / 1024" -v k="$client_kb") MiB (import), $(calc "k / 1024" -v k="$reimport_kb") MiB (re-import);"
echo "            recoupd VmHWM $(calc "k / 1024" -v k="$server_hwm_before") MiB before, $(calc "k / 1024" -v k="$server_hwm_after") MiB after the import, $(calc "k / 1024" -v k="$server_hwm_end") MiB at the end"
echo "            (PostgreSQL's own processes are not counted in recoupd's)"

printf '{"bench":"import","rows":%s,"customers":%s,"file_bytes":%s,"generate_s":%s,' \
    "$rows" "$customers" "$bytes" "$gen_s"
printf '"copy_s":%s,"copy_rows_per_s":%s,"import_s":%s,"import_rows_per_s":%s,' \
    "$copy_s" "$copy_rate" "$import_s" "$import_rate"
printf '"import_to_copy_time_ratio":%s,"reimport_s":%s,"reimport_rows_per_s":%s,' \
    "$ratio" "$reimport_s" "$reimport_rate"
printf '"copy_indexed_s":%s,"copy_indexed_rows_per_s":%s,"import_rate_to_copy_rate":%s,' \
    "$copy_indexed_s" "$copy_indexed_rate" "$rate_ratio"
printf '"import_rate_to_indexed_copy_rate":%s,' "$rate_ratio_indexed"
printf '"client_peak_rss_kb":%s,"client_reimport_peak_rss_kb":%s,' "$client_kb" "$reimport_kb"
printf '"recoupd_hwm_before_kb":%s,"recoupd_hwm_after_kb":%s,"recoupd_hwm_end_kb":%s,' \
    "$server_hwm_before" "$server_hwm_after" "$server_hwm_end"
printf '"memory_from":"%s","import_ok":%s,"reimport_ok":%s,"ok":%s}\n' \
    "$([ "$gnu_time" = 1 ] && echo gnu-time || echo vmhwm)" "$import_ok" "$reimport_ok" \
    "$([ "$failed" = 0 ] && echo true || echo false)"
exit "$failed"
