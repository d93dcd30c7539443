/**
 * A worker of `sync --distributed`: takes read jobs from the queue, `concurrency` at a time, and
 * runs each with the code paths a single-process sync runs (syncSites, syncLeads,
 * syncAdAccounts) over the job's site or account and days, under the coordinator's run id. It
 * never takes the run lock: the coordinator holds it for the whole run.
 */
import type PgBoss from 'pg-boss'
import type { AdAccountSettings } from '../core/ad-account.ts'
import type { Day } from '../core/day.ts'
import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { ContactPolicy } from '../core/pii.ts'
import { countedShareOf, type RequestLimiter } from '../http/request-limiter.ts'
import { READ_JOB_QUEUE } from '../operate/distributed-jobs.ts'
import type { RunSettings, SiteConfig } from '../sources/calltouch-deals/config.ts'
import { loadWindow, recordWindowFailure } from '../sources/calltouch-deals/load-window.ts'
import { syncSites } from '../sources/calltouch-deals/sync-sites.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import { syncAdAccounts } from './ad-spend-sync.ts'
import { DEFAULT_POLL_INTERVAL_MS, jobError, type ReadJobData } from './distributed-queue.ts'
import { syncLeads } from './leads-sync.ts'
import type { AdAccount } from './run-config.ts'

/** Jobs a worker runs at once by default: its sites share one Calltouch limit anyway. */
export const DEFAULT_WORKER_CONCURRENCY = 2

/** How long a stopping worker lets the jobs in hand finish before it aborts them back into the queue. */
export const DEFAULT_STOP_GRACE_MS = 20_000

/** What a worker reads with: its own configuration (the coordinator's sites and accounts, with their tokens). */
export interface WorkerSetup {
  readonly warehouse: Warehouse
  readonly boss: PgBoss
  readonly sites: readonly SiteConfig[]
  readonly baseUrl: string
  readonly settings: RunSettings
  readonly adAccounts: readonly AdAccount[]
  readonly adSettings: AdAccountSettings
  readonly stateDir: string
  readonly contacts?: ContactPolicy
  /** The Calltouch limiter every job of this worker shares (one egress address, one budget). */
  readonly limiter: RequestLimiter
  readonly logger: Logger
  /** Bound to the worker's egress address; default the global fetch. */
  readonly fetch?: typeof fetch
  readonly concurrency?: number
  readonly pollIntervalMs?: number
  readonly stopGraceMs?: number
}

/** What a worker did before it stopped. */
export interface WorkerResult {
  readonly completed: number
  readonly failed: number
}

/**
 * Runs jobs until `stop` aborts: then takes no further job, lets the jobs in hand finish for
 * `stopGraceMs`, and aborts the rest, which go back to the queue (as a failed attempt, retried
 * by any worker).
 *
 * @example
 * const stop = new AbortController()
 * process.once('SIGTERM', () => stop.abort(new Error('SIGTERM')))
 * await runWorker(setup, stop.signal)
 */
export async function runWorker(setup: WorkerSetup, stop: AbortSignal): Promise<WorkerResult> {
  const abortJobs = new AbortController()
  const jobSignal = AbortSignal.any([abortJobs.signal, setup.warehouse.lost])
  const counts = { completed: 0, failed: 0 }
  const pollIntervalMs = setup.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS
  const lane = async (): Promise<void> => {
    while (!stop.aborted && !setup.warehouse.lost.aborted) {
      const [job] = await setup.boss.fetch<ReadJobData>(READ_JOB_QUEUE, { batchSize: 1 })
      if (job === undefined) {
        await sleep(pollIntervalMs, stop)
        continue
      }
      const logger = setup.logger.child({ runId: job.data.runId, jobId: job.id })
      try {
        const output = await runReadJob(setup, job.data, { logger, signal: jobSignal })
        await setup.boss.complete(READ_JOB_QUEUE, job.id, output)
        counts.completed++
      } catch (error) {
        const reason = jobSignal.aborted ? `worker stopped: ${messageOf(jobSignal.reason)}` : messageOf(error)
        logger.error({ err: reason, part: job.data.part, siteId: job.data.siteId }, `job failed: ${reason}`)
        await setup.boss.fail(READ_JOB_QUEUE, job.id, jobError(reason))
        counts.failed++
      }
    }
  }
  const lanes = Promise.all(Array.from({ length: Math.max(1, setup.concurrency ?? DEFAULT_WORKER_CONCURRENCY) }, lane))
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve()
    stop.addEventListener('abort', () => resolve(), { once: true })
    void lanes.finally(resolve)
  })
  const grace = setTimeout(
    () => abortJobs.abort(new Error('the jobs in hand did not finish in time')),
    setup.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
  )
  try {
    await lanes
  } finally {
    clearTimeout(grace)
  }
  return counts
}

