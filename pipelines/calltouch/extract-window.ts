import { EtlError } from '../core/errors.ts'
import { PAGE_LIMIT, type CalltouchClient, type DateRange, type OrdersPage } from './api-client.ts'
import { addDays, formatDealsExportDate, type Day } from './calltouch-dates.ts'

/** Reads of one window before it is given up as torn: the data moved under every read. */
export const DEFAULT_MAX_WINDOW_READS = 3

/** A window of consecutive site-local days. */
export interface DayWindow {
  readonly firstDay: Day
  readonly lastDay: Day
}

export interface ExtractedWindow {
  /** Response bodies exactly as received; may hold records of the day after the window. */
  readonly pages: readonly string[]
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
}

export type ExtractOutcome = ({ readonly kind: 'extracted' } & ExtractedWindow) | { readonly kind: 'too-big'; readonly recordsTotal: number }

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
export async function extractWindow(client: CalltouchClient, window: DayWindow, options: ExtractWindowOptions = {}): Promise<ExtractOutcome> {
  const maxReads = options.maxReads ?? DEFAULT_MAX_WINDOW_READS
  const range = requestRange(window, options.dateToInclusive === true)
  const dayAfter = new RegExp(`"orderDate"\\s*:\\s*"${formatDealsExportDate(range.dateTo).replaceAll('/', '\\/')}`)
  let lastProblem = ''
  for (let read = 1; read <= maxReads; read++) {
    const first = await client.fetchOrdersPage(range, 1)
    if (options.onFirstPage?.(first.recordsTotal) === 'too-big') return { kind: 'too-big', recordsTotal: first.recordsTotal }
    // An empty result may say pageTotal 0 or 1 (API.md): an empty page ends the window either way.
    const pageCount = first.recordKeys.length === 0 ? 1 : Math.max(first.pageTotal, Math.ceil(first.recordsTotal / PAGE_LIMIT))
    const rest = await Promise.all(Array.from({ length: pageCount - 1 }, (_, i) => client.fetchOrdersPage(range, i + 2)))
    const pages = [first, ...rest]
    const problem = tornProblem(pages)
    if (problem === undefined) {
      return {
        kind: 'extracted',
        pages: pages.map((page) => page.body),
        recordsTotal: first.recordsTotal,
        reads: read,
        sawDayAfter: range.dateTo > window.lastDay && pages.some((page) => dayAfter.test(page.body)),
      }
    }
    lastProblem = problem
  }
  throw new TornWindowError(`deals of site ${client.siteId} from ${window.firstDay} to ${window.lastDay} changed while being read, ${maxReads} reads in a row (last: ${lastProblem}); the next run reads the window again`)
}

/** Why the pages of one read do not make a whole, or undefined when they do. */
function tornProblem(pages: readonly OrdersPage[]): string | undefined {
  const recordsTotal = pages[0]?.recordsTotal ?? 0
  const totals = new Set(pages.map((page) => page.recordsTotal))
  if (totals.size > 1) return `recordsTotal went from ${recordsTotal} to ${[...totals].filter((t) => t !== recordsTotal).join(', ')} between pages`
  const distinct = new Set<string>()
  for (const page of pages) for (const key of page.recordKeys) distinct.add(key)
  if (distinct.size !== recordsTotal) return `${distinct.size} distinct deals received, recordsTotal says ${recordsTotal}`
  return undefined
}
