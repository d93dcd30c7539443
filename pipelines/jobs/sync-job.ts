import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { RunSettings, SiteConfig } from '../sources/calltouch-deals/config.ts'
import { loadWindow, recordWindowFailure } from '../sources/calltouch-deals/load-window.ts'
import { createRequestLimiters } from '../http/request-limiter.ts'
import { CALLTOUCH_REQUEST_BUDGET, calltouchRequestBudget } from '../sources/calltouch-deals/api-client.ts'
import { syncSites, type SyncMode, type SyncProgress, type SyncSummary } from '../sources/calltouch-deals/sync-sites.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import { DEFAULT_AD_ACCOUNT_SETTINGS, type AdAccountSettings } from '../core/ad-account.ts'
import type { ContactPolicy } from '../core/pii.ts'
import { syncAdAccounts, type AdSpendSummary } from './ad-spend-sync.ts'
import type { AdAccount } from './run-config.ts'
import { withRun, type RunEndStatus } from './with-run.ts'

/** What a run reads: both (the default), the Calltouch deals only, or the ad accounts' spend only (`sync --only`). */
export const SYNC_PARTS = ['deals', 'spend'] as const
export type SyncPart = (typeof SYNC_PARTS)[number]

/** A sync or backfill, checked and resolved by the caller (the CLI parses options and configuration). */
export interface SyncRequest {
  readonly command: 'sync' | 'backfill'
  readonly sites: readonly SiteConfig[]
  readonly mode: SyncMode
  readonly settings: RunSettings
  /** The API's base URL (CalltouchConfig.baseUrl). */
  readonly baseUrl: string
  /** Where the sites came from (CalltouchConfig.source), stored with the run's arguments. */
  readonly configSource: string
  /** The run's clock: "today" and the ledger's ages are taken from it. */
  readonly now: Date
  /** The ad accounts whose spend the run reads besides the deals (none by default). */
  readonly adAccounts?: readonly AdAccount[]
  readonly adSettings?: AdAccountSettings
  /** Only this part (`sync --only deals|spend`); both by default. */
  readonly only?: SyncPart
  /** Where tokens are kept between runs (VK Ads): CALLTOUCH_ETL_STATE_DIR. Required with a VK Ads account. */
  readonly stateDir?: string
  /** What the warehouse may store of client contacts, and the key of client_key (CALLTOUCH_ETL_PII, CALLTOUCH_ETL_PII_KEY). */
  readonly contacts?: ContactPolicy
}

export interface SyncJobOptions {
  readonly logger?: Logger
  /** Stops the run (a scheduler's SIGTERM): requests in flight are aborted, the run is recorded failed as interrupted. */
  readonly signal?: AbortSignal
  readonly onProgress?: (progress: SyncProgress) => void
}

export interface SyncJobResult {
  readonly runId: string
  readonly command: SyncRequest['command']
  /** The deals' part; sites 0 when the run read spend only. */
  readonly summary: SyncSummary
  /** The ad accounts' part; null when the run read deals only or no account is configured. */
  readonly spend: AdSpendSummary | null
  readonly durationMs: number
  /** Stopped by the signal: the run read only part of its plan. */
  readonly interrupted: boolean
  /** Every window and every ad account loaded, and the run was not stopped. */
  readonly ok: boolean
}

/**
 * Reads and loads the request's sites under the run lock as one `sync` or
 * `backfill` run in etl.runs: succeeded, partial when some windows failed,
 * failed when all did or the run was stopped. A window that fails is a
 * result, not an exception; a lost warehouse stops the run and is thrown.
 *
 * @example
 * const result = await syncJob(warehouse, { command: 'sync', sites, mode: { kind: 'sync' }, settings, baseUrl, configSource, now: new Date() }, { logger })
 * if (!result.ok) for (const failure of result.summary.failures) console.log(failure.error)
 */
