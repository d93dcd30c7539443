/**
 * The lead streams of a sync or backfill: every site's calls journal, read in packed multi-day
 * windows, and its requests journal, one day per request, beside the deals and on the same
 * Calltouch budget (the limiter passed in).
 *
 * Glossary:
 * - stream: one journal of one site (calls or requests), with its own ledger source
 *   (calltouch-calls, calltouch-requests; account the site id).
 * - read: what one load takes: a calls window (consecutive days, every page) or one day of
 *   requests.
 *
 * Why requests are read one day per request: the journal answers a bare array with no paging
 * and no total (LEADS-API.md §2.2), so nothing in an answer would tell a multi-day range that
 * the API cut short. One day per request is the only read whose completeness does not rest on a
 * guess; a site's requests cost one request a day.
 */
import Bottleneck from 'bottleneck'
import { daysBetween, todayIn, type Day } from '../core/day.ts'
import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { ContactPolicy } from '../core/pii.ts'
import { redact } from '../core/secrets.ts'
import { isCalltouchSiteRefusal } from '../http/calltouch-api.ts'
import { createWakeUp } from '../core/wake-up.ts'
import { countedShareOf, type RequestLimiter } from '../http/request-limiter.ts'
import { siteStreams, type RunSettings, type SiteConfig } from '../sources/calltouch-deals/config.ts'
import type { SyncMode } from '../sources/calltouch-deals/sync-sites.ts'
import { planDays, WindowPlanner } from '../sources/calltouch-deals/window-planner.ts'
import { RUNAWAY_CUTS_BASE, RUNAWAY_CUTS_PER_DAY } from '../sources/calltouch-deals/window-scheduler.ts'
import { LeadsClient } from '../sources/calltouch-leads/leads-client.ts'
import {
  leadsLedgerKey,
  loadCallsWindow,
  loadRequestsDay,
  recordLeadsFailure,
  type LeadJournal,
  type LeadsLoadResult,
} from '../sources/calltouch-leads/load-leads.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { readLedger } from '../warehouse/ledger.ts'

/** Reads under way at once, over every lead stream of the run (the deals run windows of their own beside them). */
export const DEFAULT_LEAD_READ_CONCURRENCY = 4

/**
 * Calls a calls window aims at. A window wastes on average half of its last page, so fewer,
 * bigger windows come nearer ⌈calls / 1000⌉: at the deals' 5,000 a site of 3,000 calls a day
 * reads one day per window (about 1.13 × the least, bench/RESULTS.md), at 15,000 five days
 * (about 1.03 ×). Below the 20,000 at which a window is cut, so a window's pages stay few.
 */
export const CALLS_TARGET_WINDOW_RECORDS = 15_000

/** Reads loading at once: two use both cores of a small PostgreSQL server; PGlite runs them in turn anyway. */
export const DEFAULT_LEAD_LOAD_CONCURRENCY = 2

/** A read that failed, as the summary and etl.runs.error name it. */
export interface LeadsFailure {
  readonly journal: LeadJournal
  readonly siteId: number
  readonly firstDay: Day
  readonly lastDay: Day
  readonly error: string
}

/** What the lead streams of a run did. */
export interface LeadsSummary {
  /** Streams read (a site reading calls and requests counts two). */
  readonly streams: number
  readonly days: number
  readonly daysFailed: number
  readonly reads: number
  readonly readsFailed: number
  readonly requests: number
  readonly retries: number
  readonly seen: number
  readonly landed: number
  readonly changed: number
  readonly rejected: number
  readonly removed: number
  readonly failures: readonly LeadsFailure[]
}

export interface LeadsProgress {
  readonly daysTotal: number
  readonly daysDone: number
  readonly daysFailed: number
}

export interface LeadsSyncInput {
  readonly db: WarehouseDb
  readonly runId: string
  /** Every site of the run; each reads the journals its `streams` setting names among `journals`. */
  readonly sites: readonly SiteConfig[]
  /** The journals this run reads (`sync --only`); default both. */
  readonly journals?: readonly LeadJournal[]
  readonly mode: SyncMode
  /** The Calltouch base URL: the vendor's host (the journals need no node discovery) or a simulator's. */
  readonly baseUrl: string
  readonly settings: RunSettings
  /** The Calltouch budget's limiter, shared with the deals. */
  readonly limiter: RequestLimiter
  readonly now: Date
  readonly logger: Logger
  readonly contacts?: ContactPolicy
  readonly signal?: AbortSignal
  readonly fetch?: typeof fetch
  readonly readConcurrency?: number
  readonly loadConcurrency?: number
  readonly onProgress?: (progress: LeadsProgress) => void
}

/** One journal of one site, as the run reads it. */
interface StreamRun {
  readonly journal: LeadJournal
  readonly site: SiteConfig
  readonly client: LeadsClient
  readonly plannedDays: number
  /** Calls: the window planner; requests: the days left, oldest first. */
  readonly planner: WindowPlanner | Day[]
  inFlight: number
  /** A calls probe is out: the stream's other windows wait for the density it tells. */
  probing: boolean
  windowsCut: number
  /** Why the stream was stopped (its site refused, or its windows ran away): its other reads fail as not asked for. */
  stopped: string | undefined
}

