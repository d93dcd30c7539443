import { EtlError } from '../../core/errors.ts'
import { PAGE_LIMIT, type CalltouchClient, type DateRange, type OrdersPage } from './api-client.ts'
import { addDays, type Day } from '../../core/day.ts'
import { formatDealsExportDate } from './calltouch-dates.ts'

/** Reads of one window before it is given up as torn: the data moved under every read. */
export const DEFAULT_MAX_WINDOW_READS = 3

/** A window of consecutive site-local days. */
export interface DayWindow {
  readonly firstDay: Day
  readonly lastDay: Day
}

export interface ExtractedWindow {
  /** Response bodies exactly as received (UTF-8 bytes); may hold records of the day after the window. */
  readonly pages: readonly Uint8Array[]
  readonly recordsTotal: number
  /** Reads of the window (1 unless a read was torn). */
  readonly reads: number
  /** True when the response held deals of the day after the window: the API's dateTo includes its day. */
  readonly sawDayAfter: boolean
}

/** What the first page told, asked of the caller before the rest is fetched. */
export type FirstPageVerdict = 'continue' | 'too-big'

export interface ExtractWindowOptions {
  readonly maxReads?: number
  /**
   * Whether dateTo is known to include its own day. Only then does a window of
   * two or more days ask for `[first, last]`; otherwise `[first, last + 1]`,
   * which covers the window whatever dateTo means and never asks for equal
   * dates (the vendor page refuses them). The load keeps only in-window deals.
   */
  readonly dateToInclusive?: boolean
  /** Called after each read's first page; 'too-big' stops the read (the caller splits the window). */
  readonly onFirstPage?: (recordsTotal: number) => FirstPageVerdict
  /**
   * The window's share of the run's page budget: every page is taken from it
   * before it is asked for, and stays taken until the caller releases the lease
   * (once the pages are loaded or dropped). Without it, pages are not counted.
   */
  readonly pages?: PageLease
}

export type ExtractOutcome =
  ({ readonly kind: 'extracted' } & ExtractedWindow) | { readonly kind: 'too-big'; readonly recordsTotal: number }

/** A window whose pages disagreed on every read. */
export class TornWindowError extends EtlError {
  constructor(message: string) {
    super('API', message)
    this.name = 'TornWindowError'
  }
}

/** The dates to ask for a window, see {@link ExtractWindowOptions.dateToInclusive}. */
export function requestRange(window: DayWindow, dateToInclusive: boolean): DateRange {
  const lastDayIsEnough = dateToInclusive && window.firstDay < window.lastDay
  return { dateFrom: window.firstDay, dateTo: lastDayIsEnough ? window.lastDay : addDays(window.lastDay, 1) }
}

/**
 * Reads every page of a window: page 1 first (it tells `recordsTotal`), then
 * pages 2..N at once, so the limiter can keep the whole request budget busy.
 * A read is torn when the pages disagree on `recordsTotal` or the distinct
 * deals received do not add up to it (deals created, deleted or moved while
 * paging); a torn read is repeated up to `maxReads` times, then the window fails.
 */
export async function extractWindow(
  client: CalltouchClient,
  window: DayWindow,
  options: ExtractWindowOptions = {},
): Promise<ExtractOutcome> {
  const maxReads = options.maxReads ?? DEFAULT_MAX_WINDOW_READS
  const range = requestRange(window, options.dateToInclusive === true)
  const dayAfter = formatDealsExportDate(range.dateTo)
  let lastProblem = ''
  for (let read = 1; read <= maxReads; read++) {
    await options.pages?.take(1, 'first page')
    const first = await client.fetchOrdersPage(range, 1)
    if (options.onFirstPage?.(first.recordsTotal) === 'too-big')
      return { kind: 'too-big', recordsTotal: first.recordsTotal }
    // An empty result may say pageTotal 0 or 1 (API.md): an empty page ends the window either way.
    const pageCount =
      first.recordKeys.length === 0 ? 1 : Math.max(first.pageTotal, Math.ceil(first.recordsTotal / PAGE_LIMIT))
    await options.pages?.take(pageCount - 1, 'later pages')
    const rest = await Promise.all(
      Array.from({ length: pageCount - 1 }, (_, i) => client.fetchOrdersPage(range, i + 2)),
    )
    const pages = [first, ...rest]
    const problem = tornProblem(pages)
    if (problem === undefined) {
      return {
        kind: 'extracted',
        pages: pages.map((page) => page.body),
        recordsTotal: first.recordsTotal,
        reads: read,
        sawDayAfter: range.dateTo > window.lastDay && pages.some((page) => page.orderDays.has(dayAfter)),
      }
    }
    lastProblem = problem
    // The torn read's pages are dropped; the next read takes its own.
    options.pages?.release()
  }
  throw new TornWindowError(
    `deals of site ${client.siteId} from ${window.firstDay} to ${window.lastDay} changed while being read, ${maxReads} reads in a row (last: ${lastProblem}); the next run reads the window again`,
  )
}

