import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { runTransform } from '../../pipelines/transform/run-transform.ts'
import { transformJob, type TransformJobResult } from '../../pipelines/jobs/transform-job.ts'
import { ROI_FIXTURE_STATEMENTS } from '../fixtures/transform/roi-fixture.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const MARTS = [
  'fct_deals',
  'fct_deal_custom_values',
  'fct_marketing_daily',
  'fct_marketing_monthly',
  'fct_manager_channel_monthly',
] as const

/** Columns as text, so both engines and every type compare exactly. */
async function rowsOf(tw: TestWarehouse, sql: string): Promise<string[][]> {
  const rows = await executeSql<Record<string, unknown>>(tw.warehouse.db, sql)
  return rows.map((row) =>
    Object.values(row).map((value) =>
      value === null ? 'null' : typeof value === 'object' ? JSON.stringify(value) : String(value as string | number),
    ),
  )
}

const marketingColumns = `site_id::text, utm_source, utm_medium, utm_campaign, deals::text, deals_with_revenue::text,
  revenue::text, planned_revenue::text, spend::text, profit::text, coalesce(roi::text, 'null')`

async function snapshot(tw: TestWarehouse): Promise<Record<string, string[][]>> {
  const result: Record<string, string[][]> = {}
  for (const mart of MARTS) result[mart] = await rowsOf(tw, `select t::text from analytics.${mart} t order by 1`)
  return result
}

