-- pglive.sql — the pglive schema: outbox, capture triggers, sequencer, admin functions (idempotent).
--
-- Writers only append to pglive.outbox (one row per statement, from statement-level triggers).
-- Positions are stamped after commit by pglive.sequence(), which pglive nodes call: see the
-- comment on it for why reading `position > P` never skips a transaction.

-- Sections: locks · tables · columns · capture · wake-up · messages · attach · sequencer ·
-- retention · privileges · upgrade.

-- ============================================================ locks
-- pglive's advisory locks, each key named once here (pglive.lock_*() are inlined constants):
--   7135402871265917000  sequencer: one sequence() or prune() at a time, across nodes
--   7135402871265917001  install: schema installs, wake-up mode changes
--   7135402871265917002  doorbell: held by a listener about to sleep (see pglive.doze)
-- Concurrent installs (several nodes, or `pglive install` beside `attach`) run one at a time
-- when the file runs as one transaction, as install_schema does (the schema may not exist yet,
-- so the key is spelled out here only).
select pg_advisory_xact_lock(7135402871265917001);

create schema if not exists pglive;

create or replace function pglive.lock_sequencer() returns bigint language sql immutable as 'select 7135402871265917000::bigint';
create or replace function pglive.lock_install() returns bigint language sql immutable as 'select 7135402871265917001::bigint';
create or replace function pglive.lock_doorbell() returns bigint language sql immutable as 'select 7135402871265917002::bigint';

-- ============================================================ tables

create sequence if not exists pglive.change_seq;
create sequence if not exists pglive.position_seq;

create table if not exists pglive.outbox (
    seq      bigint primary key default nextval('pglive.change_seq'),
    xid      xid8 not null default pg_current_xact_id(),
    ts       timestamptz not null default clock_timestamp(),
    topic    text not null,
    op       "char" not null,  -- I U D T, M (message), C (control: attach/detach)
    old_rows jsonb,            -- jsonb arrays of row objects, hidden columns removed
    new_rows jsonb
);
create index if not exists outbox_xid on pglive.outbox (xid);

-- A multi-row statement's rows are one jsonb value, TOASTed and compressed: lz4 does it in half
-- pglz's time (the capture trigger of a 100-row INSERT: 0.17 ms against 0.34 ms). Servers built
-- without lz4 keep pglz. Only altered once: ALTER TABLE locks the outbox against writers.
do $lz4$
begin
    if exists (select 1 from pg_attribute where attrelid = 'pglive.outbox'::regclass
               and attname in ('old_rows', 'new_rows') and attcompression <> 'l') then
        alter table pglive.outbox alter column old_rows set compression lz4,
                                  alter column new_rows set compression lz4;
    end if;
exception when feature_not_supported or invalid_parameter_value then
    raise notice 'pglive: this server has no lz4; the outbox keeps pglz compression';
end
$lz4$;

create table if not exists pglive.tx (
    position bigint primary key,
    xid      xid8 unique not null,
    ts       timestamptz not null
);

