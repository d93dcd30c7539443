/**
 * The coordinator's side of `sync --distributed`: the three parts of a sync (deals, leads, spend)
 * as read jobs. Each plans its days as a single-process run would, cuts each site's stream into
 * chunks of consecutive planned days, enqueues one job per chunk (one per ad account for spend),
 * follows them until every one has settled and adds their summaries up into the part's summary,
 * so syncJob closes the run, prints and exits exactly as it does in one process.
 */
import type PgBoss from 'pg-boss'
import type { AdAccountRunResult } from '../core/ad-account.ts'
import { todayIn, type Day } from '../core/day.ts'
import type { Logger } from '../core/logger.ts'
import { selectReadJobsById, READ_JOB_QUEUE, type ReadJobProgress } from '../operate/distributed-jobs.ts'
import { siteStreams, type RunSettings, type SiteConfig } from '../sources/calltouch-deals/config.ts'
import { readSiteLedger } from '../sources/calltouch-deals/site-ledger.ts'
import type { SyncMode, SyncSitesConfig, SyncSummary } from '../sources/calltouch-deals/sync-sites.ts'
import { planDays } from '../sources/calltouch-deals/window-planner.ts'
import { leadsLedgerKey, recordLeadsFailure } from '../sources/calltouch-leads/load-leads.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { readLedger, type LedgerDay } from '../warehouse/ledger.ts'
import type { AdSpendSummary, AdSpendSyncInput } from './ad-spend-sync.ts'
import {
  DEFAULT_CHUNK_DAYS,
  DEFAULT_JOB_EXPIRY_SECONDS,
  DEFAULT_JOB_RETRY_DELAY_SECONDS,
  DEFAULT_JOB_RETRY_LIMIT,
  DEFAULT_POLL_INTERVAL_MS,
  readJobId,
  readJobKey,
  type ReadJobData,
} from './distributed-queue.ts'
import type { ReadJobOutput } from './distributed-worker.ts'
import type { LeadsFailure, LeadsSummary, LeadsSyncInput } from './leads-sync.ts'
import { chunkPlannedDays } from './job-chunks.ts'
import type { SyncParts } from './sync-job.ts'

export interface DistributedRunConfig {
  readonly boss: PgBoss
  /** The warehouse, where the coordinator follows its jobs (pg-boss's tables are in its database). */
  readonly db: WarehouseDb
  readonly command: 'sync' | 'backfill'
  /** Planned days of unknown size per job (default {@link DEFAULT_CHUNK_DAYS}); known days are cut by records. */
  readonly chunkDays?: number
  /** A job running longer is taken for dead and retried by another worker (default {@link DEFAULT_JOB_EXPIRY_SECONDS}). */
  readonly expireInSeconds?: number
  readonly retryLimit?: number
  readonly retryDelaySeconds?: number
  /** How often the coordinator looks at its jobs. */
  readonly pollIntervalMs?: number
}

/**
 * The parts of a sync run as jobs for workers, for syncJob's `parts` option.
 *
 * @example
 * const result = await syncJob(warehouse, request, { logger, parts: distributedParts({ boss, command: 'sync' }) })
 */
export function distributedParts(config: DistributedRunConfig): SyncParts {
  return {
    syncSites: (input) => distributedDeals(config, input),
    syncLeads: (input) => distributedLeads(config, input),
    syncAdAccounts: (input) => distributedSpend(config, input),
  }
}

/** One job as the coordinator follows it. */
interface PlannedJob {
  readonly data: ReadJobData
  readonly id: string
  readonly key: string
  readonly days: number
}

/** How a job settled: its output, or the reason its last attempt failed. */
type JobOutcome =
  { readonly kind: 'completed'; readonly output: ReadJobOutput } | { readonly kind: 'failed'; readonly error: string }

