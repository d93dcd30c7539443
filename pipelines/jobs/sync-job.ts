import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { RunSettings, SiteConfig } from '../sources/calltouch-deals/config.ts'
import { loadWindow, recordWindowFailure } from '../sources/calltouch-deals/load-window.ts'
import { createRequestLimiters } from '../http/request-limiter.ts'
import { CALLTOUCH_REQUEST_BUDGET, calltouchRequestBudget } from '../sources/calltouch-deals/api-client.ts'
import { syncSites, type SyncMode, type SyncProgress, type SyncSummary } from '../sources/calltouch-deals/sync-sites.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import { withRun, type RunEndStatus } from './with-run.ts'

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
  readonly summary: SyncSummary
  readonly durationMs: number
  /** Stopped by the signal: the run read only part of its plan. */
  readonly interrupted: boolean
  /** Every window loaded and the run was not stopped. */
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
  const runArguments = {
    sites: sites.map((site) => site.siteId),
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
        const summary = await syncSites({
          db: warehouse.db,
          runId: run.runId,
          sites,
          mode,
          baseUrl: request.baseUrl,
          settings,
          limiter,
          loader: { loadWindow, recordWindowFailure },
          now: request.now,
          logger: run.logger,
          onProgress: options.onProgress,
          // A lost warehouse connection stops the run as a signal would: no window starts on it.
          signal: signal ? AbortSignal.any([signal, warehouse.lost]) : warehouse.lost,
        })
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
        return {
          result: {
            runId: run.runId,
            command,
            summary,
            durationMs,
            interrupted,
            ok: summary.windowsFailed === 0 && !interrupted,
          },
          // A stopped run read only part of its plan: it failed, whatever its windows did.
          status: interrupted ? 'failed' : statusOf(summary.windowsFailed, summary.windows),
          counters: { ...counters, durationMs },
          error: interrupted
            ? `interrupted after ${summary.windows} window(s): ${messageOf(signal?.reason)}`
            : windowError,
        }
      },
    )
  } finally {
    await limiters.stop()
  }
}

/** `partial` when some windows failed, `failed` when all did. */
function statusOf(failed: number, total: number): RunEndStatus {
  return failed === 0 ? 'succeeded' : failed < total ? 'partial' : 'failed'
}
