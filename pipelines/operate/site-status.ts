import { DateTime } from 'luxon'
import { CALLTOUCH_DEALS_SOURCE, siteLedgerKey } from '../sources/calltouch-deals/site-ledger.ts'
import { LEAD_JOURNALS, leadsLedgerKey, type LeadJournal } from '../sources/calltouch-leads/load-leads.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { readFailedDays, readLedgerAccounts, readLedgerSummary, type FailedLedgerDay } from '../warehouse/ledger.ts'
import { runSqlFile } from '../warehouse/sql-files.ts'
import { readSpendMatching, type AdAccountSpendMatch, type SpendOverlap } from './spend-matching.ts'

/** A site is stale when its last complete read of a day is older than this (a nightly job plus slack). */
export const DEFAULT_STALE_AFTER_HOURS = 36

/** "Recent" for rejected records, deal counts and spend coverage: the last 30 days, today included. */
export const DEFAULT_RECENT_DAYS = 30

export const SITE_STATES = ['ok', 'stale', 'failing'] as const
export type SiteState = (typeof SITE_STATES)[number]

/** A site the configuration names, with the zone its days are counted in. */
export interface StatusSiteConfig {
  readonly siteId: number
  readonly timeZone: string
}

export interface SiteStatusProps {
  /** Configured sites; sites found only in the warehouse are reported too. */
  readonly sites: readonly StatusSiteConfig[]
  /** Zone of sites that the configuration does not name. */
  readonly defaultTimeZone: string
  readonly now: Date
  readonly staleAfterHours?: number
  readonly recentDays?: number
}

export type FailedDay = FailedLedgerDay

export interface SiteStatus {
  readonly siteId: number
  readonly timeZone: string
  /** false for a site found only in the warehouse (its configuration was removed, or it came from --config elsewhere). */
  readonly configured: boolean
  readonly state: SiteState
  /** Why the site is not ok, one sentence each; empty when ok. */
  readonly problems: readonly string[]
  /** When a day of the site was last read completely (ISO 8601), and by which run. */
  readonly lastSuccessAt: string | null
  readonly lastSuccessRunId: string | null
  readonly hoursSinceSuccess: number | null
  /** The newest day whose last read succeeded, and how many days it is behind today in the site's zone. */
  readonly newestOkDay: string | null
  readonly daysBehind: number | null
  readonly failedDays: readonly FailedDay[]
  readonly rejectedRecords: number
  readonly deals: { readonly total: number; readonly recent: number }
  /** Of the recent days with deals, those without any spend row (CSV or connector). */
  readonly spendCoverage: { readonly daysWithDeals: number; readonly daysWithoutSpend: readonly string[] }
  /** The site's lead streams the ledger holds reads of (calls, requests), each judged as the deals are. */
  readonly leadStreams: readonly LeadStreamStatus[]
}

/** One lead stream of a site: its last complete read, failed days and leads still returned by the API. */
export interface LeadStreamStatus {
  readonly stream: LeadJournal
  readonly lastSuccessAt: string | null
  readonly hoursSinceSuccess: number | null
  readonly newestOkDay: string | null
  readonly failedDays: readonly FailedDay[]
  readonly leads: { readonly total: number; readonly recent: number }
}

export interface WarehouseStatus {
  readonly generatedAt: string
  readonly staleAfterHours: number
  readonly recentDays: number
  readonly sites: readonly SiteStatus[]
  /** Per ad account, its recent spend set against the deals (spend-matching.ts); none without ad accounts. */
  readonly adAccounts: readonly AdAccountSpendMatch[]
  /** Where CSV spend and a connector cover the same recent site-days of a source and medium: the connector's spend counts. */
  readonly spendOverlaps: readonly SpendOverlap[]
  /**
   * Why the warehouse as a whole is not ok, one sentence each: no site is configured (nothing
   * says which sites must be fresh), or the warehouse holds no read of any site yet.
   */
  readonly problems: readonly string[]
  /** false when there is a problem above, or any site is failing or stale: `status` exits 1. Spend matching and overlaps never change it. */
  readonly healthy: boolean
}

