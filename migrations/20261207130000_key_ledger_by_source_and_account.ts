import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// The extraction ledger was Calltouch deals' alone (etl.site_days, keyed by site and day). The
// sources that come next (yandex-direct, vk-ads, calltouch-leads) read days of accounts too, and an
// account of theirs is a login or an id of any shape, so the ledger becomes etl.ledger, keyed by
// (source, account, day), with the same columns. Every row of etl.site_days moves over as source
// 'calltouch-deals', account = the site id as text.
//
// etl.site_days stays for one release as a view with its old columns over the deals' rows, so an
// operator's query or dashboard on it keeps working while it moves to etl.ledger. A view of the
// user's own that reads the old table would stop the table from being dropped: up then stops
// before changing anything and names those views (the migrator runs each migration in a
// transaction), rather than dropping them with cascade.

const SOURCE = 'calltouch-deals'

/** Comments of the columns the ledger keeps from etl.site_days. */
const KEPT_COLUMNS = {
  last_extracted_at: 'When the day was last read, successfully or not',
  run_id: 'The run that last read the day',
  status: 'ok when the last read loaded the day completely, failed otherwise',
  error: 'Why the last read failed (null when ok)',
  last_succeeded_at: 'When the day was last read completely; null if never',
  attempts: 'Reads of the day since it last succeeded, this one included',
}

/** The comments of etl.site_days's columns: the view keeps them, down restores them. */
const SITE_DAYS_COLUMNS = {
  site_id: 'Calltouch site id',
  day: "Site-local day of the deals' orderDate",
  records: 'Deals the API returned for the day at the last successful read',
  ...KEPT_COLUMNS,
}

const LEDGER_COLUMNS = {
  source: 'What was read: calltouch-deals (later yandex-direct, vk-ads, calltouch-leads)',
  account:
    'Whose data within the source: the Calltouch site id for calltouch-deals, an ad account login or id for ad sources',
  day: "Account-local day of the records (for calltouch-deals, the deals' orderDate)",
  records: 'Records the source returned for the day at the last successful read',
  ...KEPT_COLUMNS,
}

/** The columns of a ledger day, the same in etl.site_days and etl.ledger. */
const DAY_COLUMNS = `day date not null,
    last_extracted_at timestamptz not null,
    run_id bigint not null,
    records integer,
    status text not null check (status in ('ok', 'failed')),
    error text,
    last_succeeded_at timestamptz,
    attempts integer not null default 1`

function commentsOn(relation: string, comments: Record<string, string>): string[] {
  return Object.entries(comments).map(
    ([column, text]) => `comment on column ${relation}.${column} is '${text.replaceAll("'", "''")}'`,
  )
}

const UP = [
  `do $migration$
  declare
    readers text := (
      select string_agg(distinct format('%I.%I', n.nspname, c.relname), ', ')
      from pg_depend d
      join pg_rewrite r on r.oid = d.objid
      join pg_class c on c.oid = r.ev_class
      join pg_namespace n on n.oid = c.relnamespace
      where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass
        and d.refobjid = 'etl.site_days'::regclass and r.ev_class <> d.refobjid
    );
  begin
    if readers is not null then
      raise exception 'etl.site_days becomes etl.ledger, and these views read it: %. Save their definitions, drop them, run calltouch-etl migrate again, then create them again: etl.site_days remains as a view with the same columns', readers;
    end if;
  end
  $migration$`,

  `create table etl.ledger (
    source text not null check (source ~ '^[a-z][a-z0-9]*(-[a-z0-9]+)*$'),
    account text not null check (account <> ''),
    ${DAY_COLUMNS},
    primary key (source, account, day),
    -- A Calltouch site id is an integer (the view below casts it); a case, because only it fixes
    -- the order in which PostgreSQL evaluates the conditions.
    constraint ledger_site_id_check check (case
      when source <> '${SOURCE}' then true
      when account !~ '^-?[0-9]{1,10}$' then false
      else account::bigint between -2147483648 and 2147483647
    end)
  )`,
  `comment on table etl.ledger is 'The extraction ledger: one row per source, account and day read, saying when it was last read and what it held'`,
  ...commentsOn('etl.ledger', LEDGER_COLUMNS),

  `insert into etl.ledger (source, account, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts)
   select '${SOURCE}', site_id::text, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts
   from etl.site_days`,
  `drop table etl.site_days`,

  // The case keeps the cast off other sources' accounts whatever order the planner checks a
  // reader's conditions in.
  `create view etl.site_days as
   select case when source = '${SOURCE}' then account::integer end as site_id,
     day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts
   from etl.ledger
   where source = '${SOURCE}'`,
  `comment on view etl.site_days is 'Deprecated, removed in a later release: read etl.ledger where source = ''${SOURCE}'' (account is the site id as text). The Calltouch deals rows of the ledger with their old columns'`,
  ...commentsOn('etl.site_days', SITE_DAYS_COLUMNS),
]

// Back to the table of 20261129080000, as it was created there (names of its constraints included).
const DOWN = [
  `do $migration$
  declare
    others text := (select string_agg(distinct source, ', ') from etl.ledger where source <> '${SOURCE}');
  begin
    if others is not null then
      raise exception 'etl.ledger holds days of %, which etl.site_days before migration 20261207130000 cannot hold: delete them (delete from etl.ledger where source <> ''${SOURCE}'') to go back', others;
    end if;
  end
  $migration$`,
  `drop view etl.site_days`,
  `create table etl.site_days (
    site_id integer not null,
    ${DAY_COLUMNS},
    primary key (site_id, day)
  )`,
  `comment on table etl.site_days is 'The extraction ledger: one row per Calltouch site and deal day (orderDate, site-local), saying when it was last read'`,
  ...commentsOn('etl.site_days', SITE_DAYS_COLUMNS),
  `insert into etl.site_days (site_id, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts)
   select account::integer, day, last_extracted_at, run_id, records, status, error, last_succeeded_at, attempts
   from etl.ledger`,
  `drop table etl.ledger`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
