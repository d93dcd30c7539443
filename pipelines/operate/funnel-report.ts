import { sql } from 'kysely'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { assertMartBuilt, groupingKeysSql } from './mart-query.ts'

export const FUNNEL_GROUPINGS = ['channel', 'campaign', 'month'] as const
export type FunnelGrouping = (typeof FUNNEL_GROUPINGS)[number]

/** The mart every grouping reads; a month is a sum of its days, so the daily mart serves all three. */
export const FUNNEL_MART = 'analytics.fct_funnel_daily'

export interface FunnelReportProps {
  readonly by: FunnelGrouping
  /** First and last day, inclusive ('YYYY-MM-DD'); null for no bound. */
  readonly from: string | null
  readonly to: string | null
  readonly siteId: number | null
}

/** One line of the report. Money and ratios are exact decimal text (numeric), never a JS number. */
export interface FunnelRow {
  /** The grouping's values, e.g. ['yandex', 'cpc'] by channel; empty on the total. */
  readonly keys: readonly string[]
  readonly leads: number
  readonly uniqueLeads: number
  readonly targetLeads: number
  /** Leads with at least one counted deal. */
  readonly leadsWithDeals: number
  /** Deals on their own day and channel, as the ROI report counts them. */
  readonly deals: number
  readonly revenue: string
  readonly spend: string
  /** spend / leads to the kopeck; null without leads. */
  readonly costPerLead: string | null
  /** spend / target leads to the kopeck; null without target leads. */
  readonly costPerTargetLead: string | null
  /** leads with deals / leads as a percentage, one decimal; null without leads. */
  readonly conversionPercent: string | null
  /** (revenue − spend) / spend as a percentage, one decimal; null when there was no spend. */
  readonly roiPercent: string | null
}

export interface FunnelReport {
  readonly by: FunnelGrouping
  readonly keyNames: readonly string[]
  /** The mart the numbers come from. */
  readonly source: string
  readonly from: string | null
  readonly to: string | null
  readonly siteId: number | null
  readonly rows: readonly FunnelRow[]
  /** Everything the rows add up to; null when there are no rows. */
  readonly total: FunnelRow | null
}

interface Grouping {
  readonly keyNames: readonly string[]
  /** SQL of each key, over the mart's columns. */
  readonly keys: readonly string[]
  /** Order of the rows (the total comes last). */
  readonly orderBy: string
}

const GROUPINGS: Readonly<Record<FunnelGrouping, Grouping>> = {
  channel: {
    keyNames: ['utm_source', 'utm_medium'],
    keys: ['utm_source', 'utm_medium'],
    orderBy: 'sum(leads) desc, sum(spend) desc, key_0, key_1',
  },
  campaign: {
    keyNames: ['utm_source', 'utm_medium', 'utm_campaign'],
    keys: ['utm_source', 'utm_medium', 'utm_campaign'],
    orderBy: 'sum(leads) desc, sum(spend) desc, key_0, key_1, key_2',
  },
  month: {
    keyNames: ['month'],
    keys: [`to_char(date_day, 'YYYY-MM')`],
    orderBy: 'key_0',
  },
}

interface FunnelQueryRow {
  is_total: boolean
  key_0: string | null
  key_1: string | null
  key_2: string | null
  leads: number
  unique_leads: number
  target_leads: number
  leads_with_deals: number
  deals: number
  revenue: string
  spend: string
  cost_per_lead: string | null
  cost_per_target_lead: string | null
  conversion_percent: string | null
  roi_percent: string | null
}

/**
 * The lead funnel from analytics.fct_funnel_daily, grouped by channel,
 * campaign or month, with a total: leads, unique and target leads, deals,
 * revenue, spend, cost per (target) lead, lead→deal conversion and ROI, each
 * ratio recomputed from the group's sums. Throws (exit 1) when the mart is not
 * built yet, saying to run `calltouch-etl transform`.
 *
 * @example
 * const report = await readFunnelReport(db, { by: 'channel', from: '2026-10-01', to: '2026-10-31', siteId: null })
 */
export async function readFunnelReport(db: WarehouseDb, props: FunnelReportProps): Promise<FunnelReport> {
  const grouping = GROUPINGS[props.by]
  await assertMartBuilt(db, FUNNEL_MART, 'the funnel mart is')
  const keys = groupingKeysSql(grouping.keys)
  const query = sql<FunnelQueryRow>`
    select
      grouping(${sql.raw(keys.groupBy)}) <> 0 as is_total,
      ${sql.raw(keys.select)},
      coalesce(sum(leads), 0)::int as leads,
      coalesce(sum(unique_leads), 0)::int as unique_leads,
      coalesce(sum(target_leads), 0)::int as target_leads,
      coalesce(sum(leads_with_deals), 0)::int as leads_with_deals,
      coalesce(sum(deals), 0)::int as deals,
      coalesce(sum(revenue), 0)::numeric(18, 2)::text as revenue,
      coalesce(sum(spend), 0)::numeric(18, 2)::text as spend,
      case when coalesce(sum(leads), 0) = 0 then null
        else round(sum(spend) / sum(leads), 2)::text end as cost_per_lead,
      case when coalesce(sum(target_leads), 0) = 0 then null
        else round(sum(spend) / sum(target_leads), 2)::text end as cost_per_target_lead,
      case when coalesce(sum(leads), 0) = 0 then null
        else round(sum(leads_with_deals)::numeric * 100 / sum(leads), 1)::text end as conversion_percent,
      case when coalesce(sum(spend), 0) = 0 then null
        else round((sum(revenue) - sum(spend)) * 100 / sum(spend), 1)::text end as roi_percent
    from ${sql.table(FUNNEL_MART)}
    where (${props.from}::date is null or date_day >= ${props.from}::date)
      and (${props.to}::date is null or date_day <= ${props.to}::date)
      and (${props.siteId}::int is null or site_id = ${props.siteId}::int)
    group by grouping sets ((${sql.raw(keys.groupBy)}), ())
    order by is_total, ${sql.raw(grouping.orderBy)}`
  const { rows } = await query.execute(db)
  const toRow = (row: FunnelQueryRow): FunnelRow => ({
    keys: row.is_total
      ? []
      : [row.key_0, row.key_1, row.key_2].slice(0, grouping.keys.length).map((key) => key ?? '(none)'),
    leads: row.leads,
    uniqueLeads: row.unique_leads,
    targetLeads: row.target_leads,
    leadsWithDeals: row.leads_with_deals,
    deals: row.deals,
    revenue: row.revenue,
    spend: row.spend,
    costPerLead: row.cost_per_lead,
    costPerTargetLead: row.cost_per_target_lead,
    conversionPercent: row.conversion_percent,
    roiPercent: row.roi_percent,
  })
  const body = rows.filter((row) => !row.is_total).map(toRow)
  const total = rows.find((row) => row.is_total)
  return {
    by: props.by,
    keyNames: grouping.keyNames,
    source: FUNNEL_MART,
    from: props.from,
    to: props.to,
    siteId: props.siteId,
    rows: body,
    total: body.length === 0 || total === undefined ? null : toRow(total),
  }
}
