import { messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import type { Warehouse, WarehouseDb } from '../warehouse/connection.ts'
import { finishFailedRun, finishRun, startRun, type RunCounters } from '../warehouse/run-ledger.ts'
import { withRunLock } from '../warehouse/run-lock.ts'
import type { RunStatus } from '../warehouse/schema.ts'

/** What etl.runs.command says for each job; `schedule` is the row around a scheduled sync and transform. */
export const RUN_KINDS = ['sync', 'backfill', 'transform', 'spend import', 'schedule'] as const
export type RunKind = (typeof RUN_KINDS)[number]

/** How a run ended: every status but `running`. */
export type RunEndStatus = Exclude<RunStatus, 'running'>

/** A run's row as it is closed. The error is stored redacted (see finishRun). */
export interface RunEnd {
  readonly status: RunEndStatus
  readonly counters?: RunCounters
  readonly error?: string | null
}

/** What a job's work hands back: its typed result and how its row is to be closed (unless Run.finishIn closed it). */
export interface RunOutcome<T> extends RunEnd {
  readonly result: T
}

/** The run a job's work runs in. */
export interface Run {
  readonly runId: string
  readonly warehouse: Warehouse
  /** The job's logger with the run id bound, so every line of the run can be found by it. */
  readonly logger: Logger
  /**
   * Closes the row inside the caller's transaction, so a job's data and its
   * success commit together (spend import). withRun then leaves the row
   * alone, unless the work throws after all: the transaction rolled back, and
   * the row is closed as failed.
   */
  finishIn(db: WarehouseDb, end: RunEnd): Promise<void>
}

export interface RunConfig {
  /** Stored in etl.runs.arguments (redacted); options, never tokens. */
  readonly arguments?: Record<string, unknown>
  /**
   * Whether the run takes the run lock (default true): every run that writes
   * the warehouse does, so a second one exits 3 and writes no row. `schedule`
   * does not: its sync and transform take it in turn, as separate runs would.
   */
  readonly lock?: boolean
  readonly logger?: Logger
  /** The logger field that carries the run id (default `runId`; `schedule` binds `scheduleRunId`, its inner runs bind their own `runId`). */
  readonly logField?: string
  /** Counters of a run that failed, read when it fails (a sync's requests and retries so far). */
  readonly failureCounters?: () => RunCounters
}

/**
 * The one place etl.runs rows are started and closed. Takes the run lock
 * (unless `lock: false`; held by another run: an EtlError LOCKED, exit 3, and
 * no row), opens the row, runs `work`, and closes the row with the status,
 * counters and error the work returns. Work that throws closes the row as
 * failed with the error's message on one line (stored redacted); when the warehouse's connections were lost
 * (Warehouse.lost), the loss is the error — whatever the statement it cut
 * threw — and the row is closed on a fresh connection (finishFailedRun). The
 * work's result is returned; what it threw (or the loss) is thrown on.
 *
 * @example
 * const summary = await withRun(warehouse, 'transform', { arguments: { vars } }, async (run) => {
 *   const result = await buildTransform(run.warehouse.db, prepared, { logger: run.logger })
 *   return { result, status: result.ok ? 'succeeded' : 'failed', counters: { models: result.models.length } }
 * })
 */
export async function withRun<T>(
  warehouse: Warehouse,
  kind: RunKind,
  config: RunConfig,
  work: (run: Run) => Promise<RunOutcome<T>>,
): Promise<T> {
  const recorded = async (): Promise<T> => {
    const runId = await startRun(warehouse.db, kind, config.arguments ?? {})
    let finished = false
    const run: Run = {
      runId,
      warehouse,
      logger: (config.logger ?? silentLogger()).child({ [config.logField ?? 'runId']: runId }),
      async finishIn(db, end) {
        await finishRun(db, runId, end)
        finished = true
      },
    }
    try {
      const { result, ...end } = await work(run)
      // Work that ended normally while a connection was lost may have lost the run lock midway.
      warehouse.lost.throwIfAborted()
      if (!finished) await finishRun(warehouse.db, runId, end)
      return result
    } catch (error) {
      const failure: unknown = warehouse.lost.aborted ? warehouse.lost.reason : error
      await finishFailedRun(warehouse, runId, {
        counters: config.failureCounters?.(),
        error: oneLine(messageOf(failure)),
      })
      throw failure
    }
  }
  return config.lock === false ? recorded() : withRunLock(warehouse, recorded)
}

/** etl.runs.error is read in tables and monitoring: a message's lines (a driver's detail, a stack-like text) joined into one. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim()
}
