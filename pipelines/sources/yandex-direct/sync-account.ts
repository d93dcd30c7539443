import type { AdAccountRunResult, AdAccountSettings, AdRangeFailure } from '../../core/ad-account.ts'
import { addDays, daysBetween, todayIn, type Day } from '../../core/day.ts'
import { EtlError, messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { redact, registerSecret } from '../../core/secrets.ts'
import { HttpRequestError } from '../../http/http-request-error.ts'
import { dayRanges, planAccountDays, type AccountRunMode } from '../../warehouse/account-days.ts'
import { storeCampaignDays, type CampaignDayStats } from '../../warehouse/campaign-stats.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import { readLedger, recordFailedDays, type LedgerKey } from '../../warehouse/ledger.ts'
import type { YandexDirectAccount } from './config.ts'
import { DirectApiError, isEnvironmentAccount } from './direct-errors.ts'
import { directBudgetFor, REPORT_QUEUE_LIMIT } from './direct-limits.ts'
import { DEFAULT_REPORT_TIMEOUT_MS, reportName, YandexDirectClient } from './reports-client.ts'
import type { ReportRow } from './report-tsv.ts'

/** The ledger's and the warehouse's name of this source. */
export const YANDEX_DIRECT_SOURCE = 'yandex-direct'

/**
 * Days one report covers at most. A month keeps a report far below Direct's 1,000,000-row cap
 * (up to ~32,000 active campaigns a day), small enough to be built quickly (often online, at
 * once), and a failed report costs one month; a 3-year backfill is still only 37 reports, and a
 * report too big to build (502 twice) is read in halves anyway.
 */
export const MAX_REPORT_DAYS = 31

/** Direct keeps statistics for 3 years counted from the first day of the current month (API.md §7). */
export function earliestDirectDay(today: Day): Day {
  return `${String(Number(today.slice(0, 4)) - 3).padStart(4, '0')}-${today.slice(5, 7)}-01`
}

export interface SyncYandexDirectAccountInput {
  readonly db: WarehouseDb
  readonly runId: string
  readonly account: YandexDirectAccount
  readonly mode: AccountRunMode
  readonly settings: AdAccountSettings
  readonly now: Date
  readonly logger: Logger
  readonly signal?: AbortSignal
  readonly fetch?: typeof fetch
  /** test hook: milliseconds instead of retryIn seconds, per-report timeout */
  readonly timing?: { readonly retryInScaleMs?: number; readonly reportTimeoutMs?: number }
}

interface Range {
  readonly firstDay: Day
  readonly lastDay: Day
}

/**
 * Reads one Yandex Direct advertiser's spend into `marketing.ad_campaign_stats`: identifies it
 * (its login and currency: the config's, else Clients.get's), plans its days from the ledger,
 * reads them as reports of at most {@link MAX_REPORT_DAYS} days (up to the token's queue of 5 at
 * once) and stores each with its ledger days in one transaction; only changed campaign-days are
 * written. A range that fails is recorded failed with the vendor's reason and read again by the
 * next run; a refusal of the account (token, login) fails it whole, its planned days recorded
 * failed. Throws only when the run is stopped or the warehouse is lost.
 *
 * @example
 * const result = await syncYandexDirectAccount({ db, runId, account, mode: { kind: 'sync' }, settings: DEFAULT_AD_ACCOUNT_SETTINGS, now: new Date(), logger })
 * if (result.error !== null) console.log(result.error)
 */
export async function syncYandexDirectAccount(input: SyncYandexDirectAccountInput): Promise<AdAccountRunResult> {
  const { db, runId, account, settings, now, signal } = input
  registerSecret(account.token)
  const logger = input.logger.child({ source: YANDEX_DIRECT_SOURCE, siteId: account.siteId, where: account.where })
  const client = new YandexDirectClient({
    baseUrl: account.baseUrl,
    token: account.token,
    clientLogin: account.clientLogin,
    where: account.where,
    budget: directBudgetFor(account.token),
    timeoutMs: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    timing: {
      retryInScaleMs: input.timing?.retryInScaleMs ?? 1000,
      reportTimeoutMs: input.timing?.reportTimeoutMs ?? DEFAULT_REPORT_TIMEOUT_MS,
    },
    logger,
    signal,
    fetch: input.fetch,
  })
  const counts = { daysRead: 0, inserted: 0, updated: 0, deleted: 0, unchanged: 0 }
  const failures: AdRangeFailure[] = []
  const result = (login: string | null, currency: string | null, error: string | null): AdAccountRunResult => ({
    type: YANDEX_DIRECT_SOURCE,
    account: login,
    siteId: account.siteId,
    where: account.where,
    currency,
    ...counts,
    requests: client.counters.requests,
    retries: client.counters.retries,
    failures,
    error: error === null ? null : oneLine(error),
  })

  let login = account.clientLogin
  let currency = account.currency
  let identifyError: string | null = null
  if (login === undefined || currency === undefined) {
    try {
      const info = await client.getClientInfo()
      login ??= info.login
      currency ??= info.currency
    } catch (error) {
      throwIfFatal(error, signal)
      identifyError = messageOf(error)
    }
  }
  // Without a login there is no ledger to record the failure in: the result says it.
  if (login === undefined) return result(null, currency ?? null, identifyError)
  const key: LedgerKey = { source: YANDEX_DIRECT_SOURCE, account: login }
  const today = todayIn(account.timeZone, now)
  const plan = planAccountDays(await readLedger(db, key), {
    mode: input.mode,
    today,
    startDate: account.startDate,
    earliestDay: earliestDirectDay(today),
    lookbackDays: settings.lookbackDays,
    refreshMaxAgeDays: settings.refreshMaxAgeDays,
    refreshAfterDays: settings.refreshAfterDays,
    now,
  })
  if (plan.tooOld.length > 0)
    logger.warn(
      { login, tooOld: plan.tooOld.length },
      `Yandex Direct keeps no statistics before ${earliestDirectDay(today)}: ${plan.tooOld.length} asked days of ${login} are not read`,
    )
  const ranges = dayRanges(plan.days, MAX_REPORT_DAYS)
  let accountError = identifyError
  const failRange = async (range: Range, reason: string): Promise<void> => {
    const error = oneLine(reason)
    failures.push({ ...range, error })
    await recordFailedDays(db, key, { ...range, runId, error })
  }
  if (accountError !== null || currency === undefined) {
    const reason =
      accountError ??
      `the currency of ${login} is unknown: set it in ${isEnvironmentAccount(account.where) ? 'the configuration' : `${account.where}.currency`}`
    for (const range of ranges) await failRange(range, reason)
    return result(login, currency ?? null, reason)
  }
  const accountCurrency = currency

  const readRange = async (range: Range): Promise<void> => {
    if (accountError !== null) return failRange(range, accountError)
    const name = reportName({ runId, runStartedAt: now, login, ...range })
    let rows: ReportRow[]
    try {
      const report = await client.fetchSpendReport({ ...range, reportName: name })
      rows = report.rows
      logger.info(
        { login, firstDay: range.firstDay, lastDay: range.lastDay, rows: rows.length, requestId: report.requestId },
        `Yandex Direct report of ${login} for ${range.firstDay}..${range.lastDay}: ${rows.length} campaign-days in ${report.requests} requests (RequestId ${report.requestId})`,
      )
    } catch (error) {
      throwIfFatal(error, signal)
      if (error instanceof DirectApiError && error.action === 'split' && range.firstDay < range.lastDay) {
        const [first, second] = halves(range)
        logger.warn({ login, err: error.message }, `reading ${range.firstDay}..${range.lastDay} of ${login} in halves`)
        await readRange(first)
        await readRange(second)
        return
      }
      if (error instanceof DirectApiError && error.action === 'fail-account') accountError ??= error.message
      return failRange(range, messageOf(error))
    }
    try {
      const stored = await storeCampaignDays(db, {
        source: YANDEX_DIRECT_SOURCE,
        account: login,
        siteId: account.siteId,
        ...range,
        runId,
        currency: accountCurrency,
        includesVat: false,
        rows: rows.map(campaignDay),
      })
      counts.daysRead += daysBetween(range.firstDay, range.lastDay) + 1
      counts.inserted += stored.inserted
      counts.updated += stored.updated
      counts.deleted += stored.deleted
      counts.unchanged += stored.unchanged
    } catch (error) {
      // A refused answer (a row twice, a day outside the range) fails its range; anything else is the warehouse's.
      if (error instanceof EtlError && error.code === 'INPUT') return failRange(range, messageOf(error))
      throw error
    }
  }

  await eachAtMost(REPORT_QUEUE_LIMIT, ranges, readRange)
  return result(login, accountCurrency, accountError)
}

/** A `--` count or cost is no activity: stored as 0 (no row would mean the same). */
function campaignDay(row: ReportRow): CampaignDayStats {
  return {
    day: row.day,
    campaignId: row.campaignId,
    campaignName: row.campaignName,
    impressions: row.impressions ?? 0,
    clicks: row.clicks ?? 0,
    costMicros: row.costMicros ?? 0n,
  }
}

function halves(range: Range): [Range, Range] {
  const firstHalfDays = Math.ceil((daysBetween(range.firstDay, range.lastDay) + 1) / 2)
  const middle = addDays(range.firstDay, firstHalfDays - 1)
  return [
    { firstDay: range.firstDay, lastDay: middle },
    { firstDay: addDays(middle, 1), lastDay: range.lastDay },
  ]
}

/** A stopped run ends the account's work; anything not from the API (a lost warehouse) too. */
function throwIfFatal(error: unknown, signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw error
  if (error instanceof HttpRequestError && error.kind === 'stopped') throw error
  if (!(error instanceof HttpRequestError)) throw error
}

function oneLine(text: string): string {
  return redact(text)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim()
}

/**
 * Runs `work` on every item, at most `limit` at once. When one throws, no further item starts; the
 * ones running finish, then the first error is thrown.
 */
async function eachAtMost<T>(limit: number, items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next] as T
      next += 1
      try {
        await work(item)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  if (failure !== undefined) throw failure.error
}
