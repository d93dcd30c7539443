import { EtlError } from '../core/errors.ts'
import { isDay } from '../core/day.ts'
import type { WarehouseDb } from './connection.ts'
import { recordLoadedDays, type LedgerKey } from './ledger.ts'
import { runSqlFile } from './sql-files.ts'

/**
 * Ad spend read by the connectors: `marketing.ad_campaign_stats` (per account, day and campaign)
 * and `marketing.ad_campaign_names` (every name a campaign has had). This module is the only one
 * that writes them. Money is integer micros of the account's currency all the way: a bigint here,
 * a bigint column there.
 */

/** The ad platforms whose spend the connectors read; each is a source of the ledger too. */
export const AD_SOURCE_SYSTEMS = ['yandex-direct', 'vk-ads'] as const
export type AdSourceSystem = (typeof AD_SOURCE_SYSTEMS)[number]

/** One campaign's activity on one day, as the platform reports it. */
export interface CampaignDayStats {
  /** YYYY-MM-DD, the account's day. */
  readonly day: string
  /** The platform's campaign id, decimal digits (Direct ids fit in 64 bits). */
  readonly campaignId: string
  readonly campaignName: string
  readonly impressions: number
  readonly clicks: number
  /** Cost in millionths of the account's currency. */
  readonly costMicros: bigint
}

/** One complete read of an account's days: every campaign-day with activity in firstDay..lastDay. */
export interface CampaignDaysRead {
  readonly source: AdSourceSystem
  readonly account: string
  readonly siteId: number
  readonly firstDay: string
  /** Inclusive. */
  readonly lastDay: string
  readonly runId: string
  readonly currency: string
  readonly includesVat: boolean
  /** Rows without any impression, click or cost are dropped: no row means zero. */
  readonly rows: readonly CampaignDayStats[]
}

export interface CampaignDaysStored {
  /** Campaign-days new to the warehouse. */
  readonly inserted: number
  /** Campaign-days whose values changed. */
  readonly updated: number
  /** Campaign-days the read no longer holds (corrected to nothing). */
  readonly deleted: number
  /** Campaign-days read again with the same values: not written. */
  readonly unchanged: number
  /** Names not seen before for their campaign. */
  readonly namesAdded: number
}

/** An ad account as a sync reads it: the channel keys its spend stands for (dbt's spend models read them). */
export interface AdAccountRecord {
  readonly source: AdSourceSystem
  readonly account: string
  readonly siteId: number
  readonly utm: { readonly source: string; readonly medium: string; readonly campaign: 'id' | 'name' }
  readonly currency: string
}

/** Records the account and its channel keys in `marketing.ad_accounts`, before its days are stored. */
export async function recordAdAccount(db: WarehouseDb, account: AdAccountRecord): Promise<void> {
  await runSqlFile(db, 'upsert_ad_account', [
    account.source,
    account.account,
    account.siteId,
    account.utm.source,
    account.utm.medium,
    account.utm.campaign,
    account.currency,
  ])
}

/** The largest value of a bigint column. */
const MAX_BIGINT = 2n ** 63n - 1n

/**
 * Stores one complete read of an account's days in ONE transaction, with the ledger's days (data
 * before state): new and changed campaign-days are written, unchanged ones are not touched,
 * campaign-days of the range the read no longer holds are deleted, new names join the history,
 * and every day of the range is recorded read in `etl.ledger` under (source, account) with its
 * count of campaign-days. A read that breaks a rule (a day outside its range, a campaign-day
 * twice, a negative or fractional count) is refused whole with an INPUT error naming the row,
 * before anything is written: the platform's answer cannot be trusted, and the days stay due.
 *
 * @example
 * await storeCampaignDays(db, { source: 'yandex-direct', account: 'shop-client', siteId: 12345,
 *   firstDay: '2026-11-01', lastDay: '2026-11-07', runId: '42', currency: 'RUB', includesVat: false, rows })
 */
export async function storeCampaignDays(db: WarehouseDb, read: CampaignDaysRead): Promise<CampaignDaysStored> {
  const rows = checkedRows(read)
  const days = rows.map((row) => row.day)
  const campaignIds = rows.map((row) => row.campaignId)
  const names = rows.map((row) => row.campaignName)
  const recordsByDay: Record<string, number> = {}
  for (const day of days) recordsByDay[day] = (recordsByDay[day] ?? 0) + 1
  const key: LedgerKey = { source: read.source, account: read.account }
  return db.transaction().execute(async (trx) => {
    const written = await runSqlFile<{ inserted: boolean }>(trx, 'upsert_campaign_stats', [
      read.source,
      read.account,
      read.siteId,
      read.currency,
      read.includesVat,
      read.runId,
      days,
      campaignIds,
      names,
      rows.map((row) => String(row.impressions)),
      rows.map((row) => String(row.clicks)),
      rows.map((row) => row.costMicros.toString()),
    ])
    const [deleted] = await runSqlFile<{ deleted: number }>(trx, 'delete_vanished_campaign_stats', [
      read.source,
      read.account,
      read.firstDay,
      read.lastDay,
      days,
      campaignIds,
    ])
    const [added] = await runSqlFile<{ added: number }>(trx, 'insert_campaign_names', [
      read.source,
      read.account,
      campaignIds,
      names,
    ])
    await recordLoadedDays(trx, key, {
      firstDay: read.firstDay,
      lastDay: read.lastDay,
      runId: read.runId,
      recordsByDay,
    })
    const inserted = written.filter((row) => row.inserted).length
    return {
      inserted,
      updated: written.length - inserted,
      deleted: deleted?.deleted ?? 0,
      unchanged: rows.length - written.length,
      namesAdded: added?.added ?? 0,
    }
  })
}

/** The read's rows with activity, or an INPUT error naming the first row that breaks a rule. */
function checkedRows(read: CampaignDaysRead): CampaignDayStats[] {
  const where = `${read.source} account ${read.account} ${read.firstDay}..${read.lastDay}`
  const refuse = (problem: string): never => {
    throw new EtlError('INPUT', `${where}: the platform's answer ${problem}; the days stay due and are read again`)
  }
  if (!isDay(read.firstDay) || !isDay(read.lastDay) || read.firstDay > read.lastDay)
    refuse(`covers no valid range of days (${read.firstDay}..${read.lastDay})`)
  const seen = new Set<string>()
  const rows: CampaignDayStats[] = []
  for (const row of read.rows) {
    const label = `campaign ${row.campaignId} on ${row.day}`
    if (!isDay(row.day) || row.day < read.firstDay || row.day > read.lastDay) refuse(`has a day outside it: ${label}`)
    if (!/^[0-9]{1,18}$/.test(row.campaignId)) refuse(`has a campaign id that is not a number: ${label}`)
    if (!countOk(row.impressions) || !countOk(row.clicks))
      refuse(`has impressions or clicks that are not whole numbers ≥ 0: ${label}`)
    if (row.costMicros < 0n || row.costMicros > MAX_BIGINT) refuse(`has a cost out of range: ${label}`)
    const key = `${row.day} ${row.campaignId}`
    if (seen.has(key)) refuse(`holds ${label} twice`)
    seen.add(key)
    if (row.impressions === 0 && row.clicks === 0 && row.costMicros === 0n) continue
    rows.push(row)
  }
  return rows
}

function countOk(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}