/** One site's row of sql/select_site_status.sql. */
interface SiteStatusRow {
  readonly rejected_recent: number
  readonly deals_total: number
  readonly deals_recent: number
  readonly days_with_deals_recent: number
  readonly days_without_spend: string[]
}

/**
 * The health of every configured site and every site the warehouse holds data
 * of: what `calltouch-etl status` prints and monitoring reads.
 *
 * A site is `failing` when the ledger holds a day whose last read failed, and
 * `stale` when no day was read completely within `staleAfterHours` (or ever).
 *
 * @example
 * const status = await readWarehouseStatus(db, { sites: [{ siteId: 12345, timeZone: 'Europe/Moscow' }], defaultTimeZone: 'Europe/Moscow', now: new Date() })
 * if (!status.healthy) process.exitCode = 1
 */
export async function readWarehouseStatus(db: WarehouseDb, props: SiteStatusProps): Promise<WarehouseStatus> {
  const staleAfterHours = props.staleAfterHours ?? DEFAULT_STALE_AFTER_HOURS
  const recentDays = props.recentDays ?? DEFAULT_RECENT_DAYS
  const known = await selectKnownSiteIds(db)
  const read = await readLedgerAccounts(db, CALLTOUCH_DEALS_SOURCE)
  const configured = new Map(props.sites.map((site) => [site.siteId, site.timeZone]))
  const siteIds = [...new Set([...configured.keys(), ...read.map(Number), ...known])].sort((a, b) => a - b)
  const sites: SiteStatus[] = []
  for (const siteId of siteIds) {
    const timeZone = configured.get(siteId) ?? props.defaultTimeZone
    sites.push(
      await readSiteStatus(db, {
        siteId,
        timeZone,
        configured: configured.has(siteId),
        now: props.now,
        staleAfterHours,
        recentDays,
      }),
    )
  }
  const { adAccounts, spendOverlaps } = await readSpendMatching(db, {
    timeZoneOf: (siteId) => configured.get(siteId) ?? props.defaultTimeZone,
    now: props.now,
    recentDays,
  })
  const problems: string[] = []
  if (configured.size === 0)
    problems.push(
      'no site is configured, so nothing says which sites must be fresh: set CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN, or pass --config (or set CALLTOUCH_CONFIG)',
    )
  if (read.length === 0 && known.length === 0)
    problems.push('the warehouse holds no read of any site yet: run calltouch-etl sync')
  return {
    generatedAt: props.now.toISOString(),
    staleAfterHours,
    recentDays,
    sites,
    adAccounts,
    spendOverlaps,
    problems,
    healthy: problems.length === 0 && sites.every((site) => site.state === 'ok'),
  }
}

async function readSiteStatus(
  db: WarehouseDb,
  site: {
    siteId: number
    timeZone: string
    configured: boolean
    now: Date
    staleAfterHours: number
    recentDays: number
  },
): Promise<SiteStatus> {
  const today = DateTime.fromJSDate(site.now, { zone: site.timeZone }).toISODate()
  const row =
    today === null
      ? undefined
      : await selectSiteStatus(db, { siteId: site.siteId, today, recentDays: site.recentDays, now: site.now })
  if (!row || today === null) throw new Error(`select_site_status returned no row for site ${site.siteId}`)
  const ledgerKey = siteLedgerKey(site.siteId)
  const failedDays = await readFailedDays(db, ledgerKey)
  const { newestOkDay, lastSucceededAt: lastSuccessAt, lastSuccessRunId } = await readLedgerSummary(db, ledgerKey)
  const hoursSinceSuccess = lastSuccessAt === null ? null : hoursSince(lastSuccessAt, site.now)
  const daysBehind = newestOkDay === null ? null : daysBetween(newestOkDay, today)

  const problems: string[] = []
  if (failedDays.length > 0) {
    const first = failedDays[0]
    problems.push(`${failedDays.length} day(s) failed, first ${first?.day}: ${first?.error ?? 'no reason recorded'}`)
  }
  if (hoursSinceSuccess === null) problems.push('never read completely: run calltouch-etl sync')
  else if (hoursSinceSuccess > site.staleAfterHours)
    problems.push(`last complete read ${hoursSinceSuccess} h ago, more than ${site.staleAfterHours} h`)
  const leadStreams = await readLeadStreams(db, { ...site, today })
  for (const stream of leadStreams) {
    const first = stream.failedDays[0]
    if (first !== undefined)
      problems.push(
        `${stream.stream}: ${stream.failedDays.length} day(s) failed, first ${first.day}: ${first.error ?? 'no reason recorded'}`,
      )
    if (stream.hoursSinceSuccess !== null && stream.hoursSinceSuccess > site.staleAfterHours)
      problems.push(
        `${stream.stream}: last complete read ${stream.hoursSinceSuccess} h ago, more than ${site.staleAfterHours} h`,
      )
  }
  const failing = failedDays.length > 0 || leadStreams.some((stream) => stream.failedDays.length > 0)
  const state: SiteState = failing ? 'failing' : problems.length > 0 ? 'stale' : 'ok'

  return {
    siteId: site.siteId,
    timeZone: site.timeZone,
    configured: site.configured,
    state,
    problems,
    lastSuccessAt: lastSuccessAt?.toISOString() ?? null,
    lastSuccessRunId,
    hoursSinceSuccess,
    newestOkDay,
    daysBehind,
    failedDays,
    rejectedRecords: row.rejected_recent,
    deals: { total: row.deals_total, recent: row.deals_recent },
    spendCoverage: { daysWithDeals: row.days_with_deals_recent, daysWithoutSpend: row.days_without_spend },
    leadStreams,
  }
}

