import type { RunSettings } from './config.ts'
import type { LedgerDay } from '../../warehouse/ledger.ts'
import type { DateRange } from './api-client.ts'
import { addDays, daysBetween, eachDay, type Day } from '../../core/day.ts'
import type { DayWindow } from './extract-window.ts'

/**
 * Glossary.
 * - ledger: `etl.ledger` (warehouse/ledger.ts), one row per site and day read (source
 *   `calltouch-deals`, account the site id), with the day's deal count.
 * - planned days: the days a run must read for one site.
 * - window: consecutive planned days read by one paginated request series.
 * - density: deals per day, known from the ledger or from the run's own reads,
 *   used to size windows of days whose count is unknown.
 * - cut window: a window whose first page reported more deals than a window may
 *   hold; its days go back to be cut smaller, and what its first page said
 *   (an observation) sizes the windows cut from them.
 */

/**
 * Deals a window aims at. Each window wastes on average half of its last
 * 1000-record page, so fewer, bigger windows come nearer ⌈deals / 1000⌉ requests
 * (the calls' windows aim at the same, jobs/leads-sync.ts). Far enough below
 * {@link DEFAULT_MAX_WINDOW_RECORDS} that a window estimated at its aim, plus the
 * last day of a run that joins it, is not cut when its days hold a third more than
 * believed; two windows loading and one read stay within the page budget.
 */
export const DEFAULT_TARGET_WINDOW_RECORDS = 15_000
/**
 * A window whose first page reports more than this is cut smaller before the rest is read, so
 * that a window's pages stay a third of the page budget (sync-sites.ts): two windows loading and
 * one waiting. Up to this, reading a window whole costs no request that cutting it would save
 * (each cut costs the first page it read for nothing).
 */
export const DEFAULT_MAX_WINDOW_RECORDS = 20_000
/** Deals a window aims at among the days of a window found too big and not read yet (see WindowPlanner.cutAim). */
export const CUT_TARGET_WINDOW_RECORDS = 5000
/**
 * Deals the last windows of a run aim at no fewer than. A window loads only once its last page
 * is in, so whatever the run's last window holds is loaded after the API's last answer, while
 * nothing else is left to do: the run's last windows aim at half of what the run has left (see
 * WindowScheduler), down to this, so that the run ends on a small window. Each window tapered
 * costs half a page on average; a 20,000-deal last window took ~2.5 s to load after the last answer.
 */
export const TAIL_WINDOW_RECORDS = 2500
/** Days of the first window of a site nothing is known about; its first page tells the density. */
export const PROBE_WINDOW_DAYS = 7
/** Known days nearest to an unknown one that estimate it. */
const NEIGHBOURS_FOR_ESTIMATE = 7

export type PlanRequest =
  | {
      readonly kind: 'sync'
      readonly today: Day
      readonly startDate: Day
      readonly now: Date
      readonly settings: Pick<RunSettings, 'lookbackDays' | 'refreshMaxAgeDays' | 'refreshAfterDays'>
    }
  | { readonly kind: 'backfill'; readonly from: Day; readonly to: Day }

/**
 * The days a run reads, ascending.
 *
 * sync: every day from the start date to today that was never read
 * successfully; every day of the look-back window (today and the
 * `lookbackDays − 1` days before it); older days up to `refreshMaxAgeDays`
 * old last read more than `refreshAfterDays` ago; and every day whose last
 * read failed. backfill: exactly `from..to`.
 *
 * @example
 * planDays([], { kind: 'backfill', from: '2026-11-01', to: '2026-11-03' }) // ['2026-11-01', '2026-11-02', '2026-11-03']
 */