async function distributedDeals(config: DistributedRunConfig, input: SyncSitesConfig): Promise<SyncSummary> {
  const jobs: PlannedJob[] = []
  for (const site of input.sites) {
    const ledger = await readSiteLedger(input.db, site.siteId)
    const planned = planSiteDays(ledger, site, input)
    jobs.push(...chunkJobs(config, input, { part: 'deals', siteId: site.siteId }, planned, ledger))
  }
  let summary: SyncSummary = { ...NO_DEALS, sites: input.sites.length, failures: [] }
  const progress = new DaysProgress(jobs, input.onProgress)
  await followJobs(config, jobs, input, async (job, outcome) => {
    if (outcome.kind === 'completed' && outcome.output.part === 'deals') {
      const { sites: _sites, peakPagesHeld, failures, ...counts } = outcome.output.summary
      summary = {
        ...summary,
        ...addCounts(summary, counts),
        peakPagesHeld: Math.max(summary.peakPagesHeld, peakPagesHeld),
        failures: [...summary.failures, ...failures],
      }
      progress.settled(job, outcome.output.summary.daysFailed)
      return
    }
    const failure = { runId: input.runId, siteId: job.data.siteId, ...jobDays(job), error: failedJobError(outcome) }
    // The job's days are failed in the ledger, as a window's would be: status names them, the next sync reads them.
    await input.loader.recordWindowFailure(input.db, failure)
    summary = {
      ...summary,
      ...addCounts(summary, { days: job.days, daysFailed: job.days, windows: 1, windowsFailed: 1 }),
      failures: [...summary.failures, failure],
    }
    progress.settled(job, job.days)
  })
  return { ...summary, failures: [...summary.failures].sort(byPlace) }
}

async function distributedLeads(config: DistributedRunConfig, input: LeadsSyncInput): Promise<LeadsSummary> {
  const jobs: PlannedJob[] = []
  let streams = 0
  for (const site of input.sites) {
    for (const journal of input.journals ?? (['calls', 'requests'] as const)) {
      if (!siteStreams(site).includes(journal)) continue
      const ledger = await readLedger(input.db, leadsLedgerKey(journal, site.siteId))
      const planned = planSiteDays(ledger, site, input)
      if (planned.length > 0) streams++
      jobs.push(...chunkJobs(config, input, { part: journal, siteId: site.siteId }, planned, ledger))
    }
  }
  let summary: LeadsSummary = { ...NO_LEADS, streams, failures: [] }
  const progress = new DaysProgress(jobs, input.onProgress)
  await followJobs(config, jobs, input, async (job, outcome) => {
    if (outcome.kind === 'completed' && (outcome.output.part === 'calls' || outcome.output.part === 'requests')) {
      const { streams: _streams, failures, ...counts } = outcome.output.summary
      summary = { ...summary, ...addCounts(summary, counts), failures: [...summary.failures, ...failures] }
      progress.settled(job, outcome.output.summary.daysFailed)
      return
    }
    const journal = job.data.part === 'calls' ? 'calls' : 'requests'
    const failure: LeadsFailure = { journal, siteId: job.data.siteId, ...jobDays(job), error: failedJobError(outcome) }
    await recordLeadsFailure(input.db, journal, { runId: input.runId, ...failure })
    summary = {
      ...summary,
      ...addCounts(summary, { days: job.days, daysFailed: job.days, reads: 1, readsFailed: 1 }),
      failures: [...summary.failures, failure],
    }
    progress.settled(job, job.days)
  })
  return { ...summary, failures: [...summary.failures].sort(byPlace) }
}