/** What a job returns, kept by pg-boss as its output: the part's summary for the coordinator to add up. */
export type ReadJobOutput =
  | { readonly part: 'deals'; readonly summary: Awaited<ReturnType<typeof syncSites>> }
  | { readonly part: 'calls' | 'requests'; readonly summary: Awaited<ReturnType<typeof syncLeads>> }
  | { readonly part: 'spend'; readonly summary: Awaited<ReturnType<typeof syncAdAccounts>> }

/**
 * Runs one job: the job's part for its one site or account, over its days as a backfill, under
 * its run id. A window or account that fails is in the summary, as in a single-process run; a
 * job throws only when it cannot run (a site this worker does not know, a lost warehouse, a stop).
 */
export async function runReadJob(
  setup: WorkerSetup,
  job: ReadJobData,
  context: { readonly logger: Logger; readonly signal: AbortSignal },
): Promise<ReadJobOutput> {
  const now = new Date(job.now)
  const { logger, signal } = context
  const shared = {
    runId: job.runId,
    baseUrl: setup.baseUrl,
    settings: setup.settings,
    now,
    logger,
    signal,
    ...(setup.contacts ? { contacts: setup.contacts } : {}),
    ...(setup.fetch ? { fetch: setup.fetch } : {}),
  }
  let output: ReadJobOutput
  if (job.part === 'spend') {
    const account = setup.adAccounts.find((candidate) => candidate.where === job.account)
    if (account === undefined)
      throw jobError(
        `ad account ${job.account} is not in this worker's configuration: give every worker the coordinator's config file`,
      )
    const summary = await syncAdAccounts({
      warehouse: setup.warehouse,
      runId: job.runId,
      accounts: [account],
      mode:
        job.from !== undefined && job.to !== undefined
          ? { kind: 'backfill', from: job.from, to: job.to }
          : { kind: 'sync' },
      settings: setup.adSettings,
      now,
      stateDir: setup.stateDir,
      logger,
      signal,
      ...(setup.fetch ? { fetch: setup.fetch } : {}),
    })
    output = { part: 'spend', summary }
  } else {
    const site = setup.sites.find((candidate) => candidate.siteId === job.siteId)
    if (site === undefined)
      throw jobError(
        `site ${job.siteId} is not in this worker's configuration (sites: ${setup.sites.map((each) => each.siteId).join(', ') || 'none'}): give every worker the coordinator's config file`,
      )
    const mode = { kind: 'backfill', from: job.from as Day, to: job.to as Day } as const
    output =
      job.part === 'deals'
        ? {
            part: 'deals',
            summary: await syncSites({
              ...shared,
              db: setup.warehouse.db,
              sites: [site],
              mode,
              limiter: countedShareOf(setup.limiter),
              loader: { loadWindow, recordWindowFailure },
            }),
          }
        : {
            part: job.part,
            summary: await syncLeads({
              ...shared,
              db: setup.warehouse.db,
              sites: [site],
              journals: [job.part],
              mode,
              limiter: setup.limiter,
            }),
          }
  }
  // Stopped midway, the job read only part of its days: it goes back to the queue whole.
  signal.throwIfAborted()
  setup.warehouse.lost.throwIfAborted()
  return output
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}
