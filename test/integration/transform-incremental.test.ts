import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { compileProject } from '../../pipelines/transform/compile-project.ts'
import type { DbtProject } from '../../pipelines/transform/dbt-project.ts'
import { buildTransform, runTransform, type TransformResult } from '../../pipelines/transform/run-transform.ts'
import { ROI_FIXTURE_STATEMENTS } from '../fixtures/transform/roi-fixture.ts'
import { everyModel, FULL_SCHEMA, INCREMENTAL_SCHEMA, martsOf, modesOf } from '../helpers/transform-marts.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/** A call as the calls loader writes it (write_changed_calls.sql): a new version moves last_changed_at. */
const call = (id: number, day: string, utm: string, flags = 'true, false') =>
  `insert into calltouch.calls (site_id, call_id, call_local_time, call_day, unique_call, target_call, source, medium,
     utm_source, utm_medium, utm_campaign, payload_hash, first_seen_at, last_changed_at, last_seen_at)
   values (101, ${id}, '${day} 10:00:00', '${day}', ${flags}, 'yandex', 'cpc', ${utm}, 'v1', now(), now(), now())`

/**
 * Besides the hand-computed deals and spend of the ROI fixture (site 101: d1..d7, site 102: e1): two
 * calls and a request of site 101 (call 5001 is d1's, request 6001 numbered R-1 is d2's, call 5002 has
 * no deal yet), d10 alone on 2026-01-20 and d11 alone in March (days and a month without spend), and
 * a Yandex Direct account of site 101 whose deals carry campaign names: campaign 77 'Brand' spends
 * 123.45 on 2026-01-05, a day the account read completely (so the CSV yandex/cpc rows of that day
 * are left out).
 */
const BASE: readonly string[] = [
  ...ROI_FIXTURE_STATEMENTS,
  `insert into calltouch.orders (site_id, order_number, order_day, order_date, status, manager, source_type,
     completed_amount, is_deleted, payload_hash, first_seen_at, last_changed_at, last_seen_at)
   values (101, 'd10', '2026-01-20', '2026-01-20 10:00:00+03', 'final', 'Anna', 'CALL', '70.00', false, 'v1', now(), now(), now()),
     (101, 'd11', '2026-03-15', '2026-03-15 10:00:00+03', 'final', 'Olga', 'CALL', '90.00', false, 'v1', now(), now(), now())`,
  `insert into calltouch.visits (site_id, order_number, source, medium, utm_source, utm_medium, utm_campaign)
   values (101, 'd10', 'yandex', 'cpc', 'yandex', 'cpc', 'brand'), (101, 'd11', 'vk', 'social', 'vk', 'social', 'spring')`,
  `update calltouch.sources set request_number = 'R-1' where site_id = 101 and order_number = 'd2'`,
  call(5001, '2026-01-05', `'yandex', 'cpc', 'brand'`, 'true, true'),
  call(5002, '2026-01-06', `'google', 'cpc', 'generic'`),
  `insert into calltouch.requests (site_id, request_id, request_number, request_local_time, request_day, unique_request,
     target_request, source, medium, utm_source, utm_medium, utm_campaign, payload_hash, first_seen_at, last_changed_at, last_seen_at)
   values (101, 6001, 'R-1', '2026-01-05 11:00:00', '2026-01-05', true, true, 'yandex', 'cpc', 'yandex', 'cpc', 'brand',
     'v1', now(), now(), now())`,
  `insert into marketing.ad_accounts (source_system, account, site_id, utm_source, utm_medium, utm_campaign_holds, currency)
   values ('yandex-direct', 'login-101', 101, 'yandex', 'cpc', 'name', 'RUB')`,
  `insert into marketing.ad_campaign_stats (source_system, account, site_id, stat_date, campaign_id, campaign_name, impressions,
     clicks, cost_micros, currency, includes_vat, run_id)
   values ('yandex-direct', 'login-101', 101, '2026-01-05', 77, 'Brand', 1000, 40, 123450000, 'RUB', false, 1)`,
  `insert into marketing.ad_campaign_names (source_system, account, campaign_id, campaign_name)
   values ('yandex-direct', 'login-101', 77, 'Brand')`,
  `insert into etl.ledger (source, account, day, last_extracted_at, run_id, records, status, last_succeeded_at)
   values ('yandex-direct', 'login-101', '2026-01-05', now(), 1, 1, 'ok', now())`,
]

