import Bottleneck from 'bottleneck'
import { EtlError } from '../core/errors.ts'
import { sendKeyOf, watchRequestSends } from './request-sends.ts'

/**
 * The vendor counts requests as they ARRIVE, in any one second. A request is
 * counted here from the moment its headers go out on the socket (undici's
 * diagnostics channel), not from when it was scheduled: a process whose event
 * loop stalls (PGlite runs SQL synchronously in WASM) would otherwise send a
 * backlog of "spaced" requests in one burst. The window is a little longer than
 * a second to absorb the jitter between leaving here and being counted there:
 * with 1,030 ms the simulator, which counts an arrival when its busy event loop
 * reaches it, saw 6 in one second in 2 of 3 runs of bench/request-efficiency;
 * with 1,060 ms, 5 in 4 of 4, at 4.68 requests a second instead of 4.82.
 */
export const RATE_WINDOW_MS = 1060
/** How often a full window is re-checked while a request's headers are still on their way. */
const PENDING_POLL_MS = 5

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
 * The gate every request of one API budget passes (for Calltouch, every site,
 * window and stream of the process: the vendor's limit is per IP).
 */
export interface RequestLimiter {
  /** Runs `request`, which fetches `url` once, when the rate allows; counts it. */
  schedule<T>(priority: RequestPriority, url: string, request: () => Promise<T>): Promise<T>
  readonly counters: Readonly<RequestCounters>
  countRetry(): void
  /** Requests waiting for their turn. */
  waiting(): number
  stop(): Promise<void>
}

/** A budget counted in any rolling second: Calltouch's 5 a second per IP. */
export interface PerSecondBudget {
  /** Requests started in any one second (Calltouch: at most 5, its vendor limit). */
  readonly requestsPerSecond: number
  /** The vendor's ceiling: a setting above it is lowered to it. */
  readonly maxRequestsPerSecond?: number
  readonly maxInFlight?: number
  readonly requests?: never
  readonly perMs?: never
}

/**
 * A budget counted in a longer rolling window: Yandex Direct's Reports allow 20 requests in any
 * 10 seconds (shared/yandex-direct/API.md §7), which may be spent in a burst.
 */
export interface PerWindowBudget {
  /** Requests started in any `perMs`. */
  readonly requests: number
  readonly perMs: number
  readonly maxInFlight?: number
  readonly requestsPerSecond?: never
  readonly maxRequestsPerSecond?: never
}

/** `{ requestsPerSecond: 5 }` or `{ requests: 20, perMs: 10_000 }`. */
export type RequestLimiterConfig = PerSecondBudget | PerWindowBudget

/** What a budget's send window holds: at most `capacity` requests sent (or about to be) within any `windowMs`. */
export interface SendPace {
  /** Requests sent within `windowMs` at most. */
  readonly capacity: number
  readonly windowMs: number
}

/** A request's place in a send window, held from before it is sent until it ends. */
export interface SendTicket {
  /** The request ended; one whose headers never went out (or went unreported) counts from now: the safe side. */
  release(): void
}

/**
 * Where a budget counts its sends: in this process (the default), or shared with every process
 * that sends from the same egress address (shared-send-windows.ts).
 */
export interface SendWindow {
  /** Waits until one more request to `url` may be sent within the pace; its place counts until released, then for `windowMs` after it was sent. */
  acquire(url: string): Promise<SendTicket>
  close(): void
}

/** Gives a budget its send window instead of one of this process's own. */
export interface SendWindowSource {
  /** The window of `budget` (a budget's name, see {@link createRequestLimiters}). */
  windowFor(budget: string, pace: SendPace): SendWindow
}

/**
 * A limiter that lets at most `requestsPerSecond` requests reach the API in
 * any rolling second, or `requests` in any rolling `perMs`: bottleneck orders
 * waiting requests by priority (and, per second, spaces their starts with
 * `minTime`), and a send-time window holds a start back while the budget's
 * requests were sent, or are about to be, within the window.
 *
 * @example
 * const limiter = createRequestLimiter({ requestsPerSecond: 5 })
 * const body = await limiter.schedule(REQUEST_PRIORITIES.firstPage, url, () => fetch(url).then((r) => r.text()))
 * const direct = createRequestLimiter({ requests: 20, perMs: 10_000, maxInFlight: 5 })
 */
export function createRequestLimiter(
  config: RequestLimiterConfig,
  windowOf: (pace: SendPace) => SendWindow = createLocalSendWindow,
): RequestLimiter {
  const pace = config.perMs === undefined ? perSecondPace(config) : perWindowPace(config)
  const bottleneck = new Bottleneck({
    minTime: pace.minSpacingMs,
    maxConcurrent: config.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
  })
  const window = windowOf({ capacity: pace.capacity, windowMs: pace.windowMs })
  const counters: RequestCounters = { requests: 0, retries: 0 }
  return {
    counters,
    schedule(priority, url, request) {
      return bottleneck.schedule({ priority }, async () => {
        const ticket = await window.acquire(url)
        counters.requests += 1
        try {
          return await request()
        } finally {
          ticket.release()
        }
      })
    },
    countRetry() {
      counters.retries += 1
    },
    waiting: () => bottleneck.queued(),
    async stop() {
      window.close()
      await bottleneck.stop({ dropWaitingJobs: true })
    },
  }
}

/**
 * `limiter` as seen by one part of a run (the deals, the leads): every request still passes the
 * shared budget, but is counted in this view's counters too, so each part reports its own
 * requests. Stopping the view does nothing: whoever made the limiter stops it.
 *
 * @example
 * const deals = countedShareOf(shared)
 * await deals.schedule(REQUEST_PRIORITIES.firstPage, url, send) // shared.counters and deals.counters both count it
 */
export function countedShareOf(limiter: RequestLimiter): RequestLimiter {
  const counters: RequestCounters = { requests: 0, retries: 0 }
  return {
    counters,
    schedule(priority, url, request) {
      return limiter.schedule(priority, url, () => {
        counters.requests += 1
        return request()
      })
    },
    countRetry() {
      counters.retries += 1
      limiter.countRetry()
    },
    waiting: () => limiter.waiting(),
    stop: () => Promise.resolve(),
  }
}

/** One limiter per request budget of the process. */
export interface RequestLimiters {
  /**
   * The limiter of `budget`: the name a source gives its vendor's limit, or an
   * API URL, whose host names it. Created on first use, then shared.
   */
  limiterFor(budget: string): RequestLimiter
  stop(): Promise<void>
}

/**
 * The send-time limiters of a process, keyed by request budget. A budget is
 * named by the source, not taken from the URL alone, because a vendor's limit
 * need not follow its hosts: Calltouch counts 5 a second per IP whether a
 * request goes to api.calltouch.ru or a legacy api-node{N}.calltouch.ru host,
 * and its deals, calls and requests streams share that one limit
 * (shared/calltouch/API.md, Limits). A source without such a name falls back to
 * the URL's host, the usual unit of a vendor's limit; Yandex Direct and VK Ads
 * get budgets of their own. A budget nobody configured is refused rather than
 * run unthrottled. With `sharedWindows` (an egress's, http/egress.ts) every budget counts its
 * sends there, together with every other process sending from the same address.
 *
 * @example
 * const limiters = createRequestLimiters({ calltouch: { requestsPerSecond: 5, maxRequestsPerSecond: 5 } })
 * const limiter = limiters.limiterFor('calltouch')
 * const shared = createRequestLimiters(budgets, egress.sharedWindows) // calltouch@127.0.0.2 in Redis
 */
export function createRequestLimiters(
  budgets: Readonly<Record<string, RequestLimiterConfig>>,
  sharedWindows?: SendWindowSource,
): RequestLimiters {
  const limiters = new Map<string, RequestLimiter>()
  return {
    limiterFor(budget) {
      const key = budgetKey(budget)
      let limiter = limiters.get(key)
      if (limiter === undefined) {
        const config = Object.hasOwn(budgets, key) ? budgets[key] : undefined
        if (config === undefined) {
          throw new EtlError(
            'CONFIG',
            `no request budget named ${key}: give its vendor's rate limit to createRequestLimiters (configured: ${Object.keys(budgets).join(', ') || 'none'})`,
          )
        }
        limiter = createRequestLimiter(
          config,
          sharedWindows === undefined ? createLocalSendWindow : (pace) => sharedWindows.windowFor(key, pace),
        )
        limiters.set(key, limiter)
      }
      return limiter
    },
    async stop() {
      await Promise.all([...limiters.values()].map((limiter) => limiter.stop()))
    },
  }
}

/** How a budget spaces starts and counts sends. */
interface Pace extends SendPace {
  /** Least time between two starts. */
  readonly minSpacingMs: number
}

function perSecondPace(config: PerSecondBudget): Pace {
  const perSecond = Math.min(config.requestsPerSecond, config.maxRequestsPerSecond ?? Infinity)
  if (!(perSecond > 0)) throw new RangeError(`requestsPerSecond must be above 0, got ${config.requestsPerSecond}`)
  const capacity = Math.max(1, Math.floor(perSecond))
  return {
    capacity,
    windowMs: Math.ceil((RATE_WINDOW_MS * capacity) / perSecond),
    minSpacingMs: Math.ceil(1000 / perSecond),
  }
}

/**
 * The window is lengthened by the same allowance for the jitter between sending and being counted
 * as {@link RATE_WINDOW_MS} adds to a second; starts are not spaced, as such a budget allows a burst.
 */
function perWindowPace(config: PerWindowBudget): Pace {
  if (!(Number.isInteger(config.requests) && config.requests >= 1))
    throw new RangeError(`requests must be a whole number above 0, got ${config.requests}`)
  if (!(config.perMs > 0)) throw new RangeError(`perMs must be above 0, got ${config.perMs}`)
  return { capacity: config.requests, windowMs: Math.ceil(config.perMs) + (RATE_WINDOW_MS - 1000), minSpacingMs: 0 }
}

/** A URL's budget is its host (port included); anything else is a budget's name. */
function budgetKey(budget: string): string {
  if (!budget.includes('://')) return budget
  return new URL(budget).host
}

interface LocalSlot {
  readonly key: string
  /** performance.now() when the headers went out; undefined while on their way. */
  sentAt: number | undefined
}

/** Request sends of the last `windowMs` in this process, as undici reports them. */
function createLocalSendWindow({ capacity, windowMs }: SendPace): SendWindow {
  const slots: LocalSlot[] = []
  const stopWatching = watchRequestSends((key) => {
    const slot = slots.find((candidate) => candidate.sentAt === undefined && candidate.key === key)
    if (slot) slot.sentAt = performance.now()
  })
  const release = (slot: LocalSlot): void => {
    // A request that failed before sending (or whose send went unreported) counts from now: the safe side.
    slot.sentAt ??= performance.now()
    slots.sort((a, b) => (a.sentAt ?? Infinity) - (b.sentAt ?? Infinity))
  }
  return {
    async acquire(url) {
      const key = sendKeyOf(url)
      for (;;) {
        const now = performance.now()
        while (slots.length > 0 && slots[0]?.sentAt !== undefined && slots[0].sentAt <= now - windowMs) slots.shift()
        const live = slots.filter((slot) => slot.sentAt === undefined || slot.sentAt > now - windowMs)
        if (live.length < capacity) {
          const slot: LocalSlot = { key, sentAt: undefined }
          slots.push(slot)
          return { release: () => release(slot) }
        }
        const sent = live.filter((slot) => slot.sentAt !== undefined).map((slot) => slot.sentAt as number)
        const untilFree = sent.length === live.length ? Math.min(...sent) + windowMs - now : PENDING_POLL_MS
        await sleep(Math.max(1, Math.ceil(untilFree)))
      }
    },
    close: stopWatching,
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
