import Bottleneck from 'bottleneck'
import { MAX_REQUESTS_PER_SECOND } from '../core/site-config.ts'

/**
 * Extra spacing between two request starts. The vendor counts requests as they
 * arrive, so two starts exactly 1000/5 ms apart could land 6 in one second after
 * a few ms of network or event-loop jitter; 10 ms per request keeps a 50 ms
 * margin in every second at a cost of 5% of the budget.
 */
export const START_SPACING_MARGIN_MS = 10

/**
 * Requests in flight at once. At 5 a second and Calltouch's usual 100–400 ms
 * answers, 2–3 are in flight; the rest of this allows for slow answers without
 * letting a run of timeouts pile up unbounded.
 */
export const DEFAULT_MAX_IN_FLIGHT = 10

/** Who goes first when several requests wait; lower runs first. */
export const REQUEST_PRIORITIES = {
  /** Node discovery: every request of its site waits for it. */
  discovery: 1,
  /** Pages 2..N of a window whose first page came back: finishing windows frees memory. */
  laterPage: 3,
  /** The first page of a window. */
  firstPage: 5,
} as const
export type RequestPriority = (typeof REQUEST_PRIORITIES)[keyof typeof REQUEST_PRIORITIES]

export interface RequestCounters {
  /** HTTP requests started, retries included. */
  requests: number
  /** Requests that repeated a failed one. */
  retries: number
}

/**
 * The one gate every Calltouch request of the process passes: the vendor's
 * limit is per IP, so every site and every window shares it.
 */
export interface RequestLimiter {
  /** Runs `request` when the rate allows; counts it. */
  schedule<T>(priority: RequestPriority, request: () => Promise<T>): Promise<T>
  readonly counters: Readonly<RequestCounters>
  countRetry(): void
  /** Requests waiting for their turn. */
  waiting(): number
  stop(): Promise<void>
}

export interface RequestLimiterConfig {
  /** Requests started in any one second, at most 5 (the vendor's limit). */
  readonly requestsPerSecond: number
  readonly maxInFlight?: number
}

/**
 * A limiter that starts at most `requestsPerSecond` requests in any rolling
 * second: starts are spaced `1000 / requestsPerSecond` ms plus a margin apart
 * (bottleneck's `minTime`), which bounds every one-second window, unlike a
 * reservoir refilled each second, which lets 2 × 5 through around a refill.
 *
 * @example
 * const limiter = createRequestLimiter({ requestsPerSecond: 5 })
 * const body = await limiter.schedule(REQUEST_PRIORITIES.firstPage, () => fetch(url).then((r) => r.text()))
 */
export function createRequestLimiter(config: RequestLimiterConfig): RequestLimiter {
  const perSecond = Math.min(config.requestsPerSecond, MAX_REQUESTS_PER_SECOND)
  if (!(perSecond > 0)) throw new RangeError(`requestsPerSecond must be above 0, got ${config.requestsPerSecond}`)
  const bottleneck = new Bottleneck({
    minTime: Math.ceil(1000 / perSecond) + START_SPACING_MARGIN_MS,
    maxConcurrent: config.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
  })
  const counters: RequestCounters = { requests: 0, retries: 0 }
  return {
    counters,
    schedule(priority, request) {
      return bottleneck.schedule({ priority }, () => {
        counters.requests += 1
        return request()
      })
    },
    countRetry() {
      counters.retries += 1
    },
    waiting: () => bottleneck.queued(),
    stop: () => bottleneck.stop({ dropWaitingJobs: true }),
  }
}
