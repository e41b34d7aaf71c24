#!/usr/bin/env bash
# recoup in one command, from a fresh clone: installs the Debian packages
# it needs, builds, starts recoupd with its embedded PostgreSQL under
# ./var, and shows it with the client: the demo ledger's aging, the daily
# engine's worklist, then the collections lead's live dashboard (q quits
# it and stops the server). On the first run, while the ledger has no
# customers yet, it loads demo data (a small wholesale business, made up
# by recoup-gen under ./var/demo) with `recoup import`.
#
#   deploy/quickstart.sh            interactive: the live dashboard until q
#   deploy/quickstart.sh --once     prints the dashboard and the last
#                                   events, then stops
#
# Works as root and as a normal user.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
once=0
[ "${1:-}" = "--once" ] && once=1
[ -t 0 ] && [ -t 1 ] || once=1

. deploy/deps.sh
recoup_install_deps

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

# As root the embedded database runs as user postgres, which must be able
# to reach the data directory; under /root it cannot.
data="$top/var"
if [ "$(id -u)" -eq 0 ] && ! su postgres -s /bin/sh -c "test -x '$top'" 2>/dev/null; then
    data=/var/lib/recoup/quickstart
    echo "== $top is not reachable by user postgres; data goes to $data"
fi
mkdir -p "$data"
chmod 711 "$data"

if [ -f "$data/ready" ] && kill -0 "$(sed -n 's/^pid=//p' "$data/ready")" 2>/dev/null; then
    echo "== recoupd already running (pid $(sed -n 's/^pid=//p' "$data/ready"))"
    started=0
else
    echo "== starting recoupd (log: $data/recoupd.log)"
    build/recoupd --data "$data" >>"$data/recoupd.log" 2>&1 &
    server=$!
    started=1
    for _ in $(seq 1 600); do
        [ -f "$data/ready" ] && break
        kill -0 "$server" 2>/dev/null || { tail -20 "$data/recoupd.log"; exit 1; }
        sleep 0.1
    done
    [ -f "$data/ready" ] || { echo "recoupd did not start; see $data/recoupd.log"; exit 1; }
fi
stop_server () {
    if [ "$started" = 1 ]; then
        echo "== stopping recoupd"
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
}
trap stop_server EXIT

export RECOUP_IDENTITY="$data/admin.identity"
recoup="$top/build/recoup"
echo "== recoup status"
"$recoup" status
echo "== recoup user list"
"$recoup" user list
"$recoup" note post --subject quickstart "recoup is up on $(hostname)" >/dev/null

# Demo data, once: only while the ledger has no customers, so that a
# second run (or a ledger with real data) is left alone.
demo="$data/demo"
customers=$(psql "$(cat "$data/db.conninfo")" -tAc 'select count(*) from customers' \
            2>/dev/null || true)
if [ "$customers" = 0 ]; then
    echo "== demo data: a small wholesale business, in $demo"
    if build/recoup-gen demo --out "$demo"; then
        for kind in customers invoices payments; do
            echo "== recoup import $kind $demo/$kind.csv"
            "$recoup" import "$kind" "$demo/$kind.csv" ||
                echo "(the $kind import failed; recoupd goes on without them)"
        done
    else
        echo "(recoup-gen failed; no demo data)"
    fi
elif [ -n "$customers" ]; then
    echo "== the ledger has $customers customers: no demo data loaded"
else
    echo "== could not count the ledger's customers (psql): no demo data loaded"
fi
# A customer worth a look: the one with the oldest unpaid invoice.
example=$(psql "$(cat "$data/db.conninfo")" -tAc "select c.ref from recoup_open_items(current_date) o
          join customers c on c.id = o.customer_id order by o.due, c.ref limit 1" 2>/dev/null || true)
echo "== recoup report aging"
"$recoup" report aging || true
# The daily engine ran by itself at start-up; run it again for today so
# that it takes in what was just imported, and show the first of today's
# actions.
echo "== recoup engine run"
"$recoup" --timeout 600000 engine run | tail -n 1 || true
echo "== recoup worklist (the first 15 actions due today)"
"$recoup" worklist 2>&1 | head -n 16 || true

cat <<EOT

recoupd is serving on $(sed -n 's/^commands=//p' "$data/ready") (commands) and
$(sed -n 's/^events=//p' "$data/ready") (events). In another terminal:

  export RECOUP_IDENTITY=$data/admin.identity
  $recoup status
  $recoup note post "first note"
  $recoup keygen --out alice.identity --server-from $data/server.identity --user alice
  $recoup user add alice --role collector --key KEY-PRINTED-BY-KEYGEN
  $recoup report aging --by-customer
  $recoup worklist
  $recoup desk                 # the finance desk's working screen
  $recoup dashboard --mine     # a rep's view (as a sales user)
  $recoup outbox list
  $recoup policy show
  $recoup customer show ${example:-REF}

EOT
# The demo import alone makes hundreds of events (one per account it
# changed): show the last few; `recoup tail --from 1` has them all.
last=$("$recoup" status --json | sed -n 's/.*"seq":\([0-9]*\).*/\1/p')
from=$(( last > 20 ? last - 19 : 1 ))
if [ "$once" = 1 ]; then
    echo "== recoup dashboard --once (the first 15 late accounts)"
    "$recoup" dashboard --once --limit 15 || true
    echo "== events so far (from #$from of $last)"
    "$recoup" tail --from "$from" --count "$(( last - from + 1 ))"
else
    echo "== recoup dashboard: live; q quits and stops recoupd"
    sleep 2
    "$recoup" dashboard || true
fi
