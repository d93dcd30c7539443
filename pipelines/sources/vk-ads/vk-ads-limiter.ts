import {
  createRequestLimiter,
  type RequestCounters,
  type RequestLimiter,
  type RequestPriority,
} from '../../http/request-limiter.ts'

/**
 * VK Ads counts requests per user on calendar windows of a second, an hour and a day, publishes
 * no numbers, and says each answer's limit in `X-RateLimit-RPS-Limit` (shared/vk-ads/API.md §5).
 * So each account gets a limiter of its own that starts low and follows the header down.
 */

/**
 * Requests a second to an account until VK says its limit: low, because the limit is unknown and
 * a nightly read needs only a handful of requests (a list page, a statistics call per 50 plans
 * and 90 days).
 */
export const DEFAULT_VK_ADS_REQUESTS_PER_SECOND = 3

/** A request limiter that can be lowered while it runs. */
export interface VkAdsLimiter extends RequestLimiter {
  /** The rate now, requests a second. */
  readonly requestsPerSecond: number
  /** An answer's `X-RateLimit-RPS-Limit`: the rate drops to it when it is lower (it never rises above the start). */
  observeRpsLimit(limit: number): void
}

/**
 * A limiter of `requestsPerSecond` over the http layer's send-time limiter, replaced by a slower
 * one as soon as VK names a lower per-second limit. Requests already waiting in the old one keep
 * its pace; a source that sends one request at a time (this one) has at most one there.
 *
 * @example
 * const limiter = createVkAdsLimiter()
 * limiter.observeRpsLimit(2) // from then on, 2 a second
 */
export function createVkAdsLimiter(requestsPerSecond: number = DEFAULT_VK_ADS_REQUESTS_PER_SECOND): VkAdsLimiter {
  let rate = requestsPerSecond
  let inner = createRequestLimiter({ requestsPerSecond: rate })
  const retired: RequestLimiter[] = []
  const counters: RequestCounters = { requests: 0, retries: 0 }
  return {
    counters,
    get requestsPerSecond() {
      return rate
    },
    observeRpsLimit(limit) {
      if (!Number.isFinite(limit) || limit <= 0 || limit >= rate) return
      rate = limit
      retired.push(inner)
      inner = createRequestLimiter({ requestsPerSecond: rate })
    },
    schedule<T>(priority: RequestPriority, url: string, request: () => Promise<T>): Promise<T> {
      return inner.schedule(priority, url, () => {
        counters.requests += 1
        return request()
      })
    },
    countRetry() {
      counters.retries += 1
    },
    waiting: () => inner.waiting() + retired.reduce((sum, limiter) => sum + limiter.waiting(), 0),
    async stop() {
      await Promise.all([inner, ...retired].map((limiter) => limiter.stop()))
    },
  }
}
