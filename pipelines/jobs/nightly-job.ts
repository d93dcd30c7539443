import { EXIT_CODES, messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { TransformOptions } from '../transform/run-transform.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import type { Egress } from '../http/egress.ts'
import { syncJob, type SyncJobResult, type SyncParts, type SyncRequest } from './sync-job.ts'
import { transformJob, type TransformJobResult } from './transform-job.ts'
import { withRun, type RunEndStatus } from './with-run.ts'

/** One tick of `schedule`. */
export interface NightlyRequest {
  readonly tick: number
  readonly cron: string
  readonly timeZone: string
  /**
   * The tick's sync, resolved once its `schedule` row is open: "now" is the
   * tick's, and a configuration broken since the scheduler started fails
   * this run (recorded, with the reason) rather than the scheduler.
   */
  readonly sync: () => SyncRequest
  readonly transform?: Pick<TransformOptions, 'projectDir' | 'vars' | 'runTests'>
}

export interface NightlyJobResult {
  readonly scheduleRunId: string
  readonly status: RunEndStatus
  readonly sync: SyncJobResult
  readonly transform: TransformJobResult
}

/**
 * One scheduled run on one open warehouse: a sync, then a transform, each a
 * run of its own under the run lock, inside a `schedule` row in etl.runs that
 * says how the whole run ended (succeeded, or partial with which part
 * failed). Stopped through `signal` during the sync, the sync is recorded as
 * interrupted, no transform runs, and the schedule row is closed failed with
 * `interrupted during sync: <reason>`, which is thrown.
 *
 * @example
 * const result = await nightlyJob(warehouse, { tick: 1, cron: '0 3 * * *', timeZone: 'Europe/Moscow', sync: () => request }, { logger, signal })
 */
export async function nightlyJob(
  warehouse: Warehouse,
  request: NightlyRequest,
  options: {
    readonly logger?: Logger
    readonly signal?: AbortSignal
    /** How the sync's requests leave the process (SyncJobOptions.egress). */
    readonly egress?: Egress
    /** Who reads the sync's parts (SyncJobOptions.parts): workers' jobs with `schedule --distributed`. */
    readonly parts?: SyncParts
  } = {},
): Promise<NightlyJobResult> {
  const counters: Record<string, number> = {}
  const { signal } = options
  return withRun(
    warehouse,
    'schedule',
    {
      arguments: { tick: request.tick, cron: request.cron, timeZone: request.timeZone },
      // Not the lock: its sync and transform take it in turn, and this row stays open around them.
      lock: false,
      logger: options.logger,
      // `scheduleRunId`, not `runId`: the sync and transform bind their own runId.
      logField: 'scheduleRunId',
      failureCounters: () => counters,
    },
    async (run) => {
      const sync = await syncJob(warehouse, request.sync(), {
        logger: run.logger,
        signal,
        ...(options.egress ? { egress: options.egress } : {}),
        ...(options.parts ? { parts: options.parts } : {}),
      })
      // Kept under the name the rows of earlier releases carry.
      counters.syncExitCode = sync.ok ? EXIT_CODES.ok : EXIT_CODES.failed
      if (signal?.aborted) throw new Error(`interrupted during sync: ${messageOf(signal.reason)}`)
      const transform = await transformJob(warehouse, request.transform, { logger: run.logger })
      counters.testsFailed = transform.testsFailed
      const status: RunEndStatus = sync.ok && transform.ok ? 'succeeded' : 'partial'
      const error =
        status === 'succeeded'
          ? null
          : sync.ok
            ? 'the transform failed a model or a test'
            : 'the sync failed some days (see the sync run)'
      return { result: { scheduleRunId: run.runId, status, sync, transform }, status, counters, error }
    },
  )
}
