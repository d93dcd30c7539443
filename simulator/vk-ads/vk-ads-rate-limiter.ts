/**
 * VK Ads rate limits (shared/vk-ads/API.md §5): per user, on calendar windows of
 * a second, an hour and a (Moscow) day; every answer to a user carries the
 * limits and what remains; a request over any of them gets 429 and is not
 * counted.
 *
 * Windows follow a clock that runs: the simulator clock plus the real time
 * elapsed since it was last set. A burst within one real second shares a
 * second window, and moving the simulator clock to the next hour or day opens
 * new hour and day windows, as a test expects.
 */
import { MS_PER_DAY, toWallMs } from '../wall-clock.ts'
import type { SimulatorClock } from '../simulated-api.ts'
import { DEFAULT_VK_ADS_RATE_LIMITS, type VkAdsRateLimitConfig } from './vk-ads-options.ts'

export type RateWindow = 'second' | 'hour' | 'day'

/** What the X-RateLimit-* headers say after a request. */
export interface RateLimitState {
  limits: Record<RateWindow, number>
  remaining: Record<RateWindow, number>
}

export type RateLimitDecision =
  | { admitted: true; state: RateLimitState }
  | { admitted: false; state: RateLimitState; window: RateWindow; retryAfterSeconds: number }

interface Windows {
  second: number
  secondCount: number
  hour: number
  hourCount: number
  day: number
  dayCount: number
}

/** Simulator clock + real time since it was last set. */
export class RunningClock {
  private simMs = NaN
  private realAnchorMs = 0

  constructor(private readonly clock: SimulatorClock) {}

  nowMs(): number {
    const simMs = this.clock.nowMs()
    if (simMs !== this.simMs) {
      this.simMs = simMs
      this.realAnchorMs = Date.now()
    }
    return simMs + (Date.now() - this.realAnchorMs)
  }

  restart(): void {
    this.simMs = NaN
  }
}

export class VkAdsRateLimiter {
  private readonly perUser = new Map<number, Windows>()
  private readonly limits: Record<RateWindow, number>
  private readonly enforced: boolean

  constructor(
    config: Required<VkAdsRateLimitConfig> | false,
    private readonly clock: RunningClock,
    private readonly timeZone: string,
  ) {
    const c = config === false ? DEFAULT_VK_ADS_RATE_LIMITS : config
    this.enforced = config !== false
    this.limits = { second: c.perSecond, hour: c.perHour, day: c.perDay }
  }

  private windowsOf(userId: number, nowMs: number): Windows {
    const second = Math.floor(nowMs / 1000)
    const hour = Math.floor(nowMs / 3_600_000)
    const day = Math.floor(toWallMs(nowMs, this.timeZone) / MS_PER_DAY)
    let w = this.perUser.get(userId)
    if (w === undefined) {
      w = { second, secondCount: 0, hour, hourCount: 0, day, dayCount: 0 }
      this.perUser.set(userId, w)
    }
    if (w.second !== second) [w.second, w.secondCount] = [second, 0]
    if (w.hour !== hour) [w.hour, w.hourCount] = [hour, 0]
    if (w.day !== day) [w.day, w.dayCount] = [day, 0]
    return w
  }

  private stateOf(w: Windows): RateLimitState {
    return {
      limits: { ...this.limits },
      remaining: {
        second: Math.max(0, this.limits.second - w.secondCount),
        hour: Math.max(0, this.limits.hour - w.hourCount),
        day: Math.max(0, this.limits.day - w.dayCount),
      },
    }
  }

  /** Counts a request of the user, unless a window is exhausted (then 429, not counted). */
  admit(userId: number): RateLimitDecision {
    const nowMs = this.clock.nowMs()
    const w = this.windowsOf(userId, nowMs)
    if (this.enforced) {
      const full: RateWindow | undefined =
        w.dayCount >= this.limits.day
          ? 'day'
          : w.hourCount >= this.limits.hour
            ? 'hour'
            : w.secondCount >= this.limits.second
              ? 'second'
              : undefined
      if (full !== undefined) {
        const wallMs = toWallMs(nowMs, this.timeZone)
        const endMs =
          full === 'second'
            ? (w.second + 1) * 1000 - nowMs
            : full === 'hour'
              ? (w.hour + 1) * 3_600_000 - nowMs
              : (w.day + 1) * MS_PER_DAY - wallMs
        return { admitted: false, state: this.stateOf(w), window: full, retryAfterSeconds: Math.ceil(endMs / 1000) }
      }
    }
    w.secondCount++
    w.hourCount++
    w.dayCount++
    return { admitted: true, state: this.stateOf(w) }
  }

  /** The state without counting (answers that are not the user's request, e.g. injected faults). */
  peek(userId: number): RateLimitState {
    return this.stateOf(this.windowsOf(userId, this.clock.nowMs()))
  }

  clear(): void {
    this.perUser.clear()
  }
}

/** The six X-RateLimit-* headers of §5. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'x-ratelimit-rps-limit': String(state.limits.second),
    'x-ratelimit-hourly-limit': String(state.limits.hour),
    'x-ratelimit-daily-limit': String(state.limits.day),
    'x-ratelimit-rps-remaining': String(state.remaining.second),
    'x-ratelimit-hourly-remaining': String(state.remaining.hour),
    'x-ratelimit-daily-remaining': String(state.remaining.day),
  }
}

/** `GET /api/v2/throttling.json`: the one per-user counter, shown for each simulated resource. */
export function throttlingBody(state: RateLimitState): Record<string, unknown> {
  const windows = (values: Record<RateWindow, number>): Record<string, number> => ({
    '1': values.second,
    '3600': values.hour,
    '86400': values.day,
  })
  const read = { READ: { remaining: windows(state.remaining), limits: windows(state.limits) } }
  const resource = { v2: read, all: read }
  return { AD_PLANS: resource, STATISTICS: resource, USER: resource, THROTTLING: resource }
}