export function planDays(ledger: readonly LedgerDay[], request: PlanRequest): Day[] {
  if (request.kind === 'backfill') return eachDay(request.from, request.to)
  const { today, startDate, now, settings } = request
  const byDay = new Map(ledger.map((row) => [row.day, row]))
  const lookbackFirst = addDays(today, 1 - settings.lookbackDays)
  const refreshFirst = addDays(today, -settings.refreshMaxAgeDays)
  const staleBefore = now.getTime() - settings.refreshAfterDays * 86_400_000
  const planned = new Set<Day>()
  for (const day of startDate <= today ? eachDay(startDate, today) : []) {
    const row = byDay.get(day)
    if (row === undefined || row.lastSucceededAt === null || row.status === 'failed') planned.add(day)
    else if (day >= lookbackFirst) planned.add(day)
    else if (day >= refreshFirst && row.lastSucceededAt.getTime() < staleBefore) planned.add(day)
  }
  // A failed day is retried even when it lies before the start date (a backfill's).
  for (const row of ledger) if (row.status === 'failed' && row.day <= today) planned.add(row.day)
  return [...planned].sort()
}

/** What sync-sites asks of a planner. */
export type WindowPlanning = Pick<
  WindowPlanner,
  | 'remainingDays'
  | 'remainingRecords'
  | 'nextIsProbe'
  | 'next'
  | 'observe'
  | 'learn'
  | 'learnDateToInclusive'
  | 'takeDayAfter'
>

/** What a cut window's first page said: `records` deals over the days asked for. */
interface Observation {
  readonly range: DateRange
  readonly records: number
}

/**
 * Cuts a site's planned days into windows as they are needed, sized by deal
 * counts so that a window is close to a whole number of 1000-record pages.
 * A day's count is, best first: what this run read of it; its share of what
 * the first page of a cut window covering it said; its ledger count; the
 * density of its nearest known days; or, for a site nothing is known about,
 * one probe window whose first page tells the density. Windows never span a
 * gap in the planned days.
 *
 * Every run makes progress: a window found too big is never issued again,
 * nor any window containing it, so each cut hands out a strictly smaller
 * window, down to the fewest days a window may have, which is always read
 * whole. Its first page's count is shared out over the days it covered
 * (in proportion to what was believed of them, evenly when nothing was), and
 * windows cut from it aim at {@link CUT_TARGET_WINDOW_RECORDS}, so a quiet
 * stretch before a busy one, a stale ledger, or one huge day among small ones
 * is cut right at the next try instead of by one day at a time.
 */
export class WindowPlanner {
  private readonly queue: Day[]
  /** Deal counts of the ledger: what the last successful read of each day found. */
  private readonly ledgerCounts: Map<Day, number>
  /** Deal counts this run read itself. */
  private readonly readCounts = new Map<Day, number>()
  private readonly observations: Observation[] = []
  /** Windows found too big, by first day: the fewest days of each. */
  private readonly tooBigDays = new Map<Day, number>()
  private density: number | undefined
  /** {@link belief} of each day asked since the last count or density was learnt: estimates ask it again and again. */
  private readonly beliefs = new Map<Day, number | undefined>()
  private readonly targetRecords: number
  private readonly maxRecords: number
  /** Days a window has at least, when that many consecutive days are planned; see {@link learnDateToInclusive}. */
  private minimumDays = 1

  constructor(
    plannedDays: readonly Day[],
    ledger: readonly LedgerDay[],
    options: { targetRecords?: number; maxRecords?: number } = {},
  ) {
    this.queue = [...new Set(plannedDays)].sort()
    this.ledgerCounts = new Map(
      ledger.filter((row) => row.records !== null).map((row) => [row.day, row.records as number]),
    )
    this.targetRecords = options.targetRecords ?? DEFAULT_TARGET_WINDOW_RECORDS
    this.maxRecords = options.maxRecords ?? DEFAULT_MAX_WINDOW_RECORDS
  }

  /** Planned days not yet handed out. */
  get remainingDays(): number {
    return this.queue.length
  }

