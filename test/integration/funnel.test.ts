import { afterAll, beforeAll, expect, it } from 'vitest'
import { readFunnelReport } from '../../pipelines/operate/funnel-report.ts'
import { loadCallsWindow, loadRequestsDay } from '../../pipelines/sources/calltouch-leads/load-leads.ts'
import { runTransform, type TransformResult } from '../../pipelines/transform/run-transform.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { finishRun, startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { runMain } from '../helpers/run-main.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/**
 * The lead funnel on leads loaded by the leads loaders and deals written by hand, small
 * enough to compute every number (site 201, Moscow days):
 * - call 9001 on 03-01 10:00, yandex/cpc/brand, unique and target: two deals, k1 (03-01, 1000.00)
 *   and k2 (03-02, no revenue) — a lead with two deals;
 * - call 9002 on 03-01 23:55, yandex/cpc/brand, target: deal k3 created 03-02 00:03 (500.00) — a
 *   deal whose lead came the day before;
 * - call 9003 on 03-02, no UTM, source google / organic, unique: no deal;
 * - request 7001 (requestNumber W-1) on 03-01, yandex/cpc/brand in its session, unique and
 *   target: deal k4 (03-01, 2000.00) by requestNumber;
 * - request 7002 (no requestNumber) on 03-01, vk/social/spring: deal k5 (03-01, no revenue)
 *   names "7002", linked by the requestId fallback;
 * - deal k6 (03-01, yandex/cpc/brand, 300.00) has no source; deal k7 (03-01) is deleted.
 * Spend: yandex/cpc/brand 900.00 on 03-01 and 100.00 on 03-02, vk/social/spring 50.00 on 03-01.
 */
const SITE = 201

/** Epoch seconds of a Moscow wall time 'dd/mm/yyyy hh:mm:ss' (UTC+3). */
function moscowSeconds(text: string): number {
  const m = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(text)
  if (m === null) throw new Error(`not a Calltouch date-time: ${text}`)
  return (Date.UTC(+m[3]!, +m[2]! - 1, +m[1]!, +m[4]!, +m[5]!, +m[6]!) - 3 * 3_600_000) / 1000
}

function call(callId: number, date: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { callId, date, timestamp: moscowSeconds(date), callerNumber: `7916000${callId}`, ...fields }
}

function request(requestId: number, dateStr: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { requestId, date: moscowSeconds(dateStr) * 1000, dateStr, client: { fio: 'Иван' }, ...fields }
}

const CALLS = [
  call(9001, '01/03/2026 10:00:00', {
    uniqueCall: true,
    targetCall: true,
    source: 'yandex',
    medium: 'cpc',
    utmSource: 'yandex',
    utmMedium: 'cpc',
    utmCampaign: 'Brand',
    yandexDirect: { campaignId: 70012345 },
    callTags: [{ category: 'manual', type: 'manual', names: ['важный', 'повтор'] }],
  }),
  call(9002, '01/03/2026 23:55:00', {
    uniqueCall: false,
    targetCall: true,
    source: 'yandex',
    medium: 'cpc',
    utmSource: 'yandex',
    utmMedium: 'cpc',
    utmCampaign: 'brand',
  }),
  call(9003, '02/03/2026 11:00:00', {
    uniqueCall: true,
    targetCall: false,
    source: 'google',
    medium: 'organic',
    utmSource: '',
    utmMedium: null,
    utmCampaign: '<не заполнено>',
  }),
]

const REQUESTS = [
  request(7001, '01/03/2026 12:00:00', {
    requestNumber: 'W-1',
    uniqueRequest: true,
    targetRequest: true,
    session: { source: 'yandex', medium: 'cpc', utmSource: 'yandex', utmMedium: 'cpc', utmCampaign: 'brand' },
  }),
  request(7002, '01/03/2026 13:00:00', {
    uniqueRequest: false,
    targetRequest: false,
    session: { source: 'vk', medium: 'social', utmSource: 'vk', utmMedium: 'social', utmCampaign: 'spring' },
  }),
]

