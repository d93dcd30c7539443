import type { AdAccountRunResult, AdAccountSettings, AdRangeFailure } from '../../core/ad-account.ts'
import { addDays, daysBetween, todayIn, type Day } from '../../core/day.ts'
import { EtlError, messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { redact, registerSecret } from '../../core/secrets.ts'
import { HttpRequestError } from '../../http/http-request-error.ts'
import { dayRanges, planAccountDays, type AccountRunMode } from '../../warehouse/account-days.ts'
import { storeCampaignDays } from '../../warehouse/campaign-stats.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import { readLedger, recordFailedDays, type LedgerKey } from '../../warehouse/ledger.ts'
import { STATISTICS_MAX_DAYS, VkAdsClient, type VkAdPlan } from './api-client.ts'
import type { VkAdsAccount } from './config.ts'
import { VkAdsAccountError, VkAdsApiError } from './vk-ads-errors.ts'
import { createVkAdsLimiter } from './vk-ads-limiter.ts'

/** The ledger's and the store's name of this source. */
export const VK_ADS_SOURCE = 'vk-ads'
/** Statistics are kept for the last 366 days, today included ([DOC] §4.1). */
export const VK_ADS_HISTORY_DAYS = 366
/** Used when neither VK nor the config names the account's currency (Russian accounts are in rubles). */
export const FALLBACK_CURRENCY = 'RUB'
/**
 * VK's `spent` is net of VAT (third-party notes that checked VK's pages; shared/vk-ads/API.md
 * §4.5), recorded as such next to the money.
 */
export const VK_ADS_SPEND_INCLUDES_VAT = false

export interface SyncVkAdsAccountInput {
  readonly db: WarehouseDb
  readonly runId: string
  readonly account: VkAdsAccount
  readonly mode: AccountRunMode
  readonly settings: AdAccountSettings
  /** The run's start; the clock of token expiry moves on from it with real time. */
  readonly now: Date
  /** CALLTOUCH_ETL_STATE_DIR: where the account's token state file lives. */
  readonly stateDir: string
  readonly logger: Logger
  readonly signal?: AbortSignal
  readonly fetch?: typeof fetch
}

/**
 * Reads one VK Ads account's daily spend per campaign (ad plan) into the warehouse. The ledger
 * (source `vk-ads`, account = the client id) plans the days (planAccountDays), grouped into ranges
 * of at most 90 days; each range is read for every ad plan in chunks of 50 and stored in one
 * transaction with its ledger days (storeCampaignDays). A range that fails is recorded failed with
 * VK's reason and read again by the next run; a failure of the whole account (a refused token, a
 * wrong secret, a used-up limit) records every planned day failed and is returned as `error`.
 * Throws only when the warehouse is lost or the run is being stopped.
 *
 * @example
 * const result = await syncVkAdsAccount({ db, runId, account, mode: { kind: 'sync' }, settings, now: new Date(), stateDir: '.data/state', logger })
 */
export async function syncVkAdsAccount(input: SyncVkAdsAccountInput): Promise<AdAccountRunResult> {
  const { db, runId, account, settings, now, logger, signal } = input
  registerSecret(account.clientSecret)
  const key: LedgerKey = { source: VK_ADS_SOURCE, account: account.clientId }
  const today = todayIn(account.timeZone, now)
  const plan = planAccountDays(await readLedger(db, key), {
    mode: input.mode,
    today,
    startDate: account.startDate,
    earliestDay: addDays(today, -(VK_ADS_HISTORY_DAYS - 1)),
    lookbackDays: settings.lookbackDays,
    refreshMaxAgeDays: settings.refreshMaxAgeDays,
    refreshAfterDays: settings.refreshAfterDays,
    now,
  })
  if (plan.tooOld.length > 0)
    logger.warn(
      { clientId: account.clientId, tooOld: plan.tooOld.length },
      `VK Ads keeps statistics for ${VK_ADS_HISTORY_DAYS} days: ${plan.tooOld.length} days of client ${account.clientId} before ${plan.tooOld.at(-1) ?? ''} are not read`,
    )
  const ranges = dayRanges(plan.days, STATISTICS_MAX_DAYS)
  const tally = newTally(account)
  if (ranges.length === 0) return tally.result(account.currency ?? null, null)

  const limiter = createVkAdsLimiter()
  const startedAtMs = performance.now()
  const client = new VkAdsClient({
    baseUrl: account.baseUrl,
    clientId: account.clientId,
    clientSecret: account.clientSecret,
    stateDir: input.stateDir,
    limiter,
    timeoutMs: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    clock: () => new Date(now.getTime() + (performance.now() - startedAtMs)),
    fetch: input.fetch,
    logger,
    signal,
  })
  const failRanges = async (remaining: readonly Range[], reason: string): Promise<void> => {
    for (const range of remaining) {
      await recordFailedDays(db, key, { ...range, runId, error: reason })
      tally.failures.push({ ...range, error: redact(reason) })
    }
  }
  const outcome = await readRanges().finally(async () => {
    tally.requests = limiter.counters.requests
    tally.retries = limiter.counters.retries
    await limiter.stop()
  })
  return tally.result(outcome.currency, outcome.error)

  /** Every range in turn; an account-level failure fails the ranges left. */
  async function readRanges(): Promise<{ currency: string | null; error: string | null }> {
    let currency: string
    let plans: VkAdPlan[]
    try {
      currency = await accountCurrency(client, input)
      plans = await client.listAdPlans()
    } catch (error) {
      rethrowStop(error, signal)
      const reason = oneLine(error)
      logger.error({ clientId: account.clientId, err: reason }, `VK Ads account ${account.clientId} failed`)
      await failRanges(ranges, reason)
      return { currency: account.currency ?? null, error: reason }
    }
    for (const [index, range] of ranges.entries()) {
      signal?.throwIfAborted()
      try {
        const rows = await client.adPlanDays(plans, range.firstDay, range.lastDay)
        const stored = await storeCampaignDays(db, {
          source: VK_ADS_SOURCE,
          account: account.clientId,
          siteId: account.siteId,
          firstDay: range.firstDay,
          lastDay: range.lastDay,
          runId,
          currency,
          includesVat: VK_ADS_SPEND_INCLUDES_VAT,
          rows,
        })
        tally.add(range, stored)
        logger.debug(
          { clientId: account.clientId, ...range, ...stored },
          `stored VK Ads spend of ${range.firstDay}..${range.lastDay}`,
        )
      } catch (error) {
        rethrowStop(error, signal)
        const reason = oneLine(error)
        if (error instanceof VkAdsAccountError) {
          logger.error({ clientId: account.clientId, err: reason }, `VK Ads account ${account.clientId} stopped`)
          await failRanges(ranges.slice(index), reason)
          return { currency, error: reason }
        }
        // A refused or unreadable answer, or one the store refused: this range only.
        if (!(error instanceof HttpRequestError) && !(error instanceof EtlError && error.code === 'INPUT')) throw error
        logger.warn(
          { clientId: account.clientId, ...range, err: reason },
          `VK Ads days of client ${account.clientId} failed`,
        )
        await failRanges([range], reason)
      }
    }
    return { currency, error: null }
  }
}

type Range = { readonly firstDay: Day; readonly lastDay: Day }

/**
 * The currency `spent` is in: VK's (user.json, GUESS field), else the config's, else rubles with
 * a warning. When both are known and differ the account stops: spend labelled in the wrong
 * currency is worse than none.
 */
async function accountCurrency(client: VkAdsClient, input: SyncVkAdsAccountInput): Promise<string> {
  const { account, logger } = input
  let platform: string | undefined
  try {
    platform = await client.accountCurrency()
  } catch (error) {
    // A refused token or a stop is the account's end; any other refusal of user.json leaves the config to say it.
    if (!(error instanceof VkAdsApiError) || error.status === 401) throw error
    logger.warn(
      { clientId: account.clientId, err: oneLine(error) },
      `could not read the currency of VK Ads client ${account.clientId}`,
    )
  }
  const configured = account.currency?.toUpperCase()
  if (platform !== undefined && configured !== undefined && platform !== configured)
    throw new VkAdsAccountError(
      `VK Ads says client ${account.clientId} spends in ${platform}, but ${account.where} says currency ${configured}: ` +
        `correct or remove the currency in the config, then run again`,
    )
  const currency = platform ?? configured
  if (currency !== undefined) return currency
  logger.warn(
    { clientId: account.clientId },
    `VK Ads did not say the currency of client ${account.clientId} and ${account.where} gives none; assuming ${FALLBACK_CURRENCY} (set currency in the config to be sure)`,
  )
  return FALLBACK_CURRENCY
}

/** The run being stopped, or a lost warehouse, ends the sync: nothing about the account to record. */
function rethrowStop(error: unknown, signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw error
  if (error instanceof HttpRequestError && error.kind === 'stopped') throw error
}

function oneLine(error: unknown): string {
  return redact(messageOf(error))
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim()
}

function newTally(account: VkAdsAccount) {
  const failures: AdRangeFailure[] = []
  const counts = { daysRead: 0, inserted: 0, updated: 0, deleted: 0, unchanged: 0 }
  const tally = {
    failures,
    requests: 0,
    retries: 0,
    add(range: Range, stored: { inserted: number; updated: number; deleted: number; unchanged: number }): void {
      counts.daysRead += daysBetween(range.firstDay, range.lastDay) + 1
      counts.inserted += stored.inserted
      counts.updated += stored.updated
      counts.deleted += stored.deleted
      counts.unchanged += stored.unchanged
    },
    result(currency: string | null, error: string | null): AdAccountRunResult {
      return {
        type: 'vk-ads',
        account: account.clientId,
        siteId: account.siteId,
        where: account.where,
        currency,
        ...counts,
        requests: tally.requests,
        retries: tally.retries,
        failures: [...failures],
        error,
      }
    },
  }
  return tally
}
