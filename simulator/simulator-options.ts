/**
 * Options of the Calltouch simulator, their defaults, and their validation.
 */
import { assertTimeZone, dayNumberOf, parseInstant } from './wall-clock.ts'
import type { VkAdsSimOptions } from './vk-ads/simulated-vk-ads.ts'
import type { YandexDirectSimOptions } from './yandex-direct/simulated-yandex-direct.ts'

/** One simulated Calltouch site (a "site" is Calltouch's word for a tracked project). */
export interface SimulatedSiteConfig {
  /** Calltouch site id, the `{siteId}` of every URL. */
  siteId: number
  /** The `clientApiId` (export) and `Access-Token` (writes) this site accepts. */
  token: string
  /**
   * Mean deals per day. Days follow a weekly rhythm around it (busier Tuesdays,
   * quiet Sundays) with noise, and a few days are empty. Default 30.
   */
  dealsPerDay?: number
  /** First day with deals, 'YYYY-MM-DD' site-local. Default {@link DEFAULT_HISTORY_START}. */
  historyStart?: string
  /**
   * Exact deal counts of some days ('YYYY-MM-DD' → deals), whatever `dealsPerDay` and
   * `historyStart` say: a launch, a sale, one very big day among small ones.
   */
  dealsOnDays?: Readonly<Record<string, number>>
  /** nodeId answered by `getnodeid`. Default 1 + siteId % 7. */
  nodeId?: number
  /**
   * Mean calls per day in the calls journal, those behind a deal included (a day never
   * has fewer calls than deals made from calls). Default {@link DEFAULT_CALLS_PER_DEAL} × dealsPerDay.
   */
  callsPerDay?: number
  /** Mean requests per day in the requests journal, as `callsPerDay`. Default {@link DEFAULT_REQUESTS_PER_DEAL} × dealsPerDay. */
  requestsPerDay?: number
}

/** Per-second rate limit per client IP, as the vendor page states it. */
export interface RateLimitConfig {
  /** Requests started at once in any one second. Default 5. */
  perSecond?: number
  /** Requests that may wait for a later second; the next one gets 429. Default 5. */
  queue?: number
  /** Send `Retry-After: 1` with 429 answers. Default false (the vendor does not say). */
  retryAfter?: boolean
}

/**
 * Faults to inject. Every decision is a pure function of (seed, fault kind, n),
 * n being the number of the API request since start, reset or the last change of
 * faults (counted in order of arrival, 0-based), so a sequential client sees the
 * same faults on every run. Faults apply to the GET endpoints (export and
 * getnodeid), never to writes or admin calls.
 */
export interface FaultConfig {
  /** Share (0..1) of requests answered 500, 502 or 503 (which one is also seeded). */
  failureRate?: number
  /** Bursts of 429: with probability `rate` a request starts a burst of `length` consecutive 429 answers. */
  burst429?: { rate: number; length?: number }
  /** Share of 200 answers whose body is cut off in the middle of the JSON. */
  truncateRate?: number
  /** Share of requests whose connection is destroyed without an answer. */
  resetRate?: number
  /** Share of requests answered only after `slowMs` (to trip a client's timeout). */
  slowRate?: number
  /** Delay of a slow answer. Default 30 000 ms. */
  slowMs?: number
  /**
   * Insert a deal into a paginated window after a page that is not the last was
   * served, so the next page shifts by one. `true` = after every such page; a
   * number = with that probability.
   */
  shiftPages?: boolean | number
}

/** Options of {@link startSimulator}. All are optional; defaults make a deterministic simulator. */
export interface SimulatorOptions {
  /** TCP port on 127.0.0.1; 0 picks a free port. Default 0. */
  port?: number
  /** Seed of all generated data and faults. Default 1. */
  seed?: number
  /** Sites served. Default one site 12345 with token 'test-token' and ~30 deals a day. */
  sites?: SimulatedSiteConfig[]
  /** The simulator clock (ISO 8601). It only moves through `/_sim/clock`. Default {@link DEFAULT_NOW}. */
  now?: string
  /** Zone of the sites' local dates. Default 'Europe/Moscow'. */
  timeZone?: string
  /** Rate limit per client IP; `false` turns it off. Default on (5/s + 5 queued, no Retry-After). */
  rateLimit?: RateLimitConfig | false
  /** Whether `dateTo` includes its own day. Default true. */
  dateToInclusive?: boolean
  /** Whether `dateFrom == dateTo` is accepted (the vendor page says it is not). Default false. */
  acceptEqualDates?: boolean
  /** `pageTotal` of an empty paginated result. Default 0. */
  emptyPageTotal?: 0 | 1
  /** Latency added to every API request. Default 0. */
  latencyMs?: number
  /** Extra latency, uniform in [0, latencyJitterMs], seeded per request. Default 0. */
  latencyJitterMs?: number
  /** Faults to inject. Default none. */
  faults?: FaultConfig
  /** The Yandex Direct cabinets served on the same port (simulator/yandex-direct/). */
  yandexDirect?: YandexDirectSimOptions
  /** The VK Ads cabinets served on the same port (simulator/vk-ads/). */
  vkAds?: VkAdsSimOptions
}