create table if not exists pglive.tables (
    relid   oid primary key,
    topic   text unique not null,
    key     text[] not null,
    columns text[],
    exclude text[],
    policy  text   -- a row policy (attach's policy): filters joined by &, values may be {claim}s
);
-- Added by pglive with row policies. Only altered once: ALTER TABLE locks pglive.tables, which
-- the capture functions of tables with hidden columns read.
do $policy$
begin
    if not exists (select 1 from pg_attribute where attrelid = 'pglive.tables'::regclass
                   and attname = 'policy' and not attisdropped) then
        alter table pglive.tables add column if not exists policy text;
    end if;
end
$policy$;

-- One row: the sequencer's watermark, the wake-up mode, and what retention has removed.
create table if not exists pglive.state (
    one         boolean primary key default true check (one),
    watermark   xid8 not null default '0',
    wakeup      text not null default 'notify' check (wakeup in ('notify', 'poll')),
    pruned_upto bigint not null default 0
);
insert into pglive.state default values on conflict do nothing;
-- Added by pglive with epochs (see pglive.sequence). Only altered once: ALTER TABLE locks the
-- state table, which every sequencer run reads.
do $epoch$
begin
    if not exists (select 1 from pg_attribute where attrelid = 'pglive.state'::regclass
                   and attname = 'epoch' and not attisdropped) then
        alter table pglive.state add column if not exists epoch bigint not null default 0;
    end if;
end
$epoch$;

-- Epochs (pglive.sequence): positions of epoch e are in [e << 40, (e + 1) << 40). Each row is
-- written durably when its epoch starts; positions in (durable_before, base) are lost: a crash
-- may have discarded the sequencer commits that handed them out, so no client resumes from one.
create table if not exists pglive.epochs (
    epoch          bigint primary key,
    base           bigint not null,
    durable_before bigint not null,
    started_at     timestamptz not null default now()
);
-- Crash detection: PostgreSQL empties an unlogged table at every crash recovery (and on a
-- promoted standby), exactly the events that can lose an asynchronous commit, and keeps it
-- across a clean shutdown (which flushes all WAL). One row: the epoch it was written in.
create unlogged table if not exists pglive.live_epoch (
    epoch bigint not null
);

-- The pglive nodes serving from this database, and the position each has delivered. A serve
-- registers when it starts and beats every few seconds (pglive.beat); retention never removes
-- a transaction a live node has not delivered yet. A node that stopped beating (crashed, cut
-- off) stops holding retention after the pruner's node timeout.
create table if not exists pglive.nodes (
    node_id   text primary key,
    delivered bigint not null,
    beat_at   timestamptz not null default now()
);

-- ============================================================ columns
-- The columns of a table that never leave the database (attach --columns / --exclude).
create or replace function pglive.hidden_columns(rel oid) returns text[]
language sql stable as $$
    select coalesce(array_agg(a.attname::text), '{}')
    from pglive.tables t
    join pg_attribute a on a.attrelid = t.relid and a.attnum > 0 and not a.attisdropped
    where t.relid = rel
      and (t.columns is not null or t.exclude is not null)
      and case when t.columns is not null then not (a.attname::text = any (t.columns))
               else a.attname::text = any (t.exclude) end
$$;

-- The columns a topic exposes, in table order.
create or replace function pglive.exposed_columns(rel oid) returns text[]
language sql stable as $$
    select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
    from pg_attribute a
    where a.attrelid = rel and a.attnum > 0 and not a.attisdropped
      and not (a.attname::text = any (pglive.hidden_columns(rel)))
$$;

-- A row image must tell SQL NULL from a JSON null in a json/jsonb column, and to_jsonb(row)
-- writes both as null. So a SQL NULL json/jsonb column is left out of the image (every other
-- column is always in it) and readers put it back as SQL NULL (docs/DESIGN.md, "Exact values").
-- This gives the expression to subtract from to_jsonb(alias.*): the names of the json/jsonb
-- columns (domains over them included) that are NULL in that row, or null when the table has no
-- such column. Computed from the catalog when called, so a column added, renamed or dropped later
-- never makes a statement fail.
create or replace function pglive.json_null_columns(rel oid, alias text) returns text
language sql stable as $$
    select 'array_remove(array[' || string_agg(format('case when %I.%I is null then %L end', alias, a.attname, a.attname),
                                               ', ' order by a.attnum) || ']::text[], null)'
    from pg_attribute a join pg_type ty on ty.oid = a.atttypid
    where a.attrelid = rel and a.attnum > 0 and not a.attisdropped
      and (case when ty.typtype = 'd' then ty.typbasetype else a.atttypid end) in ('json'::regtype, 'jsonb'::regtype)
$$;

-- ============================================================ capture
-- (Re)creates the four capture functions, with or without the wake-up NOTIFY, so that poll
-- mode pays neither the notify lock nor a mode lookup per statement.
create or replace function pglive.install_capture(notify boolean) returns void
language plpgsql as $body$
declare
    -- The doorbell: a listener that is about to sleep holds lock_doorbell() (see pglive.doze);
    -- only then is a NOTIFY needed. A writer that gets the lock shared instead holds it until it
    -- commits, so a listener cannot fall asleep before seeing its rows, and while listeners are
    -- busy reading, writers skip the NOTIFY and its cluster-wide commit lock.
    wake text := case when notify then format('if pglive_n_ > 0 and not pg_try_advisory_xact_lock_shared(%s) then '
                                              'perform pg_notify(''pglive'', ''''); end if;', pglive.lock_doorbell())
                 else '' end;
    -- Values leave pglive the same whatever the writer's session: to_jsonb writes timestamptz
    -- in the session's TimeZone, intervals in its IntervalStyle, floats with its
    -- extra_float_digits, bytea in its bytea_output. A function-level SET pins them for the
    -- trigger only (restored on exit: the writer's session is unchanged); measured at about
    -- 2 µs per statement (a single-row INSERT's trigger costs about 23 µs).
    -- They also run as pglive's owner (SECURITY DEFINER, search_path pinned, pg_temp last): the
    -- writer needs no right on schema pglive, and no writer can write the outbox itself.
    definer text := 'security definer set search_path = pg_catalog, pglive, pg_temp';
    pin text := $p$ set timezone = 'UTC' set intervalstyle = 'postgres' set extra_float_digits = 1 set bytea_output = 'hex' $p$;
    -- A statement whose table is not (or no longer) attached captures nothing.
    -- attach passes the topic and whether columns are hidden as trigger arguments, so a
    -- statement does not look its table up (a tenth of a single-row INSERT's CPU). Hidden
    -- columns are computed per statement: a column added later to a --columns table stays hidden.
    head text := $h$
declare
    -- Unlikely names: a user column named like a plpgsql variable makes the statements
    -- ambiguous, and a bare row alias (to_jsonb(n)) would read a column named n instead.
    pglive_topic_ text;
    pglive_hidden_ text[] := '{}';
    pglive_nulls_ text;  -- json_null_columns(), for a table attach found json/jsonb columns in
    pglive_n_ bigint;
begin
    if TG_NARGS >= 2 then
        pglive_topic_ := TG_ARGV[0];
        if TG_ARGV[1] = 'filtered' then
            pglive_hidden_ := pglive.hidden_columns(TG_RELID);
        end if;
        if TG_NARGS >= 3 and TG_ARGV[2] = 'json' then
            pglive_nulls_ := pglive.json_null_columns(TG_RELID, 'r');
        end if;
    else
        -- A trigger made by an older pglive, without arguments.
        select c.topic, case when c.columns is null and c.exclude is null then '{}'::text[]
                             else pglive.hidden_columns(TG_RELID) end
          into pglive_topic_, pglive_hidden_
          from pglive.tables c where c.relid = TG_RELID;
        if pglive_topic_ is null then return null; end if;
    end if;
$h$;
    -- One outbox row per statement: %1$s the topic, %2$s the hidden columns, %3$s what else to
    -- subtract from each row image. Tables without json/jsonb columns run it static (planned
    -- once); the others dynamically, leaving out their SQL NULL json columns (json_null_columns).
    capture text := $c$
    if pglive_nulls_ is null then
        %1$s;
    else
        execute replace(%2$L, '$nulls', pglive_nulls_) using pglive_topic_, pglive_hidden_;
    end if;
    get diagnostics pglive_n_ = row_count;
$c$;
    images text := '(select jsonb_agg(to_jsonb(r.*) - %2$s%3$s) as rows from pglive_%4$s r)';
    stmts text[] := array[
        format('insert into pglive.outbox (topic, op, new_rows) select %%1$s, ''I'', s.rows from %s s '
               'where s.rows is not null', format(images, '', '%2$s', '%3$s', 'new')),
        format('insert into pglive.outbox (topic, op, old_rows, new_rows) select %%1$s, ''U'', o.rows, n.rows '
               'from %s o, %s n where o.rows is not null',
               format(images, '', '%2$s', '%3$s', 'old'), format(images, '', '%2$s', '%3$s', 'new')),
        format('insert into pglive.outbox (topic, op, old_rows) select %%1$s, ''D'', s.rows from %s s '
               'where s.rows is not null', format(images, '', '%2$s', '%3$s', 'old'))];
    names text[] := array['insert', 'update', 'delete'];
begin
    for i in 1 .. 3 loop
        execute format($f$create or replace function pglive.capture_%s() returns trigger language plpgsql %s %s as $fn$%s%s%s
    return null;
end $fn$$f$, names[i], definer, pin, head,
            format(capture, format(stmts[i], 'pglive_topic_', 'pglive_hidden_', ''), format(stmts[i], '$1', '$2', ' - $nulls')),
            wake);
    end loop;
    execute format($f$create or replace function pglive.capture_truncate() returns trigger language plpgsql %s as $fn$
declare
    pglive_topic_ text := case when TG_NARGS >= 1 then TG_ARGV[0] end;
begin
    if pglive_topic_ is null then
        select c.topic into pglive_topic_ from pglive.tables c where c.relid = TG_RELID;
        if pglive_topic_ is null then return null; end if;
    end if;
    insert into pglive.outbox (topic, op) values (pglive_topic_, 'T');
    %s
    return null;
end $fn$$f$, definer, replace(wake, 'if pglive_n_ > 0 and ', 'if '));
end
$body$;

-- ============================================================ wake-up
create or replace function pglive.set_wakeup(mode text) returns void
language plpgsql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
begin
    if mode is null or mode not in ('notify', 'poll') then
        raise exception 'wakeup mode must be ''notify'' or ''poll'', not %', coalesce(quote_literal(mode), 'null')
            using errcode = 'invalid_parameter_value';
    end if;
    -- Every node sets the mode at start-up: serialize them, and leave the capture functions
    -- alone when nothing changes (re-creating them concurrently fails: tuple concurrently updated).
    perform pg_advisory_xact_lock(pglive.lock_install());
    if (select wakeup from pglive.state) = mode and to_regprocedure('pglive.capture_insert()') is not null then
        return;
    end if;
    update pglive.state set wakeup = mode;
    perform pglive.install_capture(mode = 'notify');
end
$$;

-- Install or upgrade keeps the mode the database is in.
select pglive.install_capture((select wakeup = 'notify' from pglive.state));

-- A listener going to sleep takes the doorbell lock (session level) so that writers NOTIFY it.
-- It waits at most wait_ms for writers that hold it shared (they skipped the NOTIFY and commit
-- soon) and returns false if it could not get it: another node's listener sleeps holding it, or
-- a long transaction holds it shared; the caller reads the outbox again and retries.
-- Its lock_timeout ends with it (a SET clause restores the caller's value at exit): the
-- sequencer's lock wait after it in the same pass (pglive.sequence_read) must not inherit it.
create or replace function pglive.doze(wait_ms int) returns boolean
language plpgsql
security definer set search_path = pg_catalog, pglive, pg_temp set lock_timeout = 0
as $$
begin
    if pg_try_advisory_lock(pglive.lock_doorbell()) then
        return true;
    end if;
    perform set_config('lock_timeout', wait_ms || 'ms', true);
    begin
        perform pg_advisory_lock(pglive.lock_doorbell());
        return true;
    exception when lock_not_available then
        return false;
    end;
end
$$;

create or replace function pglive.wake() returns void
language plpgsql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
begin
    if (select wakeup = 'notify' from pglive.state) then
        perform pg_notify('pglive', '');
    end if;
end
$$;

-- ============================================================ messages
create or replace function pglive.publish(topic text, data jsonb) returns void
language plpgsql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
begin
    if topic is null or topic = '' then
        raise exception 'publish: topic must be a non-empty text' using errcode = 'invalid_parameter_value';
    end if;
    insert into pglive.outbox (topic, op, new_rows) values (publish.topic, 'M', data);
    perform pglive.wake();
end
$$;

-- ============================================================ attach
-- A row policy (docs/PROTOCOL.md §2): filters in the subscription syntax joined by `&`
-- (`tenant_id=eq.{tenant}&deleted=is.false`), on exposed columns; a value that is `{name}` is
-- the token's claim `name`, else a literal checked against the column's type here. The server
-- parses it again and fails closed (forbidden) if it no longer applies (a column renamed).
create or replace function pglive.check_policy(tbl regclass, policy text) returns void
language plpgsql as $$
declare
    e text;
    m text[];
    v text;
    vals text[];
    typ text;
    cols text[] := pglive.exposed_columns(tbl);
begin
    foreach e in array string_to_array(policy, '&') loop
        if e = '' then
            raise exception 'attach %: policy ''%'': an empty filter (two & in a row, or one at an end)', tbl, policy
                using errcode = 'invalid_parameter_value';
        end if;
        m := regexp_match(e, '^([^=]+)=(eq|neq|lt|lte|gt|gte|in|is)\.(.*)$');
        if m is null then
            raise exception 'attach %: policy ''%'': expected column=operator.value (eq, neq, lt, lte, gt, gte, in, is), '
                            'several joined by &, e.g. tenant_id=eq.{tenant}', tbl, e using errcode = 'invalid_parameter_value';
        end if;
        if not (m[1] = any (cols)) then
            raise exception 'attach %: policy ''%'': no exposed column "%" (exposed: %)', tbl, e, m[1], array_to_string(cols, ', ')
                using errcode = 'undefined_column';
        end if;
        if m[2] = 'is' then
            if m[3] not in ('null', 'true', 'false') then
                raise exception 'attach %: policy ''%'': is takes null, true or false', tbl, e
                    using errcode = 'invalid_parameter_value';
            end if;
            continue;
        end if;
        vals := array[m[3]];
        if m[2] = 'in' then
            if m[3] !~ '^\(.*\)$' then
                raise exception 'attach %: policy ''%'': in needs a list like in.(a,b)', tbl, e using errcode = 'invalid_parameter_value';
            end if;
            -- A quoted list ("a,b") is left to the server's parser; a plain one is checked here.
            vals := case when m[3] ~ '"' then '{}' else string_to_array(substr(m[3], 2, length(m[3]) - 2), ',') end;
        end if;
        select format_type(a.atttypid, a.atttypmod) into typ
        from pg_attribute a where a.attrelid = tbl and a.attname = m[1];
        foreach v in array vals loop
            if v ~ '[{}]' then
                if v !~ '^\{[^{}]+\}$' then
                    raise exception 'attach %: policy ''%'': a claim is a whole value in braces, like eq.{tenant}', tbl, e
                        using errcode = 'invalid_parameter_value';
                end if;
                continue;
            end if;
            begin
                execute format('select %L::%s', v, typ);
            exception when others then
                raise exception 'attach %: policy ''%'': ''%'' is not a value of column % (%)', tbl, e, v, m[1], typ
                    using errcode = 'invalid_parameter_value';
            end;
        end loop;
    end loop;
end
$$;

-- The four-argument attach of pglive before row policies: replaced by the one below (a second
-- overload would make attach(t) ambiguous). Its grant goes with it and is given again below.
drop function if exists pglive.attach(regclass, text[], text[], text[]);
create or replace function pglive.attach(tbl regclass, key text[] default null, columns text[] default null,
                                         exclude text[] default null, policy text default null) returns text
language plpgsql as $$
declare
    topic_name text;
    all_cols text[];
    kind "char";
    c text;
    k text[] := key;
    hidden text;
    jsonish text;
    schema_name name;
    prev pglive.tables;
    taken regclass;
    widened text[];
begin
    -- Topics are unambiguous: a name that needs quoting appears quoted, as quote_ident writes
    -- it, so schema "public.x" table t is "public.x".t, never public.x.t beside public."x.t".
    select format('%s.%s', quote_ident(n.nspname), quote_ident(r.relname)), r.relkind, n.nspname
      into topic_name, kind, schema_name
    from pg_class r join pg_namespace n on n.oid = r.relnamespace where r.oid = tbl;
    if kind not in ('r', 'p') then
        raise exception 'attach %: not a table', tbl using errcode = 'wrong_object_type';
    end if;
    if schema_name = 'pglive' then
        raise exception 'attach %: pglive''s own tables cannot be attached', tbl using errcode = 'invalid_parameter_value';
    end if;
    if columns is not null and exclude is not null then
        raise exception 'attach %: give --columns or --exclude, not both', tbl using errcode = 'invalid_parameter_value';
    end if;
    -- Re-attaching keeps what is not given again: nothing hidden becomes visible by omission.
    select * into prev from pglive.tables t where t.relid = tbl;
    if found then
        if columns is null and exclude is null then
            columns := prev.columns;
            exclude := prev.exclude;
        end if;
        if k is null then k := prev.key; end if;
        if policy is null then policy := prev.policy; end if;
    end if;
    policy := nullif(policy, '');  -- '' clears it
    select array_agg(a.attname::text order by a.attnum) into all_cols
    from pg_attribute a where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped;
    foreach c in array coalesce(columns, '{}') || coalesce(exclude, '{}') || coalesce(k, '{}') loop
        if not (c = any (all_cols)) then
            raise exception 'attach %: no column "%" (columns: %)', tbl, c, array_to_string(all_cols, ', ')
                using errcode = 'undefined_column';
        end if;
    end loop;
    if k is null then
        select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum)) into k
        from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey::int2[])
        where i.indrelid = tbl and i.indisprimary;
        if k is null then
            raise exception 'attach %: the table has no primary key; name the key columns with --key', tbl
                using errcode = 'invalid_parameter_value';
        end if;
    end if;
    if cardinality(k) = 0 then
        raise exception 'attach %: --key needs at least one column', tbl using errcode = 'invalid_parameter_value';
    end if;
    foreach c in array k loop
        if (columns is not null and not (c = any (columns))) or (exclude is not null and c = any (exclude)) then
            raise exception 'attach %: key column "%" must be exposed (check --columns / --exclude)', tbl, c
                using errcode = 'invalid_parameter_value';
        end if;
    end loop;

    -- Forget tables dropped while attached (their triggers went with them).
    delete from pglive.tables t where not exists (select 1 from pg_class r where r.oid = t.relid);
    select t.relid::regclass into taken from pglive.tables t where t.topic = topic_name and t.relid <> tbl;
    if taken is not null then
        raise exception 'attach %: topic % is already the topic of table %', tbl, topic_name, taken
            using errcode = 'unique_violation';
    end if;
    if prev.relid is not null then  -- a change that widens what is visible says so
        select array_agg(h order by h) into widened
        from unnest(pglive.hidden_columns(tbl)) h
        where not (h = any (coalesce(
            (select array_agg(a.attname::text) from pg_attribute a
             where a.attrelid = tbl and a.attnum > 0 and not a.attisdropped
               and case when columns is not null then not (a.attname::text = any (columns))
                        when exclude is not null then a.attname::text = any (exclude)
                        else false end), '{}')));
    end if;
    insert into pglive.tables (relid, topic, key, columns, exclude, policy)
    values (tbl, topic_name, k, columns, exclude, policy)
    on conflict (relid) do update set topic = excluded.topic, key = excluded.key,
                                      columns = excluded.columns, exclude = excluded.exclude,
                                      policy = excluded.policy;
    -- Against the columns now exposed (a kept policy must still apply to new --columns).
    if policy is not null then
        perform pglive.check_policy(tbl, policy);
    end if;

    execute format('drop trigger if exists pglive_capture_insert on %s', tbl);
    execute format('drop trigger if exists pglive_capture_update on %s', tbl);
    execute format('drop trigger if exists pglive_capture_delete on %s', tbl);
    execute format('drop trigger if exists pglive_capture_truncate on %s', tbl);
    hidden := case when columns is null and exclude is null then 'all' else 'filtered' end;
    -- 'json': the table has json/jsonb columns, whose SQL NULLs the capture leaves out of row
    -- images (json_null_columns). A json column added later needs attach again to get this.
    jsonish := case when pglive.json_null_columns(tbl, 'r') is null then 'plain' else 'json' end;
    execute format('create trigger pglive_capture_insert after insert on %s referencing new table as pglive_new '
                   'for each statement execute function pglive.capture_insert(%L, %L, %L)', tbl, topic_name, hidden, jsonish);
    execute format('create trigger pglive_capture_update after update on %s referencing old table as pglive_old '
                   'new table as pglive_new for each statement execute function pglive.capture_update(%L, %L, %L)',
                   tbl, topic_name, hidden, jsonish);
    execute format('create trigger pglive_capture_delete after delete on %s referencing old table as pglive_old '
                   'for each statement execute function pglive.capture_delete(%L, %L, %L)', tbl, topic_name, hidden, jsonish);
    execute format('create trigger pglive_capture_truncate after truncate on %s '
                   'for each statement execute function pglive.capture_truncate(%L)', tbl, topic_name);

    insert into pglive.outbox (topic, op, new_rows)
    values (topic_name, 'C', jsonb_build_object('action', 'attach', 'topic', topic_name));
    perform pglive.wake();
    if widened is not null then
        raise warning 'attach %: column(s) % were hidden and are now streamed to subscribers',
            tbl, array_to_string(widened, ', ');
    end if;
    return topic_name;
end
$$;

create or replace function pglive.detach(tbl regclass) returns text
language plpgsql as $$
declare
    topic_name text;
begin
    delete from pglive.tables where relid = tbl returning topic into topic_name;
    if topic_name is null then
        raise exception 'detach %: the table is not attached', tbl using errcode = 'undefined_object';
    end if;
    execute format('drop trigger if exists pglive_capture_insert on %s', tbl);
    execute format('drop trigger if exists pglive_capture_update on %s', tbl);
    execute format('drop trigger if exists pglive_capture_delete on %s', tbl);
    execute format('drop trigger if exists pglive_capture_truncate on %s', tbl);
    insert into pglive.outbox (topic, op, new_rows)
    values (topic_name, 'C', jsonb_build_object('action', 'detach', 'topic', topic_name));
    perform pglive.wake();
    return topic_name;
end
$$;

-- ============================================================ sequencer
-- The sequencer. Gives every committed, not yet sequenced transaction of the outbox the next
-- position, and returns how many it sequenced. Call it in its own READ COMMITTED transaction
-- (an autocommit statement); it sets that transaction's synchronous_commit itself.
--
-- * The advisory lock is held until commit, so one sequencer runs at a time across all nodes
--   and positions become visible in order: a reader of `position > P` never skips one.
-- * Each statement below takes a fresh snapshot (READ COMMITTED, volatile function), so the
--   insert sees everything committed before the lock was granted.
-- * Watermark: a transaction not visible to the previous run was still in progress then, so
--   its xid >= that run's snapshot xmin (or it started later, with a larger xid): scanning
--   xid >= watermark finds every unsequenced transaction without scanning the whole outbox.
-- * Order by max(seq): a writer that waited on another's row lock captured after the other
--   committed, so conflicting transactions get positions in their commit order.
-- * Epochs (docs/DESIGN.md, "Epochs: the sequencer commits asynchronously"): a normal run
--   commits with synchronous_commit off (no WAL flush on the latency path). A crash may then
--   lose a suffix of runs, all of the current epoch e; pglive.live_epoch, unlogged, is empty
--   after any crash recovery, and the next run starts epoch e + 1 durably, at base (e+1) << 40,
--   above every position epoch e handed out, recording what survived (durable_before).
--
-- The planner cannot estimate `xid >= w` (xid8 has no range statistics: it assumes a third of
-- the table) and then scans the whole outbox and hashes the whole tx table: 4-16 ms per run
-- with 20,000 rows, against 0.15 ms for the index plan, and growing with retention. The
-- function forbids the scans it never wants (and JIT, which the forbidden scans' costs would
-- otherwise trigger on the one-row state table: 24 ms). The same misestimate made every
-- generic plan look dearer than a custom one, so plpgsql planned the insert again at every run
-- (0.12 of a run's 0.28 ms): the plan is forced generic (it is the index plan either way).
create or replace function pglive.sequence() returns bigint
language plpgsql security definer set search_path = pg_catalog, pglive, pg_temp
set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set jit = off
set plan_cache_mode = force_generic_plan
as $$
declare
    w xid8;
    new_w xid8;
    n bigint;
    e bigint;
    live bigint;
    last bigint;
    d bigint;
    base bigint;
begin
    perform pg_advisory_xact_lock(pglive.lock_sequencer());
    select watermark, epoch into w, e from pglive.state;
    select l.epoch into live from pglive.live_epoch l limit 1;
    select last_value into last from pglive.position_seq;
    if live is distinct from e or last >= ((e + 1) << 40) - (1::bigint << 32) then
        -- A crash emptied live_epoch (or this is the first run since install): what a crash
        -- can have lost is a suffix of asynchronous runs of epoch e. Or epoch e is nearly used
        -- up. Start epoch e + 1, durably, above everything e handed out.
        select greatest(coalesce(max(t.position), 0), (select pruned_upto from pglive.state))
            into d from pglive.tx t;
        base := (e + 1) << 40;
        if base <= d then
            raise exception 'pglive: position % is at or above the next epoch''s base %: corrupt sequencer state', d, base;
        end if;
        perform setval('pglive.position_seq', base, false);
        insert into pglive.epochs (epoch, base, durable_before) values (e + 1, base, d);
        update pglive.state set epoch = e + 1;
        delete from pglive.live_epoch;
        insert into pglive.live_epoch (epoch) values (e + 1);
        perform set_config('synchronous_commit', 'on', true);
        -- The watermark read above may be one a lost run wrote: scan the whole outbox once.
        -- (After a real crash the watermark is lost with the runs that advanced it; this makes
        -- the epoch start independent of that.)
        w := '0'::xid8;
    else
        perform set_config('synchronous_commit', 'off', true);
    end if;
    new_w := pg_snapshot_xmin(pg_current_snapshot());
    insert into pglive.tx (position, xid, ts)
    select nextval('pglive.position_seq'), q.xid, q.ts
    from (select o.xid, max(o.ts) as ts, max(o.seq) as last_seq
          from pglive.outbox o
          where o.xid >= w and not exists (select 1 from pglive.tx t where t.xid = o.xid)
          group by o.xid) q
    order by q.last_seq;
    get diagnostics n = row_count;
    -- Only when this run wrote anyway: an idle run then stays read-only (no xid, no WAL flush).
    -- Updating it every run would itself advance xmin and make every run write.
    if n > 0 and new_w > w then
        update pglive.state set watermark = new_w;
    end if;
    return n;
end
$$;

-- The epochs started after `after` (pglive.epochs, which a serve role granted before it
-- existed cannot read directly).
create or replace function pglive.epochs_after(after bigint)
returns table (epoch bigint, base bigint, durable_before bigint)
language sql stable security definer set search_path = pg_catalog, pglive, pg_temp
as $$
    select e.epoch, e.base, e.durable_before from pglive.epochs e where e.epoch > after order by e.epoch
$$;

-- The listener's pass in one round trip: sequence(), then the first batch of whole
-- transactions after `after` (at most max_tx), the columns of the listener's batch read
-- (src/capture/outbox.cpp, outbox_select_list, then pruned_upto and epoch under the batch's own
-- snapshot). The first row is a header (o_position null) with pruned_upto and epoch as a
-- statement after the run saw them, and o_doorbell: whether the caller held the doorbell while
-- the batch was read. With release_doorbell, a listener that held the doorbell while asleep
-- releases it when the batch is not empty (it is awake and reading: writers may skip the NOTIFY
-- again). With doze_ms (and not release_doorbell), the pass first takes the doorbell as
-- pglive.doze(doze_ms) does, then sequences and reads: a listener whose last pass found nothing
-- is asleep after this one statement (holding the doorbell when the batch is empty) instead of
-- two (doze, then a pass for what writers that skipped the NOTIFY committed meanwhile).
-- * Reading in the sequencer's own transaction is the same as reading after its commit: runs
--   are serialized by the advisory lock, so every position at or below this run's are this
--   run's or committed by an earlier run; the caller delivers nothing before the statement
--   (and so the commit) returned. A commit that fails returns an error instead of the rows.
-- * The doze comes before sequence() takes the sequencer's lock, so a listener waiting for
--   writers never holds up another node's sequencer. A writer that skipped the NOTIFY holds the
--   doorbell shared until its commit is visible (a transaction's locks go after it is marked
--   committed), so the sequencer's statements, each with a fresh snapshot, see it.
-- * SECURITY INVOKER, granted to public: it gives no right the caller lacks (reading
--   pglive.tx and pglive.outbox, executing sequence() and doze()).
-- * Its plans are sequence()'s kind (see there): positions from tx's index, an index probe of
--   the outbox per transaction, planned once (generic) instead of at every pass.
create or replace function pglive.sequence_read(after bigint, max_tx int, release_doorbell boolean, doze_ms int)
returns table (o_position bigint, o_xid text, o_ts text, o_topic text, o_op text, o_old_rows text,
               o_new_rows text, o_key text, o_pruned_upto bigint, o_epoch bigint, o_doorbell boolean)
language plpgsql set search_path = pg_catalog, pglive, pg_temp set jit = off
set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set plan_cache_mode = force_generic_plan
as $$
declare
    holding boolean := coalesce(release_doorbell, false);
begin
    if doze_ms is not null and not holding then
        holding := pglive.doze(doze_ms);
    end if;
    perform pglive.sequence();
    return query select null::bigint, null::text, null::text, null::text, null::text, null::text, null::text,
                        null::text, s.pruned_upto, s.epoch, holding from pglive.state s;
    return query
        select t.position, t.xid::text, to_char(t.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               o.topic, o.op::text, o.old_rows::text, o.new_rows::text,
               case when o.op = 'U' then (select to_jsonb(c.key)::text from pglive.tables c where c.topic = o.topic) end,
               (select s.pruned_upto from pglive.state s), (select s.epoch from pglive.state s), null::boolean
        from (select x.position, x.xid, x.ts from pglive.tx x where x.position > after
              order by x.position limit max_tx) t
        cross join lateral (select b.* from pglive.outbox b where b.xid = t.xid order by b.seq) o
        order by t.position, o.seq;
    if holding and found then
        perform pg_advisory_unlock(pglive.lock_doorbell());
    end if;
end
$$;

-- The pass of serve binaries before doze_ms (one statement: a node still running one while
-- another has installed this schema keeps reading the same way).
create or replace function pglive.sequence_read(after bigint, max_tx int, release_doorbell boolean)
returns table (o_position bigint, o_xid text, o_ts text, o_topic text, o_op text, o_old_rows text,
               o_new_rows text, o_key text, o_pruned_upto bigint, o_epoch bigint)
language sql set search_path = pg_catalog, pglive, pg_temp
as $$
    select r.o_position, r.o_xid, r.o_ts, r.o_topic, r.o_op, r.o_old_rows, r.o_new_rows, r.o_key, r.o_pruned_upto, r.o_epoch
    from pglive.sequence_read(after, max_tx, release_doorbell, null) r
$$;

-- Seconds since the oldest change not yet given a position (0 when none): what sequence()
-- would take next, read with its plan.
create or replace function pglive.capture_lag_seconds() returns float8
language sql stable security definer set search_path = pg_catalog, pglive, pg_temp
set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off set jit = off
as $$
    select coalesce((select extract(epoch from now() - min(o.ts))::float8
                     from pglive.outbox o
                     where o.xid >= (select watermark from pglive.state)
                       and not exists (select 1 from pglive.tx t where t.xid = o.xid)), 0)
$$;

-- ============================================================ retention
create or replace function pglive.beat(node text, delivered bigint) returns void
language sql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
    insert into pglive.nodes (node_id, delivered, beat_at) values (node, delivered, now())
    on conflict (node_id) do update set delivered = greatest(pglive.nodes.delivered, excluded.delivered),
                                        beat_at = excluded.beat_at
$$;

-- A node that stops cleanly leaves at once instead of holding retention until its timeout.
create or replace function pglive.leave(node text) returns void
language sql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
    delete from pglive.nodes where node_id = node
$$;

-- Retention: removes sequenced transactions older than keep_age, and all but the newest
-- keep_count (null disables either bound), but never one that a node which beat within
-- node_timeout (null: any registered node) has not delivered. Records the highest removed
-- position, so a resume from before it is known to be incomplete, and forgets nodes that no
-- longer hold anything.
-- * By age: positions in order up to the first transaction younger than keep_age (an index range
--   over what is removed; pglive.tx has no index on ts, and a scan of it under the sequencer's
--   lock stalled every delivery). A younger transaction is never removed, even behind an older
--   one (a long transaction's ts is its capture's, older than commits sequenced before it): the
--   older one waits until the younger is old too.
-- * pglive.prune_step removes at most max_tx transactions a call (null: all), so the sequencer's
--   lock (delivery waits for it) is held for milliseconds, not for a whole interval's backlog:
--   serve calls it again while a call removes max_tx (capture/admin.cpp). pglive.prune is the
--   unbounded call.
create or replace function pglive.prune_step(keep_age interval, keep_count bigint, node_timeout interval, max_tx bigint)
returns bigint
language plpgsql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
declare
    upto bigint := 0;
    young bigint;
    held bigint;
    n bigint;
begin
    perform pg_advisory_xact_lock(pglive.lock_sequencer());
    if keep_age is not null then
        -- The bound is a position that exists (the last one before the first young transaction):
        -- pruned_upto then never claims positions that were never removed.
        select t.position into young from pglive.tx t where t.ts >= now() - keep_age order by t.position limit 1;
        if young is null then
            select coalesce(max(t.position), 0) into upto from pglive.tx t;
        else
            select coalesce(max(t.position), 0) into upto from pglive.tx t where t.position < young;
        end if;
    end if;
    if keep_count is not null then
        select greatest(upto, coalesce((select position from pglive.tx order by position desc
                                        offset keep_count limit 1), 0)) into upto;
    end if;
    if node_timeout is not null then
        delete from pglive.nodes where beat_at < now() - node_timeout;
    end if;
    select min(delivered) into held from pglive.nodes;
    if held is not null then
        upto := least(upto, held);
    end if;
    if max_tx is not null and max_tx > 0 then
        upto := least(upto, coalesce((select t.position from pglive.tx t order by t.position offset max_tx - 1 limit 1), upto));
    end if;
    if upto <= 0 then
        return 0;
    end if;
    delete from pglive.outbox o using pglive.tx t where t.xid = o.xid and t.position <= upto;
    delete from pglive.tx where position <= upto;
    get diagnostics n = row_count;
    update pglive.state set pruned_upto = greatest(pruned_upto, upto);
    return n;
end
$$;

-- The two-argument form of older pglive versions, with the default node timeout of 30 s.
create or replace function pglive.prune(keep_age interval, keep_count bigint, node_timeout interval) returns bigint
language sql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
    select pglive.prune_step(keep_age, keep_count, node_timeout, null)
$$;

create or replace function pglive.prune(keep_age interval, keep_count bigint) returns bigint
language sql
security definer set search_path = pg_catalog, pglive, pg_temp
as $$
    select pglive.prune(keep_age, keep_count, interval '30 seconds')
$$;

-- ============================================================ privileges
-- Least privilege (README: "Roles"). The capture functions run as the schema's owner
-- (SECURITY DEFINER, search_path pinned), so an application role needs no right on schema
-- pglive to write an attached table, and no application role may write pglive's tables: a
-- role that could would forge changes for every subscriber. The server's functions run as the
-- owner too, so `serve` needs only what pglive.grant_serve gives: reading pglive's tables and
-- calling those functions (plus SELECT on each attached table, for loads).
revoke all on schema pglive from public;
revoke all on all tables in schema pglive from public;
revoke all on all sequences in schema pglive from public;
revoke execute on all functions in schema pglive from public;
-- attach and detach run with their caller's rights (creating triggers needs the table's
-- owner or its TRIGGER privilege, and writing pglive.tables the schema owner's grant).
grant execute on function pglive.attach(regclass, text[], text[], text[], text), pglive.detach(regclass) to public;
grant execute on function pglive.check_policy(regclass, text) to public;
-- json_null_columns reads only the catalog and the lock_*() functions are constants: a serve
-- role granted before they existed (grant_serve) still uses them.
grant execute on function pglive.json_null_columns(oid, text) to public;
grant execute on function pglive.lock_sequencer(), pglive.lock_install(), pglive.lock_doorbell() to public;
grant execute on function pglive.epochs_after(bigint) to public;
-- SECURITY INVOKER: a caller without pglive's read grants and sequence() gets an error, nothing more.
grant execute on function pglive.sequence_read(bigint, int, boolean) to public;
grant execute on function pglive.sequence_read(bigint, int, boolean, int) to public;

create or replace function pglive.grant_serve(r regrole) returns void
language plpgsql as $$
begin
    execute format('grant usage on schema pglive to %s', r);
    execute format('grant select on all tables in schema pglive to %s', r);
    execute format('grant execute on function pglive.sequence(), pglive.capture_lag_seconds(), pglive.doze(int), '
                   'pglive.wake(), pglive.set_wakeup(text), pglive.publish(text, jsonb), pglive.beat(text, bigint), '
                   'pglive.leave(text), pglive.prune(interval, bigint, interval), pglive.prune(interval, bigint), '
                   'pglive.prune_step(interval, bigint, interval, bigint), '
                   'pglive.hidden_columns(oid), pglive.exposed_columns(oid) to %s', r);
end
$$;
revoke execute on function pglive.grant_serve(regrole) from public;

-- An upgrade keeps every serve role whole: a role granted before this version (it may execute
-- sequence()) also gets what this version added (new tables, new functions such as prune_step).
do $regrant$
declare
    r regrole;
begin
    for r in
        select distinct a.grantee::regrole from pg_proc p, aclexplode(p.proacl) a
        where p.oid = 'pglive.sequence()'::regprocedure and a.privilege_type = 'EXECUTE'
          and a.grantee <> p.proowner and a.grantee <> 0
    loop
        perform pglive.grant_serve(r);
    end loop;
end
$regrant$;

-- ============================================================ upgrade
-- Tables attached by an older pglive whose triggers do not yet leave out SQL NULL json/jsonb
-- columns (the third trigger argument) are attached again, keeping their settings.
do $upgrade$
declare
    rel oid;
begin
    for rel in
        select t.relid from pglive.tables t
        join pg_trigger g on g.tgrelid = t.relid and g.tgname = 'pglive_capture_insert'
        where g.tgnargs < 3 and pglive.json_null_columns(t.relid, 'r') is not null
    loop
        perform pglive.attach(rel::regclass);
    end loop;
end
$upgrade$;
