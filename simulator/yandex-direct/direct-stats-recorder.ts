/**
 * What the simulated Direct API counts, per advertiser login and overall, so a
 * test or benchmark can prove a client kept within the vendor's limits.
 */

export interface DirectLoginStats {
  /** API requests (every service) made for this login. */
  requests: number
  /** Reports requests (polls included). */
  reportRequests: number
  /** Most Reports requests that arrived in any sliding 10 s window (rejected ones included). */
  maxReportRequestsIn10s: number
  /** Most requests of this login in progress at once (all services). */
  maxConcurrent: number
  /** Offline reports that finished building. */
  reportsBuilt: number
  /** Most offline reports queued or building at once. */
  maxReportsQueued: number
  answersByStatus: Record<string, number>
  errorsByCode: Record<string, number>
}

export interface YandexDirectSimStats {
  /** Every API request (not `/_sim/…`), with or without a valid token. */
  requests: number
  reportsBuilt: number
  answersByStatus: Record<string, number>
  errorsByCode: Record<string, number>
  faultsInjected: { serverError: number; htmlBadGateway: number; truncated: number; reset: number; slow: number }
  /** Per advertiser login. */
  logins: Record<string, DirectLoginStats>
}

export type DirectFaultKind = keyof YandexDirectSimStats['faultsInjected']

const WINDOW_MS = 10_000

function bump(counts: Record<string, number>, key: string | number): void {
  counts[key] = (counts[key] ?? 0) + 1
}

export class DirectStatsRecorder {
  private stats = DirectStatsRecorder.empty()
  private arrivals = new Map<string, number[]>()

  private static empty(): YandexDirectSimStats {
    return {
      requests: 0,
      reportsBuilt: 0,
      answersByStatus: {},
      errorsByCode: {},
      faultsInjected: { serverError: 0, htmlBadGateway: 0, truncated: 0, reset: 0, slow: 0 },
      logins: {},
    }
  }

  reset(): void {
    this.stats = DirectStatsRecorder.empty()
    this.arrivals = new Map()
  }

  snapshot(): YandexDirectSimStats {
    return structuredClone(this.stats)
  }

  request(): void {
    this.stats.requests++
  }

  /** A request identified as this login's; `report` when it is a Reports request arriving at wall time `wallMs`. */
  loginRequest(login: string, report: boolean, wallMs: number): void {
    const stats = this.login(login)
    stats.requests++
    if (!report) return
    stats.reportRequests++
    let list = this.arrivals.get(login)
    if (list === undefined) {
      list = []
      this.arrivals.set(login, list)
    }
    let drop = 0
    while (drop < list.length && (list[drop] as number) <= wallMs - WINDOW_MS) drop++
    if (drop > 0) list.splice(0, drop)
    list.push(wallMs)
    stats.maxReportRequestsIn10s = Math.max(stats.maxReportRequestsIn10s, list.length)
  }

  concurrent(login: string, inFlight: number): void {
    const stats = this.login(login)
    stats.maxConcurrent = Math.max(stats.maxConcurrent, inFlight)
  }

  queued(login: string, pending: number): void {
    const stats = this.login(login)
    stats.maxReportsQueued = Math.max(stats.maxReportsQueued, pending)
  }

  built(login: string): void {
    this.stats.reportsBuilt++
    this.login(login).reportsBuilt++
  }

  answered(status: number, login: string | undefined, errorCode?: number): void {
    bump(this.stats.answersByStatus, status)
    if (errorCode !== undefined) bump(this.stats.errorsByCode, errorCode)
    if (login === undefined) return
    const stats = this.login(login)
    bump(stats.answersByStatus, status)
    if (errorCode !== undefined) bump(stats.errorsByCode, errorCode)
  }

  fault(kind: DirectFaultKind): void {
    this.stats.faultsInjected[kind]++
  }

  private login(login: string): DirectLoginStats {
    let stats = this.stats.logins[login]
    if (stats === undefined) {
      stats = {
        requests: 0,
        reportRequests: 0,
        maxReportRequestsIn10s: 0,
        maxConcurrent: 0,
        reportsBuilt: 0,
        maxReportsQueued: 0,
        answersByStatus: {},
        errorsByCode: {},
      }
      this.stats.logins[login] = stats
    }
    return stats
  }
}
