/**
 * The read jobs' queue: pg-boss on the warehouse's PostgreSQL, in its own schema (`pgboss`).
 * pg-boss takes jobs with `FOR UPDATE SKIP LOCKED`, retries a failed one after `retryDelay`, and
 * fails an active job whose `expireIn` has passed (its worker died) into its retry, so another
 * worker takes it over: https://github.com/timgit/pg-boss/blob/10.4.2/docs/readme.md
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import type PgBoss from 'pg-boss'
import type { Day } from '../core/day.ts'
import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { redact } from '../core/secrets.ts'
import { JOB_QUEUE_SCHEMA, READ_JOB_QUEUE } from '../operate/distributed-jobs.ts'
import type { SyncPart } from './sync-job.ts'

/** How long a job may run before it is taken for dead and handed to another worker. */
export const DEFAULT_JOB_EXPIRY_SECONDS = 30 * 60

/** Attempts after the first: a job failing every time ends failed after 1 + this many. */
export const DEFAULT_JOB_RETRY_LIMIT = 2

/** Seconds before a failed attempt is tried again. */
export const DEFAULT_JOB_RETRY_DELAY_SECONDS = 5

/** Days of one site's stream in one job: a big site's days are shared by several workers. */
export const DEFAULT_CHUNK_DAYS = 14

/** How often an idle worker asks the queue for a job. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000

/** What a read job carries: never a token (workers have their own configuration), only what to read. */
export interface ReadJobData {
  /** The coordinator's etl.runs row: workers load under it. */
  readonly runId: string
  readonly command: 'sync' | 'backfill'
  readonly part: SyncPart
  /** The Calltouch site; for spend, the site the ad account advertises. */
  readonly siteId: number
  /** Spend: the ad account, as the config file names it (AdAccount.where). */
  readonly account?: string
  /** The days read, inclusive; for spend absent in a sync (the account plans its own days). */
  readonly from?: Day
  readonly to?: Day
  /** The run's clock (ISO): "today" is the coordinator's, whenever the job runs. */
  readonly now: string
}

/**
 * The job's idempotency key: the same run enqueuing the same read twice (a coordinator retried)
 * names the same job, and {@link readJobId} makes it the same row.
 */
export function readJobKey(job: ReadJobData): string {
  const what = job.part === 'spend' ? `spend:${job.account}` : `${job.part}:${job.siteId}`
  return `${job.runId}:${what}:${job.from ?? ''}..${job.to ?? ''}`
}

/** A UUID derived from the key (SHA-1, laid out as a version 5 UUID): pg-boss inserts a job id once. */
export function readJobId(key: string): string {
  const hex = createHash('sha1').update(`calltouch-etl:${key}`).digest('hex')
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`
}

export interface JobQueueConfig {
  /** The warehouse's PostgreSQL (DATABASE_URL). */
  readonly connectionString: string
  readonly logger: Logger
  /**
   * How often this process expires dead workers' jobs and archives old ones. Every process
   * supervises (pg-boss lets one at a time do it); a coordinator checks at a quarter of its jobs'
   * expiry, so a dead worker's job is retried soon after it expired.
   */
  readonly maintenanceIntervalSeconds?: number
}

/**
 * Opens pg-boss on the warehouse (creating or migrating its schema) and the read queue, one
 * process at a time, so any number of workers and a coordinator may start together.
 */
export async function openJobQueue(config: JobQueueConfig): Promise<PgBoss> {
  // Loaded here, not with the module: every command imports this one, few open a queue (~0.1-0.2 s of start-up).
  const { default: PgBoss } = await import('pg-boss')
  const boss = new PgBoss({
    connectionString: config.connectionString,
    schema: JOB_QUEUE_SCHEMA,
    application_name: 'calltouch-etl jobs',
    max: 3,
    schedule: false,
    ...(config.maintenanceIntervalSeconds === undefined
      ? {}
      : { maintenanceIntervalSeconds: Math.max(1, Math.round(config.maintenanceIntervalSeconds)) }),
  })
  boss.on('error', (error: unknown) => config.logger.warn({ err: redact(messageOf(error)) }, 'job queue'))
  await oneAtATime(config.connectionString, async () => {
    await boss.start()
    if ((await boss.getQueue(READ_JOB_QUEUE)) === null) await boss.createQueue(READ_JOB_QUEUE)
  })
  return boss
}

/** The advisory lock's key: "calltouch-etl job queue" (a constant of our own, apart from pg-boss's keys). */
export const JOB_QUEUE_SETUP_LOCK = 0x63746a71

/**
 * Runs `setup` while this process alone holds a session advisory lock on the warehouse. pg-boss's
 * own start is not safe to race on a brand-new database: measured here, of three processes starting
 * at the same instant two failed with "deadlock detected" (and a pool connection left in an aborted
 * transaction hung a worker). Serialized, the first creates the schema and the queue, the others
 * find them made.
 */
async function oneAtATime(connectionString: string, setup: () => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString, application_name: 'calltouch-etl jobs setup' })
  await client.connect()
  try {
    await client.query('select pg_advisory_lock($1)', [JOB_QUEUE_SETUP_LOCK])
    try {
      await setup()
    } finally {
      await client.query('select pg_advisory_unlock($1)', [JOB_QUEUE_SETUP_LOCK])
    }
  } finally {
    await client.end()
  }
}

/** An error for pg-boss to keep as the attempt's output: its message (redacted, one line), no stack. */
export function jobError(message: string): Error {
  const error = new Error(redact(message).replace(/\s*\n\s*/g, ' '))
  error.stack = error.message
  return error
}
