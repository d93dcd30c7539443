import { executeSql, type WarehouseDb } from '../warehouse/connection.ts'

/**
 * The two staging tables of a window load. Temporary (no WAL, invisible to other sessions, so
 * windows can load side by side on a pool), created once per connection and emptied at every
 * commit or rollback: `on commit delete rows` costs far less than creating a table per window.
 *
 * - load_records: the window's distinct in-window records, keyed by orderNumber (records
 *   without one have a null key and are each kept, to be rejected), with the day their
 *   orderDate names ('YYYY-MM-DD' text: an impossible day like 2026-02-31 is still a day of the
 *   window) and the payload hash.
 * - load_changes: the records that differ from the warehouse's version, each with its reason
 *   for rejection or its converted values.
 */
const STAGING_TABLES = [
  `create temp table if not exists load_records (
    order_number text unique,
    record jsonb not null,
    record_day text,
    payload_hash text not null
  ) on commit delete rows`,
  `create temp table if not exists load_changes (
    order_number text,
    record jsonb not null,
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
] as const

/** Makes sure this transaction's connection has the (empty) staging tables. */
export async function prepareLoadStaging(trx: WarehouseDb): Promise<void> {
  for (const statement of STAGING_TABLES) await executeSql(trx, statement)
}
