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
import { planDays, readSiteLedger, WindowPlanner, type LedgerDay, type PlanRequest } from './window-planner.ts'

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
  /** Stops the run: requests in flight are aborted, no further window starts; loads under way finish (each is one transaction). */
  readonly signal?: AbortSignal
  /** The site's ledger; default etl.site_days (a benchmark without a warehouse passes its own). */
  readonly readLedger?: (siteId: number) => Promise<LedgerDay[]>
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
  readonly planner: WindowPlanner
  inFlight: number
  probing: boolean
  /** Set when the API refused the site itself (403): its other windows are not tried. */
  refusal: string | undefined
}

/** Traits of the API learnt while reading, shared by every site. */
interface ApiTraits {
  dateToInclusive: boolean
  /** Whether a window asking for the day after it was read whole: dateToInclusive is then as good as it gets. */
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
    states.push({ site, client, planner: new WindowPlanner(planned, ledger), inFlight: 0, probing: false, refusal: undefined })
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

  /** Records a window that failed: with its own error, or, when an earlier window met the site's refusal, not asked for. */
  const finishWindow = async (state: SiteState, window: DayWindow, error: unknown): Promise<void> => {
    const days = daysBetween(window.firstDay, window.lastDay) + 1
    const message = redact(error === undefined
      ? `not asked for: the API refused site ${state.site.siteId} earlier in this run (${state.refusal ?? 'no reason given'})`
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
   * Reads a window and learns what dateTo means from it, before any window
   * waiting for that is cut. A read while dateTo is not settled counts in
   * `unsettledReads`; one read whole settles it.
   */
  const readTellingDateTo = async (read: () => Promise<ExtractOutcome>): Promise<ExtractOutcome> => {
    const unsettled = !traits.dateToSettled
    if (unsettled) traits.unsettledReads += 1
    try {
      const outcome = await read()
      if (outcome.kind === 'extracted') {
        traits.dateToSettled = true
        if (outcome.sawDayAfter && !traits.dateToInclusive) {
          traits.dateToInclusive = true
          for (const each of states) each.planner.learnDateToInclusive()
        }
      }
      return outcome
    } finally {
      if (unsettled) {
        traits.unsettledReads -= 1
        changed.notify()
      }
    }
  }

  const runWindow = async (state: SiteState, window: DayWindow, probe: boolean): Promise<void> => {
    const { site, client, planner } = state
    if (state.refusal !== undefined) return finishWindow(state, window, undefined)
    const range = requestRange(window, traits.dateToInclusive)
    const requestedDays = daysBetween(range.dateFrom, range.dateTo) + 1
    const pages = pageBudget.lease()
    let result: WindowLoadResult
    let pageCount: number
    let reads: number
    try {
      const outcome = await readTellingDateTo(() => extractWindow(client, window, {
        dateToInclusive: traits.dateToInclusive,
        pages,
        onFirstPage: (recordsTotal) => {
          const verdict = planner.observe(window, recordsTotal, requestedDays)
          if (probe) {
            state.probing = false
            changed.notify()
          }
          return verdict
        },
      }))
      if (outcome.kind === 'too-big') {
        logger.debug({ siteId: site.siteId, firstDay: window.firstDay, lastDay: window.lastDay, recordsTotal: outcome.recordsTotal }, 'window too big; cutting it smaller')
        return
      }
      pageCount = outcome.pages.length
      reads = outcome.reads
      result = await loadLane(() => loader.loadWindow(db, { runId, siteId: site.siteId, timeZone: site.timeZone, firstDay: window.firstDay, lastDay: window.lastDay, pages: outcome.pages }))
    } finally {
      pages.release()
    }
    planner.learn(result.recordsByDay)
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
      const { state, window, probe } = next
      state.inFlight += 1
      try {
        await runWindow(state, window, probe)
      } catch (error) {
        if (isSiteRefusal(error)) state.refusal ??= error.answer ?? error.message
        await finishWindow(state, window, error)
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
