import type { DateRange } from './api-client.ts'
import type { Day } from '../../core/day.ts'
import { requestRange, type DayWindow, type ExtractOutcome } from './extract-window.ts'

/**
 * What the deals export's `dateTo` means, learnt while reading, for every site
 * of a run: the vendor page does not say whether it includes its own day
 * (API.md), and it refuses `dateFrom = dateTo`.
 *
 * Until a read proves it, a window is asked with the day after it too
 * ({@link requestRange}), which covers the window either way, and windows are
 * read one at a time (each site's probe aside), so that a window whose pages
 * turn out to hold its day after whole can keep that day before another window
 * reads it again. Proof, either way:
 * - inclusive: a window asked with the day after it got deals of that day;
 * - exclusive: a day asked that way came back without deals and, read later as
 *   a day of its own window, had some.
 */
export class DateToProtocol {
  private inclusive = false
  private settled = false
  /** Windows being read while dateTo is not settled. */
  private unsettledReads = 0
  /** Per site, days asked as the day after a window that came back without deals of them. */
  private readonly daysAfterUnseen = new Map<number, Set<Day>>()
  private readonly events: DateToEvents

  constructor(events: DateToEvents) {
    this.events = events
  }

  /** Whether dateTo is known to include its day. */
  get dateToInclusive(): boolean {
    return this.inclusive
  }

  /** The dates to ask for `window` now. */
  range(window: DayWindow): DateRange {
    return requestRange(window, this.inclusive)
  }

  /** Whether a window may start reading now: a probe always; another only while no read waits to settle dateTo. */
  mayStart(probe: boolean): boolean {
    return probe || this.settled || this.unsettledReads === 0
  }

  /**
   * Reads `window` (asked as `range`) and learns from it, before any window
   * waiting for that starts: when dateTo includes its day and the window was
   * asked with the day after it, `keepDayAfter` is called while that day's
   * deals are known to be in the pages.
   */
  async read(
    siteId: number,
    window: DayWindow,
    range: DateRange,
    read: () => Promise<ExtractOutcome>,
    keepDayAfter: () => void,
  ): Promise<ExtractOutcome> {
    const unsettled = !this.settled
    if (unsettled) this.unsettledReads += 1
    try {
      const outcome = await read()
      if (outcome.kind === 'extracted') {
        if (outcome.sawDayAfter && !this.inclusive) {
          this.inclusive = true
          this.settled = true
          this.events.learntInclusive()
        }
        const askedDayAfter = range.dateTo > window.lastDay
        if (askedDayAfter && this.inclusive) keepDayAfter()
        else if (askedDayAfter && !this.settled) this.unseenDaysAfter(siteId).add(range.dateTo)
      }
      return outcome
    } finally {
      if (unsettled) {
        this.unsettledReads -= 1
        this.events.changed()
      }
    }
  }

  /** Learns from a window loaded: a day of it that an earlier window's read did not return as its day after proves dateTo exclusive. */
  loaded(siteId: number, recordsByDay: Readonly<Record<Day, number>>): void {
    if (this.settled) return
    const unseen = this.unseenDaysAfter(siteId)
    if (Object.entries(recordsByDay).some(([day, records]) => records > 0 && unseen.has(day))) {
      this.settled = true
      this.events.changed()
    }
  }

  private unseenDaysAfter(siteId: number): Set<Day> {
    let days = this.daysAfterUnseen.get(siteId)
    if (days === undefined) this.daysAfterUnseen.set(siteId, (days = new Set()))
    return days
  }
}

export interface DateToEvents {
  /** dateTo was just found to include its day: windows of two days or more are asked exactly. */
  learntInclusive(): void
  /** A window waiting for dateTo to settle may start. */
  changed(): void
}
