import type { SiteConfig } from './config.ts'
import type { CalltouchClient } from './api-client.ts'
import type { DateToProtocol } from './date-to-protocol.ts'
import type { DayWindow } from './extract-window.ts'
import { DEFAULT_MAX_WINDOW_RECORDS, TAIL_WINDOW_RECORDS, type WindowPlanning } from './window-planner.ts'

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

/** One site of a run, as the scheduler sees it. */
export interface SiteRun {
  readonly site: SiteConfig
  readonly client: CalltouchClient
  readonly planner: WindowPlanning
  readonly plannedDays: number
  /** Windows being read or loaded. */
  inFlight: number
  /** Its probe is out and has not told the density yet: its other windows wait. */
  probing: boolean
  /** Why the site was stopped (the API refused it, or its windows ran away), as the failure of its other windows says: they are not tried. */
  stopped: string | undefined
  /** Windows cut smaller after their first page. */
  windowsCut: number
}

export type NextWindow =
  { readonly site: SiteRun; readonly window: DayWindow; readonly probe: boolean } | 'wait' | 'done'

/**
 * Hands out the sites' windows in turn, one site after another: a site's probe
 * alone until its first page tells the density, and while dateTo is not
 * settled one window at a time (see {@link DateToProtocol}).
 */
export class WindowScheduler {
  readonly sites: readonly SiteRun[]
  private readonly dateTo: DateToProtocol
  private rotation = 0

  constructor(sites: readonly SiteRun[], dateTo: DateToProtocol) {
    this.sites = sites
    this.dateTo = dateTo
  }

  /** Planned days of every site not yet handed out. */
  get remainingDays(): number {
    return this.sites.reduce((sum, site) => sum + site.planner.remainingDays, 0)
  }

  /** The next window to read, 'wait' while one may come once a window in flight ends, or 'done'. */
  next(): NextWindow {
    let waiting = false
    for (let i = 0; i < this.sites.length; i++) {
      const site = this.sites[(this.rotation + i) % this.sites.length] as SiteRun
      if (site.planner.remainingDays === 0) {
        waiting ||= site.inFlight > 0
        continue
      }
      const probe = site.planner.nextIsProbe
      if (site.probing || !this.dateTo.mayStart(probe)) {
        waiting = true
        continue
      }
      const window = site.planner.next(this.tailAim()) as DayWindow
      site.probing = probe
      this.rotation = (this.rotation + i + 1) % this.sites.length
      return { site, window, probe }
    }
    return waiting ? 'wait' : 'done'
  }

  /**
   * What the next window may aim at: half of the deals every site has left to hand out, but no
   * fewer than {@link TAIL_WINDOW_RECORDS}, so that the run's windows shrink towards its end and
   * little is left to load after the last answer; no limit while that is more than two of the
   * biggest windows, or while a count is unknown (a probe to come).
   */
  private tailAim(): number {
    const enough = 2 * DEFAULT_MAX_WINDOW_RECORDS
    let left = 0
    for (const site of this.sites) {
      const records = site.planner.remainingRecords(enough - left)
      if (records === undefined) return Infinity
      left += records
      if (left >= enough) return Infinity
    }
    return Math.max(TAIL_WINDOW_RECORDS, left / 2)
  }

  /**
   * Counts a window cut smaller; past the site's allowance the site is stopped
   * (its days, back in the planner, then fail as not asked for, with the reason).
   * Returns the reason when this cut stopped it.
   */
  windowCut(site: SiteRun): string | undefined {
    site.windowsCut += 1
    const allowed = RUNAWAY_CUTS_BASE + RUNAWAY_CUTS_PER_DAY * site.plannedDays
    if (site.windowsCut <= allowed || site.stopped !== undefined) return undefined
    site.stopped = `site ${site.site.siteId} was stopped after ${site.windowsCut} requests on windows it then cut smaller, more than its ${site.plannedDays} planned day(s) can need (${allowed}) — please report this with the log (--log-level debug)`
    return site.stopped
  }
}