export async function syncJob(
  warehouse: Warehouse,
  request: SyncRequest,
  options: SyncJobOptions = {},
): Promise<SyncJobResult> {
  const startedAt = Date.now()
  const { command, sites, mode, settings, signal } = { ...request, ...options }
  // The vendor's ceiling is Calltouch's fact: its budget (calltouchRequestBudget) holds it, and every Calltouch request shares that one limiter.
  const limiters = createRequestLimiters({
    [CALLTOUCH_REQUEST_BUDGET]: calltouchRequestBudget(settings.requestsPerSecond),
  })
  const limiter = limiters.limiterFor(CALLTOUCH_REQUEST_BUDGET)
  const readsDeals = request.only !== 'spend'
  const adAccounts = request.only === 'deals' ? [] : (request.adAccounts ?? [])
  const runArguments = {
    sites: readsDeals ? sites.map((site) => site.siteId) : [],
    ...(adAccounts.length > 0 ? { adAccounts: adAccounts.map((account) => account.where) } : {}),
    ...(request.only ? { only: request.only } : {}),
    config: request.configSource,
    ...settings,
    ...(mode.kind === 'backfill' ? { from: mode.from, to: mode.to } : {}),
  }
  try {
    return await withRun(
      warehouse,
      command,
      {
        arguments: runArguments,
        logger: options.logger,
        failureCounters: () => ({ ...limiter.counters, durationMs: Date.now() - startedAt }),
      },
      async (run) => {
        // A lost warehouse connection stops the run as a signal would: no window starts on it.
        const runSignal = signal ? AbortSignal.any([signal, warehouse.lost]) : warehouse.lost
        const spendPart =
          adAccounts.length === 0
            ? Promise.resolve(null)
            : syncAdAccounts({
                warehouse,
                runId: run.runId,
                accounts: adAccounts,
                mode: mode.kind === 'backfill' ? mode : { kind: 'sync' },
                settings: request.adSettings ?? DEFAULT_AD_ACCOUNT_SETTINGS,
                now: request.now,
                stateDir: request.stateDir ?? '.data/state',
                logger: run.logger,
                signal: runSignal,
              })
        const dealsPart = syncSites({
          db: warehouse.db,
          runId: run.runId,
          sites: readsDeals ? sites : [],
          ...(request.contacts ? { contacts: request.contacts } : {}),
          mode,
          baseUrl: request.baseUrl,
          settings,
          limiter,
          loader: { loadWindow, recordWindowFailure },
          now: request.now,
          logger: run.logger,
          onProgress: options.onProgress,
          signal: runSignal,
        })
        // Both parts run side by side (different APIs, different limits); each settles before the run ends.
        const [dealsSettled, spendSettled] = await Promise.allSettled([dealsPart, spendPart])
        if (dealsSettled.status === 'rejected') throw dealsSettled.reason
        if (spendSettled.status === 'rejected') throw spendSettled.reason
        const summary = dealsSettled.value
        const spend = spendSettled.value
        // withRun would find the loss too, but the summary must not be taken for the run's outcome.
        warehouse.lost.throwIfAborted()
        const durationMs = Date.now() - startedAt
        const interrupted = signal?.aborted === true
        const { failures, ...counters } = summary
        const firstFailure = failures[0]
        const windowError =
          firstFailure === undefined
            ? null
            : `${failures.length} window(s) failed; first: site ${firstFailure.siteId} ${firstFailure.firstDay}..${firstFailure.lastDay}: ${firstFailure.error}`
        const spendError = spend === null ? null : describeSpendFailure(spend)
        const parts = summary.windows + (spend?.accounts.length ?? 0)
        const partsFailed = summary.windowsFailed + (spend?.accountsFailed ?? 0)
        return {
          result: {
            runId: run.runId,
            command,
            summary,
            spend,
            durationMs,
            interrupted,
            ok: partsFailed === 0 && !interrupted,
          },
          // A stopped run read only part of its plan: it failed, whatever its windows did.
          status: interrupted ? 'failed' : statusOf(partsFailed, parts),
          counters: { ...counters, ...spendCounters(spend), durationMs },
          error: interrupted
            ? `interrupted after ${summary.windows} window(s): ${messageOf(signal?.reason)}`
            : [windowError, spendError].filter((part) => part !== null).join('; ') || null,
        }
      },
    )
  } finally {
    await limiters.stop()
  }
}

/** The spend part's counters in etl.runs, none when the run read no ad account. */
function spendCounters(spend: AdSpendSummary | null): Record<string, number> {
  if (spend === null) return {}
  return {
    spendAccounts: spend.accounts.length,
    spendAccountsFailed: spend.accountsFailed,
    spendDays: spend.days,
    spendRequests: spend.requests,
    spendRetries: spend.retries,
    spendInserted: spend.inserted,
    spendUpdated: spend.updated,
    spendDeleted: spend.deleted,
  }
}

/** The first failed account of the spend part, for etl.runs.error; null when none failed. */
function describeSpendFailure(spend: AdSpendSummary): string | null {
  const failed = spend.accounts.find((account) => account.error !== null || account.failures.length > 0)
  if (failed === undefined) return null
  const reason =
    failed.error ?? `${failed.failures[0]?.firstDay}..${failed.failures[0]?.lastDay}: ${failed.failures[0]?.error}`
  return `${spend.accountsFailed} ad account(s) failed; first: ${failed.type} ${failed.account ?? failed.where}: ${reason}`
}

/** `partial` when some windows or accounts failed, `failed` when all did. */
function statusOf(failed: number, total: number): RunEndStatus {
  return failed === 0 ? 'succeeded' : failed < total ? 'partial' : 'failed'
}