/**
 * Loads as the loaders write them (sql/upsert_changed_orders.sql, mark_removed_orders.sql,
 * mark_seen_orders.sql, delete_changed_children.sql, write_changed_calls.sql,
 * mark_seen_and_removed_calls.sql, upsert_ad_spend.sql, upsert_campaign_stats.sql,
 * delete_vanished_campaign_stats.sql, upsert_loaded_ledger_days.sql): a new or changed deal or lead
 * gets last_changed_at = now(), a removed one removed_from_source_at = now(), one back after removal
 * last_seen_at = now() and no removed_from_source_at; every read moves last_seen_at of what it saw.
 */
const LOADS: readonly (readonly string[])[] = [
  // A new deal on a day without deals, a changed amount, a lead gaining a deal later (d9 names call
  // 5002, of another day) and a new call without a deal; the last 30 days seen again.
  [
    `update calltouch.orders set last_seen_at = now()`,
    `insert into calltouch.orders (site_id, order_number, order_day, order_date, completed_date, status, manager, service,
       source_type, planned_amount, completed_amount, is_deleted, payload_hash, first_seen_at, last_changed_at, last_seen_at)
     values (101, 'd8', '2026-01-07', '2026-01-07 10:00:00+03', '2026-01-08', 'final', 'Olga', 'AmoCRM', 'CALL', null,
       '420.00', false, 'v1', now(), now(), now()),
       (101, 'd9', '2026-01-08', '2026-01-08 10:00:00+03', '2026-01-08', 'final', 'Boris', 'AmoCRM', 'CALL', null,
       '55.00', false, 'v1', now(), now(), now())`,
    `insert into calltouch.visits (site_id, order_number, source, medium, utm_source, utm_medium, utm_campaign)
     values (101, 'd8', 'google', 'cpc', 'google', 'cpc', 'generic'), (101, 'd9', 'google', 'cpc', 'google', 'cpc', 'generic')`,
    `insert into calltouch.sources (site_id, order_number, source_type, call_id, duration_seconds) values (101, 'd9', 'CALL', 5002, 30)`,
    `update calltouch.orders set completed_amount = 1100.00, payload_hash = 'v2', last_changed_at = now()
     where site_id = 101 and order_number = 'd1'`,
    call(5003, '2026-01-07', `'vk', 'social', 'spring'`),
    `update calltouch.calls set last_seen_at = now()`,
  ],
  // A deal moves day, month and channel; one is removed from the source; the removed one comes back
  // (only last_seen_at moves); the only deal of 2026-01-20 is removed and the only deal of March
  // moves to April, so a day and a month are left empty.
  [
    `update calltouch.orders set order_day = '2026-02-03', order_date = '2026-02-03 11:00:00+03', payload_hash = 'v2',
       last_changed_at = now() where site_id = 101 and order_number = 'd3'`,
    `update calltouch.visits set utm_source = 'vk', utm_medium = 'social', utm_campaign = 'spring'
     where site_id = 101 and order_number = 'd3'`,
    `update calltouch.orders set removed_from_source_at = now() where site_id = 101 and order_number in ('d4', 'd10')`,
    `update calltouch.orders set removed_from_source_at = null, last_seen_at = now() where site_id = 101 and order_number = 'd6'`,
    `update calltouch.orders set order_day = '2026-04-02', order_date = '2026-04-02 10:00:00+03', payload_hash = 'v2',
       last_changed_at = now() where site_id = 101 and order_number = 'd11'`,
  ],
  // Tags and custom values of a deal replaced with its new version (d1 keeps none); a deal deleted in the CRM.
  [
    `delete from calltouch.tags where site_id = 102 and order_number = 'e1'`,
    `insert into calltouch.tags (site_id, order_number, tag) values (102, 'e1', 'vip')`,
    `delete from calltouch.custom_fields where site_id = 101 and order_number = 'd1'`,
    `update calltouch.orders set payload_hash = 'v3', last_changed_at = now() where site_id in (101, 102) and order_number in ('d1', 'e1')`,
    `update calltouch.orders set is_deleted = true, payload_hash = 'v2', last_changed_at = now()
     where site_id = 101 and order_number = 'd7'`,
  ],
  // Late spend corrections: a CSV cost of an old day re-imported, a CSV row for a new key on an old day,
  // a campaign-day corrected, the connector reads 2026-02-03 (its CSV yandex/cpc row is left out from
  // now on) where the campaign has a new name, which keys all its days anew.
  [
    `update marketing.ad_spend set cost = 75.00, imported_at = now() where site_id = 101 and spend_date = '2026-01-06' and source = ''`,
    `insert into marketing.ad_spend (site_id, spend_date, source, medium, campaign, cost, source_file)
     values (101, '2026-01-05', 'vk', 'social', 'autumn', 10.00, 'late.csv')`,
    `update marketing.ad_campaign_stats set cost_micros = 130000000, loaded_at = now()
     where campaign_id = 77 and stat_date = '2026-01-05'`,
    `insert into marketing.ad_campaign_stats (source_system, account, site_id, stat_date, campaign_id, campaign_name, impressions,
       clicks, cost_micros, currency, includes_vat, run_id)
     values ('yandex-direct', 'login-101', 101, '2026-02-03', 77, 'Brand 2', 100, 4, 5000000, 'RUB', false, 2)`,
    `insert into marketing.ad_campaign_names (source_system, account, campaign_id, campaign_name)
     values ('yandex-direct', 'login-101', 77, 'Brand 2')`,
    `insert into etl.ledger (source, account, day, last_extracted_at, run_id, records, status, last_succeeded_at)
     values ('yandex-direct', 'login-101', '2026-02-03', now(), 2, 1, 'ok', now())`,
  ],
  // Leads: d1's call removed from the source; a request of a lower id takes d2's number R-1 (d2 moves
  // from request 6001 to it); a call moves to another day in a new version; a call turns target.
  [
    `update calltouch.calls set removed_from_source_at = now() where site_id = 101 and call_id = 5001`,
    `insert into calltouch.requests (site_id, request_id, request_number, request_local_time, request_day, unique_request,
       target_request, source, medium, utm_source, utm_medium, utm_campaign, payload_hash, first_seen_at, last_changed_at, last_seen_at)
     values (101, 5999, 'R-1', '2026-01-06 09:00:00', '2026-01-06', false, true, 'vk', 'social', 'vk', 'social', 'spring',
       'v1', now(), now(), now())`,
    `update calltouch.calls set call_day = '2026-01-09', call_local_time = '2026-01-09 10:00:00', payload_hash = 'v2',
       last_changed_at = now() where site_id = 101 and call_id = 5003`,
    `update calltouch.calls set target_call = true, payload_hash = 'v2', last_changed_at = now()
     where site_id = 101 and call_id = 5002`,
  ],
  // Back after removal, a lead and a deal (only last_seen_at moves); a campaign-day the connector's
  // new read no longer holds is deleted (the day stays covered by the ledger).
  [
    `update calltouch.calls set removed_from_source_at = null, last_seen_at = now() where site_id = 101 and call_id = 5001`,
    `update calltouch.orders set removed_from_source_at = null, last_seen_at = now() where site_id = 101 and order_number = 'd4'`,
    `delete from marketing.ad_campaign_stats where campaign_id = 77 and stat_date = '2026-01-05'`,
    `update etl.ledger set last_extracted_at = now(), run_id = 3, records = 0 where source = 'yandex-direct' and day = '2026-01-05'`,
  ],
  // Another night, nothing changed but every deal and lead seen again.
  [`update calltouch.orders set last_seen_at = now()`, `update calltouch.calls set last_seen_at = now()`],
]