  /**
   * Deals believed to lie in the planned days not handed out yet, or undefined while that is a
   * guess: before this run has loaded any window of the site (a probe's first page, a stale
   * ledger), or while a day lies in a window found too big and not read since. Adds up to
   * `enough` at most: callers only ask whether it is below something.
   */
  remainingRecords(enough = Infinity): number | undefined {
    if (this.queue.length > 0 && this.readCounts.size === 0) return undefined
    let records = 0
    for (const day of this.queue) {
      const read = this.readCounts.get(day)
      if (read === undefined && this.observations.some(({ range }) => range.dateFrom <= day && day <= range.dateTo))
        return undefined
      const estimate = read ?? this.belief(day)
      if (estimate === undefined) return undefined
      records += estimate
      if (records >= enough) break
    }
    return records
  }

  /** True when nothing tells how many deals the next window's first day holds: it will be a probe. */
  get nextIsProbe(): boolean {
    const day = this.queue[0]
    return day !== undefined && this.estimate(day) === undefined
  }

  /**
   * dateTo is known to include its day. A one-day window must still ask for
   * two days (the vendor page refuses dateFrom = dateTo), which reads every
   * page of the next day for nothing; from now on a window takes at least two
   * days, however dense, so that nothing read is thrown away (but for the last
   * day of a run of planned days, which is alone).
   */
  learnDateToInclusive(): void {
    this.minimumDays = 2
  }

  /**
   * The window grown by the day after it, when that is the next planned day
   * and not handed out yet: for a window that was asked with the day after it
   * once dateTo is known to include its day, so its pages hold every deal of
   * that day, which would otherwise be read again by the next window.
   */
  takeDayAfter(window: DayWindow): DayWindow {
    const dayAfter = addDays(window.lastDay, 1)
    if (this.queue[0] !== dayAfter) return window
    this.queue.shift()
    return { firstDay: window.firstDay, lastDay: dayAfter }
  }

  /**
   * The next window, or undefined when every planned day is handed out. `aimAtMost` lowers its
   * aim (the run's last windows, see {@link TAIL_WINDOW_RECORDS}); a probe has no aim.
   */
  next(aimAtMost = Infinity): DayWindow | undefined {
    const firstDay = this.queue[0]
    if (firstDay === undefined) return undefined
    const probing = this.estimate(firstDay) === undefined
    const aim = Math.min(this.targetRecords, this.cutAim(firstDay), aimAtMost)
    let lastDay = firstDay
    let records = this.estimate(firstDay) ?? 0
    let taken = 1
    while (taken < this.queue.length) {
      const candidate = this.queue[taken] as Day
      if (candidate !== addDays(lastDay, 1)) break
      if (this.containsTooBig(firstDay, taken + 1)) break
      if (probing) {
        if (taken >= PROBE_WINDOW_DAYS) break
      } else {
        const estimate = this.estimate(candidate) ?? this.density ?? 0
        if (records + estimate > aim && taken >= this.minimumDays) {
          // A day left alone is asked as two days, and dateTo may then read the one after it for
          // nothing: the last day of a run of planned days joins the window while it still fits,
          // and always once dateTo is known to include its day, since the window's own request,
          // asked with the day after it, then reads that day whole anyway.
          const lastOfRun = this.queue[taken + 1] !== addDays(candidate, 1)
          const fits = this.minimumDays === 2 || records + estimate <= this.maxRecords
          if (!lastOfRun || !fits) break
        }
        records += estimate
      }
      lastDay = candidate
      taken += 1
    }
    this.queue.splice(0, taken)
    return { firstDay, lastDay }
  }

