/**
 * What the VK Ads simulator counts: every API request and answer, and per
 * account (one client_id and its user) requests, 429s, the busiest second, and
 * the tokens minted, refreshed and held.
 */
import { SlidingWindowCounter } from '../rate-limiter.ts'

export interface VkAdsAccountStats {
  /** API requests attributed to the account: signed with its token, or to the token endpoints with its client_id. */
  requests: number
  /** 429 answers it got (the rate limit and injected bursts). */
  rateLimited: number
  /** Most of its requests that arrived within any sliding second of real time (429s included). */
  maxRequestsInAnySecond: number
  /** Tokens issued by grant_type=client_credentials. */
  tokenMints: number
  /** grant_type=refresh_token answered 200. */
  tokenRefreshes: number
  /** Tokens held now (live, expired or revoked: what counts toward the limit of 5). */
  liveTokens: number
  /** The most tokens it ever held at once. */
  maxLiveTokens: number
}

export interface VkAdsFaultCounts {
  serverError: number
  burst429: number
  truncated: number
  reset: number
  slow: number
  /** Tokens expired by the `expireTokensNow` switch. */
  expiredTokens: number
}

export interface VkAdsSimStats {
  /** Every request to /api/ paths (admin paths are not counted). */
  requests: number
  /** Answers by HTTP status. */
  answers: Record<string, number>
  /** By client_id. */
  accounts: Record<string, VkAdsAccountStats>
  faultsInjected: VkAdsFaultCounts
}

export type VkAdsFaultKind = keyof VkAdsFaultCounts

interface AccountCounters {
  requests: number
  rateLimited: number
  arrivals: SlidingWindowCounter
}

const noFaults = (): VkAdsFaultCounts => ({
  serverError: 0,
  burst429: 0,
  truncated: 0,
  reset: 0,
  slow: 0,
  expiredTokens: 0,
})

export class VkAdsStatsRecorder {
  private requests = 0
  private answers: Record<string, number> = {}
  private readonly accounts = new Map<string, AccountCounters>()
  private faults = noFaults()

  private accountOf(clientId: string): AccountCounters {
    let counters = this.accounts.get(clientId)
    if (counters === undefined) {
      counters = { requests: 0, rateLimited: 0, arrivals: new SlidingWindowCounter() }
      this.accounts.set(clientId, counters)
    }
    return counters
  }

  arrived(): void {
    this.requests++
  }

  /** A request attributed to an account, at real time `arrivedAtMs`. */
  accountRequest(clientId: string, arrivedAtMs: number): void {
    const counters = this.accountOf(clientId)
    counters.requests++
    counters.arrivals.record(clientId, arrivedAtMs)
  }

  rateLimited(clientId: string): void {
    this.accountOf(clientId).rateLimited++
  }

  answered(status: number): void {
    this.answers[status] = (this.answers[status] ?? 0) + 1
  }

  fault(kind: VkAdsFaultKind, count = 1): void {
    this.faults[kind] += count
  }

  /** The snapshot; token figures come from the token store. */
  snapshot(
    clientIds: readonly string[],
    tokens: (
      clientId: string,
    ) => Pick<VkAdsAccountStats, 'tokenMints' | 'tokenRefreshes' | 'liveTokens' | 'maxLiveTokens'>,
  ): VkAdsSimStats {
    const accounts: Record<string, VkAdsAccountStats> = {}
    for (const clientId of clientIds) {
      const counters = this.accountOf(clientId)
      accounts[clientId] = {
        requests: counters.requests,
        rateLimited: counters.rateLimited,
        maxRequestsInAnySecond: counters.arrivals.max,
        ...tokens(clientId),
      }
    }
    return { requests: this.requests, answers: { ...this.answers }, accounts, faultsInjected: { ...this.faults } }
  }

  reset(): void {
    this.requests = 0
    this.answers = {}
    this.accounts.clear()
    this.faults = noFaults()
  }
}