async function textRows(tw: TestWarehouse, sql: string): Promise<string[]> {
  const rows = await executeSql<{ row: string }>(tw.warehouse.db, sql)
  return rows.map((row) => row.row)
}

describeEachEngine('incremental transform after loads with changes', (engine) => {
  let tw: TestWarehouse
  const builds: { incremental: TransformResult; full: TransformResult }[] = []
  const compared: { incremental: Record<string, string[]>; full: Record<string, string[]> }[] = []
  /** What the incremental marts showed after each load, for the hard cases. */
  const seen: Record<string, string[]>[] = []

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    for (const statement of BASE) await executeSql(tw.warehouse.db, statement)
    for (const load of [[], ...LOADS]) {
      for (const statement of load) await executeSql(tw.warehouse.db, statement)
      const incremental = await runTransform(tw.warehouse.db, { targetSchema: INCREMENTAL_SCHEMA })
      const full = await runTransform(tw.warehouse.db, {
        targetSchema: FULL_SCHEMA,
        fullRefresh: true,
        runTests: false,
      })
      builds.push({ incremental, full })
      compared.push({
        incremental: await martsOf(tw.warehouse.db, INCREMENTAL_SCHEMA),
        full: await martsOf(tw.warehouse.db, FULL_SCHEMA),
      })
      seen.push({
        days: await textRows(
          tw,
          `select site_id || ' ' || date_day || ' ' || sum(deals) || ' ' || sum(spend) as row
           from analytics.fct_marketing_daily group by site_id, date_day order by 1`,
        ),
        months: await textRows(
          tw,
          `select site_id || ' ' || date_month || ' ' || sum(deals) as row
           from analytics.fct_manager_channel_monthly group by site_id, date_month order by 1`,
        ),
        leads: await textRows(
          tw,
          `select concat_ws(' ', lead_key, lead_day, is_counted, is_target, deals, order_numbers) as row
           from analytics.fct_leads order by 1`,
        ),
        funnel: await textRows(
          tw,
          `select concat_ws(' ', date_day, sum(leads), sum(target_leads), sum(leads_with_deals)) as row
           from analytics.fct_funnel_daily where site_id = 101 group by date_day having sum(leads) > 0 order by 1`,
        ),
        customValues: await textRows(
          tw,
          `select deal_key || ' ' || count(*) as row from analytics.fct_deal_custom_values group by deal_key order by 1`,
        ),
        campaign: await textRows(
          tw,
          `select concat_ws(' ', date_day, utm_campaign, spend) as row from analytics.fct_marketing_daily
           where site_id = 101 and utm_source = 'yandex' and spend <> 0 order by 1`,
        ),
      })
    }
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('builds the incremental models whole the first time, and only what changed after each load', () => {
    expect(builds.map((build) => modesOf(build.incremental))).toEqual([
      everyModel('full'),
      ...LOADS.map(() => everyModel('incremental')),
    ])
    expect(builds.map((build) => modesOf(build.full))).toEqual([...builds].map(() => everyModel('full')))
  })

  it('passes every data and unit test of the project on the incremental marts after every load', () => {
    expect(
      builds.map((build) => [
        build.incremental.ok,
        build.incremental.tests.filter((test) => test.status !== 'passed').map((test) => test.name),
      ]),
    ).toEqual(builds.map(() => [true, []]))
  })

  it('gives marts identical row by row to a full build after every load', () => {
    for (const [index, { incremental, full }] of compared.entries()) {
      expect({ load: index, marts: incremental }).toEqual({ load: index, marts: full })
    }
    // Every mart of the project: fct_deals, the daily, monthly, campaign and lead marts.
    expect(Object.keys(compared[0]?.incremental ?? {})).toEqual([
      'fct_campaign_daily',
      'fct_deal_custom_values',
      'fct_deals',
      'fct_funnel_daily',
      'fct_funnel_monthly',
      'fct_leads',
      'fct_manager_channel_monthly',
      'fct_marketing_daily',
      'fct_marketing_monthly',
    ])
  })

  it('rebuilds the day and month a deal left, and leaves no row on a day or in a month left empty', () => {
    // Before, after load 1 (d8 on 01-07, d9 on 01-08) and after load 2 (d3 to 02-03, d4 and d10 removed, d6 back, d11 to April).
    expect(seen[0]?.days).toEqual([
      '101 2026-01-05 3 273.45',
      '101 2026-01-06 1 50.00',
      '101 2026-01-20 1 0.00',
      '101 2026-02-03 1 200.00',
      '101 2026-03-15 1 0.00',
      '102 2026-01-05 1 350.00',
      '102 2026-01-31 0 0.01',
    ])
    expect(seen[2]?.days).toEqual([
      '101 2026-01-05 2 273.45',
      '101 2026-01-06 1 50.00',
      '101 2026-01-07 1 0.00',
      '101 2026-01-08 1 0.00',
      '101 2026-02-03 2 200.00',
      '101 2026-04-02 1 0.00',
      '102 2026-01-05 1 350.00',
      '102 2026-01-31 0 0.01',
    ])
    expect(seen[1]?.months).toEqual(['101 2026-01-01 7', '101 2026-02-01 1', '101 2026-03-01 1', '102 2026-01-01 1'])
    expect(seen[2]?.months).toEqual(['101 2026-01-01 5', '101 2026-02-01 2', '101 2026-04-01 1', '102 2026-01-01 1'])
  })

  it("follows a lead gaining a deal later, losing it to another lead, leaving the funnel's count and coming back", () => {
    expect(seen[0]?.leads).toEqual([
      '101:call:5001 2026-01-05 t t 1 d1',
      '101:call:5002 2026-01-06 t f 0',
      '101:request:6001 2026-01-05 t t 1 d2',
    ])
    // Load 1: d9 names call 5002; call 5003 comes without a deal.
    expect(seen[1]?.leads).toEqual([
      '101:call:5001 2026-01-05 t t 1 d1',
      '101:call:5002 2026-01-06 t f 1 d9',
      '101:call:5003 2026-01-07 t f 0',
      '101:request:6001 2026-01-05 t t 1 d2',
    ])
    // Load 5: call 5001 removed (still d1's lead), request 5999 takes R-1 from 6001, call 5003 moves to 01-09, 5002 turns target.
    expect(seen[5]?.leads).toEqual([
      '101:call:5001 2026-01-05 f t 1 d1',
      '101:call:5002 2026-01-06 t t 1 d9',
      '101:call:5003 2026-01-09 t f 0',
      '101:request:5999 2026-01-06 t t 1 d2',
      '101:request:6001 2026-01-05 t t 0',
    ])
    expect(seen[5]?.funnel).toEqual(['2026-01-05 1 1 0', '2026-01-06 2 2 2', '2026-01-09 1 0 0'])
    // Load 6: call 5001 back after removal.
    expect(seen[6]?.funnel).toEqual(['2026-01-05 2 2 1', '2026-01-06 2 2 2', '2026-01-09 1 0 0'])
  })

  it('takes late spend corrections, a renamed campaign and a campaign-day deleted, and a deal losing its custom values', () => {
    expect(seen[0]?.campaign).toEqual(['2026-01-05 brand 123.45', '2026-02-03 brand 200.00'])
    expect(seen[4]?.campaign).toEqual(['2026-01-05 brand 2 130.00', '2026-02-03 brand 2 5.00'])
    expect(seen[6]?.campaign).toEqual(['2026-02-03 brand 2 5.00'])
    expect(seen[4]?.days).toContain('101 2026-01-06 1 75.00')
    expect(seen[2]?.customValues).toEqual(['101:d1 2', '102:e1 1'])
    expect(seen[3]?.customValues).toEqual(['102:e1 1'])
  })

  it('sees every change: the deals after the last load as computed by hand', async () => {
    const rows = await executeSql<{ row: string }>(
      tw.warehouse.db,
      `select concat_ws(' ', deal_key, deal_day, utm_source, utm_medium, utm_campaign, revenue, is_counted, tags,
         custom_field_count) as row from analytics.fct_deals order by deal_key`,
    )
    expect(rows.map((row) => row.row)).toEqual([
      '101:d1 2026-01-05 yandex cpc brand 1100.00 t repeat, vip 0',
      '101:d10 2026-01-20 yandex cpc brand 0 f 0',
      '101:d11 2026-04-02 vk social spring 90.00 t 0',
      '101:d2 2026-01-05 yandex cpc brand 0 t 0',
      '101:d3 2026-02-03 vk social spring 300.00 t 0',
      '101:d4 2026-01-06 (none) (none) (none) 250.50 t 0',
      '101:d5 2026-01-06 yandex cpc brand 0 f 0',
      '101:d6 2026-01-06 yandex cpc brand 100.00 t 0',
      '101:d7 2026-02-03 yandex cpc brand 0 f 0',
      '101:d8 2026-01-07 google cpc generic 420.00 t 0',
      '101:d9 2026-01-08 google cpc generic 55.00 t 0',
      '102:e1 2026-01-05 vk social spring 700.00 t vip 1',
    ])
  })

  it('builds everything whole again with --full-refresh, to the same marts', async () => {
    const refreshed = await runTransform(tw.warehouse.db, { targetSchema: INCREMENTAL_SCHEMA, fullRefresh: true })
    expect(modesOf(refreshed)).toEqual(everyModel('full'))
    expect(refreshed.ok).toBe(true)
    expect(await martsOf(tw.warehouse.db, INCREMENTAL_SCHEMA)).toEqual(await martsOf(tw.warehouse.db, FULL_SCHEMA))
  })

  it('builds an incremental model whole when one it reads was (its history of days and leads starts afresh)', async () => {
    // As after a change to int_deals_linked_to_leads: the bookkeeping no longer matches it.
    await executeSql(
      tw.warehouse.db,
      `delete from etl.transform_incremental_models where relation = '"analytics_staging"."int_deals_linked_to_leads"'`,
    )
    const after = await runTransform(tw.warehouse.db, { targetSchema: INCREMENTAL_SCHEMA, runTests: false })
    expect(modesOf(after)).toEqual({ ...everyModel('full'), int_leads: 'incremental' })
    expect(await martsOf(tw.warehouse.db, INCREMENTAL_SCHEMA)).toEqual(await martsOf(tw.warehouse.db, FULL_SCHEMA))
  })

  it('builds everything whole when revenue_date changes, then only what changed under it', async () => {
    const vars = { revenue_date: 'completed_date' }
    const switched = await runTransform(tw.warehouse.db, { targetSchema: INCREMENTAL_SCHEMA, vars, runTests: false })
    // Every model the deal's day reaches; the leads' feed does not read it.
    expect(modesOf(switched)).toEqual({ ...everyModel('full'), int_leads: 'incremental' })
    await runTransform(tw.warehouse.db, { targetSchema: FULL_SCHEMA, vars, fullRefresh: true, runTests: false })
    expect(await martsOf(tw.warehouse.db, INCREMENTAL_SCHEMA)).toEqual(await martsOf(tw.warehouse.db, FULL_SCHEMA))
    // d2 had no completion date (out of the marts) and is completed; d8 is completed a month later.
    for (const statement of [
      `update calltouch.orders set completed_date = '2026-01-25', completed_amount = 80.00, payload_hash = 'v5',
         last_changed_at = now() where site_id = 101 and order_number = 'd2'`,
      `update calltouch.orders set completed_date = '2026-02-08', payload_hash = 'v5', last_changed_at = now()
       where site_id = 101 and order_number = 'd8'`,
    ])
      await executeSql(tw.warehouse.db, statement)
    const next = await runTransform(tw.warehouse.db, { targetSchema: INCREMENTAL_SCHEMA, vars })
    expect([modesOf(next), next.tests.filter((test) => test.status !== 'passed')]).toEqual([
      everyModel('incremental'),
      [],
    ])
    await runTransform(tw.warehouse.db, { targetSchema: FULL_SCHEMA, vars, fullRefresh: true, runTests: false })
    expect(await martsOf(tw.warehouse.db, INCREMENTAL_SCHEMA)).toEqual(await martsOf(tw.warehouse.db, FULL_SCHEMA))
    expect(
      await textRows(
        tw,
        `select date_day || ' ' || sum(deals) as row from analytics.fct_marketing_daily
         where site_id = 101 and date_day in ('2026-01-08', '2026-01-25', '2026-02-08') group by date_day order by 1`,
      ),
    ).toEqual(['2026-01-08 1', '2026-01-25 1', '2026-02-08 1'])
  })
})

