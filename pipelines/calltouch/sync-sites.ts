import Bottleneck from 'bottleneck'
import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { redact } from '../core/secrets.ts'
import { todayIn, type RunSettings, type SiteConfig } from '../core/site-config.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { CalltouchClient, CalltouchRequestError } from './api-client.ts'
import { daysBetween, type Day } from './calltouch-dates.ts'
import { createPageBudget, extractWindow, requestRange, type DayWindow, type ExtractOutcome } from './extract-window.ts'
import type { WindowFailure, WindowLoadResult, WindowToLoad } from './load-window.ts'
import type { RequestLimiter } from './request-limiter.ts'
import { planDays, readSiteLedger, WindowPlanner, type LedgerDay, type PlanRequest, type WindowPlanning } from './window-planner.ts'

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
 * The last line of defence against a run that never ends: requests that read
 * nothing (first pages of windows cut smaller) a site may spend, per planned
 * day and in all. The planner cuts a window a handful of times at most (each
 * cut hands out a strictly smaller window, sized by what the first page said),
 * so reaching this is a defect, not a layout: the site is stopped with an
 * error instead of spending the IP's request budget for ever.
 */
export const RUNAWAY_CUTS_PER_DAY = 2
export const RUNAWAY_CUTS_BASE = 10

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
  /** Stops the run: requests in flight are aborted, no further window starts; loads under way finish (each is one transaction). */
  readonly signal?: AbortSignal
  /** The site's ledger; default etl.site_days (a benchmark without a warehouse passes its own). */
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

interface SiteState {
  readonly site: SiteConfig
  readonly client: CalltouchClient
  readonly planner: WindowPlanning
  inFlight: number
  probing: boolean
  /** Why the site was stopped (the API refused it, or its windows ran away), as the failure of its other windows says: they are not tried. */
  stopped: string | undefined
  /** Windows cut smaller after their first page, and how many may be before the site is stopped. */
  windowsCut: number
  readonly plannedDays: number
  /** Days asked as the day after a window that came back without deals of them, while dateTo was not settled. */
  readonly daysAfterUnseen: Set<Day>
}

/** Traits of the API learnt while reading, shared by every site. */
interface ApiTraits {
  dateToInclusive: boolean
  /**
   * Whether what dateTo means is proven: a window asked with the day after it got deals of that
   * day (inclusive), or a day asked that way came back without deals and turned out to have some
   * (exclusive). Until then windows are read one at a time, so that a window whose pages hold
   * its day after whole can take that day in before another window reads it again.
   */
  dateToSettled: boolean
  /** Windows being read while dateTo is not settled. */
  unsettledReads: number
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
  const states: SiteState[] = []
  for (const site of config.sites) {
    const ledger = await (config.readLedger ? config.readLedger(site.siteId) : readSiteLedger(db, site.siteId))
    const request: PlanRequest = config.mode.kind === 'backfill'
      ? config.mode
      : { kind: 'sync', today: todayIn(site.timeZone, config.now), startDate: site.startDate, now: config.now, settings }
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
    states.push({ site, client, planner: config.createPlanner ? config.createPlanner(site.siteId, planned, ledger) : new WindowPlanner(planned, ledger), inFlight: 0, probing: false, stopped: undefined, windowsCut: 0, plannedDays: planned.length, daysAfterUnseen: new Set() })
    logger.info({ siteId: site.siteId, days: planned.length, firstDay: planned[0], lastDay: planned.at(-1) }, `site ${site.siteId}: ${planned.length} day(s) to read`)
  }

  const daysTotal = states.reduce((sum, state) => sum + state.planner.remainingDays, 0)
  const totals = { daysDone: 0, daysFailed: 0, windows: 0, windowsFailed: 0, seen: 0, landed: 0, changed: 0, rejected: 0, removed: 0 }
  const failures: WindowFailure[] = []
  const traits: ApiTraits = { dateToInclusive: false, dateToSettled: false, unsettledReads: 0 }
  // At most loadConcurrency loads at once, the others in the order they were given.
  const loads = new Bottleneck({ maxConcurrent: Math.max(1, config.loadConcurrency ?? DEFAULT_LOAD_CONCURRENCY) })
  const loadLane = <T>(task: () => Promise<T>): Promise<T> => loads.schedule(task)
  const pageBudget = createPageBudget(config.pageBudget ?? DEFAULT_PAGE_BUDGET)
  const changed = createSignal()
  let rotation = 0

