import { sql } from 'kysely'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { assertMartBuilt, groupingKeysSql } from './mart-query.ts'

export const ROI_GROUPINGS = ['channel', 'campaign', 'ad-campaign', 'month', 'manager'] as const
export type RoiGrouping = (typeof ROI_GROUPINGS)[number]

export interface RoiReportProps {
  readonly by: RoiGrouping
  /** First and last day, inclusive ('YYYY-MM-DD'); null for no bound. */
  readonly from: string | null
  readonly to: string | null
  readonly siteId: number | null
}

/** One line of the report. Money is exact decimal text (numeric), never a JS number. */
export interface RoiRow {
  /** The grouping's values, e.g. ['yandex', 'cpc'] by channel; empty on the total. */
  readonly keys: readonly string[]
  readonly deals: number
  readonly revenue: string
  readonly spend: string
  readonly profit: string
  /** (revenue − spend) / spend as a percentage, one decimal; null when there was no spend. */
  readonly roiPercent: string | null
}

export interface RoiReport {
  readonly by: RoiGrouping
  readonly keyNames: readonly string[]
  /** The mart the numbers come from. */
  readonly source: string
  readonly from: string | null
  readonly to: string | null
  readonly siteId: number | null
  readonly rows: readonly RoiRow[]
  /** Everything the rows add up to; null when there are no rows. */
  readonly total: RoiRow | null
}

interface Grouping {
  readonly mart: string
  readonly keyNames: readonly string[]
  /** SQL of each key, over the mart's columns. */
  readonly keys: readonly string[]
  /** The mart's date column the bounds apply to. */
  readonly dateColumn: string
  /** Order of the rows (the total comes last). */
  readonly orderBy: string
}

/**
 * How each grouping reads the marts (issue 5 fixes their columns). Month and
 * manager bounds: the daily mart is cut by day; the manager mart has months
 * only, so a month is in when its first day is within the bounds' months.
 */
const GROUPINGS: Readonly<Record<RoiGrouping, Grouping>> = {
  channel: {
    mart: 'analytics.fct_marketing_daily',
    keyNames: ['utm_source', 'utm_medium'],
    keys: ['utm_source', 'utm_medium'],
    dateColumn: 'date_day',
    orderBy: 'sum(spend) desc, sum(revenue) desc, key_0, key_1',
  },
  campaign: {
    mart: 'analytics.fct_marketing_daily',
    keyNames: ['utm_source', 'utm_medium', 'utm_campaign'],
    keys: ['utm_source', 'utm_medium', 'utm_campaign'],
    dateColumn: 'date_day',
    orderBy: 'sum(spend) desc, sum(revenue) desc, key_0, key_1, key_2',
  },
  /** The ad platforms' campaigns (connector spend), with the deals matched to each: fct_campaign_daily. */
  'ad-campaign': {
    mart: 'analytics.fct_campaign_daily',
    keyNames: ['platform', 'campaign_id', 'campaign'],
    keys: ['source_system', 'campaign_id::text', 'campaign_name'],
    dateColumn: 'date_day',
    orderBy: 'sum(spend) desc, sum(revenue) desc, key_0, key_1',
  },
  month: {
    mart: 'analytics.fct_marketing_daily',
    keyNames: ['month'],
    keys: [`to_char(date_day, 'YYYY-MM')`],
    dateColumn: 'date_day',
    orderBy: 'key_0',
  },
  manager: {
    mart: 'analytics.fct_manager_channel_monthly',
    keyNames: ['manager'],
    keys: ['manager'],
    dateColumn: 'date_month',
    orderBy: 'sum(revenue) desc, key_0',
  },
}

interface RoiQueryRow {
  is_total: boolean
  key_0: string | null
  key_1: string | null
  key_2: string | null
  deals: number
  revenue: string
  spend: string
  profit: string
  roi_percent: string | null
}

/**
 * ROI from the marts, grouped by channel, campaign, month or manager, with a
 * total. Throws (exit 1) when the marts are not built yet, saying to run
 * `calltouch-etl transform`.
 *
 * @example
 * const report = await readRoiReport(db, { by: 'channel', from: '2026-10-01', to: '2026-10-31', siteId: null })
 */
export async function readRoiReport(db: WarehouseDb, props: RoiReportProps): Promise<RoiReport> {
  const grouping = GROUPINGS[props.by]
  await assertMartBuilt(db, grouping.mart, 'the ROI marts are')
  const from = grouping.dateColumn === 'date_month' && props.from !== null ? `${props.from.slice(0, 7)}-01` : props.from
  const keys = groupingKeysSql(grouping.keys)
  const query = sql<RoiQueryRow>`
    select
      grouping(${sql.raw(keys.groupBy)}) <> 0 as is_total,
      ${sql.raw(keys.select)},
      coalesce(sum(deals), 0)::int as deals,
      coalesce(sum(revenue), 0)::numeric(18, 2)::text as revenue,
      coalesce(sum(spend), 0)::numeric(18, 2)::text as spend,
      (coalesce(sum(revenue), 0) - coalesce(sum(spend), 0))::numeric(18, 2)::text as profit,
      case when coalesce(sum(spend), 0) = 0 then null
        else round((sum(revenue) - sum(spend)) * 100 / sum(spend), 1)::text end as roi_percent
    from ${sql.table(grouping.mart)}
    where (${from}::date is null or ${sql.ref(grouping.dateColumn)} >= ${from}::date)
      and (${props.to}::date is null or ${sql.ref(grouping.dateColumn)} <= ${props.to}::date)
      and (${props.siteId}::int is null or site_id = ${props.siteId}::int)
    group by grouping sets ((${sql.raw(keys.groupBy)}), ())
    order by is_total, ${sql.raw(grouping.orderBy)}`
  const { rows } = await query.execute(db)
  const toRow = (row: RoiQueryRow): RoiRow => ({
    keys: row.is_total
      ? []
      : [row.key_0, row.key_1, row.key_2].slice(0, grouping.keys.length).map((key) => key ?? '(none)'),
    deals: row.deals,
    revenue: row.revenue,
    spend: row.spend,
    profit: row.profit,
    roiPercent: row.roi_percent,
  })
  const body = rows.filter((row) => !row.is_total).map(toRow)
  const total = rows.find((row) => row.is_total)
  return {
    by: props.by,
    keyNames: grouping.keyNames,
    source: grouping.mart,
    from: props.from,
    to: props.to,
    siteId: props.siteId,
    rows: body,
    total: body.length === 0 || total === undefined ? null : toRow(total),
  }
}

/** The newest and oldest day of the daily mart (null when empty), e.g. to pick a default period. */
export async function martDayRange(
  db: WarehouseDb,
  siteId: number | null,
): Promise<{ first: string | null; last: string | null }> {
  await assertMartBuilt(db, GROUPINGS.channel.mart, 'the ROI marts are')
  const { rows } = await sql<{ first: string | null; last: string | null }>`
    select min(date_day) as first, max(date_day) as last from analytics.fct_marketing_daily
    where ${siteId}::int is null or site_id = ${siteId}::int`.execute(db)
  return rows[0] ?? { first: null, last: null }
}
