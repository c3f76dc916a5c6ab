#!/bin/bash
# capture_ab.sh — the capture functions' cost, same run: the schema of OLD_REV against this
# checkout's, in two databases of one throwaway cluster, pgbench runs alternating (medians of
# ROUNDS). Run as a non-root user (initdb refuses root): runuser -u postgres -- bench/capture_ab.sh
# Usage: OLD_REV=fa7696e SECS=3 ROUNDS=5 bench/capture_ab.sh
set -euo pipefail
B=/usr/lib/postgresql/15/bin
OLD_REV=${OLD_REV:-fa7696e} SECS=${SECS:-3} ROUNDS=${ROUNDS:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/pglive-ab.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git -C "$SRC" show "$OLD_REV:sql/pglive.sql" > "$W/old.sql"
cp "$SRC/sql/pglive.sql" "$W/new.sql"
$B/initdb -D "$W/data" -U postgres >/dev/null
printf "synchronous_commit=off\nport=$PORT\nunix_socket_directories='$W'\n" >> "$W/data/postgresql.conf"
$B/pg_ctl -D "$W/data" -l "$W/log" -w start >/dev/null
trap '$B/pg_ctl -D "$W/data" -m immediate stop >/dev/null 2>&1 || true' EXIT
P="psql -h $W -p $PORT -U postgres -q -v ON_ERROR_STOP=1"
for db in old new; do
  $P -c "create database $db"
  $P -d $db -c "begin" -f "$W/$db.sql" -c "commit" >/dev/null 2>&1
  $P -d $db -c "create table plain(id bigserial primary key, a int, b text, c timestamptz default now());
                create table js(id bigserial primary key, a int, b text, doc jsonb);
                create table bare(id bigserial primary key, a int, b text, c timestamptz default now());
                select pglive.attach('public.plain'); select pglive.attach('public.js');" >/dev/null 2>&1
done
cd "$W"
echo "insert into plain(a,b) values (1,'x');" > one.sql
echo "insert into plain(a,b) select g, 'x' from generate_series(1,100) g;" > hundred.sql
echo "insert into js(a,b,doc) values (1, 'x', case when random() < 0.5 then null else '{\"a\":1}'::jsonb end);" > json1.sql
echo "insert into js(a,b,doc) select g, 'x', case when g % 2 = 0 then null else '{\"a\":1}'::jsonb end from generate_series(1,100) g;" > json100.sql
echo "insert into bare(a,b) values (1,'x');" > bare1.sql
echo "insert into bare(a,b) select g, 'x' from generate_series(1,100) g;" > bare100.sql
for round in $(seq "$ROUNDS"); do
  for s in one hundred json1 json100 bare1 bare100; do
    for db in old new; do
      tps=$($B/pgbench -h "$W" -p "$PORT" -U postgres -n -T "$SECS" -c 1 -f $s.sql $db 2>/dev/null | grep -oP 'tps = \K[0-9.]+' | head -1)
      echo "$s $db $tps" >> results.txt
      $P -d $db -c "truncate pglive.outbox, pglive.tx; truncate plain, js, bare" >/dev/null
    done
  done
done
python3 - "$W/results.txt" <<'PY'
import statistics, sys, collections
r = collections.defaultdict(list)
for line in open(sys.argv[1]):
    s, db, tps = line.split(); r[(s, db)].append(float(tps))
m = {k: statistics.median(v) for k, v in r.items()}
print("| statement | old tps | new tps | new/old | old/no trigger | new/no trigger |")
print("|---|---|---|---|---|---|")
for s, base in [("one", "bare1"), ("hundred", "bare100"), ("json1", "bare1"), ("json100", "bare100")]:
    print(f"| {s} | {m[(s,'old')]:.0f} | {m[(s,'new')]:.0f} | {m[(s,'new')]/m[(s,'old')]:.2f} | "
          f"{m[(s,'old')]/m[(base,'old')]:.2f} | {m[(s,'new')]/m[(base,'new')]:.2f} |")
PY
