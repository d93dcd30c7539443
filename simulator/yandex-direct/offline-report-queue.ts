/**
 * Offline reports per advertiser (API.md §5, "Simulator model"): ReportName →
 * {parameters, state queued → building → ready, times}. Building takes real
 * (wall) time; a finished report is a snapshot of the statistics at the moment
 * it became ready, kept `keepReadyMs` of simulator clock, then evicted.
 */
import type { ReportSnapshot } from './report-tsv.ts'

export type OfflineReportState = 'queued' | 'building' | 'ready'

/** One offline report as the queue holds it. */
export interface OfflineReport {
  readonly name: string
  /** Canonical JSON of the parameters: same name + same parameters = the same report. */
  readonly canonical: string
  state: OfflineReportState
  /** Simulator clock when first seen. */
  readonly createdAtMs: number
  /** Simulator clock when it became ready. */
  readyAtMs: number | undefined
  snapshot: ReportSnapshot | undefined
}

/** A report's state without its rows (`reports(login)` for tests). */
export interface OfflineReportInfo {
  readonly name: string
  readonly state: OfflineReportState
  readonly createdAt: number
  readonly readyAt: number | undefined
  readonly rows: number | undefined
}

export class OfflineReportQueue {
  private byLogin = new Map<string, Map<string, OfflineReport>>()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(
    private readonly keepReadyMs: number,
    readonly clockMs: () => number,
    private readonly onBuilt: (login: string) => void,
  ) {}

  /** The report of that name, after evicting the login's expired reports. */
  find(login: string, name: string): OfflineReport | undefined {
    this.evict(login)
    return this.byLogin.get(login)?.get(name)
  }

  /** Reports queued or building for a login. */
  pending(login: string): number {
    let n = 0
    for (const report of this.byLogin.get(login)?.values() ?? []) if (report.state !== 'ready') n++
    return n
  }

  /** Queues a new report: `queuedMs` later it starts building, `buildMs` after that `build()` makes its snapshot. */
  add(
    login: string,
    name: string,
    canonical: string,
    build: () => ReportSnapshot,
    timing: { queuedMs: number; buildMs: number },
  ): OfflineReport {
    const report: OfflineReport = {
      name,
      canonical,
      state: 'queued',
      createdAtMs: this.clockMs(),
      readyAtMs: undefined,
      snapshot: undefined,
    }
    let reports = this.byLogin.get(login)
    if (reports === undefined) {
      reports = new Map()
      this.byLogin.set(login, reports)
    }
    reports.set(name, report)
    const owner = reports
    this.after(timing.queuedMs, () => {
      if (owner.get(name) !== report) return
      report.state = 'building'
      this.after(timing.buildMs, () => {
        if (owner.get(name) !== report) return
        report.snapshot = build()
        report.readyAtMs = this.clockMs()
        report.state = 'ready'
        this.onBuilt(login)
      })
    })
    return report
  }

  /** The login's reports, oldest first. */
  list(login: string): OfflineReportInfo[] {
    this.evict(login)
    return [...(this.byLogin.get(login)?.values() ?? [])].map((r) => ({
      name: r.name,
      state: r.state,
      createdAt: r.createdAtMs,
      readyAt: r.readyAtMs,
      rows: r.snapshot?.rows.length,
    }))
  }

  /** Drops every report and pending timer. */
  clear(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.byLogin = new Map()
  }

  private evict(login: string): void {
    const reports = this.byLogin.get(login)
    if (reports === undefined) return
    const now = this.clockMs()
    for (const [name, report] of reports)
      if (report.readyAtMs !== undefined && now - report.readyAtMs >= this.keepReadyMs) reports.delete(name)
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      run()
    }, ms)
    this.timers.add(timer)
  }
}
