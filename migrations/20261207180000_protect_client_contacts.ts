import { sql, type Kysely } from 'kysely'

// Frozen once landed: later changes go into new migrations.
//
// Client contacts (phones, names, the caller's number) are personal data: the Metabase role
// `calltouch_metabase` now reads the marts in `analytics` only. It loses schema `calltouch` (which
// holds client_phones, client_fio and caller_phone in mode keep) and its default privileges
// there; the staging and intermediate views move to `analytics_staging` (dbt `+schema: staging`),
// where it was never granted anything, and the copies left in `analytics` by earlier transforms
// are dropped here (the next transform builds them in their new schema).
//
// calltouch.orders gains client_key, the keyed hash of the client's normalized phone, so the
// marts can count clients without a contact. etl.contact_protection records the contact mode
// (CALLTOUCH_ETL_PII) and the key's fingerprint the warehouse's data was loaded under, so that a
// load under another mode or key is refused instead of mixing them silently.

const ROLE = 'calltouch_metabase'

const UP = [
  `alter table calltouch.orders add column client_key text`,
  `comment on column calltouch.orders.client_key is 'HMAC-SHA256 (hex) of the client''s normalized phone under the PII key: one client across deals, no contact; null when the deal has no phone or was loaded before client keys'`,
  `comment on column calltouch.orders.client_phones is 'Client phone numbers: as the API gives them (CALLTOUCH_ETL_PII=keep), their keyed hashes (hash), or null (drop)'`,
  `comment on column calltouch.orders.client_fio is 'Client name: as the API gives it (keep), its keyed hash (hash), or null (drop)'`,
  `comment on column calltouch.sources.caller_phone is 'The caller''s number, ani (calls): as the API gives it (keep), its keyed hash (hash), or null (drop)'`,
  `create index orders_client_key_idx on calltouch.orders (site_id, client_key)`,

  `create table etl.contact_protection (
    singleton boolean primary key default true check (singleton),
    mode text not null check (mode in ('keep', 'hash', 'drop')),
    key_fingerprint text not null,
    recorded_at timestamptz not null default now()
  )`,
  `comment on table etl.contact_protection is 'The contact mode (CALLTOUCH_ETL_PII) and PII key the warehouse''s deals were loaded under; one row, written by the first load'`,
  `comment on column etl.contact_protection.singleton is 'Always true: the table has one row'`,
  `comment on column etl.contact_protection.mode is 'keep, hash or drop: what the warehouse stores of client contacts'`,
  `comment on column etl.contact_protection.key_fingerprint is 'HMAC of a fixed text under the PII key (16 hex digits): tells the key apart, reveals nothing of it'`,
  `comment on column etl.contact_protection.recorded_at is 'When the mode and key were recorded'`,

  `do $migration$
  declare
    stale record;
  begin
    for stale in
      select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'analytics' and c.relkind = 'v' and (c.relname like 'stg\\_%' or c.relname like 'int\\_%')
    loop
      execute format('drop view if exists analytics.%I cascade', stale.relname);
    end loop;
    if not exists (select from pg_roles where rolname = '${ROLE}') then
      return;
    end if;
    alter default privileges in schema calltouch revoke select on tables from ${ROLE};
    revoke select on all tables in schema calltouch from ${ROLE};
    revoke usage on schema calltouch from ${ROLE};
    begin
      comment on role ${ROLE} is 'Read-only access for Metabase: select on the marts in schema analytics, nothing else (no client contacts); grant it to a login role (see README, Metabase)';
    exception when insufficient_privilege then
      -- a DBA created the role: its comment stays theirs
      null;
    end;
  end
  $migration$`,
]

const DOWN = [
  `do $migration$
  begin
    if not exists (select from pg_roles where rolname = '${ROLE}') then
      return;
    end if;
    grant usage on schema calltouch to ${ROLE};
    grant select on all tables in schema calltouch to ${ROLE};
    alter default privileges in schema calltouch grant select on tables to ${ROLE};
    comment on role ${ROLE} is 'Read-only access for Metabase: select on schemas analytics and calltouch, nothing else; grant it to a login role (see README, Metabase)';
  end
  $migration$`,
  `drop table if exists etl.contact_protection`,
  `drop index if exists calltouch.orders_client_key_idx`,
  `alter table calltouch.orders drop column if exists client_key`,
  `comment on column calltouch.orders.client_phones is 'Client phone numbers as the API gives them'`,
  `comment on column calltouch.orders.client_fio is 'Client name'`,
  `comment on column calltouch.sources.caller_phone is 'The caller''s number, ani (calls)'`,
]

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of UP) await sql.raw(statement).execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const statement of DOWN) await sql.raw(statement).execute(db)
}