const DEAL_STATEMENTS = [
  `insert into calltouch.orders
     (site_id, order_number, order_day, order_date, status, source_type, completed_amount, is_deleted,
      payload_hash, first_seen_at, last_changed_at, last_seen_at)
   select ${SITE}, order_number, order_day::date, order_date::timestamptz, 'final', source_type,
      completed_amount::numeric, is_deleted, 'fixture', now(), now(), now()
   from (values
     ('k1', '2026-03-01', '2026-03-01 10:20:00+03', 'CALL', '1000.00', false),
     ('k2', '2026-03-02', '2026-03-02 09:00:00+03', 'CALL', null, false),
     ('k3', '2026-03-02', '2026-03-02 00:03:00+03', 'CALL', '500.00', false),
     ('k4', '2026-03-01', '2026-03-01 12:30:00+03', 'REQUEST', '2000.00', false),
     ('k5', '2026-03-01', '2026-03-01 13:30:00+03', 'REQUEST', null, false),
     ('k6', '2026-03-01', '2026-03-01 15:00:00+03', null, '300.00', false),
     ('k7', '2026-03-01', '2026-03-01 16:00:00+03', 'CALL', '777.00', true)
   ) as deals (order_number, order_day, order_date, source_type, completed_amount, is_deleted)`,
  `insert into calltouch.sources (site_id, order_number, source_type, call_id, request_number) values
     (${SITE}, 'k1', 'CALL', 9001, null),
     (${SITE}, 'k2', 'CALL', 9001, null),
     (${SITE}, 'k3', 'CALL', 9002, null),
     (${SITE}, 'k4', 'REQUEST', null, 'W-1'),
     (${SITE}, 'k5', 'REQUEST', null, '7002'),
     (${SITE}, 'k7', 'CALL', 9001, null)`,
  `insert into calltouch.visits (site_id, order_number, source, medium, utm_source, utm_medium, utm_campaign) values
     (${SITE}, 'k1', 'yandex', 'cpc', 'yandex', 'cpc', 'brand'),
     (${SITE}, 'k2', 'yandex', 'cpc', 'yandex', 'cpc', 'brand'),
     (${SITE}, 'k3', 'yandex', 'cpc', 'yandex', 'cpc', 'brand'),
     (${SITE}, 'k4', 'yandex', 'cpc', 'yandex', 'cpc', 'brand'),
     (${SITE}, 'k5', 'vk', 'social', 'vk', 'social', 'spring'),
     (${SITE}, 'k6', 'yandex', 'cpc', 'yandex', 'cpc', 'brand'),
     (${SITE}, 'k7', 'yandex', 'cpc', 'yandex', 'cpc', 'brand')`,
  `insert into marketing.ad_spend (site_id, spend_date, source, medium, campaign, cost, source_file) values
     (${SITE}, '2026-03-01', 'yandex', 'cpc', 'brand', 900.00, 'fixture.csv'),
     (${SITE}, '2026-03-02', 'yandex', 'cpc', 'brand', 100.00, 'fixture.csv'),
     (${SITE}, '2026-03-01', 'vk', 'social', 'spring', 50.00, 'fixture.csv')`,
] as const

async function rowsOf(db: WarehouseDb, text: string): Promise<Record<string, unknown>[]> {
  return executeSql<Record<string, unknown>>(db, text)
}