/**
 * The runner's side of incremental models on a project of one: dbt-postgres' indexes, a unit test
 * of the incremental batch (is_incremental() true, rows given for this), and data tests the table
 * itself guarantees (a unique index) told from those it runs.
 */
const SMALL_PROJECT: DbtProject = {
  dir: '/nowhere',
  name: 'small',
  vars: {},
  models: [
    {
      name: 'items_latest',
      file: 'models/items_latest.sql',
      description: undefined,
      columns: [],
      config: { materialized: 'view' },
      sql: `{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='item_id',
          indexes=[{'columns': ['item_id'], 'unique': True}, {'columns': ['changed_at']}]) }}
        select item_id, amount, changed_at from {{ source('shop', 'items') }}
        {% if is_incremental() %}
        where changed_at > (select coalesce(max(changed_at), cast('-infinity' as timestamptz)) from {{ this }})
        {% endif %}`,
    },
  ],
  sources: [{ sourceName: 'shop', tableName: 'items', schema: 'small_source', identifier: 'items' }],
  macroFiles: [],
  dataTests: [
    { test: 'unique', model: 'items_latest', columnName: 'item_id', args: {}, customName: undefined, where: undefined },
    {
      test: 'not_null',
      model: 'items_latest',
      columnName: 'item_id',
      args: {},
      customName: undefined,
      where: undefined,
    },
    { test: 'unique', model: 'items_latest', columnName: 'amount', args: {}, customName: undefined, where: undefined },
  ],
  singularTests: [],
  unitTests: [
    {
      name: 'the_batch_holds_only_what_changed_since_the_table',
      model: 'items_latest',
      isIncremental: true,
      vars: {},
      given: [
        { input: 'this', rows: [{ item_id: 1, amount: 10, changed_at: '2026-01-02 00:00:00+00' }] },
        {
          input: "source('shop', 'items')",
          rows: [
            { item_id: 1, amount: 10, changed_at: '2026-01-01 00:00:00+00' },
            { item_id: 2, amount: 20, changed_at: '2026-01-03 00:00:00+00' },
          ],
        },
      ],
      expect: [{ item_id: 2, amount: 20 }],
    },
    {
      name: 'a_full_build_holds_everything',
      model: 'items_latest',
      isIncremental: false,
      vars: {},
      given: [
        {
          input: "source('shop', 'items')",
          rows: [
            { item_id: 1, amount: 10, changed_at: '2026-01-01 00:00:00+00' },
            { item_id: 2, amount: 20, changed_at: '2026-01-03 00:00:00+00' },
          ],
        },
      ],
      expect: [
        { item_id: 1, amount: 10 },
        { item_id: 2, amount: 20 },
      ],
    },
  ],
}

