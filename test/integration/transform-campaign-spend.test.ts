import { afterAll, beforeAll, expect, it } from 'vitest'
import { transformJob, type TransformJobResult } from '../../pipelines/jobs/transform-job.ts'
import { runTransform } from '../../pipelines/transform/run-transform.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/**
 * Connector spend in the ROI models, on rows small enough to compute by hand. Site 201 has a
 * Yandex Direct account (deals carry the campaign id) and a VK Ads account (deals carry the name):
 * - Direct campaign 101 'Brand' spends 1234.567891 on 03-02 and 300 on 03-03; 102 'Generic' 99.99 on 03-02;
 *   the account read 03-01..03-04 completely.
 * - VK campaign 7, now 'Spring Sale 2' (once 'Spring' and 'Spring Sale'), spends 40 on 03-04;
 *   campaign 9 'Spring' spends 20 on 03-03; the account read 03-03 and 03-04 completely.
 * - CSV: yandex/cpc 800 on 03-02 (the connector covers it: left out), 100 on 03-05 (kept: no
 *   connector day); google/cpc 150 on 03-02 (kept); vk/social 30 on 03-03 (left out).
 * - Deals: c1 (1000.00) and c2 on 03-02 with utm_campaign 101; c3 on 03-03 with the old name
 *   ' Spring Sale ' (campaign 7); c4 on 03-03 with 'spring', a name of 7 and of 9: 9 spent that
 *   day, so c4 is 9's; c5 on 03-04 with a campaign nobody has; c6 deleted.
 */
const STATEMENTS = [
  `insert into marketing.ad_accounts (source_system, account, site_id, utm_source, utm_medium, utm_campaign_holds, currency) values
     ('yandex-direct', 'shop-direct', 201, 'yandex', 'cpc', 'id', 'RUB'),
     ('vk-ads', '555', 201, 'VK', 'Social', 'name', 'RUB')`,
  `insert into marketing.ad_campaign_stats (source_system, account, site_id, stat_date, campaign_id, campaign_name, impressions, clicks, cost_micros, currency, includes_vat, run_id) values
     ('yandex-direct', 'shop-direct', 201, '2026-03-02', 101, 'Brand', 1000, 40, 1234567891, 'RUB', false, 1),
     ('yandex-direct', 'shop-direct', 201, '2026-03-03', 101, 'Brand', 500, 10, 300000000, 'RUB', false, 1),
     ('yandex-direct', 'shop-direct', 201, '2026-03-02', 102, 'Generic', 200, 5, 99990000, 'RUB', false, 1),
     ('vk-ads', '555', 201, '2026-03-04', 7, 'Spring Sale 2', 100, 4, 40000000, 'RUB', false, 1),
     ('vk-ads', '555', 201, '2026-03-03', 9, 'Spring', 50, 2, 20000000, 'RUB', false, 1)`,
  `insert into marketing.ad_campaign_names (source_system, account, campaign_id, campaign_name) values
     ('yandex-direct', 'shop-direct', 101, 'Brand'),
     ('yandex-direct', 'shop-direct', 102, 'Generic'),
     ('vk-ads', '555', 7, 'Spring'),
     ('vk-ads', '555', 7, 'Spring Sale'),
     ('vk-ads', '555', 7, 'Spring Sale 2'),
     ('vk-ads', '555', 9, 'Spring')`,
  `insert into etl.ledger (source, account, day, last_extracted_at, run_id, records, status, last_succeeded_at)
   select 'yandex-direct', 'shop-direct', day::date, now(), 1, 1, 'ok', now()
   from generate_series('2026-03-01'::date, '2026-03-04'::date, interval '1 day') as day
   union all
   select 'vk-ads', '555', day::date, now(), 1, 1, 'ok', now()
   from generate_series('2026-03-03'::date, '2026-03-04'::date, interval '1 day') as day`,
  `insert into marketing.ad_spend (site_id, spend_date, source, medium, campaign, cost, source_file) values
     (201, '2026-03-02', 'yandex', 'cpc', 'brand', 800.00, 'spend.csv'),
     (201, '2026-03-05', 'yandex', 'cpc', 'brand', 100.00, 'spend.csv'),
     (201, '2026-03-02', 'google', 'cpc', 'generic', 150.00, 'spend.csv'),
     (201, '2026-03-03', 'vk', 'social', 'spring', 30.00, 'spend.csv')`,
  `insert into calltouch.orders (site_id, order_number, order_day, completed_date, completed_amount, is_deleted, payload_hash, first_seen_at, last_changed_at, last_seen_at)
   select 201, order_number, order_day::date, completed_date::date, completed_amount::numeric, is_deleted, 'fixture', now(), now(), now()
   from (values
     ('c1', '2026-03-02', '2026-03-10', '1000.00', false),
     ('c2', '2026-03-02', null, null, false),
     ('c3', '2026-03-03', '2026-03-04', '500.00', false),
     ('c4', '2026-03-03', '2026-03-04', '200.00', false),
     ('c5', '2026-03-04', null, null, false),
     ('c6', '2026-03-02', '2026-03-02', '999.00', true)
   ) as deals (order_number, order_day, completed_date, completed_amount, is_deleted)`,
  `insert into calltouch.visits (site_id, order_number, source, medium, utm_source, utm_medium, utm_campaign) values
     (201, 'c1', 'yandex', 'cpc', 'yandex', 'cpc', '101'),
     (201, 'c2', 'yandex', 'cpc', 'Yandex', 'CPC', ' 101 '),
     (201, 'c3', 'vk', 'social', 'vk', 'social', ' Spring Sale '),
     (201, 'c4', 'vk', 'social', 'vk', 'social', 'spring'),
     (201, 'c5', 'yandex', 'cpc', 'yandex', 'cpc', 'unknown'),
     (201, 'c6', 'yandex', 'cpc', 'yandex', 'cpc', '101')`,
] as const