describeEachEngine('transform on hand-computed deals and spend', (engine) => {
  let tw: TestWarehouse
  let first: TransformJobResult
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    for (const statement of ROI_FIXTURE_STATEMENTS) await executeSql(tw.warehouse.db, statement)
    first = await transformJob(tw.warehouse)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('builds every model and passes every data and unit test of the project', () => {
    expect(first.models.filter((model) => model.status !== 'built')).toEqual([])
    expect(
      first.models.filter((model) => model.materialized !== 'view').map((model) => [model.relation, model.rows]),
    ).toEqual([
      // The change feeds of the incremental marts and the intermediate tables, in analytics_staging.
      ['analytics_staging.int_leads', 0],
      ['analytics_staging.int_deals_linked_to_leads', 8],
      ['analytics.fct_deals', 8],
      ['analytics_staging.int_deals_matched_to_campaigns', 0],
      ['analytics.fct_campaign_daily', 0],
      ['analytics.fct_deal_custom_values', 3],
      ['analytics_staging.int_lead_deals', 0],
      ['analytics.fct_leads', 0],
      ['analytics.fct_funnel_daily', 8],
      ['analytics.fct_funnel_monthly', 6],
      ['analytics.fct_marketing_daily', 8],
      ['analytics.fct_marketing_monthly', 6],
      ['analytics.fct_manager_channel_monthly', 7],
    ])
    expect(first.tests.filter((test) => test.status !== 'passed')).toEqual([])
    expect([first.testsPassed, first.testsFailed, first.ok]).toEqual([191, 0, true])
    expect(first.tests.filter((test) => test.kind === 'unit').length).toBe(17)
  })

  it('gives fct_marketing_daily exactly the rows computed by hand, edge cases included', async () => {
    expect(
      await rowsOf(
        tw,
        `select date_day::text, ${marketingColumns} from analytics.fct_marketing_daily order by site_id, date_day, utm_source, utm_medium, utm_campaign`,
      ),
    ).toEqual([
      [
        '2026-01-05',
        '101',
        'google',
        'cpc',
        'generic',
        '0',
        '0',
        '0.00',
        '0.00',
        '150.00',
        '-150.00',
        '-1.00000000000000000000',
      ],
      ['2026-01-05', '101', 'google', 'organic', '(none)', '1', '1', '300.00', '0.00', '0.00', '300.00', 'null'],
      [
        '2026-01-05',
        '101',
        'yandex',
        'cpc',
        'brand',
        '2',
        '1',
        '1000.00',
        '1700.00',
        '600.00',
        '400.00',
        '0.66666666666666666667',
      ],
      [
        '2026-01-06',
        '101',
        '(none)',
        '(none)',
        '(none)',
        '1',
        '1',
        '250.50',
        '0.00',
        '50.00',
        '200.50',
        '4.0100000000000000',
      ],
      ['2026-01-06', '101', 'yandex', 'cpc', 'brand', '0', '0', '0.00', '0.00', '0.00', '0.00', 'null'],
      [
        '2026-02-03',
        '101',
        'yandex',
        'cpc',
        'brand',
        '1',
        '0',
        '0.00',
        '10.00',
        '200.00',
        '-200.00',
        '-1.00000000000000000000',
      ],
      [
        '2026-01-05',
        '102',
        'vk',
        'social',
        'spring',
        '1',
        '1',
        '700.00',
        '800.00',
        '350.00',
        '350.00',
        '1.00000000000000000000',
      ],
      [
        '2026-01-31',
        '102',
        'vk',
        'social',
        'spring',
        '0',
        '0',
        '0.00',
        '0.00',
        '0.01',
        '-0.01',
        '-1.00000000000000000000',
      ],
    ])
  })

  it('gives fct_marketing_monthly the sums of the days and an ROI recomputed from them', async () => {
    expect(
      await rowsOf(
        tw,
        `select date_month::text, ${marketingColumns} from analytics.fct_marketing_monthly order by site_id, date_month, utm_source, utm_medium, utm_campaign`,
      ),
    ).toEqual([
      [
        '2026-01-01',
        '101',
        '(none)',
        '(none)',
        '(none)',
        '1',
        '1',
        '250.50',
        '0.00',
        '50.00',
        '200.50',
        '4.0100000000000000',
      ],
      [
        '2026-01-01',
        '101',
        'google',
        'cpc',
        'generic',
        '0',
        '0',
        '0.00',
        '0.00',
        '150.00',
        '-150.00',
        '-1.00000000000000000000',
      ],
      ['2026-01-01', '101', 'google', 'organic', '(none)', '1', '1', '300.00', '0.00', '0.00', '300.00', 'null'],
      [
        '2026-01-01',
        '101',
        'yandex',
        'cpc',
        'brand',
        '2',
        '1',
        '1000.00',
        '1700.00',
        '600.00',
        '400.00',
        '0.66666666666666666667',
      ],
      [
        '2026-02-01',
        '101',
        'yandex',
        'cpc',
        'brand',
        '1',
        '0',
        '0.00',
        '10.00',
        '200.00',
        '-200.00',
        '-1.00000000000000000000',
      ],
      [
        '2026-01-01',
        '102',
        'vk',
        'social',
        'spring',
        '1',
        '1',
        '700.00',
        '800.00',
        '350.01',
        '349.99',
        '0.99994285877546355818',
      ],
    ])
  })

  it("allocates a channel-month's spend to managers by their share of its deals, and keeps spend without deals under (no deals)", async () => {
    expect(
      await rowsOf(
        tw,
        `select date_month::text, manager, ${marketingColumns} from analytics.fct_manager_channel_monthly
      order by site_id, date_month, utm_source, utm_medium, utm_campaign, manager`,
      ),
    ).toEqual([
      [
        '2026-01-01',
        '(none)',
        '101',
        '(none)',
        '(none)',
        '(none)',
        '1',
        '1',
        '250.50',
        '0.00',
        '50.00',
        '200.50',
        '4.0100000000000000',
      ],
      [
        '2026-01-01',
        '(no deals)',
        '101',
        'google',
        'cpc',
        'generic',
        '0',
        '0',
        '0.00',
        '0.00',
        '150.00',
        '-150.00',
        '-1.00000000000000000000',
      ],
      [
        '2026-01-01',
        'Anna',
        '101',
        'google',
        'organic',
        '(none)',
        '1',
        '1',
        '300.00',
        '0.00',
        '0.00',
        '300.00',
        'null',
      ],
      [
        '2026-01-01',
        'Anna',
        '101',
        'yandex',
        'cpc',
        'brand',
        '1',
        '1',
        '1000.00',
        '1200.00',
        '300.00',
        '700.00',
        '2.3333333333333333',
      ],
      [
        '2026-01-01',
        'Boris',
        '101',
        'yandex',
        'cpc',
        'brand',
        '1',
        '0',
        '0.00',
        '500.00',
        '300.00',
        '-300.00',
        '-1.00000000000000000000',
      ],
      [
        '2026-02-01',
        'Boris',
        '101',
        'yandex',
        'cpc',
        'brand',
        '1',
        '0',
        '0.00',
        '10.00',
        '200.00',
        '-200.00',
        '-1.00000000000000000000',
      ],
      [
        '2026-01-01',
        'Olga',
        '102',
        'vk',
        'social',
        'spring',
        '1',
        '1',
        '700.00',
        '800.00',
        '350.01',
        '349.99',
        '0.99994285877546355818',
      ],
    ])
  })

  it('gives fct_deals one row per deal with its channel keys, revenue, flags, tags and custom value count', async () => {
    expect(
      await rowsOf(
        tw,
        `select deal_key, deal_day::text, utm_source, utm_medium, utm_campaign, has_visit::text, revenue::text,
      is_deleted::text, is_removed_from_source::text, is_counted::text, coalesce(tags, 'null') as tags, tag_count::text, custom_field_count::text,
      coalesce(call_duration_seconds::text, 'null') as call_duration_seconds
      from analytics.fct_deals order by deal_key`,
      ),
    ).toEqual([
      [
        '101:d1',
        '2026-01-05',
        'yandex',
        'cpc',
        'brand',
        'true',
        '1000.00',
        'false',
        'false',
        'true',
        'repeat, vip',
        '2',
        '2',
        '95',
      ],
      [
        '101:d2',
        '2026-01-05',
        'yandex',
        'cpc',
        'brand',
        'true',
        '0',
        'false',
        'false',
        'true',
        'null',
        '0',
        '0',
        'null',
      ],
      [
        '101:d3',
        '2026-01-05',
        'google',
        'organic',
        '(none)',
        'true',
        '300.00',
        'false',
        'false',
        'true',
        'null',
        '0',
        '0',
        'null',
      ],
      [
        '101:d4',
        '2026-01-06',
        '(none)',
        '(none)',
        '(none)',
        'false',
        '250.50',
        'false',
        'false',
        'true',
        'null',
        '0',
        '0',
        'null',
      ],
      [
        '101:d5',
        '2026-01-06',
        'yandex',
        'cpc',
        'brand',
        'true',
        '0',
        'true',
        'false',
        'false',
        'null',
        '0',
        '0',
        'null',
      ],
      [
        '101:d6',
        '2026-01-06',
        'yandex',
        'cpc',
        'brand',
        'true',
        '0',
        'false',
        'true',
        'false',
        'null',
        '0',
        '0',
        'null',
      ],
      [
        '101:d7',
        '2026-02-03',
        'yandex',
        'cpc',
        'brand',
        'true',
        '0.00',
        'false',
        'false',
        'true',
        'null',
        '0',
        '0',
        'null',
      ],
      [
        '102:e1',
        '2026-01-05',
        'vk',
        'social',
        'spring',
        'true',
        '700.00',
        'false',
        'false',
        'true',
        'b2b',
        '1',
        '1',
        'null',
      ],
    ])
  })

  it('keeps custom values exact to the 38th digit in fct_deal_custom_values', async () => {
    const rows = await executeSql<{ deal_key: string; field_name: string; field_value: string; revenue: string }>(
      tw.warehouse.db,
      'select deal_key, field_name, field_value, revenue from analytics.fct_deal_custom_values order by deal_key, field_name',
    )
    expect(rows).toEqual([
      { deal_key: '101:d1', field_name: 'bonus', field_value: '-5', revenue: '1000.00' },
      { deal_key: '101:d1', field_name: 'cost_price', field_value: '400', revenue: '1000.00' },
      {
        deal_key: '102:e1',
        field_name: 'cost_price',
        field_value: '99999999999999999999999999999999999999',
        revenue: '700.00',
      },
    ])
  })

  it('writes the descriptions as comments on every mart and every mart column, for Metabase', async () => {
    const uncommented = await rowsOf(
      tw,
      `
      select c.relname || coalesce('.' || a.attname, '') from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = 'analytics' and c.relkind in ('r', 'v')
        and (obj_description(c.oid, 'pg_class') is null or (a.attname is not null and col_description(c.oid, a.attnum) is null))
      order by 1`,
    )
    expect(uncommented).toEqual([])
    const [comment] = await rowsOf(tw, `select col_description('analytics.fct_marketing_daily'::regclass, 12)`)
    expect(comment).toEqual([
      '(revenue - spend) / spend as a fraction (0.25 = 25 %), unrounded (calltouch-etl report formats it); null where spend is 0',
    ])
  })

  it('records the run in etl.runs with its counters and seconds per model', async () => {
    const run = await tw.warehouse.db
      .selectFrom('etl.runs')
      .selectAll()
      .where('run_id', '=', first.runId)
      .executeTakeFirstOrThrow()
    expect([run.command, run.status, run.error]).toEqual(['transform', 'succeeded', null])
    const { models_built, models_failed, models_skipped, tests_passed, tests_failed, ...seconds } = run.counters
    expect({ models_built, models_failed, models_skipped, tests_passed, tests_failed }).toEqual({
      models_built: 30,
      models_failed: 0,
      models_skipped: 0,
      tests_passed: 191,
      tests_failed: 0,
    })
    expect(Object.keys(seconds).sort()).toEqual(first.models.map((model) => `seconds.${model.name}`).sort())
  })

  it('gives identical marts on a second run', async () => {
    const before = await snapshot(tw)
    const second = await runTransform(tw.warehouse.db)
    expect([second.ok, second.testsPassed, second.testsFailed]).toEqual([true, 191, 0])
    expect(await snapshot(tw)).toEqual(before)
  })

  it('puts deals on their completion day with --vars revenue_date=completed_date', async () => {
    const result = await runTransform(tw.warehouse.db, { vars: { revenue_date: 'completed_date' } })
    expect(result.tests.filter((test) => test.status !== 'passed')).toEqual([])
    // d2 has no completed_date and leaves the marts; d4 moves to February; spend stays on its days.
    expect(
      await rowsOf(
        tw,
        `select date_month::text, ${marketingColumns} from analytics.fct_marketing_monthly where site_id = 101 order by date_month, utm_source, utm_medium, utm_campaign`,
      ),
    ).toEqual([
      [
        '2026-01-01',
        '101',
        '(none)',
        '(none)',
        '(none)',
        '0',
        '0',
        '0.00',
        '0.00',
        '50.00',
        '-50.00',
        '-1.00000000000000000000',
      ],
      [
        '2026-01-01',
        '101',
        'google',
        'cpc',
        'generic',
        '0',
        '0',
        '0.00',
        '0.00',
        '150.00',
        '-150.00',
        '-1.00000000000000000000',
      ],
      ['2026-01-01', '101', 'google', 'organic', '(none)', '1', '1', '300.00', '0.00', '0.00', '300.00', 'null'],
      [
        '2026-01-01',
        '101',
        'yandex',
        'cpc',
        'brand',
        '1',
        '1',
        '1000.00',
        '1200.00',
        '600.00',
        '400.00',
        '0.66666666666666666667',
      ],
      ['2026-02-01', '101', '(none)', '(none)', '(none)', '1', '1', '250.50', '0.00', '0.00', '250.50', 'null'],
      [
        '2026-02-01',
        '101',
        'yandex',
        'cpc',
        'brand',
        '1',
        '0',
        '0.00',
        '10.00',
        '200.00',
        '-200.00',
        '-1.00000000000000000000',
      ],
    ])
  })
})
