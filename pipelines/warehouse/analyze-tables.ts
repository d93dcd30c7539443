import { executeSql, type WarehouseDb } from './connection.ts'

/** The schemas a sync writes and the models read. */
export const LOADED_SCHEMAS = ['calltouch', 'marketing'] as const

/**
 * Refreshes the planner's statistics of every table a sync loads. A first backfill fills
 * tables that autovacuum has not analyzed yet (and a server may run without it); the models'
 * joins of deals to leads were then planned as nested loops over "empty" tables: 86 s for
 * `fct_leads` over 7,769 deals, 0.1 s once analyzed. ANALYZE samples, so it stays cheap as
 * tables grow. The tables are analyzed side by side, one statement each, biggest first: on
 * PostgreSQL each takes a pool connection of its own (3 sites × 60 days of deals: 0.7 s instead
 * of 1.2-1.3 s one after the other on 2 cores); the embedded warehouse's one connection takes them
 * in turn.
 *
 * @example
 * await analyzeLoadedTables(warehouse.db) // after a sync, before a transform
 */
export async function analyzeLoadedTables(db: WarehouseDb): Promise<number> {
  const tables = await executeSql<{ name: string }>(
    db,
    `select format('%I.%I', schemaname, tablename) as name from pg_tables
     where schemaname = any($1::text[])
     order by pg_relation_size(format('%I.%I', schemaname, tablename)::regclass) desc, schemaname, tablename`,
    [LOADED_SCHEMAS],
  )
  // Every statement settles before the caller goes on (and closes the warehouse); the first failure is thrown.
  const settled = await Promise.allSettled(tables.map((table) => executeSql(db, `analyze ${table.name}`)))
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason
  return tables.length
}