async function distributedSpend(config: DistributedRunConfig, input: AdSpendSyncInput): Promise<AdSpendSummary> {
  const range = input.mode.kind === 'backfill' ? { from: input.mode.from, to: input.mode.to } : {}
  const jobs = input.accounts.map((account) =>
    plannedJob({
      runId: input.runId,
      command: config.command,
      part: 'spend',
      siteId: account.siteId,
      account: account.where,
      ...range,
      now: input.now.toISOString(),
    }),
  )
  const results = new Map<string, AdAccountRunResult>()
  let summary: Omit<AdSpendSummary, 'accounts'> = NO_SPEND
  await followJobs(config, jobs, input, (job, outcome) => {
    if (outcome.kind === 'completed' && outcome.output.part === 'spend') {
      const { accounts, ...counts } = outcome.output.summary
      summary = addCounts(summary, counts)
      for (const account of accounts) results.set(job.id, account)
    } else {
      const account = input.accounts.find((candidate) => candidate.where === job.data.account)
      summary = addCounts(summary, { accountsFailed: 1 })
      results.set(job.id, {
        type: account?.type ?? 'yandex-direct',
        account: null,
        siteId: job.data.siteId,
        where: job.data.account ?? '?',
        currency: null,
        daysRead: 0,
        inserted: 0,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        requests: 0,
        retries: 0,
        failures: [],
        error: failedJobError(outcome),
      })
    }
    return Promise.resolve()
  })
  // In the configuration's order, as a single-process run lists them.
  const accounts = jobs.flatMap((job) => results.get(job.id) ?? [])
  return { ...summary, accounts }
}

/** The days a sync or backfill reads of one stream of a site: syncSites' and syncLeads' own plan. */
function planSiteDays(
  ledger: readonly LedgerDay[],
  site: SiteConfig,
  input: { readonly mode: SyncMode; readonly now: Date; readonly settings: RunSettings },
): Day[] {
  return planDays(
    ledger,
    input.mode.kind === 'backfill'
      ? input.mode
      : {
          kind: 'sync',
          today: todayIn(site.timeZone, input.now),
          startDate: site.startDate,
          now: input.now,
          settings: input.settings,
        },
  )
}

/** The jobs of one stream of a site: its planned days cut as {@link chunkPlannedDays} says. */
function chunkJobs(
  config: DistributedRunConfig,
  input: { readonly runId: string; readonly now: Date },
  what: Pick<ReadJobData, 'part' | 'siteId'>,
  planned: readonly Day[],
  ledger: readonly LedgerDay[],
): PlannedJob[] {
  const known = new Map(ledger.map((row) => [row.day, row.records]))
  const chunks = chunkPlannedDays(planned, (day) => known.get(day) ?? null, {
    chunkDays: config.chunkDays ?? DEFAULT_CHUNK_DAYS,
  })
  return chunks.map((days) =>
    plannedJob(
      {
        runId: input.runId,
        command: config.command,
        ...what,
        from: days[0],
        to: days.at(-1),
        now: input.now.toISOString(),
      },
      days.length,
    ),
  )
}

function plannedJob(data: ReadJobData, days = 0): PlannedJob {
  const key = readJobKey(data)
  return { data, key, id: readJobId(key), days }
}

/**
 * Enqueues the jobs (a job already there, from the same run, is left as it is) and waits until
 * each has completed or failed for good, calling `settled` once per job. When the run is stopped
 * (its signal), the jobs not yet taken are cancelled and the ones running are left to finish.
 */
async function followJobs(
  config: DistributedRunConfig,
  jobs: readonly PlannedJob[],
  input: { readonly logger: Logger; readonly signal?: AbortSignal | undefined },
  settled: (job: PlannedJob, outcome: JobOutcome) => Promise<void>,
): Promise<void> {
  if (jobs.length === 0) return
  const { boss } = config
  for (const job of jobs)
    await boss.send(READ_JOB_QUEUE, job.data, {
      id: job.id,
      singletonKey: job.key,
      expireInSeconds: config.expireInSeconds ?? DEFAULT_JOB_EXPIRY_SECONDS,
      retryLimit: config.retryLimit ?? DEFAULT_JOB_RETRY_LIMIT,
      retryDelay: config.retryDelaySeconds ?? DEFAULT_JOB_RETRY_DELAY_SECONDS,
    })
  input.logger.info({ jobs: jobs.length, part: jobs[0]?.data.part }, `${jobs.length} job(s) queued`)
  const open = new Map(jobs.map((job) => [job.id, job]))
  const pollIntervalMs = config.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS
  while (open.size > 0) {
    if (input.signal?.aborted === true) {
      await boss.cancel(READ_JOB_QUEUE, [...open.keys()])
      return
    }
    const rows = await selectReadJobsById(config.db, [...open.keys()])
    for (const row of rows) {
      const job = open.get(row.id)
      if (job === undefined) continue
      const outcome = outcomeOf(row)
      if (outcome === null) continue
      open.delete(row.id)
      if (outcome.kind === 'failed')
        input.logger.error(
          { jobKey: job.key, err: outcome.error, attempts: row.retries + 1 },
          `job ${job.key} failed: ${outcome.error}`,
        )
      await settled(job, outcome)
    }
    if (open.size > 0) await pause(pollIntervalMs, input.signal)
  }
}

