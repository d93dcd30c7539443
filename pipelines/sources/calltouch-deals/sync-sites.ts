import Bottleneck from 'bottleneck'
import { messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { redact } from '../../core/secrets.ts'
import { todayIn } from '../../core/day.ts'
import type { ContactPolicy } from '../../core/pii.ts'
import type { RunSettings, SiteConfig } from './config.ts'
import { recordContactProtection } from './contact-protection.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import type { LedgerDay } from '../../warehouse/ledger.ts'
import { CalltouchClient, type DateRange } from './api-client.ts'
import { isCalltouchSiteRefusal } from '../../http/calltouch-api.ts'
import { createWakeUp } from '../../core/wake-up.ts'
import { daysBetween, type Day } from '../../core/day.ts'
import { DateToProtocol } from './date-to-protocol.ts'
import { createPageBudget, extractWindow, type DayWindow } from './extract-window.ts'
import type { WindowFailure, WindowLoadResult, WindowToLoad } from './load-window.ts'
import type { RequestLimiter } from '../../http/request-limiter.ts'
import { readSiteLedger } from './site-ledger.ts'
import { planDays, WindowPlanner, type PlanRequest, type WindowPlanning } from './window-planner.ts'
import { WindowScheduler, type SiteRun } from './window-scheduler.ts'

/**
 * Windows being read or loaded at once, over all sites: enough to keep the
 * request budget busy while first pages are awaited and windows load. Memory
 * is bounded by {@link DEFAULT_PAGE_BUDGET}, not by this.
 */
export const DEFAULT_WINDOW_CONCURRENCY = 6

/**
 * Windows loading at once. On PostgreSQL each loads on a pool connection of
 * its own, so two use both cores of a small server; on PGlite the one
 * connection runs them one after the other anyway.
 */
export const DEFAULT_LOAD_CONCURRENCY = 2

/**
 * Pages received and not yet loaded, over all windows (~0.8 MB of UTF-8 each
 * at 1000 deals, about twice that as a JavaScript string): two windows of
 * ~22 pages loading and one read and waiting for a lane, so the loader never
 * waits for the API, in well under 300 MB of process memory.
 */
export const DEFAULT_PAGE_BUDGET = 64

/**
 * The load half (load-window.ts): a window's rows and its ledger rows in one
 * transaction, or its failure in the ledger. Passed in so the orchestration
 * can be driven by any loader.
 */
export interface WindowLoader {
  loadWindow(db: WarehouseDb, window: WindowToLoad): Promise<WindowLoadResult>
  recordWindowFailure(db: WarehouseDb, failure: WindowFailure): Promise<void>
}

export type SyncMode = { readonly kind: 'sync' } | { readonly kind: 'backfill'; readonly from: Day; readonly to: Day }

export interface SyncSitesConfig {
  readonly db: WarehouseDb
  readonly runId: string
  readonly sites: readonly SiteConfig[]
  readonly mode: SyncMode
  readonly baseUrl: string
  readonly settings: RunSettings
  readonly limiter: RequestLimiter
  readonly loader: WindowLoader
  readonly now: Date
  readonly logger: Logger
  readonly fetch?: typeof fetch
  readonly windowConcurrency?: number
  /** Windows loading at once (default {@link DEFAULT_LOAD_CONCURRENCY}). */
  readonly loadConcurrency?: number
  /** Pages held in memory at once, received and not yet loaded (default {@link DEFAULT_PAGE_BUDGET}). */
  readonly pageBudget?: number
  readonly onProgress?: (progress: SyncProgress) => void
  /**
   * What the warehouse may store of client contacts and the key of client_key (CALLTOUCH_ETL_PII,
   * CALLTOUCH_ETL_PII_KEY; core/pii.ts). Checked against the warehouse's recorded mode and key
   * before any window loads. Absent: contacts as received and no client_key.
   */
  readonly contacts?: ContactPolicy
  /** Stops the run: requests in flight are aborted, no further window starts; loads under way finish (each is one transaction). */
  readonly signal?: AbortSignal
  /** The site's ledger; default its rows of etl.ledger (a benchmark without a warehouse passes its own). */
  readonly readLedger?: (siteId: number) => Promise<LedgerDay[]>
  /** Cuts a site's planned days into windows; default {@link WindowPlanner} (a test replaces it to prove the runaway guard). */
  readonly createPlanner?: (siteId: number, plannedDays: readonly Day[], ledger: readonly LedgerDay[]) => WindowPlanning
}

export interface SyncProgress {
  readonly daysTotal: number
  readonly daysDone: number
  readonly daysFailed: number
}

export interface SyncSummary {
  readonly sites: number
  readonly days: number
  readonly daysFailed: number
  readonly windows: number
  readonly windowsFailed: number
  readonly requests: number
  readonly retries: number
  readonly seen: number
  readonly landed: number
  readonly changed: number
  readonly rejected: number
  readonly removed: number
  readonly failures: readonly WindowFailure[]
  /** The most pages held in memory at once. */
  readonly peakPagesHeld: number
}

/**
 * Reads and loads the planned days of every site. Windows of all sites run
 * side by side, `windowConcurrency` at a time, every request through the one
 * limiter; `loadConcurrency` of them load at once. The pages held in memory,
 * received and not yet loaded, never pass `pageBudget` (windows waiting for a
 * load lane included): reading waits when the loads are behind.
 * A window that fails is recorded in the ledger with its reason and the run
 * goes on: the summary lists the failures.
 */
export async function syncSites(config: SyncSitesConfig): Promise<SyncSummary> {
  const { db, runId, settings, limiter, loader, logger } = config
  if (config.contacts && config.sites.length > 0) await recordContactProtection(db, config.contacts)
  const sites: SiteRun[] = []
  for (const site of config.sites) {
    const ledger = await (config.readLedger ? config.readLedger(site.siteId) : readSiteLedger(db, site.siteId))
    const request: PlanRequest =
      config.mode.kind === 'backfill'
        ? config.mode
        : {
            kind: 'sync',
            today: todayIn(site.timeZone, config.now),
            startDate: site.startDate,
            now: config.now,
            settings,
          }
    const planned = planDays(ledger, request)
    const client = new CalltouchClient({
      baseUrl: config.baseUrl,
      siteId: site.siteId,
      token: site.token,
      limiter,
      timeoutMs: settings.timeoutMs,
      maxRetries: settings.maxRetries,
      logger,
      ...(config.fetch ? { fetch: config.fetch } : {}),
      ...(config.signal ? { signal: config.signal } : {}),
    })
    const planner = config.createPlanner
      ? config.createPlanner(site.siteId, planned, ledger)
      : new WindowPlanner(planned, ledger)
    sites.push({
      site,
      client,
      planner,
      plannedDays: planned.length,
      inFlight: 0,
      probing: false,
      stopped: undefined,
      windowsCut: 0,
    })
    logger.info(
      { siteId: site.siteId, days: planned.length, firstDay: planned[0], lastDay: planned.at(-1) },
      `site ${site.siteId}: ${planned.length} day(s) to read`,
    )
  }

  const changed = createWakeUp()
  /** Windows being read, with the dates they were asked for. */
  const reading = new Set<WindowRead>()
  const dateTo = new DateToProtocol({
    learntInclusive: () => {
      for (const each of sites) each.planner.learnDateToInclusive()
      // A window in flight asked with its day after will hold that day whole: it keeps the day now,
      // before a window handed out meanwhile reads it again (a site's next window starts on its probe's first page).
      for (const read of reading) keepDayAfter(read)
    },
    changed: () => changed.notify(),
  })
  const scheduler = new WindowScheduler(sites, dateTo)
  const daysTotal = scheduler.remainingDays
  const totals = new SyncTotals()
  // At most loadConcurrency loads at once, the others in the order they were given.
  const loads = new Bottleneck({ maxConcurrent: Math.max(1, config.loadConcurrency ?? DEFAULT_LOAD_CONCURRENCY) })
  const loadLane = <T>(task: () => Promise<T>): Promise<T> => loads.schedule(task)
  const pageBudget = createPageBudget(config.pageBudget ?? DEFAULT_PAGE_BUDGET)

  /** Records a window that failed: with its own error, or, when the site was stopped earlier, not asked for. */
  const finishWindow = async (run: SiteRun, window: DayWindow, error: unknown): Promise<void> => {
    const message = redact(
      error === undefined
        ? `not asked for: ${run.stopped ?? `site ${run.site.siteId} was stopped earlier in this run`}`
        : messageOf(error),
    )
    const failure: WindowFailure = {
      runId,
      siteId: run.site.siteId,
      firstDay: window.firstDay,
      lastDay: window.lastDay,
      error: message,
    }
    await loadLane(() => loader.recordWindowFailure(db, failure))
    totals.windowFailed(window, failure)
    logger.error(
      { siteId: run.site.siteId, firstDay: window.firstDay, lastDay: window.lastDay, err: message },
      `window ${window.firstDay}..${window.lastDay} of site ${run.site.siteId} failed`,
    )
  }

  /** Reads and loads `task.window`; grows it by the day after once its pages are known to hold that day whole. */
  const runWindow = async (run: SiteRun, task: { window: DayWindow }, probe: boolean): Promise<void> => {
    const { site, client, planner } = run
    if (run.stopped !== undefined) return finishWindow(run, task.window, undefined)
    const asked = task.window
    const range = dateTo.range(asked)
    const read: WindowRead = { planner, task, range }
    const pages = pageBudget.lease()
    let result: WindowLoadResult
    let pageCount: number
    let reads: number
    let window: DayWindow
    reading.add(read)
    try {
      const outcome = await dateTo.read(
        site.siteId,
        asked,
        range,
        () =>
          extractWindow(client, asked, {
            dateToInclusive: dateTo.dateToInclusive,
            pages,
            onFirstPage: (recordsTotal) => {
              const verdict = planner.observe(task.window, recordsTotal, range)
              if (probe) {
                run.probing = false
                changed.notify()
              }
              return verdict
            },
          }),
        // The pages hold the day after whole: it loads with this window instead of being read again by the next.
        () => keepDayAfter(read),
      )
      reading.delete(read)
      window = task.window
      if (outcome.kind === 'too-big') {
        logger.debug(
          {
            siteId: site.siteId,
            firstDay: window.firstDay,
            lastDay: window.lastDay,
            recordsTotal: outcome.recordsTotal,
          },
          'window too big; cutting it smaller',
        )
        const stopped = scheduler.windowCut(run)
        if (stopped !== undefined) logger.error({ siteId: site.siteId, windowsCut: run.windowsCut }, stopped)
        return
      }
      pageCount = outcome.pages.length
      reads = outcome.reads
      result = await loadLane(() =>
        loader.loadWindow(db, {
          runId,
          siteId: site.siteId,
          timeZone: site.timeZone,
          firstDay: window.firstDay,
          lastDay: window.lastDay,
          pages: outcome.pages,
          ...(config.contacts ? { contacts: config.contacts } : {}),
        }),
      )
    } finally {
      reading.delete(read)
      pages.release()
    }
    planner.learn(result.recordsByDay)
    dateTo.loaded(site.siteId, result.recordsByDay)
    totals.windowLoaded(window, result)
    logger.info(
      {
        siteId: site.siteId,
        firstDay: window.firstDay,
        lastDay: window.lastDay,
        pages: pageCount,
        reads,
        seen: result.seen,
        changed: result.changed,
        rejected: result.rejected,
      },
      `site ${site.siteId} ${window.firstDay}..${window.lastDay}: ${result.seen} deal(s), ${result.changed} changed`,
    )
  }

  const worker = async (): Promise<void> => {
    for (;;) {
      if (config.signal?.aborted) return
      const next = scheduler.next()
      if (next === 'done') return
      if (next === 'wait') {
        await changed.wait()
        continue
      }
      const { site: run, probe } = next
      const task = { window: next.window }
      run.inFlight += 1
      try {
        await runWindow(run, task, probe)
      } catch (error) {
        if (isCalltouchSiteRefusal(error))
          run.stopped ??= `the API refused site ${run.site.siteId} earlier in this run (${error.answer ?? error.message})`
        await finishWindow(run, task.window, error)
      } finally {
        if (probe) run.probing = false
        run.inFlight -= 1
        config.onProgress?.({ daysTotal, daysDone: totals.daysDone, daysFailed: totals.daysFailed })
        changed.notify()
      }
    }
  }

  const concurrency = Math.max(1, config.windowConcurrency ?? DEFAULT_WINDOW_CONCURRENCY)
  config.onProgress?.({ daysTotal, daysDone: 0, daysFailed: 0 })
  await Promise.all(Array.from({ length: concurrency }, worker))
  return {
    sites: sites.length,
    days: daysTotal,
    ...totals.summary(),
    requests: limiter.counters.requests,
    retries: limiter.counters.retries,
    peakPagesHeld: pageBudget.peakHeld,
  }
}

/** A window being read: the dates asked, and the window as it stands (grown by its day after once that is known to be read). */
interface WindowRead {
  readonly planner: WindowPlanning
  readonly task: { window: DayWindow }
  readonly range: DateRange
}

/** Grows a window being read by the day after it when its request asked for that day and nothing else took it. */
function keepDayAfter(read: WindowRead): void {
  if (read.task.window.lastDay < read.range.dateTo) read.task.window = read.planner.takeDayAfter(read.task.window)
}

/** What a run's windows added up to, as the summary reports it. */
class SyncTotals {
  daysDone = 0
  daysFailed = 0
  private windows = 0
  private windowsFailed = 0
  private readonly counts = { seen: 0, landed: 0, changed: 0, rejected: 0, removed: 0 }
  private readonly failures: WindowFailure[] = []

  windowLoaded(window: DayWindow, result: WindowLoadResult): void {
    this.windows += 1
    this.daysDone += daysBetween(window.firstDay, window.lastDay) + 1
    for (const key of Object.keys(this.counts) as (keyof SyncTotals['counts'])[]) this.counts[key] += result[key]
  }

  windowFailed(window: DayWindow, failure: WindowFailure): void {
    const days = daysBetween(window.firstDay, window.lastDay) + 1
    this.failures.push(failure)
    this.windows += 1
    this.windowsFailed += 1
    this.daysDone += days
    this.daysFailed += days
  }

  summary(): Pick<
    SyncSummary,
    'daysFailed' | 'windows' | 'windowsFailed' | 'seen' | 'landed' | 'changed' | 'rejected' | 'removed' | 'failures'
  > {
    return {
      daysFailed: this.daysFailed,
      windows: this.windows,
      windowsFailed: this.windowsFailed,
      ...this.counts,
      failures: this.failures,
    }
  }
}
