/**
 * What `GET /_sim/stats` reports. Only API requests are counted; `/_sim/*` admin
 * calls are neither counted nor rate limited.
 */
import { SlidingWindowCounter } from './rate-limiter.ts'

export const API_ENDPOINTS = ['export', 'getNodeId', 'create', 'update', 'delete', 'unknown'] as const
/** The lead journals' endpoints: counted under their own key, present once requested. */
export const LEAD_ENDPOINTS = ['calls', 'requests'] as const
export type LeadEndpoint = (typeof LEAD_ENDPOINTS)[number]
export type ApiEndpoint = (typeof API_ENDPOINTS)[number] | LeadEndpoint

/** Counters of one simulator since start or the last reset. */
export interface SimulatorStats {
  requests: {
    /** API requests that arrived, whatever happened to them (429s included). */
    total: number
    /** Requests per endpoint; `calls` and `requests` (the lead journals) appear once one arrived. */
    byEndpoint: Record<Exclude<ApiEndpoint, LeadEndpoint>, number> & Partial<Record<LeadEndpoint, number>>
  }
  /** Requests that got past the rate limiter (at once or after waiting), whatever they were answered. */
  served: number
  /** Requests the rate limiter answered 429 (injected 429 bursts are in faultsInjected.burst429). */
  rejected429: number
  /** Requests the rate limiter made wait for a later second. */
  queued: number
  /**
   * The most API requests from one client IP that ARRIVED within any sliding
   * one-second window (t − 1000 ms, t], 429s included. A client that keeps to the
   * vendor's limit of 5 a second keeps this at 5 or below.
   */
  maxRequestsInAnySecond: number
  /** The most requests from one IP that STARTED being processed within any sliding second (≤ perSecond with the limiter on). */
  maxStartedInAnySecond: number
  /**
   * Per client address (as the simulator's socket sees it: 127.0.0.1, 127.0.0.2, … for clients
   * bound to loopback addresses), what the address sent: the vendor counts its limit per IP.
   */
  byAddress: Record<string, AddressStats>
  /** Answers by HTTP status (including injected faults; resets have none). */
  responsesByStatus: Record<string, number>
  faultsInjected: {
    serverError: number
    burst429: number
    truncated: number
    reset: number
    slow: number
    shiftedPages: number
  }
}

/** One client address's share of the counters. */
export interface AddressStats {
  /** API requests that arrived from the address, 429s included. */
  requests: number
  /** Of them, the ones the rate limiter answered 429. */
  rejected429: number
  /** The most that arrived within any sliding second. */
  maxRequestsInAnySecond: number
  /** The most that started being processed within any sliding second. */
  maxStartedInAnySecond: number
}

export class StatsRecorder {
  private stats: SimulatorStats = StatsRecorder.empty()
  private readonly arrivals = new SlidingWindowCounter()
  private readonly starts = new SlidingWindowCounter()

  static empty(): SimulatorStats {
    return {
      requests: { total: 0, byEndpoint: { export: 0, getNodeId: 0, create: 0, update: 0, delete: 0, unknown: 0 } },
      served: 0,
      rejected429: 0,
      queued: 0,
      maxRequestsInAnySecond: 0,
      maxStartedInAnySecond: 0,
      byAddress: {},
      responsesByStatus: {},
      faultsInjected: { serverError: 0, burst429: 0, truncated: 0, reset: 0, slow: 0, shiftedPages: 0 },
    }
  }

  arrived(endpoint: ApiEndpoint, ip: string, nowMs: number): void {
    this.stats.requests.total++
    const byEndpoint = this.stats.requests.byEndpoint
    byEndpoint[endpoint] = (byEndpoint[endpoint] ?? 0) + 1
    this.arrivals.record(ip, nowMs)
    this.address(ip).requests++
  }

  started(ip: string, nowMs: number): void {
    this.stats.served++
    this.starts.record(ip, nowMs)
  }

  rejected(ip: string): void {
    this.stats.rejected429++
    this.address(ip).rejected429++
  }

  private address(ip: string): AddressStats {
    let stats = this.stats.byAddress[ip]
    if (stats === undefined) {
      stats = { requests: 0, rejected429: 0, maxRequestsInAnySecond: 0, maxStartedInAnySecond: 0 }
      this.stats.byAddress[ip] = stats
    }
    return stats
  }

  queued(): void {
    this.stats.queued++
  }

  answered(status: number): void {
    const key = String(status)
    this.stats.responsesByStatus[key] = (this.stats.responsesByStatus[key] ?? 0) + 1
  }

  fault(kind: keyof SimulatorStats['faultsInjected']): void {
    this.stats.faultsInjected[kind]++
  }

  snapshot(): SimulatorStats {
    const byAddress = Object.fromEntries(
      Object.entries(this.stats.byAddress).map(([ip, stats]) => [
        ip,
        { ...stats, maxRequestsInAnySecond: this.arrivals.maxOf(ip), maxStartedInAnySecond: this.starts.maxOf(ip) },
      ]),
    )
    return structuredClone({
      ...this.stats,
      maxRequestsInAnySecond: this.arrivals.max,
      maxStartedInAnySecond: this.starts.max,
      byAddress,
    })
  }

  reset(): void {
    this.stats = StatsRecorder.empty()
    this.arrivals.clear()
    this.starts.clear()
  }
}