export const DEFAULT_SEED = 1
export const DEFAULT_NOW = '2026-11-29T12:00:00+03:00'
export const DEFAULT_TIME_ZONE = 'Europe/Moscow'
export const DEFAULT_HISTORY_START = '2025-01-01'
export const DEFAULT_DEALS_PER_DAY = 30
/** Default calls a day per deal a day: ~80% of deals come from calls, so ~4 of 5 calls have no deal. */
export const DEFAULT_CALLS_PER_DEAL = 3
/** Default requests a day per deal a day: ~20% of deals come from requests, so ~3 of 4 requests have no deal. */
export const DEFAULT_REQUESTS_PER_DEAL = 0.8
/** The most deals one day may have: order numbers hold a day's index in 19 bits (deal-generator.ts). */
export const MAX_DEALS_ON_A_DAY = 2 ** 19 - 1
export const DEFAULT_SITE: Readonly<SimulatedSiteConfig> = Object.freeze({
  siteId: 12345,
  token: 'test-token',
  dealsPerDay: DEFAULT_DEALS_PER_DAY,
})
export const DEFAULT_RATE_LIMIT: Readonly<Required<RateLimitConfig>> = Object.freeze({
  perSecond: 5,
  queue: 5,
  retryAfter: false,
})
export const DEFAULT_SLOW_MS = 30_000
export const DEFAULT_BURST_429_LENGTH = 5
/** The page size limit of the export (vendor page). */
export const MAX_PAGE_LIMIT = 1000

/** A site with every default filled in. */
export interface ResolvedSiteConfig {
  siteId: number
  token: string
  dealsPerDay: number
  historyStartDay: number
  /** Exact counts by day number, see {@link SimulatedSiteConfig.dealsOnDays}. */
  dealsOnDays: ReadonlyMap<number, number>
  nodeId: number
  callsPerDay: number
  requestsPerDay: number
}

/** Faults with every default filled in. */
export interface ResolvedFaults {
  failureRate: number
  burst429Rate: number
  burst429Length: number
  truncateRate: number
  resetRate: number
  slowRate: number
  slowMs: number
  shiftPagesRate: number
}

/** Options with every default filled in and validated. */
export interface ResolvedSimulatorOptions {
  port: number
  seed: number
  sites: ResolvedSiteConfig[]
  nowMs: number
  timeZone: string
  rateLimit: Required<RateLimitConfig> | false
  dateToInclusive: boolean
  acceptEqualDates: boolean
  emptyPageTotal: 0 | 1
  latencyMs: number
  latencyJitterMs: number
  faults: ResolvedFaults
}

