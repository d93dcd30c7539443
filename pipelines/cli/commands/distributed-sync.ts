import type { Command } from 'commander'
import { EXIT_CODES, type ExitCode } from '../../core/errors.ts'
import { warehouseConfigFromEnv } from '../../core/config.ts'
import { redact } from '../../core/secrets.ts'
import { distributedParts } from '../../jobs/distributed-parts.ts'
import {
  DEFAULT_CHUNK_DAYS,
  DEFAULT_JOB_EXPIRY_SECONDS,
  DEFAULT_JOB_RETRY_LIMIT,
  openJobQueue,
} from '../../jobs/distributed-queue.ts'
import { syncJob, type SyncParts, type SyncRequest } from '../../jobs/sync-job.ts'
import type { Warehouse } from '../../warehouse/connection.ts'
import type { SyncProgress } from '../../sources/calltouch-deals/sync-sites.ts'
import { say, usageError, withWarehouse, type CliContext } from '../context.ts'
import { printSyncResult, syncRequestFromOptions, syncResultJson, type CalltouchRunOptions } from './calltouch-run.ts'

/** `--distributed` and its tuning, as commander hands them over. */
export interface DistributedOptions {
  readonly distributed?: boolean
  readonly chunkDays?: number
  readonly jobExpirySeconds?: number
  readonly jobRetries?: number
}

/** Adds `--distributed` and its tuning to `sync` or `backfill`. */
export function addDistributedOptions(command: Command): Command {
  return command
    .option(
      '--distributed',
      "plan the sync's reads as jobs for `calltouch-etl worker` processes (PostgreSQL warehouse only) and follow them: the same summary, etl.runs rows and exit code",
    )
    .option(
      '--chunk-days <days>',
      `with --distributed: planned days of one site's stream per job (default ${DEFAULT_CHUNK_DAYS})`,
      positiveInteger('--chunk-days'),
    )
    .option(
      '--job-expiry-seconds <seconds>',
      `with --distributed: a job running longer is taken for dead and retried by another worker (default ${DEFAULT_JOB_EXPIRY_SECONDS})`,
      positiveInteger('--job-expiry-seconds'),
    )
    .option(
      '--job-retries <count>',
      `with --distributed: attempts after the first before a job ends failed (default ${DEFAULT_JOB_RETRY_LIMIT})`,
      nonNegativeInteger('--job-retries'),
    )
}

/**
 * Refuses `--distributed` on the embedded warehouse (exit 2, nothing changed): workers share the
 * warehouse's PostgreSQL, and the embedded one is one process's alone.
 */
export function requirePostgresForDistributed(ctx: CliContext, what: string): string {
  const config = warehouseConfigFromEnv(ctx.env, ctx.cwd)
  if (config.engine !== 'postgres')
    throw usageError(
      `${what} needs a PostgreSQL warehouse (DATABASE_URL): the embedded warehouse is one process's alone; run without --distributed, or set DATABASE_URL`,
    )
  return config.databaseUrl
}

/**
 * `sync --distributed` / `backfill --distributed`: the coordinator. Holds the run lock and the
 * etl.runs row as a single-process run does, enqueues the run's read jobs, follows them and
 * prints the same lines; exits 1 when any day, account or job failed.
 */
export async function runDistributedCommand(
  ctx: CliContext,
  command: SyncRequest['command'],
  options: CalltouchRunOptions & DistributedOptions,
): Promise<ExitCode> {
  const connectionString = requirePostgresForDistributed(ctx, `${command} --distributed`)
  const request = syncRequestFromOptions(ctx, command, options, new Date())
  const onProgress = (progress: SyncProgress): void =>
    ctx.progress.updateBar({ value: progress.daysDone, total: progress.daysTotal, failed: progress.daysFailed })
  const result = await withWarehouse(ctx, async (warehouse) => {
    try {
      return await withDistributedParts(ctx, warehouse, { connectionString, command, options }, (parts) =>
        syncJob(warehouse, request, { logger: ctx.logger, onProgress, parts }),
      )
    } finally {
      ctx.progress.stopBar()
    }
  })
  if (options.json !== true) return printSyncResult(ctx, result)
  say(ctx, redact(JSON.stringify(syncResultJson(result))))
  return result.ok ? EXIT_CODES.ok : EXIT_CODES.failed
}

/**
 * Opens the job queue on the warehouse and runs `work` with the parts of a run as jobs for the
 * workers (the coordinator's side of `sync --distributed` and `schedule --distributed`), then
 * closes the queue: jobs already queued stay there for the workers.
 */
export async function withDistributedParts<T>(
  ctx: CliContext,
  warehouse: Warehouse,
  run: { connectionString: string; command: SyncRequest['command']; options: DistributedOptions },
  work: (parts: SyncParts) => Promise<T>,
): Promise<T> {
  const { options } = run
  const expireInSeconds = options.jobExpirySeconds ?? DEFAULT_JOB_EXPIRY_SECONDS
  // Expired jobs are found at a quarter of their expiry: a dead worker's job is retried soon after.
  const boss = await openJobQueue({
    connectionString: run.connectionString,
    logger: ctx.logger,
    maintenanceIntervalSeconds: Math.min(60, expireInSeconds / 4),
  })
  try {
    return await work(
      distributedParts({
        boss,
        db: warehouse.db,
        command: run.command,
        expireInSeconds,
        ...(options.chunkDays === undefined ? {} : { chunkDays: options.chunkDays }),
        ...(options.jobRetries === undefined ? {} : { retryLimit: options.jobRetries }),
      }),
    )
  } finally {
    await boss.stop({ graceful: false, wait: true })
  }
}

function positiveInteger(option: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value)
    if (!Number.isSafeInteger(parsed) || parsed < 1)
      throw usageError(`${option} must be a whole number of at least 1, got ${JSON.stringify(value)}`)
    return parsed
  }
}

function nonNegativeInteger(option: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value)
    if (!Number.isSafeInteger(parsed) || parsed < 0)
      throw usageError(`${option} must be a whole number of at least 0, got ${JSON.stringify(value)}`)
    return parsed
  }
}
