import { DateTime } from 'luxon'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { runSqlFile } from '../warehouse/sql-files.ts'

/**
 * How well connector spend meets the deals, read from the warehouse tables directly (no
 * transform needed), for `calltouch-etl status`. Keys compare as the dbt macro channel_key makes
 * them, so the report agrees with fct_campaign_daily.
 *
 * Glossary:
 * - matched spend: spend of the account's campaigns whose key (the campaign id, or any name the
 *   campaign has had, as the account's utm_campaign_holds says) is the utm_campaign of at least
 *   one counted deal of the period under the account's site, utm_source and utm_medium;
 * - unmatched spend: the rest of the account's spend of the period;
 * - unmatched deals: counted deals of the period under the account's site, utm_source and
 *   utm_medium whose utm_campaign is the key of no campaign of any ad account of the site with
 *   those keys (a deal without utm_campaign included);
 * - overlap: a site-day-source-medium that CSV spend and a connector both cover; the connector's
 *   spend counts and the CSV rows are left out (int_ad_spend_unioned).
 */

/** How many campaigns and utm_campaign values the report lists. */
export const TOP_ENTRIES = 5

export const UTM_CAMPAIGN_HOLDS = ['id', 'name'] as const
export type UtmCampaignHolds = (typeof UTM_CAMPAIGN_HOLDS)[number]

/** A campaign and its spend over the period; money is exact decimal text, to the kopeck. */
export interface CampaignSpend {
  readonly campaignId: string
  /** Its name on its newest day of the period. */
  readonly campaignName: string
  readonly spend: string
}

export interface UtmCampaignDeals {
  /** The deals' utm_campaign as a channel key: trimmed, lower-cased, `(none)` when empty. */
  readonly utmCampaign: string
  readonly deals: number
}

/** One ad account's spend over the period set against the deals. */
export interface AdAccountSpendMatch {
  readonly sourceSystem: string
  readonly account: string
  readonly siteId: number
  /** The channel keys of the account's ads, as configured. */
  readonly utmSource: string
  readonly utmMedium: string
  readonly utmCampaignHolds: UtmCampaignHolds
  readonly currency: string
  /** The period: the last `recentDays` days up to today in the site's zone, inclusive. */
  readonly firstDay: string
  readonly lastDay: string
  readonly spend: string
  readonly matchedSpend: string
  /** spend − matchedSpend. */
  readonly unmatchedSpend: string
  /** Campaigns with activity in the period, and those of them matched. */
  readonly campaigns: number
  readonly matchedCampaigns: number
  /** The unmatched campaigns with the most spend, at most TOP_ENTRIES. */
  readonly topUnmatchedCampaigns: readonly CampaignSpend[]
  /** Counted deals of the period under the account's site, utm_source and utm_medium. */
  readonly deals: number
  readonly unmatchedDeals: number
  /** The utm_campaign values of the unmatched deals with the most deals, at most TOP_ENTRIES. */
  readonly topUnmatchedUtmCampaigns: readonly UtmCampaignDeals[]
}

/** CSV spend and a connector covering the same site-days of one source and medium. */
export interface SpendOverlap {
  readonly siteId: number
  readonly sourceSystem: string
  readonly account: string
  readonly utmSource: string
  readonly utmMedium: string
  readonly days: number
  readonly firstDay: string
  readonly lastDay: string
  /** Which spend counts: always the connector's. */
  readonly counted: 'connector'
  /** The CSV spend of those days, source and medium that is left out, to the kopeck. */
  readonly csvSpendLeftOut: string
}

export interface SpendMatchingProps {
  /** The zone whose today ends a site's period. */
  readonly timeZoneOf: (siteId: number) => string
  readonly now: Date
  readonly recentDays: number
}

export interface SpendMatching {
  readonly adAccounts: readonly AdAccountSpendMatch[]
  readonly spendOverlaps: readonly SpendOverlap[]
}

/**
 * Per ad account of `marketing.ad_accounts`, its spend of the last `recentDays` days (today in
 * its site's zone included) matched and unmatched to the deals, and the deals under its channel
 * that match no campaign; per site with ad accounts, where CSV spend and a connector overlap.
 *
 * @example
 * const { adAccounts } = await readSpendMatching(db, { timeZoneOf: () => 'Europe/Moscow', now: new Date(), recentDays: 30 })
 */
