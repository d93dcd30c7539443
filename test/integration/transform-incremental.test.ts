import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { runTransform, type TransformResult } from '../../pipelines/transform/run-transform.ts'
import { ROI_FIXTURE_STATEMENTS } from '../fixtures/transform/roi-fixture.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/** Built only incrementally after the first build (as every night). */
const INCREMENTAL_SCHEMA = 'analytics'
/** Built whole every time (`--full-refresh`): what the incremental schema must equal. */
const FULL_SCHEMA = 'analytics_full'

/**
 * Loads as the sync writes them (sql/upsert_changed_orders.sql, mark_removed_orders.sql,
 * mark_seen_orders.sql, delete_changed_children.sql, upsert_ad_spend.sql): a new or changed
 * deal gets last_changed_at = now(), a removed one removed_from_source_at = now(), one back
 * after removal last_seen_at = now().
 */
const LOADS: readonly (readonly string[])[] = [
  // A new deal on a day without deals, and a changed amount.
  [
    `insert into calltouch.orders (site_id, order_number, order_day, order_date, completed_date, status, manager, service,
       source_type, planned_amount, completed_amount, is_deleted, payload_hash, first_seen_at, last_changed_at, last_seen_at)
     values (101, 'd8', '2026-01-07', '2026-01-07 10:00:00+03', '2026-01-08', 'final', 'Olga', 'AmoCRM', 'CALL', null,
       '420.00', false, 'v1', now(), now(), now())`,
    `insert into calltouch.visits (site_id, order_number, source, medium, utm_source, utm_medium, utm_campaign)
     values (101, 'd8', 'google', 'cpc', 'google', 'cpc', 'generic')`,
    `update calltouch.orders set completed_amount = 1100.00, payload_hash = 'v2', last_changed_at = now()
     where site_id = 101 and order_number = 'd1'`,
  ],
  // A deal moves day and channel, one is removed from the source, the removed one comes back.
  [
    `update calltouch.orders set order_day = '2026-02-03', order_date = '2026-02-03 11:00:00+03', payload_hash = 'v2',
       last_changed_at = now() where site_id = 101 and order_number = 'd3'`,
    `update calltouch.visits set utm_source = 'vk', utm_medium = 'social', utm_campaign = 'spring'
     where site_id = 101 and order_number = 'd3'`,
    `update calltouch.orders set removed_from_source_at = now() where site_id = 101 and order_number = 'd4'`,
    `update calltouch.orders set removed_from_source_at = null, last_seen_at = now() where site_id = 101 and order_number = 'd6'`,
  ],
  // Tags and custom values of a deal replaced with its new version; a deal deleted in the CRM.
  [
    `delete from calltouch.tags where site_id = 102 and order_number = 'e1'`,
    `insert into calltouch.tags (site_id, order_number, tag) values (102, 'e1', 'vip')`,
    `delete from calltouch.custom_fields where site_id = 101 and order_number = 'd1'`,
    `update calltouch.orders set payload_hash = 'v3', last_changed_at = now() where site_id in (101, 102) and order_number in ('d1', 'e1')`,
    `update calltouch.orders set is_deleted = true, payload_hash = 'v2', last_changed_at = now()
     where site_id = 101 and order_number = 'd7'`,
  ],
]

/** Every table of a schema, every row as text, in order: equal means identical row by row. */
async function martsOf(tw: TestWarehouse, schema: string): Promise<Record<string, string[]>> {
  const tables = await executeSql<{ name: string }>(
    tw.warehouse.db,
    `select table_name as name from information_schema.tables
     where table_schema = $1 and table_type = 'BASE TABLE' order by table_name`,
    [schema],
  )
  const marts: Record<string, string[]> = {}
  for (const { name } of tables) {
    const rows = await executeSql<{ row: string }>(
      tw.warehouse.db,
      `select t::text as row from "${schema}"."${name}" t order by 1`,
    )
    marts[name] = rows.map((row) => row.row)
  }
  return marts
}

const modesOf = (result: TransformResult): Record<string, string | null> =>
  Object.fromEntries(
    result.models.filter((model) => model.materialized === 'incremental').map((model) => [model.name, model.mode]),
  )

describeEachEngine('incremental transform after loads with changes', (engine) => {
  let tw: TestWarehouse
  const builds: { incremental: TransformResult; full: TransformResult }[] = []
  const compared: { incremental: Record<string, string[]>; full: Record<string, string[]> }[] = []

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    for (const statement of ROI_FIXTURE_STATEMENTS) await executeSql(tw.warehouse.db, statement)
    for (const load of [[], ...LOADS]) {
      for (const statement of load) await executeSql(tw.warehouse.db, statement)
      const incremental = await runTransform(tw.warehouse.db, { targetSchema: INCREMENTAL_SCHEMA })
      const full = await runTransform(tw.warehouse.db, {
        targetSchema: FULL_SCHEMA,
        fullRefresh: true,
        runTests: false,
      })
      builds.push({ incremental, full })
      compared.push({ incremental: await martsOf(tw, INCREMENTAL_SCHEMA), full: await martsOf(tw, FULL_SCHEMA) })
    }
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('builds the incremental marts whole the first time, and only what changed after each load', () => {
    expect(builds.map((build) => modesOf(build.incremental))).toEqual([
      { fct_deals: 'full' },
      { fct_deals: 'incremental' },
      { fct_deals: 'incremental' },
      { fct_deals: 'incremental' },
    ])
    expect(builds.map((build) => modesOf(build.full))).toEqual(Array(4).fill({ fct_deals: 'full' }))
  })

  it('passes every data and unit test of the project on the incremental marts after every load', () => {
    expect(builds.map((build) => [build.incremental.ok, build.incremental.testsFailed])).toEqual(
      Array(4).fill([true, 0]),
    )
  })

  it('gives marts identical row by row to a full build after every load', () => {
    for (const { incremental, full } of compared) expect(incremental).toEqual(full)
    // Every mart of the project: fct_deals, the daily, monthly and lead marts.
    expect(Object.keys(compared[0]?.incremental ?? {}).length).toBe(9)
  })

  it('sees every change: the deals after the last load as computed by hand', async () => {
    const rows = await executeSql<{ row: string }>(
      tw.warehouse.db,
      `select concat_ws(' ', deal_key, deal_day, utm_source, utm_medium, utm_campaign, revenue, is_counted, tags,
         custom_field_count) as row from analytics.fct_deals order by deal_key`,
    )
    expect(rows.map((row) => row.row)).toEqual([
      '101:d1 2026-01-05 yandex cpc brand 1100.00 t repeat, vip 0',
      '101:d2 2026-01-05 yandex cpc brand 0 t 0',
      '101:d3 2026-02-03 vk social spring 300.00 t 0',
      '101:d4 2026-01-06 (none) (none) (none) 0 f 0',
      '101:d5 2026-01-06 yandex cpc brand 0 f 0',
      '101:d6 2026-01-06 yandex cpc brand 100.00 t 0',
      '101:d7 2026-02-03 yandex cpc brand 0 f 0',
      '101:d8 2026-01-07 google cpc generic 420.00 t 0',
      '102:e1 2026-01-05 vk social spring 700.00 t vip 1',
    ])
  })
})