function rate(name: string, value: number | undefined): number {
  if (value === undefined) return 0
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new RangeError(`faults.${name} must be between 0 and 1, got ${value}`)
  return value
}

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`)
  return value
}

/** Fills in the defaults of a fault configuration and validates it. */
export function resolveFaults(faults: FaultConfig | undefined): ResolvedFaults {
  const f = faults ?? {}
  const shift = f.shiftPages === true ? 1 : f.shiftPages === false || f.shiftPages === undefined ? 0 : f.shiftPages
  return {
    failureRate: rate('failureRate', f.failureRate),
    burst429Rate: rate('burst429.rate', f.burst429?.rate),
    burst429Length: nonNegativeInteger('faults.burst429.length', f.burst429?.length, DEFAULT_BURST_429_LENGTH),
    truncateRate: rate('truncateRate', f.truncateRate),
    resetRate: rate('resetRate', f.resetRate),
    slowRate: rate('slowRate', f.slowRate),
    slowMs: nonNegativeInteger('faults.slowMs', f.slowMs, DEFAULT_SLOW_MS),
    shiftPagesRate: rate('shiftPages', shift),
  }
}

/** Fills in every default and validates; throws a RangeError naming the bad option. */
export function resolveSimulatorOptions(options: SimulatorOptions = {}): ResolvedSimulatorOptions {
  const timeZone = options.timeZone ?? DEFAULT_TIME_ZONE
  assertTimeZone(timeZone)
  const seed = options.seed ?? DEFAULT_SEED
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
  const sites = (options.sites ?? [DEFAULT_SITE]).map((site): ResolvedSiteConfig => {
    if (!Number.isInteger(site.siteId) || site.siteId <= 0)
      throw new RangeError(`siteId must be a positive integer, got ${site.siteId}`)
    if (!site.token) throw new RangeError(`site ${site.siteId} needs a token`)
    const historyStart = site.historyStart ?? DEFAULT_HISTORY_START
    const historyStartDay = dayNumberOf(historyStart)
    if (historyStartDay === undefined)
      throw new RangeError(
        `historyStart of site ${site.siteId} must be 'YYYY-MM-DD', got ${JSON.stringify(historyStart)}`,
      )
    const dealsPerDay = site.dealsPerDay ?? DEFAULT_DEALS_PER_DAY
    if (!Number.isFinite(dealsPerDay) || dealsPerDay < 0 || dealsPerDay > 200_000) {
      throw new RangeError(`dealsPerDay of site ${site.siteId} must be between 0 and 200000, got ${dealsPerDay}`)
    }
    const leadsPerDay = (name: string, value: number | undefined, perDeal: number): number => {
      const perDay = value ?? perDeal * dealsPerDay
      if (!Number.isFinite(perDay) || perDay < 0 || perDay > 200_000)
        throw new RangeError(`${name} of site ${site.siteId} must be between 0 and 200000, got ${perDay}`)
      return perDay
    }
    const dealsOnDays = new Map<number, number>()
    for (const [day, deals] of Object.entries(site.dealsOnDays ?? {})) {
      const dayNumber = dayNumberOf(day)
      if (dayNumber === undefined)
        throw new RangeError(`dealsOnDays of site ${site.siteId}: ${JSON.stringify(day)} is not 'YYYY-MM-DD'`)
      if (!Number.isInteger(deals) || deals < 0 || deals > MAX_DEALS_ON_A_DAY)
        throw new RangeError(
          `dealsOnDays of site ${site.siteId}: ${day} must have 0 to ${MAX_DEALS_ON_A_DAY} deals, got ${deals}`,
        )
      dealsOnDays.set(dayNumber, deals)
    }
    return {
      siteId: site.siteId,
      token: site.token,
      dealsPerDay,
      historyStartDay,
      dealsOnDays,
      nodeId: site.nodeId ?? 1 + (site.siteId % 7),
      callsPerDay: leadsPerDay('callsPerDay', site.callsPerDay, DEFAULT_CALLS_PER_DEAL),
      requestsPerDay: leadsPerDay('requestsPerDay', site.requestsPerDay, DEFAULT_REQUESTS_PER_DEAL),
    }
  })
  const ids = new Set(sites.map((s) => s.siteId))
  if (ids.size !== sites.length) throw new RangeError('sites must have distinct siteIds')
  const rateLimit = options.rateLimit === false ? false : { ...DEFAULT_RATE_LIMIT, ...options.rateLimit }
  if (
    rateLimit &&
    (!Number.isInteger(rateLimit.perSecond) ||
      rateLimit.perSecond < 1 ||
      !Number.isInteger(rateLimit.queue) ||
      rateLimit.queue < 0)
  ) {
    throw new RangeError('rateLimit.perSecond must be a positive integer and rateLimit.queue a non-negative integer')
  }
  const emptyPageTotal = options.emptyPageTotal ?? 0
  if (emptyPageTotal !== 0 && emptyPageTotal !== 1)
    throw new RangeError(`emptyPageTotal must be 0 or 1, got ${String(emptyPageTotal)}`)
  return {
    port: nonNegativeInteger('port', options.port, 0),
    seed,
    sites,
    nowMs: parseInstant(options.now ?? DEFAULT_NOW, timeZone),
    timeZone,
    rateLimit,
    dateToInclusive: options.dateToInclusive ?? true,
    acceptEqualDates: options.acceptEqualDates ?? false,
    emptyPageTotal,
    latencyMs: nonNegativeInteger('latencyMs', options.latencyMs, 0),
    latencyJitterMs: nonNegativeInteger('latencyJitterMs', options.latencyJitterMs, 0),
    faults: resolveFaults(options.faults),
  }
}