export async function readSpendMatching(db: WarehouseDb, props: SpendMatchingProps): Promise<SpendMatching> {
  const accounts = await listAdAccounts(db)
  const periodOf = (siteId: number): { firstDay: string; lastDay: string } => {
    const today = DateTime.fromJSDate(props.now, { zone: props.timeZoneOf(siteId) }).startOf('day')
    return {
      firstDay: today.minus({ days: props.recentDays - 1 }).toISODate() as string,
      lastDay: today.toISODate() as string,
    }
  }
  const adAccounts: AdAccountSpendMatch[] = []
  for (const account of accounts) {
    const period = periodOf(account.site_id)
    const params = { sourceSystem: account.source_system, account: account.account, ...period }
    const spend = await selectCampaignSpendMatch(db, params)
    const deals = await selectUnmatchedDealCampaigns(db, params)
    adAccounts.push({
      sourceSystem: account.source_system,
      account: account.account,
      siteId: account.site_id,
      utmSource: account.utm_source,
      utmMedium: account.utm_medium,
      utmCampaignHolds: account.utm_campaign_holds,
      currency: account.currency,
      ...period,
      spend: spend.spend,
      matchedSpend: spend.matched_spend,
      unmatchedSpend: spend.unmatched_spend,
      campaigns: spend.campaigns,
      matchedCampaigns: spend.matched_campaigns,
      topUnmatchedCampaigns: spend.top_unmatched_campaigns,
      deals: deals.deals,
      unmatchedDeals: deals.unmatched_deals,
      topUnmatchedUtmCampaigns: deals.top_unmatched_utm_campaigns,
    })
  }
  const spendOverlaps: SpendOverlap[] = []
  for (const siteId of [...new Set(accounts.map((account) => account.site_id))]) {
    for (const row of await selectSpendOverlaps(db, { siteId, ...periodOf(siteId) })) {
      spendOverlaps.push({
        siteId,
        sourceSystem: row.source_system,
        account: row.account,
        utmSource: row.utm_source,
        utmMedium: row.utm_medium,
        days: row.days,
        firstDay: row.first_day,
        lastDay: row.last_day,
        counted: 'connector',
        csvSpendLeftOut: row.csv_spend,
      })
    }
  }
  return { adAccounts, spendOverlaps }
}

interface AdAccountRow {
  readonly source_system: string
  readonly account: string
  readonly site_id: number
  readonly utm_source: string
  readonly utm_medium: string
  readonly utm_campaign_holds: UtmCampaignHolds
  readonly currency: string
}

/** Every ad account, by site, source system and account (sql/select_ad_accounts.sql). */
async function listAdAccounts(db: WarehouseDb): Promise<AdAccountRow[]> {
  return runSqlFile<AdAccountRow>(db, 'select_ad_accounts')
}

interface AccountPeriod {
  readonly sourceSystem: string
  readonly account: string
  /** YYYY-MM-DD, inclusive. */
  readonly firstDay: string
  readonly lastDay: string
}

interface CampaignSpendMatchRow {
  readonly spend: string
  readonly matched_spend: string
  readonly unmatched_spend: string
  readonly campaigns: number
  readonly matched_campaigns: number
  readonly top_unmatched_campaigns: CampaignSpend[]
}

/** One account's spend of the period, matched and unmatched (sql/select_campaign_spend_match.sql). */
async function selectCampaignSpendMatch(db: WarehouseDb, params: AccountPeriod): Promise<CampaignSpendMatchRow> {
  const [row] = await runSqlFile<CampaignSpendMatchRow>(db, 'select_campaign_spend_match', [
    params.sourceSystem,
    params.account,
    params.firstDay,
    params.lastDay,
  ])
  if (!row) throw new Error(`select_campaign_spend_match returned no row for ${params.sourceSystem} ${params.account}`)
  return row
}

interface UnmatchedDealCampaignsRow {
  readonly deals: number
  readonly unmatched_deals: number
  readonly top_unmatched_utm_campaigns: UtmCampaignDeals[]
}

/** The deals under one account's channel that match no campaign (sql/select_unmatched_deal_campaigns.sql). */
async function selectUnmatchedDealCampaigns(
  db: WarehouseDb,
  params: AccountPeriod,
): Promise<UnmatchedDealCampaignsRow> {
  const [row] = await runSqlFile<UnmatchedDealCampaignsRow>(db, 'select_unmatched_deal_campaigns', [
    params.sourceSystem,
    params.account,
    params.firstDay,
    params.lastDay,
  ])
  if (!row)
    throw new Error(`select_unmatched_deal_campaigns returned no row for ${params.sourceSystem} ${params.account}`)
  return row
}

interface SpendOverlapRow {
  readonly source_system: string
  readonly account: string
  readonly utm_source: string
  readonly utm_medium: string
  readonly days: number
  readonly first_day: string
  readonly last_day: string
  readonly csv_spend: string
}

/** Where CSV spend and a connector cover the same days of a site (sql/select_spend_overlaps.sql). */
async function selectSpendOverlaps(
  db: WarehouseDb,
  params: { readonly siteId: number; readonly firstDay: string; readonly lastDay: string },
): Promise<SpendOverlapRow[]> {
  return runSqlFile<SpendOverlapRow>(db, 'select_spend_overlaps', [params.siteId, params.firstDay, params.lastDay])
}