/** Columns as text, so both engines and every type compare exactly. */
async function rowsOf(tw: TestWarehouse, sql: string): Promise<string[][]> {
  const rows = await executeSql<Record<string, unknown>>(tw.warehouse.db, sql)
  return rows.map((row) => Object.values(row).map((value) => (value === null ? 'null' : String(value as string))))
}

const CAMPAIGN_DAILY = `select date_day::text, source_system, account, campaign_id::text, campaign_name, impressions::text,
  clicks::text, spend::text, deals::text, revenue::text, cpc::text, cost_per_deal::text, roi::text
  from analytics.fct_campaign_daily order by date_day, source_system, campaign_id`

describeEachEngine('transform with connector spend', (engine) => {
  let tw: TestWarehouse
  let first: TransformJobResult
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    for (const statement of STATEMENTS) await executeSql(tw.warehouse.db, statement)
    first = await transformJob(tw.warehouse)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('builds every model and passes every data and unit test of the project', () => {
    expect(first.models.filter((model) => model.status !== 'built')).toEqual([])
    expect(first.tests.filter((test) => test.status !== 'passed')).toEqual([])
    expect([first.testsPassed, first.ok]).toEqual([191, true])
  })

  it('unions CSV and connector spend, leaving out the CSV rows of the site-day-source-medium a connector covers', async () => {
    expect(
      await rowsOf(
        tw,
        `select date_day::text, origin, utm_source, utm_medium, utm_campaign, account, campaign_id::text, campaign_name,
           impressions::text, clicks::text, spend::text, currency
         from analytics_staging.int_ad_spend_unioned order by date_day, origin, utm_source, utm_campaign`,
      ),
    ).toEqual([
      ['2026-03-02', 'csv', 'google', 'cpc', 'generic', 'null', 'null', 'null', 'null', 'null', '150.000000', 'RUB'],
      [
        '2026-03-02',
        'yandex-direct',
        'yandex',
        'cpc',
        '101',
        'shop-direct',
        '101',
        'Brand',
        '1000',
        '40',
        '1234.567891',
        'RUB',
      ],
      [
        '2026-03-02',
        'yandex-direct',
        'yandex',
        'cpc',
        '102',
        'shop-direct',
        '102',
        'Generic',
        '200',
        '5',
        '99.990000',
        'RUB',
      ],
      ['2026-03-03', 'vk-ads', 'vk', 'social', 'spring', '555', '9', 'Spring', '50', '2', '20.000000', 'RUB'],
      [
        '2026-03-03',
        'yandex-direct',
        'yandex',
        'cpc',
        '101',
        'shop-direct',
        '101',
        'Brand',
        '500',
        '10',
        '300.000000',
        'RUB',
      ],
      [
        '2026-03-04',
        'vk-ads',
        'vk',
        'social',
        'spring sale 2',
        '555',
        '7',
        'Spring Sale 2',
        '100',
        '4',
        '40.000000',
        'RUB',
      ],
      ['2026-03-05', 'csv', 'yandex', 'cpc', 'brand', 'null', 'null', 'null', 'null', 'null', '100.000000', 'RUB'],
    ])
  })

  it('gives fct_marketing_daily the unioned spend to the kopeck beside the deals, with unchanged columns', async () => {
    expect(
      await rowsOf(
        tw,
        `select date_day::text, utm_source, utm_medium, utm_campaign, deals::text, revenue::text, spend::text, profit::text, coalesce(roi::text, 'null')
         from analytics.fct_marketing_daily order by date_day, utm_source, utm_medium, utm_campaign`,
      ),
    ).toEqual([
      ['2026-03-02', 'google', 'cpc', 'generic', '0', '0.00', '150.00', '-150.00', '-1.00000000000000000000'],
      ['2026-03-02', 'yandex', 'cpc', '101', '2', '1000.00', '1234.57', '-234.57', '-0.19000137699765910398'],
      ['2026-03-02', 'yandex', 'cpc', '102', '0', '0.00', '99.99', '-99.99', '-1.00000000000000000000'],
      ['2026-03-03', 'vk', 'social', 'spring', '1', '200.00', '20.00', '180.00', '9.0000000000000000'],
      ['2026-03-03', 'vk', 'social', 'spring sale', '1', '500.00', '0.00', '500.00', 'null'],
      ['2026-03-03', 'yandex', 'cpc', '101', '0', '0.00', '300.00', '-300.00', '-1.00000000000000000000'],
      ['2026-03-04', 'vk', 'social', 'spring sale 2', '0', '0.00', '40.00', '-40.00', '-1.00000000000000000000'],
      ['2026-03-04', 'yandex', 'cpc', 'unknown', '1', '0.00', '0.00', '0.00', 'null'],
      ['2026-03-05', 'yandex', 'cpc', 'brand', '0', '0.00', '100.00', '-100.00', '-1.00000000000000000000'],
    ])
  })

  it('gives fct_campaign_daily each campaign-day with its matched deals, an old name and a shared name included', async () => {
    expect(await rowsOf(tw, CAMPAIGN_DAILY)).toEqual([
      [
        '2026-03-02',
        'yandex-direct',
        'shop-direct',
        '101',
        'Brand',
        '1000',
        '40',
        '1234.567891',
        '2',
        '1000.00',
        '30.86',
        '617.28',
        '-0.18999999328509994433',
      ],
      [
        '2026-03-02',
        'yandex-direct',
        'shop-direct',
        '102',
        'Generic',
        '200',
        '5',
        '99.990000',
        '0',
        '0.00',
        '20.00',
        'null',
        '-1.00000000000000000000',
      ],
      [
        '2026-03-03',
        'vk-ads',
        '555',
        '7',
        'Spring Sale 2',
        '0',
        '0',
        '0.000000',
        '1',
        '500.00',
        'null',
        '0.00',
        'null',
      ],
      [
        '2026-03-03',
        'vk-ads',
        '555',
        '9',
        'Spring',
        '50',
        '2',
        '20.000000',
        '1',
        '200.00',
        '10.00',
        '20.00',
        '9.0000000000000000',
      ],
      [
        '2026-03-03',
        'yandex-direct',
        'shop-direct',
        '101',
        'Brand',
        '500',
        '10',
        '300.000000',
        '0',
        '0.00',
        '30.00',
        'null',
        '-1.00000000000000000000',
      ],
      [
        '2026-03-04',
        'vk-ads',
        '555',
        '7',
        'Spring Sale 2',
        '100',
        '4',
        '40.000000',
        '0',
        '0.00',
        '10.00',
        'null',
        '-1.00000000000000000000',
      ],
    ])
  })

  it("moves campaign deals to their completion day with --vars revenue_date=completed_date, keeping each deal's campaign", async () => {
    const result = await runTransform(tw.warehouse.db, { vars: { revenue_date: 'completed_date' } })
    expect(result.tests.filter((test) => test.status !== 'passed')).toEqual([])
    expect(
      await rowsOf(
        tw,
        `select date_day::text, campaign_id::text, deals::text, revenue::text, spend::text
         from analytics.fct_campaign_daily where deals > 0 order by date_day, campaign_id`,
      ),
    ).toEqual([
      ['2026-03-04', '7', '1', '500.00', '40.000000'],
      ['2026-03-04', '9', '1', '200.00', '0.000000'],
      ['2026-03-10', '101', '1', '1000.00', '0.000000'],
    ])
    await runTransform(tw.warehouse.db)
  })
})
