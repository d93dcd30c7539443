import type { AdAccountRunResult, AdAccountSettings } from '../core/ad-account.ts'
import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { redact } from '../core/secrets.ts'
import { syncVkAdsAccount } from '../sources/vk-ads/sync-account.ts'
import { syncYandexDirectAccount } from '../sources/yandex-direct/sync-account.ts'
import type { AccountRunMode } from '../warehouse/account-days.ts'
import { recordAdAccount } from '../warehouse/campaign-stats.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import type { AdAccount } from './run-config.ts'

/** Accounts read at once: each platform limits per account, so accounts need not wait for each other, but a run stays gentle. */
export const AD_ACCOUNT_CONCURRENCY = 4

export interface AdSpendSyncInput {
  readonly warehouse: Warehouse
  readonly runId: string
  readonly accounts: readonly AdAccount[]
  readonly mode: AccountRunMode
  readonly settings: AdAccountSettings
  readonly now: Date
  /** Where VK Ads tokens are kept between runs (CALLTOUCH_ETL_STATE_DIR). */
  readonly stateDir: string
  readonly logger: Logger
  readonly signal?: AbortSignal | undefined
  readonly fetch?: typeof fetch
}

/** What the ad accounts of a run did together. */
export interface AdSpendSummary {
  readonly accounts: readonly AdAccountRunResult[]
  readonly accountsFailed: number
  readonly days: number
  readonly requests: number
  readonly retries: number
  readonly inserted: number
  readonly updated: number
  readonly deleted: number
  readonly unchanged: number
}

/**
 * Reads every ad account's spend, {@link AD_ACCOUNT_CONCURRENCY} accounts at a time, each by its
 * platform's source, and records each account's channel keys for the models. An account that
 * fails is a result (recorded failed in the ledger by its source, with the platform's reason);
 * the others load. Only a lost warehouse or the run's stop ends it early.
 */
export async function syncAdAccounts(input: AdSpendSyncInput): Promise<AdSpendSummary> {
  const results: AdAccountRunResult[] = new Array<AdAccountRunResult>(input.accounts.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < input.accounts.length) {
      const index = next++
      const account = input.accounts[index] as AdAccount
      results[index] = await syncAccount(input, account)
    }
  }
  await Promise.all(Array.from({ length: Math.min(AD_ACCOUNT_CONCURRENCY, input.accounts.length) }, lane))
  return summarize(results)
}

async function syncAccount(input: AdSpendSyncInput, account: AdAccount): Promise<AdAccountRunResult> {
  const { warehouse } = input
  const common = {
    db: warehouse.db,
    runId: input.runId,
    mode: input.mode,
    settings: input.settings,
    now: input.now,
    logger: input.logger.child({ adAccount: account.where, type: account.type }),
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.fetch ? { fetch: input.fetch } : {}),
  }
  let result: AdAccountRunResult
  try {
    result =
      account.type === 'yandex-direct'
        ? await syncYandexDirectAccount({ ...common, account })
        : await syncVkAdsAccount({ ...common, account, stateDir: input.stateDir })
  } catch (error) {
    // A lost warehouse or the run's stop end the run; anything else fails this account alone.
    if (warehouse.lost.aborted || input.signal?.aborted) throw error
    result = failedAccount(account, redact(messageOf(error)))
  }
  if (result.account !== null && result.currency !== null)
    await recordAdAccount(warehouse.db, {
      source: account.type,
      account: result.account,
      siteId: account.siteId,
      utm: account.utm,
      currency: result.currency,
    })
  return result
}

function failedAccount(account: AdAccount, error: string): AdAccountRunResult {
  return {
    type: account.type,
    account: null,
    siteId: account.siteId,
    where: account.where,
    currency: null,
    daysRead: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    requests: 0,
    retries: 0,
    failures: [],
    error,
  }
}

function summarize(accounts: readonly AdAccountRunResult[]): AdSpendSummary {
  const sum = (pick: (result: AdAccountRunResult) => number): number =>
    accounts.reduce((total, result) => total + pick(result), 0)
  return {
    accounts,
    accountsFailed: accounts.filter((result) => result.error !== null || result.failures.length > 0).length,
    days: sum((result) => result.daysRead),
    requests: sum((result) => result.requests),
    retries: sum((result) => result.retries),
    inserted: sum((result) => result.inserted),
    updated: sum((result) => result.updated),
    deleted: sum((result) => result.deleted),
    unchanged: sum((result) => result.unchanged),
  }
}
