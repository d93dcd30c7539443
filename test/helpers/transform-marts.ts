/**
 * What the tests of incremental transforms compare: the marts of a schema row by row, and which
 * incremental models a build built whole or incrementally.
 */
import type { TransformResult } from '../../pipelines/transform/run-transform.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'

/** Built only incrementally after the first build (as every night). */
export const INCREMENTAL_SCHEMA = 'analytics'
/** Built whole every time (`--full-refresh`): what the incremental schema must equal. */
export const FULL_SCHEMA = 'analytics_full'

/** The incremental models of the project: the marts' change feeds, then the marts. */
export const INCREMENTAL_MODELS = [
  'fct_deal_custom_values',
  'fct_deals',
  'fct_funnel_daily',
  'fct_leads',
  'fct_manager_channel_monthly',
  'fct_marketing_daily',
  'int_deals_linked_to_leads',
  'int_lead_deals',
  'int_leads',
] as const

/** Every incremental model of the project built in `mode`, as {@link modesOf} gives it. */
export const everyModel = (mode: string): Record<string, string> =>
  Object.fromEntries(INCREMENTAL_MODELS.map((name) => [name, mode]))

/** How a build built each incremental model: 'full' or 'incremental'. */
export const modesOf = (result: TransformResult): Record<string, string | null> =>
  Object.fromEntries(
    result.models.filter((model) => model.materialized === 'incremental').map((model) => [model.name, model.mode]),
  )

/**
 * Every table of a schema, every row as text, rows in order: equal means identical row by row,
 * every column.
 *
 * @example
 * expect(await martsOf(db, INCREMENTAL_SCHEMA)).toEqual(await martsOf(db, FULL_SCHEMA))
 */
export async function martsOf(db: WarehouseDb, schema: string): Promise<Record<string, string[]>> {
  const tables = await executeSql<{ name: string }>(
    db,
    `select table_name as name from information_schema.tables
     where table_schema = $1 and table_type = 'BASE TABLE' order by table_name`,
    [schema],
  )
  const marts: Record<string, string[]> = {}
  for (const { name } of tables) {
    const rows = await executeSql<{ row: string }>(db, `select t::text as row from "${schema}"."${name}" t order by 1`)
    marts[name] = rows.map((row) => row.row)
  }
  return marts
}
