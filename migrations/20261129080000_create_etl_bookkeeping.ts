import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.

const UP = [
  `create schema if not exists raw`,
  `comment on schema raw is 'Every distinct version of every record exactly as the Calltouch API returned it'`,
  `create schema if not exists calltouch`,
  `comment on schema calltouch is 'Current state of Calltouch deals, normalized: orders, sources, visits, custom_fields, tags'`,
  `create schema if not exists marketing`,
  `comment on schema marketing is 'Marketing inputs from outside Calltouch, such as imported ad spend'`,
  `create schema if not exists etl`,
  `comment on schema etl is 'Bookkeeping of the pipeline: runs, the per-day extraction ledger, rejected records'`,
  `create schema if not exists analytics`,
  `comment on schema analytics is 'dbt models: staging views and the ROI marts read by Metabase'`,

  `create table etl.runs (
    run_id bigint generated always as identity primary key,
    command text not null,
    arguments jsonb not null default '{}',
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null default 'running' check (status in ('running', 'succeeded', 'partial', 'failed')),
    counters jsonb not null default '{}',
    error text,
    pid integer not null,
    hostname text not null
  )`,
  `comment on table etl.runs is 'One row per run of a calltouch-etl command'`,
  `comment on column etl.runs.run_id is 'Identifier of the run; log lines and ledger rows carry it'`,
  `comment on column etl.runs.command is 'The command that ran: sync, backfill, transform, spend import, ...'`,
  `comment on column etl.runs.arguments is 'Options the command ran with (never tokens)'`,
  `comment on column etl.runs.started_at is 'When the run started'`,
  `comment on column etl.runs.finished_at is 'When the run ended; null while running or when the process died'`,
  `comment on column etl.runs.status is 'running, succeeded, partial (some windows or sites failed) or failed'`,
  `comment on column etl.runs.counters is 'Counters of the run: requests, retries, records seen, changed, rejected, ...'`,
  `comment on column etl.runs.error is 'Why the run failed, one line (never tokens)'`,
  `comment on column etl.runs.pid is 'Process id of the run'`,
  `comment on column etl.runs.hostname is 'Host the run ran on'`,
  `create index runs_command_started_idx on etl.runs (command, started_at desc)`,

  `create table etl.site_days (
    site_id integer not null,
    day date not null,
    last_extracted_at timestamptz not null,
    run_id bigint not null,
    records integer,
    status text not null check (status in ('ok', 'failed')),
    error text,
    last_succeeded_at timestamptz,
    attempts integer not null default 1,
    primary key (site_id, day)
  )`,
  `comment on table etl.site_days is 'The extraction ledger: one row per Calltouch site and deal day (orderDate, site-local), saying when it was last read'`,
  `comment on column etl.site_days.site_id is 'Calltouch site id'`,
  `comment on column etl.site_days.day is 'Site-local day of the deals'' orderDate'`,
  `comment on column etl.site_days.last_extracted_at is 'When the day was last read, successfully or not'`,
  `comment on column etl.site_days.run_id is 'The run that last read the day'`,
  `comment on column etl.site_days.records is 'Deals the API returned for the day at the last successful read'`,
  `comment on column etl.site_days.status is 'ok when the last read loaded the day completely, failed otherwise'`,
  `comment on column etl.site_days.error is 'Why the last read failed (null when ok)'`,
  `comment on column etl.site_days.last_succeeded_at is 'When the day was last read completely; null if never'`,
  `comment on column etl.site_days.attempts is 'Reads of the day since it last succeeded, this one included'`,
]

const DOWN = [
  `drop table if exists etl.site_days`,
  `drop table if exists etl.runs`,
  `drop schema if exists analytics cascade`,
  `drop schema if exists marketing cascade`,
  `drop schema if exists calltouch cascade`,
  `drop schema if exists raw cascade`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  // The etl schema holds the migrator's own table, so it stays.
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
