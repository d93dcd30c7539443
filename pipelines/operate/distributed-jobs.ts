/**
 * The jobs of `sync --distributed` as pg-boss keeps them in the warehouse (schema `pgboss`), read
 * with plain SQL so that `status` needs no pg-boss of its own and a read-only login can run it.
 *
 * Glossary:
 * - read job: one part of a run for one site or ad account and, for Calltouch, one chunk of its
 *   planned days (deals, calls or requests), as the coordinator enqueues it and a worker runs it.
 * - coordinator: the `sync --distributed` process; it holds the run lock and the etl.runs row.
 * - worker: a `calltouch-etl worker` process; it runs read jobs under the coordinator's run id.
 */
import type { WarehouseDb } from '../warehouse/connection.ts'
import { runSqlFile } from '../warehouse/sql-files.ts'

/** pg-boss's schema in the warehouse database: never granted to the BI role. */
export const JOB_QUEUE_SCHEMA = 'pgboss'

/** The queue of read jobs. */
export const READ_JOB_QUEUE = 'calltouch-etl-read'

/** Failed jobs `status` lists: those that ended within this many hours. */
export const FAILED_JOBS_SHOWN_HOURS = 48

/** A job's state as pg-boss names it: queued (created, retry), running (active) or settled. */
export type ReadJobState = 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed'

/** One job of the queue as `status` shows it. */
export interface DistributedJob {
  readonly id: string
  readonly state: ReadJobState
  /** What the job reads: `<runId>:<part>:<site or account>:<first day>..<last day>`. */
  readonly key: string | null
  readonly runId: string | null
  /** Attempts that failed so far (a worker's error, or its death found by expiry). */
  readonly retries: number
  readonly retryLimit: number
  readonly startedAt: Date | null
  /** Why it failed (the last attempt's error); null unless failed or retrying. */
  readonly error: string | null
}

/** The queue's jobs: counted by state, and the queued, running and recently failed ones listed. */
export interface DistributedJobsStatus {
  readonly queued: number
  readonly running: number
  readonly failed: number
  readonly completed: number
  readonly jobs: readonly DistributedJob[]
}

/**
 * The read jobs of the warehouse, or null when it has none to show: no `sync --distributed` ever
 * ran on it (no pgboss schema; always so on the embedded warehouse), or this login may not read it.
 *
 * @example
 * const jobs = await readDistributedJobs(warehouse.db)
 * if (jobs) console.log(`${jobs.queued} queued, ${jobs.running} running, ${jobs.failed} failed`)
 */
export async function readDistributedJobs(
  db: WarehouseDb,
  failedWithinHours: number = FAILED_JOBS_SHOWN_HOURS,
): Promise<DistributedJobsStatus | null> {
  const [access] = await runSqlFile<{ readable: boolean }>(db, 'select_job_queue_readable')
  if (access?.readable !== true) return null
  const counts = await selectDistributedJobCounts(db)
  const count = (...states: ReadJobState[]): number =>
    counts.filter((row) => states.includes(row.state)).reduce((sum, row) => sum + row.jobs, 0)
  return {
    queued: count('created', 'retry'),
    running: count('active'),
    failed: count('failed'),
    completed: count('completed'),
    jobs: await selectDistributedJobs(db, failedWithinHours),
  }
}

/** Where some jobs of the queue stand, by id: what a coordinator follows. */
export interface ReadJobProgress {
  readonly id: string
  readonly state: ReadJobState
  readonly retries: number
  /** What the job returned (completed) or the error it failed with (failed, retry). */
  readonly output: unknown
}

/** The state and output of the jobs `ids` (select_read_jobs_by_id); a job not found is left out. */
export async function selectReadJobsById(db: WarehouseDb, ids: readonly string[]): Promise<ReadJobProgress[]> {
  const rows = await runSqlFile<{ id: string; state: ReadJobState; retry_count: number; output: unknown }>(
    db,
    'select_read_jobs_by_id',
    [READ_JOB_QUEUE, ids],
  )
  return rows.map((row) => ({ id: row.id, state: row.state, retries: row.retry_count, output: row.output }))
}

async function selectDistributedJobCounts(db: WarehouseDb): Promise<{ state: ReadJobState; jobs: number }[]> {
  return runSqlFile<{ state: ReadJobState; jobs: number }>(db, 'select_distributed_job_counts', [READ_JOB_QUEUE])
}

async function selectDistributedJobs(db: WarehouseDb, failedWithinHours: number): Promise<DistributedJob[]> {
  const rows = await runSqlFile<{
    id: string
    state: ReadJobState
    key: string | null
    run_id: string | null
    retry_count: number
    retry_limit: number
    started_on: Date | null
    error: string | null
  }>(db, 'select_distributed_jobs', [READ_JOB_QUEUE, failedWithinHours])
  return rows.map((row) => ({
    id: row.id,
    state: row.state,
    key: row.key,
    runId: row.run_id,
    retries: row.retry_count,
    retryLimit: row.retry_limit,
    startedAt: row.started_on,
    error: row.state === 'failed' || row.state === 'retry' ? row.error : null,
  }))
}
