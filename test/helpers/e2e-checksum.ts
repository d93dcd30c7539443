/**
 * Checksums of a warehouse's content, table by table, for the end-to-end
 * tests that prove two runs (one killed and faulted, one clean) end with the
 * same warehouse.
 */
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'

/** One table's fingerprint: rows and the md5 of every row's text, rows ordered. */
export interface TableChecksum {
  readonly rows: number
  readonly md5: string
}

/** When a normalized row was loaded, seen and found gone: only whether it is gone is compared. */
const LOAD_TIMES = {
  first_seen_at: null,
  last_changed_at: null,
  last_seen_at: null,
  removed_from_source_at: 'removed_from_source_at is not null',
} as const

/** Which run landed a raw version, when, and its identity (a rolled-back transaction burns ids). */
const LANDING = { raw_id: null, run_id: null, extracted_at: null } as const

/**
 * Columns that legitimately differ between two runs over the same data, and
 * what is compared instead. They record WHEN a run did something, not WHAT the
 * warehouse holds:
 * - calltouch.orders first_seen_at, last_changed_at, last_seen_at: wall-clock
 *   times of the loads (a killed run's retry loads later);
 * - calltouch.orders removed_from_source_at: the time of the read that found
 *   the deal gone, so only whether it is set is compared;
 * - raw.calltouch_orders raw_id (identity: a rolled-back transaction burns
 *   ids), run_id and extracted_at (which run landed the version, and when);
 * - the same columns of the leads: calltouch.calls and calltouch.requests
 *   (first_seen_at, last_changed_at, last_seen_at; removed_from_source_at as
 *   set or not), raw.calltouch_calls and raw.calltouch_requests (raw_id,
 *   run_id, extracted_at). Their tag tables hold no such column;
 * - analytics.fct_deals last_changed_at, when the mart has it: the greatest
 *   of the deal's load times above, which an incremental build reads from;
 *   likewise last_changed_at of the other incremental marts (the load times of
 *   the deals and leads in a row).
 */
const VOLATILE_COLUMNS: Readonly<Record<string, Readonly<Record<string, string | null>>>> = {
  'calltouch.orders': LOAD_TIMES,
  'calltouch.calls': LOAD_TIMES,
  'calltouch.requests': LOAD_TIMES,
  'raw.calltouch_orders': LANDING,
  'raw.calltouch_calls': LANDING,
  'raw.calltouch_requests': LANDING,
  // The incremental fct_deals keeps when its deals last changed (calltouch.orders' load times).
  'analytics.fct_deals': { last_changed_at: null },
  // So do the other incremental marts, of the deals and leads in a row.
  'analytics.fct_deal_custom_values': { last_changed_at: null },
  'analytics.fct_leads': { last_changed_at: null },
  'analytics.fct_marketing_daily': { last_changed_at: null },
  'analytics.fct_funnel_daily': { last_changed_at: null },
  'analytics.fct_manager_channel_monthly': { last_changed_at: null },
}

/** The schemas whose every table is compared: the loaded deals and leads, and the marts built from them. */
export const CONTENT_SCHEMAS = ['calltouch', 'analytics'] as const

interface ColumnRow {
  table_schema: string
  table_name: string
  column_name: string
}

/**
 * md5 of every row of every base table in `schemas` (default: calltouch.* and
 * the analytics marts; add 'raw' to compare the landed versions too), rows in
 * a total order, columns in table order except {@link VOLATILE_COLUMNS}.
 * Views are left out: they are queries over the tables compared.
 *
 * @example
 * expect(await warehouseChecksums(killed.db)).toEqual(await warehouseChecksums(clean.db))
 */
export async function warehouseChecksums(
  db: WarehouseDb,
  schemas: readonly string[] = CONTENT_SCHEMAS,
): Promise<Record<string, TableChecksum>> {
  const columns = await executeSql<ColumnRow>(
    db,
    `
    select c.table_schema, c.table_name, c.column_name
    from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where t.table_type = 'BASE TABLE' and c.table_schema = any($1::text[])
    order by c.table_schema, c.table_name, c.ordinal_position`,
    [schemas],
  )
  const tables = new Map<string, string[]>()
  for (const { table_schema, table_name, column_name } of columns) {
    const table = `${table_schema}.${table_name}`
    const replacement = VOLATILE_COLUMNS[table]?.[column_name]
    const expression = replacement === undefined ? quoteIdent(column_name) : replacement
    if (expression === null) continue
    tables.set(table, [...(tables.get(table) ?? []), expression])
  }
  const result: Record<string, TableChecksum> = {}
  for (const [table, expressions] of tables) {
    const [schema, name] = table.split('.') as [string, string]
    // A row's text is its values as a record literal: nulls and empty strings differ, and rows sort by it.
    const [row] = await executeSql<{ rows: number; md5: string }>(
      db,
      `
      select count(*)::integer as rows, md5(coalesce(string_agg(t.line, E'\\n' order by t.line collate "C"), '')) as md5
      from (select row(${expressions.join(', ')})::text as line from ${quoteIdent(schema)}.${quoteIdent(name)}) t`,
    )
    result[table] = { rows: row?.rows ?? 0, md5: row?.md5 ?? '' }
  }
  return result
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}