/**
 * Reads and loads the planned days of every site's lead streams, `readConcurrency` reads at a
 * time in turn over the streams, `loadConcurrency` loading at once. Days are planned per stream
 * as for deals: never-read and failed days since the start date, the look-back, and the deep
 * refresh (lead flags and tags change later). A read that fails is recorded failed in the
 * ledger and the run goes on; the site's other streams stop when the API refuses its token.
 * Only a lost warehouse (thrown) or the signal ends it early.
 */
export async function syncLeads(input: LeadsSyncInput): Promise<LeadsSummary> {
  const { db, runId, logger } = input
  const journals = input.journals ?? (['calls', 'requests'] as const)
  const limiter = countedShareOf(input.limiter)
  const streams: StreamRun[] = []
  for (const site of input.sites) {
    const client = new LeadsClient({
      baseUrl: input.baseUrl,
      siteId: site.siteId,
      token: site.token,
      limiter,
      timeoutMs: input.settings.timeoutMs,
      maxRetries: input.settings.maxRetries,
      logger,
      ...(input.fetch ? { fetch: input.fetch } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    })
    for (const journal of journals) {
      if (!siteStreams(site).includes(journal)) continue
      const ledger = await readLedger(db, leadsLedgerKey(journal, site.siteId))
      const planned = planDays(
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
      if (planned.length === 0) continue
      streams.push({
        journal,
        site,
        client,
        plannedDays: planned.length,
        planner:
          journal === 'calls'
            ? new WindowPlanner(planned, ledger, { targetRecords: CALLS_TARGET_WINDOW_RECORDS })
            : [...planned],
        inFlight: 0,
        probing: false,
        windowsCut: 0,
        stopped: undefined,
      })
      logger.info(
        { siteId: site.siteId, journal, days: planned.length, firstDay: planned[0], lastDay: planned.at(-1) },
        `site ${site.siteId} ${journal}: ${planned.length} day(s) to read`,
      )
    }
  }

  const totals = new LeadsTotals(streams.reduce((sum, stream) => sum + stream.plannedDays, 0))
  const loads = new Bottleneck({ maxConcurrent: Math.max(1, input.loadConcurrency ?? DEFAULT_LEAD_LOAD_CONCURRENCY) })
  // A day of requests or a failure loads in milliseconds, a calls window in seconds: the short ones go
  // first, so a worker holding one does not wait behind windows (bottleneck: lower runs first).
  const loadLane = <T>(task: () => Promise<T>, kind: 'short' | 'window' = 'short'): Promise<T> =>
    loads.schedule({ priority: kind === 'short' ? 1 : 5 }, task)
  const changed = createWakeUp()
  const progress = (): void => input.onProgress?.(totals.progress())

  const fail = async (stream: StreamRun, firstDay: Day, lastDay: Day, error: unknown): Promise<void> => {
    const message = redact(messageOf(error))
    const failure: LeadsFailure = {
      journal: stream.journal,
      siteId: stream.site.siteId,
      firstDay,
      lastDay,
      error: message,
    }
    await loadLane(() => recordLeadsFailure(db, stream.journal, { runId, ...failure }))
    totals.failed(failure)
    logger.error(
      { siteId: failure.siteId, journal: failure.journal, firstDay, lastDay, err: message },
      `${failure.journal} ${firstDay}..${lastDay} of site ${failure.siteId} failed`,
    )
  }

  const loaded = (stream: StreamRun, firstDay: Day, lastDay: Day, result: LeadsLoadResult, requests: number): void => {
    totals.loaded(firstDay, lastDay, result)
    logger.info(
      {
        siteId: stream.site.siteId,
        journal: stream.journal,
        firstDay,
        lastDay,
        requests,
        ...result,
        recordsByDay: undefined,
      },
      `site ${stream.site.siteId} ${stream.journal} ${firstDay}..${lastDay}: ${result.seen} lead(s), ${result.changed} changed`,
    )
  }

  const readCalls = async (stream: StreamRun, planner: WindowPlanner, firstDay: Day, lastDay: Day): Promise<void> => {
    const window = { firstDay, lastDay }
    const range = { dateFrom: firstDay, dateTo: lastDay }
    const outcome = await stream.client.fetchCallsWindow(range, {
      onFirstPage: (recordsTotal) => {
        const verdict = planner.observe(window, recordsTotal, range)
        stream.probing = false
        changed.notify()
        return verdict
      },
    })
    if (outcome.kind === 'too-big') {
      // The planner took the window's days back to cut them smaller; a cut that never ends is a defect, not a layout.
      stream.windowsCut += 1
      const allowed = RUNAWAY_CUTS_BASE + RUNAWAY_CUTS_PER_DAY * stream.plannedDays
      if (stream.windowsCut > allowed && stream.stopped === undefined) {
        stream.stopped = `the calls of site ${stream.site.siteId} were stopped after ${stream.windowsCut} windows cut smaller, more than ${stream.plannedDays} planned day(s) can need — please report this with the log (--log-level debug)`
        logger.error({ siteId: stream.site.siteId, windowsCut: stream.windowsCut }, stream.stopped)
      }
      return
    }
    const result = await loadLane(
      () =>
        loadCallsWindow(db, {
          runId,
          siteId: stream.site.siteId,
          firstDay,
          lastDay,
          bodies: outcome.bodies,
          ...(input.contacts ? { contacts: input.contacts } : {}),
        }),
      'window',
    )
    planner.learn(result.recordsByDay)
    loaded(stream, firstDay, lastDay, result, outcome.requests)
  }

  const readRequests = async (stream: StreamRun, day: Day): Promise<void> => {
    const answer = await stream.client.fetchRequestsDay(day)
    const result = await loadLane(() =>
      loadRequestsDay(db, {
        runId,
        siteId: stream.site.siteId,
        day,
        body: answer.body,
        ...(input.contacts ? { contacts: input.contacts } : {}),
      }),
    )
    loaded(stream, day, day, result, 1)
  }

  let rotation = 0
  /** The next read, in turn over the streams: a calls stream's probe alone until it tells the density. */
  const next = (): { stream: StreamRun; firstDay: Day; lastDay: Day; probe: boolean } | 'wait' | 'done' => {
    let waiting = false
    for (let i = 0; i < streams.length; i++) {
      const stream = streams[(rotation + i) % streams.length] as StreamRun
      const { planner } = stream
      const remaining = Array.isArray(planner) ? planner.length : planner.remainingDays
      if (remaining === 0 || stream.probing) {
        waiting ||= stream.inFlight > 0
        continue
      }
      rotation = (rotation + i + 1) % streams.length
      if (Array.isArray(planner)) {
        const day = planner.shift() as Day
        return { stream, firstDay: day, lastDay: day, probe: false }
      }
      const probe = planner.nextIsProbe
      const window = planner.next()
      if (window === undefined) continue
      stream.probing = probe
      return { stream, ...window, probe }
    }
    return waiting ? 'wait' : 'done'
  }

  const worker = async (): Promise<void> => {
    for (;;) {
      if (input.signal?.aborted) return
      const task = next()
      if (task === 'done') return
      if (task === 'wait') {
        await changed.wait()
        continue
      }
      const { stream, firstDay, lastDay, probe } = task
      stream.inFlight += 1
      try {
        if (stream.stopped !== undefined) throw new Error(`not asked for: ${stream.stopped}`)
        if (Array.isArray(stream.planner)) await readRequests(stream, firstDay)
        else await readCalls(stream, stream.planner, firstDay, lastDay)
      } catch (error) {
        if (isCalltouchSiteRefusal(error)) {
          const reason = `the API refused site ${stream.site.siteId} earlier in this run (${error.answer ?? error.message})`
          for (const other of streams) if (other.site.siteId === stream.site.siteId) other.stopped ??= reason
        }
        await fail(stream, firstDay, lastDay, error)
      } finally {
        if (probe) stream.probing = false
        stream.inFlight -= 1
        progress()
        changed.notify()
      }
    }
  }

  progress()
  const concurrency = Math.max(1, input.readConcurrency ?? DEFAULT_LEAD_READ_CONCURRENCY)
  await Promise.all(Array.from({ length: concurrency }, worker))
  await loads.stop({ dropWaitingJobs: false })
  return {
    streams: streams.length,
    ...totals.summary(),
    requests: limiter.counters.requests,
    retries: limiter.counters.retries,
  }
}

/** What a run's lead reads added up to. */
class LeadsTotals {
  private readonly daysTotal: number
  private daysDone = 0
  private daysFailed = 0
  private reads = 0
  private readsFailed = 0
  private readonly counts = { seen: 0, landed: 0, changed: 0, rejected: 0, removed: 0 }
  private readonly failures: LeadsFailure[] = []

  constructor(daysTotal: number) {
    this.daysTotal = daysTotal
  }

  loaded(firstDay: Day, lastDay: Day, result: LeadsLoadResult): void {
    this.reads += 1
    this.daysDone += daysBetween(firstDay, lastDay) + 1
    for (const key of Object.keys(this.counts) as (keyof LeadsTotals['counts'])[]) this.counts[key] += result[key]
  }

  failed(failure: LeadsFailure): void {
    const days = daysBetween(failure.firstDay, failure.lastDay) + 1
    this.failures.push(failure)
    this.reads += 1
    this.readsFailed += 1
    this.daysDone += days
    this.daysFailed += days
  }

  progress(): LeadsProgress {
    return { daysTotal: this.daysTotal, daysDone: this.daysDone, daysFailed: this.daysFailed }
  }

  summary(): Omit<LeadsSummary, 'streams' | 'requests' | 'retries'> {
    return {
      days: this.daysTotal,
      daysFailed: this.daysFailed,
      reads: this.reads,
      readsFailed: this.readsFailed,
      ...this.counts,
      failures: this.failures,
    }
  }
}