describeEachEngine('the runner on an incremental model of its own', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    await executeSql(tw.warehouse.db, 'create schema small_source')
    await executeSql(
      tw.warehouse.db,
      'create table small_source.items (item_id integer, amount integer, changed_at timestamptz not null default now())',
    )
    await executeSql(tw.warehouse.db, 'insert into small_source.items (item_id, amount) values (1, 10), (2, 20)')
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('creates the indexes on the first build, runs a unit test of the batch, and reports a test the unique index guarantees', async () => {
    const compiled = compileProject(SMALL_PROJECT)
    const first = await buildTransform(tw.warehouse.db, compiled)
    await executeSql(tw.warehouse.db, `update small_source.items set amount = 11, changed_at = now() where item_id = 1`)
    const second = await buildTransform(tw.warehouse.db, compiled)
    expect([first.models[0]?.mode, second.models[0]?.mode, second.models[0]?.rows]).toEqual(['full', 'incremental', 2])
    const indexes = await executeSql<{ definition: string }>(
      tw.warehouse.db,
      `select regexp_replace(indexdef, ' INDEX \\S+ ON ', ' INDEX ON ') as definition
       from pg_indexes where schemaname = 'analytics' and tablename = 'items_latest' order by indexdef`,
    )
    expect(indexes.map((index) => index.definition)).toEqual([
      'CREATE INDEX ON analytics.items_latest USING btree (changed_at)',
      'CREATE UNIQUE INDEX ON analytics.items_latest USING btree (item_id)',
    ])
    expect(second.tests.map((test) => [test.name, test.status, test.message])).toEqual([
      ['unique_items_latest_item_id', 'passed', 'guaranteed by the unique index items_latest_item_id_idx'],
      ['not_null_items_latest_item_id', 'passed', null],
      ['unique_items_latest_amount', 'passed', null],
      ['the_batch_holds_only_what_changed_since_the_table', 'passed', null],
      ['a_full_build_holds_everything', 'passed', null],
    ])
  })
})
