import { executeSql, type WarehouseDb } from '../../warehouse/connection.ts'

/**
 * The staging tables of a leads load, temporary and emptied at every commit or rollback, as the
 * deals' (calltouch-deals/load-staging.ts), shared by both journals:
 * - lead_records: the read's records, one per lead id (the last read), each with the site-local
 *   day its date names, the payload hash, the reason it cannot be loaded (null when it can), the
 *   client_key of its contact, and, for a record PostgreSQL refused (lead-isolation.ts), its text;
 * - lead_contacts: the keyed hashes of the read's contacts, computed by the loader (core/pii.ts).
 *   Looked up by value through a hash index, which holds a value of any length: a b-tree key
 *   refused a 3,000-character phone ("index row size exceeds btree maximum"), failing its read.
 */
const STAGING_TABLES = [
  `create temp table if not exists lead_records (
    lead_id text collate "C",
    record jsonb not null,
    lead_day date,
    payload_hash text not null,
    reason text,
    record_no bigint not null,
    client_key text,
    record_text text
  ) on commit delete rows`,
  `create temp table if not exists lead_contacts (
    kind text not null,
    value text not null,
    hashed text not null,
    client_key text
  ) on commit delete rows`,
  `create index if not exists lead_contacts_value on lead_contacts using hash (value)`,
] as const

/** Makes sure this transaction's connection has the (empty) staging tables. */
export async function prepareLeadStaging(trx: WarehouseDb): Promise<void> {
  for (const statement of STAGING_TABLES) await executeSql(trx, statement)
}