  /**
   * Learns from a window's first page: `recordsTotal` deals over the dates
   * `requested` (the day after the window included when it was asked for).
   * Returns whether the window is too big to read whole; if so its days go
   * back to be cut smaller, and no window containing it is handed out again.
   * A window of the fewest days a window may have is never too big.
   */
  observe(window: DayWindow, recordsTotal: number, requested: DateRange): 'continue' | 'too-big' {
    this.density = recordsTotal / (daysBetween(requested.dateFrom, requested.dateTo) + 1)
    this.beliefs.clear()
    const days = daysBetween(window.firstDay, window.lastDay) + 1
    if (recordsTotal <= this.maxRecords || days <= this.minimumDays) return 'continue'
    this.observations.push({ range: requested, records: recordsTotal })
    this.tooBigDays.set(window.firstDay, Math.min(days, this.tooBigDays.get(window.firstDay) ?? Infinity))
    this.queue.unshift(...eachDay(window.firstDay, window.lastDay))
    return 'too-big'
  }

  /** Deal counts of days read by this run, for windows planned after. */
  learn(recordsByDay: Readonly<Record<Day, number>>): void {
    for (const [day, records] of Object.entries(recordsByDay)) this.readCounts.set(day, records)
    this.beliefs.clear()
  }

  /**
   * What a window from `day` aims at when the day lies in a window found too big and is not read
   * yet: its count is only a share of that window's first page, so where the deals lie is a guess,
   * and windows of {@link CUT_TARGET_WINDOW_RECORDS} corner a big day among small ones in fewer first
   * pages read for nothing than bigger ones would (each cut trims them by little).
   */
  private cutAim(day: Day): number {
    if (this.readCounts.has(day)) return Infinity
    return this.observations.some(({ range }) => range.dateFrom <= day && day <= range.dateTo)
      ? CUT_TARGET_WINDOW_RECORDS
      : Infinity
  }

  /** Whether the window of `days` days from `firstDay` would contain a window found too big. */
  private containsTooBig(firstDay: Day, days: number): boolean {
    for (let offset = 0; offset < days; offset++) {
      const tooBig = this.tooBigDays.get(addDays(firstDay, offset))
      if (tooBig !== undefined && offset + tooBig <= days) return true
    }
    return false
  }

  private estimate(day: Day): number | undefined {
    return this.readCounts.get(day) ?? this.observedShare(day) ?? this.belief(day)
  }

  /** What was believed of a day before any first page covering it was seen. */
  private belief(day: Day): number | undefined {
    if (!this.beliefs.has(day))
      this.beliefs.set(day, this.ledgerCounts.get(day) ?? this.neighbourEstimate(day) ?? this.density)
    return this.beliefs.get(day)
  }

  /**
   * The day's share of the latest cut window's first page that covered it:
   * the deals it reported, less those this run has since read on days it
   * covered, shared out over its unread days: half in proportion to their
   * beliefs, half evenly (a stale ledger's zeros must not put a whole first
   * page on the one day it believed busy), all evenly when nothing was believed.
   */
  private observedShare(day: Day): number | undefined {
    const observation = this.observations.findLast(({ range }) => range.dateFrom <= day && day <= range.dateTo)
    if (observation === undefined) return undefined
    let remaining = observation.records
    const unread: Day[] = []
    for (const each of eachDay(observation.range.dateFrom, observation.range.dateTo)) {
      const read = this.readCounts.get(each)
      if (read === undefined) unread.push(each)
      else remaining -= read
    }
    const believed = unread.reduce((sum, each) => sum + (this.belief(each) ?? 0), 0)
    const share =
      believed > 0 ? ((this.belief(day) ?? 0) + believed / unread.length) / (2 * believed) : 1 / unread.length
    return Math.max(0, remaining) * share
  }

  /** Mean count of the known days nearest to `day` (within a month), if any. */
  private neighbourEstimate(day: Day): number | undefined {
    const counts: number[] = []
    for (let distance = 1; distance <= 31 && counts.length < NEIGHBOURS_FOR_ESTIMATE; distance++) {
      for (const neighbour of [addDays(day, -distance), addDays(day, distance)]) {
        const count = this.readCounts.get(neighbour) ?? this.ledgerCounts.get(neighbour)
        if (count !== undefined) counts.push(count)
      }
    }
    return counts.length === 0 ? undefined : counts.reduce((sum, count) => sum + count, 0) / counts.length
  }
}