/** The site's lead streams that the ledger holds reads of; a stream never read (not in its `streams`) is left out. */
async function readLeadStreams(
  db: WarehouseDb,
  site: { siteId: number; today: string; now: Date; recentDays: number },
): Promise<LeadStreamStatus[]> {
  const [counts] = await runSqlFile<{
    calls_total: number
    calls_recent: number
    requests_total: number
    requests_recent: number
  }>(db, 'select_site_leads', [site.siteId, site.today, site.recentDays])
  const streams: LeadStreamStatus[] = []
  for (const stream of LEAD_JOURNALS) {
    const key = leadsLedgerKey(stream, site.siteId)
    const summary = await readLedgerSummary(db, key)
    const failedDays = await readFailedDays(db, key)
    if (summary.lastSucceededAt === null && failedDays.length === 0) continue
    streams.push({
      stream,
      lastSuccessAt: summary.lastSucceededAt?.toISOString() ?? null,
      hoursSinceSuccess: summary.lastSucceededAt === null ? null : hoursSince(summary.lastSucceededAt, site.now),
      newestOkDay: summary.newestOkDay,
      failedDays,
      leads: { total: counts?.[`${stream}_total`] ?? 0, recent: counts?.[`${stream}_recent`] ?? 0 },
    })
  }
  return streams
}

function hoursSince(at: Date, now: Date): number {
  return roundTo((now.getTime() - at.getTime()) / 3_600_000, 1)
}

/** Every site the warehouse holds deals or rejected records of, ascending (sql/select_known_site_ids.sql). */
async function selectKnownSiteIds(db: WarehouseDb): Promise<number[]> {
  const rows = await runSqlFile<{ site_id: number }>(db, 'select_known_site_ids')
  return rows.map((row) => row.site_id)
}

/**
 * One site's deals, rejected records and spend coverage over the recent days (sql/select_site_status.sql).
 *
 * @param params.today YYYY-MM-DD in the site's zone; `recentDays` counts it
 */
async function selectSiteStatus(
  db: WarehouseDb,
  params: { readonly siteId: number; readonly today: string; readonly recentDays: number; readonly now: Date },
): Promise<SiteStatusRow | undefined> {
  const [row] = await runSqlFile<SiteStatusRow>(db, 'select_site_status', [
    params.siteId,
    params.today,
    params.recentDays,
    params.now.toISOString(),
  ])
  return row
}

function daysBetween(fromDay: string, toDay: string): number {
  return Math.round(
    DateTime.fromISO(toDay, { zone: 'UTC' }).diff(DateTime.fromISO(fromDay, { zone: 'UTC' }), 'days').days,
  )
}

function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals
  return Math.round(value * factor) / factor
}