function outcomeOf(row: ReadJobProgress): JobOutcome | null {
  if (row.state === 'completed') return { kind: 'completed', output: row.output as ReadJobOutput }
  if (row.state === 'failed') return { kind: 'failed', error: `${errorOf(row.output)} (${row.retries + 1} attempt(s))` }
  if (row.state === 'cancelled') return { kind: 'failed', error: 'cancelled' }
  return null
}

/** The message pg-boss kept: an Error's (serialized) or an expiry's (`{ value: { message } }`). */
function errorOf(output: unknown): string {
  const record = (output ?? {}) as { message?: unknown; value?: { message?: unknown } }
  const message = record.message ?? record.value?.message
  return typeof message === 'string' ? message : 'failed without a reason'
}

function failedJobError(outcome: JobOutcome): string {
  return outcome.kind === 'failed' ? `job failed: ${outcome.error}` : 'job failed: it returned another part'
}

function jobDays(job: PlannedJob): { firstDay: Day; lastDay: Day } {
  return { firstDay: job.data.from as Day, lastDay: job.data.to as Day }
}

function byPlace(a: { siteId: number; firstDay: string }, b: { siteId: number; firstDay: string }): number {
  return a.siteId - b.siteId || a.firstDay.localeCompare(b.firstDay)
}

/** Days planned, done and failed over a part's jobs, for the run's progress bar. */
class DaysProgress {
  private daysDone = 0
  private daysFailed = 0
  private readonly daysTotal: number

  constructor(
    jobs: readonly PlannedJob[],
    private readonly report:
      ((progress: { daysTotal: number; daysDone: number; daysFailed: number }) => void) | undefined,
  ) {
    this.daysTotal = jobs.reduce((sum, job) => sum + job.days, 0)
    this.emit()
  }

  settled(job: PlannedJob, daysFailed: number): void {
    this.daysDone += job.days - daysFailed
    this.daysFailed += daysFailed
    this.emit()
  }

  private emit(): void {
    this.report?.({ daysTotal: this.daysTotal, daysDone: this.daysDone, daysFailed: this.daysFailed })
  }
}

const NO_DEALS: Omit<SyncSummary, 'sites' | 'failures'> = {
  days: 0,
  daysFailed: 0,
  windows: 0,
  windowsFailed: 0,
  requests: 0,
  retries: 0,
  seen: 0,
  landed: 0,
  changed: 0,
  rejected: 0,
  removed: 0,
  peakPagesHeld: 0,
}
const NO_LEADS: Omit<LeadsSummary, 'streams' | 'failures'> = {
  days: 0,
  daysFailed: 0,
  reads: 0,
  readsFailed: 0,
  requests: 0,
  retries: 0,
  seen: 0,
  landed: 0,
  changed: 0,
  rejected: 0,
  removed: 0,
}
const NO_SPEND: Omit<AdSpendSummary, 'accounts'> = {
  accountsFailed: 0,
  days: 0,
  requests: 0,
  retries: 0,
  inserted: 0,
  updated: 0,
  deleted: 0,
  unchanged: 0,
}

/** `base` with every count of `add` added to it. */
function addCounts<T extends object>(base: T, add: Readonly<Record<string, number>>): T {
  const sums = Object.assign({}, base) as Record<string, unknown>
  for (const [name, value] of Object.entries(add)) sums[name] = ((sums[name] as number | undefined) ?? 0) + value
  return sums as T
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
