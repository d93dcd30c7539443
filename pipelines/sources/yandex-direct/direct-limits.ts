import { createHash } from 'node:crypto'
import { HttpRequestError } from '../../http/http-request-error.ts'
import { createRequestLimiter, type RequestLimiter, type RequestPriority } from '../../http/request-limiter.ts'

/**
 * Yandex Direct's limits (shared/yandex-direct/API.md §7): at most 20 Reports requests in any 10
 * seconds, polls included; at most 5 offline reports queued or building; at most 5 requests at
 * once. Yandex counts them "per user" and does not say whether an agency token's clients share
 * them, so they are kept per TOKEN: every advertiser read with one agency token shares one budget
 * (the safe reading), an advertiser with a token of its own has its own.
 *
 * The budgets live as long as the process, so that accounts read one after the other, or runs of
 * `schedule`, never exceed them across their boundary either.
 */

export const REPORT_REQUESTS_PER_WINDOW = 20
export const REPORT_REQUEST_WINDOW_MS = 10_000
/**
 * Direct counts requests as they arrive; ours are counted as they leave. A slow network, or an
 * event loop held by a synchronous load (PGlite), delays arrivals: with the limiter's own 60 ms,
 * bench/ad-spend-requests.ts saw 21 arrivals in 10 s (error 56) in 2 of 4 runs. Half a second
 * more costs a 2-year backfill about a second.
 */
export const REPORT_WINDOW_MARGIN_MS = 500
/** Offline reports queued or building at once. */
export const REPORT_QUEUE_LIMIT = 5
/** Requests in flight at once (the whole API's concurrency limit per advertiser). */
export const MAX_REQUESTS_IN_FLIGHT = 5

/** Who goes first when requests of one token wait: polls of reports already queued free their slots sooner. */
export const DIRECT_PRIORITIES = {
  poll: 1,
  firstRequest: 5,
} as const satisfies Record<string, RequestPriority>

/** The budget of one token: its request limiter and its report slots. */
export interface DirectBudget {
  readonly limiter: RequestLimiter
  readonly reportSlots: ReportSlots
}

const budgets = new Map<string, DirectBudget>()

/**
 * The budget of `token`, shared by every account read with it in this process. Keyed by a hash,
 * so the token itself is kept nowhere but in the account.
 */
export function directBudgetFor(token: string): DirectBudget {
  const key = createHash('sha256').update(token).digest('hex')
  let budget = budgets.get(key)
  if (budget === undefined) {
    budget = {
      limiter: createRequestLimiter({
        requests: REPORT_REQUESTS_PER_WINDOW,
        perMs: REPORT_REQUEST_WINDOW_MS + REPORT_WINDOW_MARGIN_MS,
        maxInFlight: MAX_REQUESTS_IN_FLIGHT,
      }),
      reportSlots: new ReportSlots(REPORT_QUEUE_LIMIT),
    }
    budgets.set(key, budget)
  }
  return budget
}

/**
 * A report holds a slot from its first request until it came back or was given up, so no more
 * than the queue's capacity are ever queued or building for one token.
 */
export class ReportSlots {
  private free: number
  private readonly waiters: (() => void)[] = []

  constructor(readonly capacity: number) {
    this.free = capacity
  }

  /** Waits for a slot; the returned function gives it back (once). A stopped run stops waiting. */
  async acquire(what: string, stop?: AbortSignal): Promise<() => void> {
    if (this.free > 0) this.free -= 1
    else {
      await new Promise<void>((resolve, reject) => {
        const onStop = (): void => {
          const index = this.waiters.indexOf(grant)
          if (index !== -1) this.waiters.splice(index, 1)
          reject(new HttpRequestError(`${what}: interrupted, the run is stopping`, 'stopped'))
        }
        const grant = (): void => {
          stop?.removeEventListener('abort', onStop)
          resolve()
        }
        if (stop?.aborted === true) return onStop()
        stop?.addEventListener('abort', onStop, { once: true })
        this.waiters.push(grant)
      })
    }
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiters.shift()
      // A waiter takes the slot over; it is never free in between.
      if (next === undefined) this.free += 1
      else next()
    }
  }

  /** Slots held now. */
  held(): number {
    return this.capacity - this.free
  }
}