/** Why the pages of one read do not make a whole, or undefined when they do. */
function tornProblem(pages: readonly OrdersPage[]): string | undefined {
  const recordsTotal = pages[0]?.recordsTotal ?? 0
  const totals = new Set(pages.map((page) => page.recordsTotal))
  if (totals.size > 1)
    return `recordsTotal went from ${recordsTotal} to ${[...totals].filter((t) => t !== recordsTotal).join(', ')} between pages`
  const distinct = new Set<string>()
  for (const page of pages) for (const key of page.recordKeys) distinct.add(key)
  if (distinct.size !== recordsTotal)
    return `${distinct.size} distinct deals received, recordsTotal says ${recordsTotal}`
  return undefined
}

/**
 * Pages received and not yet loaded, over every window of a run. Memory is
 * bounded by pages, not by windows: a window takes its first page, then all of
 * its other pages at once (so two half-read windows never wait on each other),
 * and gives them back when it is loaded. Extraction waits while the loader is
 * behind; while it keeps up, the budget is never the limit.
 */
export interface PageBudget {
  /** A new window's share, holding no page yet. */
  lease(): PageLease
  /** Pages taken and not released. */
  readonly held: number
  /** The most pages ever held at once. */
  readonly peakHeld: number
}

/** Who waits for pages: a window already under way is served before one not yet started. */
export type PageTake = 'first page' | 'later pages'

export interface PageLease {
  /** Waits until `pages` more fit in the budget, then holds them. */
  take(pages: number, kind: PageTake): Promise<void>
  /** Gives back every page held (idempotent). */
  release(): void
  readonly pages: number
}

/**
 * A budget of `limitPages` pages. Takes are served in order, later pages before
 * first pages; one that does not fit waits, and so does everything behind it.
 * A take that can never fit (every page held belongs to windows waiting for
 * more) is granted over the limit, so a window bigger than the budget, or first
 * pages held by waiting windows, cannot stop the run.
 *
 * @example
 * const budget = createPageBudget(60)
 * const lease = budget.lease()
 * try { await extractWindow(client, window, { pages: lease }) } finally { lease.release() }
 */
export function createPageBudget(limitPages: number): PageBudget {
  if (!(limitPages >= 1)) throw new RangeError(`the page budget must be at least 1 page, got ${limitPages}`)
  interface Waiter {
    readonly lease: LeaseState
    readonly pages: number
    readonly grant: () => void
  }
  interface LeaseState {
    pages: number
    waiting: boolean
  }
  const queues: Record<PageTake, Waiter[]> = { 'later pages': [], 'first page': [] }
  let held = 0
  let heldByWaiters = 0
  let peakHeld = 0

  const hold = (lease: LeaseState, pages: number): void => {
    lease.pages += pages
    held += pages
    peakHeld = Math.max(peakHeld, held)
  }
  const pump = (): void => {
    for (const queue of [queues['later pages'], queues['first page']]) {
      for (let waiter = queue[0]; waiter !== undefined; waiter = queue[0]) {
        const nobodyElseReleases = held - heldByWaiters === 0
        if (held + waiter.pages > limitPages && !nobodyElseReleases) return
        queue.shift()
        waiter.lease.waiting = false
        heldByWaiters -= waiter.lease.pages
        hold(waiter.lease, waiter.pages)
        waiter.grant()
      }
    }
  }

  return {
    get held() {
      return held
    },
    get peakHeld() {
      return peakHeld
    },
    lease() {
      const state: LeaseState = { pages: 0, waiting: false }
      return {
        get pages() {
          return state.pages
        },
        take(pages, kind) {
          if (pages <= 0) return Promise.resolve()
          if (state.waiting) throw new Error('a page lease takes one thing at a time')
          return new Promise<void>((grant) => {
            state.waiting = true
            heldByWaiters += state.pages
            queues[kind].push({ lease: state, pages, grant })
            pump()
          })
        },
        release() {
          if (state.waiting) throw new Error('a page lease cannot be released while it waits for pages')
          held -= state.pages
          state.pages = 0
          pump()
        },
      }
    },
  }
}