describeEachEngine('the lead funnel: fct_leads, fct_funnel_daily and report funnel', (engine) => {
  let tw: TestWarehouse
  let transform: TransformResult
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    const db = tw.warehouse.db
    const runId = await startRun(db, 'backfill')
    await loadCallsWindow(db, {
      runId,
      siteId: SITE,
      firstDay: '2026-03-01',
      lastDay: '2026-03-02',
      bodies: [JSON.stringify(CALLS)],
    })
    await loadRequestsDay(db, { runId, siteId: SITE, day: '2026-03-01', body: JSON.stringify(REQUESTS) })
    await finishRun(db, runId, { status: 'succeeded' })
    for (const statement of DEAL_STATEMENTS) await executeSql(db, statement)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** The command in this process; the embedded warehouse is released for it unless it fails before opening it. */
  async function cli(args: string[]) {
    await tw.release()
    try {
      return await runMain(['report', 'funnel', ...args], tw.env)
    } finally {
      await tw.reopen()
    }
  }

  it('says that the funnel mart is not built yet and to run transform, with exit code 1', async () => {
    const result = await cli([])
    expect([result.exitCode, result.stderr]).toEqual([
      1,
      'error: the funnel mart is not built yet (analytics.fct_funnel_daily does not exist): run calltouch-etl transform first\n',
    ])
  })

  it('builds the funnel with every test passing', async () => {
    transform = await runTransform(tw.warehouse.db)
    expect(transform.tests.filter((test) => test.status !== 'passed')).toEqual([])
    expect(transform.ok).toBe(true)
  })

  it('gives one row per call and request, each with its deals: two deals, a deal of the next day, the id fallback', async () => {
    expect(
      await rowsOf(
        tw.warehouse.db,
        `select lead_key, lead_type, lead_id::text, request_number, lead_day::text, is_unique, is_target,
          utm_source, utm_medium, utm_campaign, yandex_direct_campaign_id::text, tags,
          first_deal_key, first_order_number, first_deal_day::text, order_numbers, deals, deals_with_revenue, revenue::text
         from analytics.fct_leads order by lead_key`,
      ),
    ).toEqual([
      {
        lead_key: '201:call:9001',
        lead_type: 'call',
        lead_id: '9001',
        request_number: null,
        lead_day: '2026-03-01',
        is_unique: true,
        is_target: true,
        utm_source: 'yandex',
        utm_medium: 'cpc',
        utm_campaign: 'brand',
        yandex_direct_campaign_id: '70012345',
        tags: 'важный, повтор',
        first_deal_key: '201:k1',
        first_order_number: 'k1',
        first_deal_day: '2026-03-01',
        order_numbers: 'k1, k2',
        deals: 2,
        deals_with_revenue: 1,
        revenue: '1000.00',
      },
      {
        lead_key: '201:call:9002',
        lead_type: 'call',
        lead_id: '9002',
        request_number: null,
        lead_day: '2026-03-01',
        is_unique: false,
        is_target: true,
        utm_source: 'yandex',
        utm_medium: 'cpc',
        utm_campaign: 'brand',
        yandex_direct_campaign_id: null,
        tags: null,
        first_deal_key: '201:k3',
        first_order_number: 'k3',
        first_deal_day: '2026-03-02',
        order_numbers: 'k3',
        deals: 1,
        deals_with_revenue: 1,
        revenue: '500.00',
      },
      {
        lead_key: '201:call:9003',
        lead_type: 'call',
        lead_id: '9003',
        request_number: null,
        lead_day: '2026-03-02',
        is_unique: true,
        is_target: false,
        utm_source: 'google',
        utm_medium: 'organic',
        utm_campaign: '(none)',
        yandex_direct_campaign_id: null,
        tags: null,
        first_deal_key: null,
        first_order_number: null,
        first_deal_day: null,
        order_numbers: null,
        deals: 0,
        deals_with_revenue: 0,
        revenue: '0.00',
      },
      {
        lead_key: '201:request:7001',
        lead_type: 'request',
        lead_id: '7001',
        request_number: 'W-1',
        lead_day: '2026-03-01',
        is_unique: true,
        is_target: true,
        utm_source: 'yandex',
        utm_medium: 'cpc',
        utm_campaign: 'brand',
        yandex_direct_campaign_id: null,
        tags: null,
        first_deal_key: '201:k4',
        first_order_number: 'k4',
        first_deal_day: '2026-03-01',
        order_numbers: 'k4',
        deals: 1,
        deals_with_revenue: 1,
        revenue: '2000.00',
      },
      {
        lead_key: '201:request:7002',
        lead_type: 'request',
        lead_id: '7002',
        request_number: null,
        lead_day: '2026-03-01',
        is_unique: false,
        is_target: false,
        utm_source: 'vk',
        utm_medium: 'social',
        utm_campaign: 'spring',
        yandex_direct_campaign_id: null,
        tags: null,
        first_deal_key: '201:k5',
        first_order_number: 'k5',
        first_deal_day: '2026-03-01',
        order_numbers: 'k5',
        deals: 1,
        deals_with_revenue: 0,
        revenue: '0.00',
      },
    ])
    expect(
      await rowsOf(
        tw.warehouse.db,
        `select order_number, lead_key, linked_by from analytics_staging.int_deals_linked_to_leads order by order_number`,
      ),
    ).toEqual([
      { order_number: 'k1', lead_key: '201:call:9001', linked_by: 'call_id' },
      { order_number: 'k2', lead_key: '201:call:9001', linked_by: 'call_id' },
      { order_number: 'k3', lead_key: '201:call:9002', linked_by: 'call_id' },
      { order_number: 'k4', lead_key: '201:request:7001', linked_by: 'request_number' },
      { order_number: 'k5', lead_key: '201:request:7002', linked_by: 'request_id' },
      { order_number: 'k6', lead_key: null, linked_by: null },
      { order_number: 'k7', lead_key: '201:call:9001', linked_by: 'call_id' },
    ])
  })

  it('gives fct_funnel_daily and fct_funnel_monthly exactly the rows computed by hand', async () => {
    const columns = `utm_source, utm_medium, utm_campaign, leads, unique_leads, target_leads, leads_with_deals, deals,
      deals_with_revenue, revenue::text, spend::text, round(cost_per_lead, 6)::text as cost_per_lead,
      round(cost_per_target_lead, 6)::text as cost_per_target_lead,
      round(lead_to_deal_conversion, 6)::text as conversion, round(roi, 6)::text as roi`
    expect(
      await rowsOf(
        tw.warehouse.db,
        `select date_day::text, ${columns} from analytics.fct_funnel_daily order by date_day, utm_source, utm_medium, utm_campaign`,
      ),
    ).toEqual([
      {
        date_day: '2026-03-01',
        utm_source: 'vk',
        utm_medium: 'social',
        utm_campaign: 'spring',
        leads: 1,
        unique_leads: 0,
        target_leads: 0,
        leads_with_deals: 1,
        deals: 1,
        deals_with_revenue: 0,
        revenue: '0.00',
        spend: '50.00',
        cost_per_lead: '50.000000',
        cost_per_target_lead: null,
        conversion: '1.000000',
        roi: '-1.000000',
      },
      {
        date_day: '2026-03-01',
        utm_source: 'yandex',
        utm_medium: 'cpc',
        utm_campaign: 'brand',
        leads: 3,
        unique_leads: 2,
        target_leads: 3,
        leads_with_deals: 3,
        deals: 3,
        deals_with_revenue: 3,
        revenue: '3300.00',
        spend: '900.00',
        cost_per_lead: '300.000000',
        cost_per_target_lead: '300.000000',
        conversion: '1.000000',
        roi: '2.666667',
      },
      {
        date_day: '2026-03-02',
        utm_source: 'google',
        utm_medium: 'organic',
        utm_campaign: '(none)',
        leads: 1,
        unique_leads: 1,
        target_leads: 0,
        leads_with_deals: 0,
        deals: 0,
        deals_with_revenue: 0,
        revenue: '0.00',
        spend: '0.00',
        cost_per_lead: '0.000000',
        cost_per_target_lead: null,
        conversion: '0.000000',
        roi: null,
      },
      {
        date_day: '2026-03-02',
        utm_source: 'yandex',
        utm_medium: 'cpc',
        utm_campaign: 'brand',
        leads: 0,
        unique_leads: 0,
        target_leads: 0,
        leads_with_deals: 0,
        deals: 2,
        deals_with_revenue: 1,
        revenue: '500.00',
        spend: '100.00',
        cost_per_lead: null,
        cost_per_target_lead: null,
        conversion: null,
        roi: '4.000000',
      },
    ])
    expect(
      await rowsOf(
        tw.warehouse.db,
        `select date_month::text, ${columns} from analytics.fct_funnel_monthly where utm_source = 'yandex'`,
      ),
    ).toEqual([
      {
        date_month: '2026-03-01',
        utm_source: 'yandex',
        utm_medium: 'cpc',
        utm_campaign: 'brand',
        leads: 3,
        unique_leads: 2,
        target_leads: 3,
        leads_with_deals: 3,
        deals: 5,
        deals_with_revenue: 4,
        revenue: '3800.00',
        spend: '1000.00',
        cost_per_lead: '333.333333',
        cost_per_target_lead: '333.333333',
        conversion: '1.000000',
        roi: '2.800000',
      },
    ])
  })

  it('reads the funnel by channel, campaign and month with exact totals', async () => {
    const db = tw.warehouse.db
    const byChannel = await readFunnelReport(db, { by: 'channel', from: null, to: null, siteId: SITE })
    expect(byChannel.rows).toEqual([
      {
        keys: ['yandex', 'cpc'],
        leads: 3,
        uniqueLeads: 2,
        targetLeads: 3,
        leadsWithDeals: 3,
        deals: 5,
        revenue: '3800.00',
        spend: '1000.00',
        costPerLead: '333.33',
        costPerTargetLead: '333.33',
        conversionPercent: '100.0',
        roiPercent: '280.0',
      },
      {
        keys: ['vk', 'social'],
        leads: 1,
        uniqueLeads: 0,
        targetLeads: 0,
        leadsWithDeals: 1,
        deals: 1,
        revenue: '0.00',
        spend: '50.00',
        costPerLead: '50.00',
        costPerTargetLead: null,
        conversionPercent: '100.0',
        roiPercent: '-100.0',
      },
      {
        keys: ['google', 'organic'],
        leads: 1,
        uniqueLeads: 1,
        targetLeads: 0,
        leadsWithDeals: 0,
        deals: 0,
        revenue: '0.00',
        spend: '0.00',
        costPerLead: '0.00',
        costPerTargetLead: null,
        conversionPercent: '0.0',
        roiPercent: null,
      },
    ])
    const total = {
      keys: [],
      leads: 5,
      uniqueLeads: 3,
      targetLeads: 3,
      leadsWithDeals: 4,
      deals: 6,
      revenue: '3800.00',
      spend: '1050.00',
      costPerLead: '210.00',
      costPerTargetLead: '350.00',
      conversionPercent: '80.0',
      roiPercent: '261.9',
    }
    expect(byChannel.total).toEqual(total)

    const byCampaign = await readFunnelReport(db, { by: 'campaign', from: '2026-03-02', to: null, siteId: null })
    expect(byCampaign.rows.map((row) => [...row.keys, row.leads, row.deals, row.costPerLead])).toEqual([
      ['google', 'organic', '(none)', 1, 0, '0.00'],
      ['yandex', 'cpc', 'brand', 0, 2, null],
    ])

    const byMonth = await readFunnelReport(db, { by: 'month', from: null, to: null, siteId: null })
    expect(byMonth.rows).toEqual([{ ...total, keys: ['2026-03'] }])
  })

  it('prints the funnel as a table with a total line, and as JSON', async () => {
    const table = await cli(['--site', String(SITE)])
    expect([table.exitCode, table.stderr]).toEqual([0, ''])
    expect(table.stdout).toBe(
      [
        'Lead funnel by channel, all days, site 201 (analytics.fct_funnel_daily)',
        '┌────────┬─────────┬───────┬────────┬────────┬───────────┬───────┬──────────┬──────────┬──────────┬────────────┬────────────┬─────────┐',
        '│ source │ medium  │ leads │ unique │ target │ with deal │ deals │  revenue │    spend │ per lead │ per target │ conversion │     ROI │',
        '├────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼──────────┼──────────┼──────────┼────────────┼────────────┼─────────┤',
        '│ yandex │ cpc     │     3 │      2 │      3 │         3 │     5 │ 3 800.00 │ 1 000.00 │   333.33 │     333.33 │     100.0% │  280.0% │',
        '├────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼──────────┼──────────┼──────────┼────────────┼────────────┼─────────┤',
        '│ vk     │ social  │     1 │      0 │      0 │         1 │     1 │     0.00 │    50.00 │    50.00 │          — │     100.0% │ -100.0% │',
        '├────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼──────────┼──────────┼──────────┼────────────┼────────────┼─────────┤',
        '│ google │ organic │     1 │      1 │      0 │         0 │     0 │     0.00 │     0.00 │     0.00 │          — │       0.0% │       — │',
        '├────────┼─────────┼───────┼────────┼────────┼───────────┼───────┼──────────┼──────────┼──────────┼────────────┼────────────┼─────────┤',
        '│ total  │         │     5 │      3 │      3 │         4 │     6 │ 3 800.00 │ 1 050.00 │   210.00 │     350.00 │      80.0% │  261.9% │',
        '└────────┴─────────┴───────┴────────┴────────┴───────────┴───────┴──────────┴──────────┴──────────┴────────────┴────────────┴─────────┘',
        'Leads: calls and requests on their day and channel; with deal: of those, the ones with a counted deal; conversion = with deal / leads.',
        'Deals and revenue on their own day and channel, as in report roi; per lead = spend / leads, per target = spend / target leads; ROI = (revenue − spend) / spend; — where the divisor is 0.',
        '',
      ].join('\n'),
    )
    // The same rendering on either engine: the embedded one, slow to reopen, is spared two more runs.
    if (engine === 'pglite') return
    const json = await cli(['--by', 'month', '--json', '--from', '2026-03-02', '--to', '2026-03-31'])
    expect(json.exitCode).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({
      by: 'month',
      keyNames: ['month'],
      source: 'analytics.fct_funnel_daily',
      from: '2026-03-02',
      to: '2026-03-31',
      siteId: null,
      rows: [
        {
          keys: ['2026-03'],
          leads: 1,
          uniqueLeads: 1,
          targetLeads: 0,
          leadsWithDeals: 0,
          deals: 2,
          revenue: '500.00',
          spend: '100.00',
          costPerLead: '100.00',
          costPerTargetLead: null,
          conversionPercent: '0.0',
          roiPercent: '400.0',
        },
      ],
      total: {
        keys: [],
        leads: 1,
        uniqueLeads: 1,
        targetLeads: 0,
        leadsWithDeals: 0,
        deals: 2,
        revenue: '500.00',
        spend: '100.00',
        costPerLead: '100.00',
        costPerTargetLead: null,
        conversionPercent: '0.0',
        roiPercent: '400.0',
      },
    })
    const empty = await cli(['--from', '2025-01-01', '--to', '2025-01-31'])
    expect(empty.stdout).toBe(
      'Lead funnel by channel, 2025-01-01 to 2025-01-31, all sites (analytics.fct_funnel_daily): no rows. Run calltouch-etl sync and calltouch-etl transform, or widen --from/--to.\n',
    )
  })
})