  const pick = (): { state: SiteState; window: DayWindow; probe: boolean } | 'wait' | 'done' => {
    let waiting = false
    for (let i = 0; i < states.length; i++) {
      const state = states[(rotation + i) % states.length] as SiteState
      if (state.planner.remainingDays === 0) {
        waiting ||= state.inFlight > 0
        continue
      }
      // A site's first window tells its density; the windows after it are cut by that.
      if (state.probing) {
        waiting = true
        continue
      }
      const probe = state.planner.nextIsProbe
      // Until one window tells what dateTo means, one window at a time reads (besides each
      // site's probe): windows cut meanwhile are one-day windows that read their next day for nothing.
      if (!probe && !traits.dateToSettled && traits.unsettledReads > 0) {
        waiting = true
        continue
      }
      const window = state.planner.next() as DayWindow
      state.probing = probe
      rotation = (rotation + i + 1) % states.length
      return { state, window, probe }
    }
    return waiting ? 'wait' : 'done'
  }

  /** Records a window that failed: with its own error, or, when the site was stopped earlier, not asked for. */
  const finishWindow = async (state: SiteState, window: DayWindow, error: unknown): Promise<void> => {
    const days = daysBetween(window.firstDay, window.lastDay) + 1
    const message = redact(error === undefined
      ? `not asked for: ${state.stopped ?? `site ${state.site.siteId} was stopped earlier in this run`}`
      : messageOf(error))
    const failure: WindowFailure = { runId, siteId: state.site.siteId, firstDay: window.firstDay, lastDay: window.lastDay, error: message }
    await loadLane(() => loader.recordWindowFailure(db, failure))
    failures.push(failure)
    totals.windows += 1
    totals.windowsFailed += 1
    totals.daysDone += days
    totals.daysFailed += days
    logger.error({ siteId: state.site.siteId, firstDay: window.firstDay, lastDay: window.lastDay, err: message }, `window ${window.firstDay}..${window.lastDay} of site ${state.site.siteId} failed`)
  }

  /**
   * Reads a window and learns from it whether dateTo includes its day, before
   * any window waiting for that is cut; `onExtracted` runs before that too. A
   * read while dateTo is not settled counts in `unsettledReads`.
   */
  const readTellingDateTo = async (read: () => Promise<ExtractOutcome>, onExtracted: () => void): Promise<ExtractOutcome> => {
    const unsettled = !traits.dateToSettled
    if (unsettled) traits.unsettledReads += 1
    try {
      const outcome = await read()
      if (outcome.kind === 'extracted') {
        if (outcome.sawDayAfter && !traits.dateToInclusive) {
          traits.dateToInclusive = true
          traits.dateToSettled = true
          for (const each of states) each.planner.learnDateToInclusive()
        }
        onExtracted()
      }
      return outcome
    } finally {
      if (unsettled) {
        traits.unsettledReads -= 1
        changed.notify()
      }
    }
  }

