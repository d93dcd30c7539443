import { executeSql, type WarehouseDb } from '../../warehouse/connection.ts'

/**
 * The two staging tables of a window load. Temporary (no WAL, invisible to other sessions, so
 * windows can load side by side on a pool), created once per connection and emptied at every
 * commit or rollback: `on commit delete rows` costs far less than creating a table per window.
 *
 * - load_records: the window's distinct in-window records, one per orderNumber once
 *   delete_superseded_records has run (records without one have a null key and are each kept, to
 *   be rejected), with the day their orderDate names ('YYYY-MM-DD' text: an impossible day like
 *   2026-02-31 is still a day of the window), the payload hash, and the page and place it was read
 *   at. No unique key: staging by plain insert and removing the rare repeat afterwards costs far
 *   less than ON CONFLICT on every record.
 * - load_changes: the records that differ from the warehouse's version, each with its reason
 *   for rejection or its converted values. Only a rejected record's payload is copied here (it may
 *   have no orderNumber to find it by); the others are read from load_records by orderNumber:
 *   copying ~1 KB a deal from one temporary table to another cost more than the joins.
 * - load_contacts: the keyed hashes of the window's contacts, computed by the loader
 *   (contact-protection.ts), looked up when the contact mode is applied to load_records.
 *
 * Their keys compare byte by byte (collation "C"), as the warehouse's order_number columns do
 * (migration 20261129170000): a key of another collation would compare through the locale, and
 * the index on load_records would not serve comparisons with the warehouse's keys.
 */
const STAGING_TEMP_BUFFERS = '64MB'

const STAGING_TABLES = [
  `create temp table if not exists load_records (
    order_number text collate "C",
    record jsonb not null,
    record_day text,
    payload_hash text not null,
    page_no integer not null,
    record_no bigint not null,
    client_key text
  ) on commit delete rows`,
  // Not unique (see above), but an index all the same: the warehouse's statistics lag behind a bulk
  // load, and when the planner takes the window's days of calltouch.orders for a handful of rows, it
  // probes load_records once a deal; without an index each probe would read all of it.
  `create index if not exists load_records_order_number on load_records (order_number)`,
  `create temp table if not exists load_changes (
    order_number text collate "C",
    record jsonb,
    payload_hash text not null,
    existed boolean not null,
    reason text,
    order_id bigint,
    order_date timestamptz,
    order_day date,
    created_date date,
    completed_date date,
    planned_amount numeric(18, 2),
    completed_amount numeric(18, 2),
    call_id bigint,
    duration_seconds integer,
    call_time timestamptz,
    visit_time timestamptz
  ) on commit delete rows`,
  `create temp table if not exists load_contacts (
    kind text not null,
    value text not null,
    hashed text not null,
    client_key text,
    primary key (kind, value)
  ) on commit delete rows`,
] as const

/**
 * Settings of the load transaction. A window's staged records (~1 KB each, ~5,000 a window) are
 * sorted and hashed in memory instead of spilling to temporary files, and the staging tables fit in
 * the session's buffers for temporary tables. Those buffers can only be sized before the session
 * first uses a temporary table (https://www.postgresql.org/docs/current/runtime-config-resource.html#GUC-TEMP-BUFFERS),
 * so a session that already did keeps its size.
 * Memoize is off: the checks of stage_changed_records run once a record, so its cache never hits.
 * (JIT is off for every session: see connection.ts.)
 */
const LOAD_SETTINGS = [
  `set local work_mem = '64MB'`,
  `set local enable_memoize = off`,
  `do $$ begin
    if current_setting('temp_buffers') <> '${STAGING_TEMP_BUFFERS}' then perform set_config('temp_buffers', '${STAGING_TEMP_BUFFERS}', false); end if;
  exception when invalid_parameter_value then null;
  end $$`,
] as const

/** Makes sure this transaction's connection has the (empty) staging tables. */
export async function prepareLoadStaging(trx: WarehouseDb): Promise<void> {
  for (const statement of LOAD_SETTINGS) await executeSql(trx, statement)
  for (const statement of STAGING_TABLES) await executeSql(trx, statement)
}