  /** Reads and loads `task.window`; grows it by the day after when its pages turn out to hold that day whole. */
  const runWindow = async (state: SiteState, task: { window: DayWindow }, probe: boolean): Promise<void> => {
    const { site, client, planner } = state
    let window = task.window
    if (state.stopped !== undefined) return finishWindow(state, window, undefined)
    const range = requestRange(window, traits.dateToInclusive)
    const pages = pageBudget.lease()
    let result: WindowLoadResult
    let pageCount: number
    let reads: number
    try {
      const outcome = await readTellingDateTo(() => extractWindow(client, window, {
        dateToInclusive: traits.dateToInclusive,
        pages,
        onFirstPage: (recordsTotal) => {
          const verdict = planner.observe(window, recordsTotal, range)
          if (probe) {
            state.probing = false
            changed.notify()
          }
          return verdict
        },
      }), () => {
        // Asked with the day after it, once dateTo is known to include its day: the pages hold that
        // day whole, so it loads with this window instead of being read again by the next.
        if (range.dateTo > window.lastDay && traits.dateToInclusive) task.window = window = planner.takeDayAfter(window)
        else if (range.dateTo > window.lastDay && !traits.dateToSettled) state.daysAfterUnseen.add(range.dateTo)
      })
      if (outcome.kind === 'too-big') {
        logger.debug({ siteId: site.siteId, firstDay: window.firstDay, lastDay: window.lastDay, recordsTotal: outcome.recordsTotal }, 'window too big; cutting it smaller')
        state.windowsCut += 1
        const maxWindowsCut = RUNAWAY_CUTS_BASE + RUNAWAY_CUTS_PER_DAY * state.plannedDays
        if (state.windowsCut > maxWindowsCut && state.stopped === undefined) {
          // The window's days are back in the planner: they fail as not asked for, with this reason.
          state.stopped = `site ${site.siteId} was stopped after ${state.windowsCut} requests on windows it then cut smaller, more than its ${state.plannedDays} planned day(s) can need (${maxWindowsCut}) — please report this with the log (--log-level debug)`
          logger.error({ siteId: site.siteId, windowsCut: state.windowsCut }, state.stopped)
        }
        return
      }
      pageCount = outcome.pages.length
      reads = outcome.reads
      result = await loadLane(() => loader.loadWindow(db, { runId, siteId: site.siteId, timeZone: site.timeZone, firstDay: window.firstDay, lastDay: window.lastDay, pages: outcome.pages }))
    } finally {
      pages.release()
    }
    planner.learn(result.recordsByDay)
    if (!traits.dateToSettled && Object.entries(result.recordsByDay).some(([day, records]) => records > 0 && state.daysAfterUnseen.has(day))) {
      traits.dateToSettled = true
      changed.notify()
    }
    const days = daysBetween(window.firstDay, window.lastDay) + 1
    totals.windows += 1
    totals.daysDone += days
    totals.seen += result.seen
    totals.landed += result.landed
    totals.changed += result.changed
    totals.rejected += result.rejected
    totals.removed += result.removed
    logger.info(
      { siteId: site.siteId, firstDay: window.firstDay, lastDay: window.lastDay, pages: pageCount, reads, seen: result.seen, changed: result.changed, rejected: result.rejected },
      `site ${site.siteId} ${window.firstDay}..${window.lastDay}: ${result.seen} deal(s), ${result.changed} changed`,
    )
  }

  const worker = async (): Promise<void> => {
    for (;;) {
      if (config.signal?.aborted) return
      const next = pick()
      if (next === 'done') return
      if (next === 'wait') {
        await changed.wait()
        continue
      }
      const { state, probe } = next
      const task = { window: next.window }
      state.inFlight += 1
      try {
        await runWindow(state, task, probe)
      } catch (error) {
        if (isSiteRefusal(error)) state.stopped ??= `the API refused site ${state.site.siteId} earlier in this run (${error.answer ?? error.message})`
        await finishWindow(state, task.window, error)
      } finally {
        if (probe) state.probing = false
        state.inFlight -= 1
        config.onProgress?.({ daysTotal, daysDone: totals.daysDone, daysFailed: totals.daysFailed })
        changed.notify()
      }
    }
  }

  const concurrency = Math.max(1, config.windowConcurrency ?? DEFAULT_WINDOW_CONCURRENCY)
  config.onProgress?.({ daysTotal, daysDone: 0, daysFailed: 0 })
  await Promise.all(Array.from({ length: concurrency }, worker))
  return {
    sites: states.length,
    days: daysTotal,
    daysFailed: totals.daysFailed,
    windows: totals.windows,
    windowsFailed: totals.windowsFailed,
    requests: limiter.counters.requests,
    retries: limiter.counters.retries,
    seen: totals.seen,
    landed: totals.landed,
    changed: totals.changed,
    rejected: totals.rejected,
    removed: totals.removed,
    failures,
    peakPagesHeld: pageBudget.peakHeld,
  }
}

/** A refusal of the site itself (wrong token or site id): every other window would get the same. */
function isSiteRefusal(error: unknown): error is CalltouchRequestError {
  return error instanceof CalltouchRequestError && (error.status === 401 || error.status === 403)
}

/** Lets idle workers sleep until something changes. */
function createSignal(): { wait(): Promise<void>; notify(): void } {
  let wake: (() => void) | undefined
  let waiting: Promise<void> | undefined
  return {
    wait() {
      waiting ??= new Promise<void>((resolve) => {
        wake = resolve
      })
      return waiting
    },
    notify() {
      const resolve = wake
      wake = undefined
      waiting = undefined
      resolve?.()
    },
  }
}
