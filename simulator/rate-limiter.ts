/**
 * The vendor's limit, per client IP: "no more than 5 requests a second (+5 in the
 * queue); of 11 requests arriving in one second, 5 run at once, 5 are queued and
 * 1 fails" (deals export page, last paragraph). Another vendor page says the
 * failure is HTTP 429.
 *
 * Model: a request may start at time t only if fewer than `perSecond` requests
 * started in (t − 1000 ms, t]. An arriving request that cannot start now is
 * given the earliest start that keeps this true, after every request already
 * waiting (FIFO), provided fewer than `queue` requests are waiting; otherwise it
 * is rejected.
 */
export type RateDecision = { kind: 'now' } | { kind: 'queued'; delayMs: number } | { kind: 'rejected' }

export class RateLimiter {
  /** Start times (past and scheduled) per IP, ascending. */
  private readonly starts = new Map<string, number[]>()

  constructor(
    private readonly perSecond: number,
    private readonly queue: number,
  ) {}

  /** Decides an arriving request's fate and books its start. */
  admit(ip: string, nowMs: number): RateDecision {
    let starts = this.starts.get(ip)
    if (starts === undefined) {
      starts = []
      this.starts.set(ip, starts)
    }
    // Starts older than a second no longer constrain anything.
    let drop = 0
    while (drop < starts.length && (starts[drop] as number) <= nowMs - 1000) drop++
    if (drop > 0) starts.splice(0, drop)
    const startAt =
      starts.length < this.perSecond
        ? nowMs
        : Math.max(nowMs, (starts[starts.length - this.perSecond] as number) + 1000)
    if (startAt === nowMs) {
      starts.push(nowMs)
      return { kind: 'now' }
    }
    let waiting = 0
    for (const start of starts) if (start > nowMs) waiting++
    if (waiting >= this.queue) return { kind: 'rejected' }
    starts.push(startAt)
    return { kind: 'queued', delayMs: startAt - nowMs }
  }

  clear(): void {
    this.starts.clear()
  }
}

/**
 * Counts arrivals per IP in a sliding one-second window and remembers the
 * largest count: for every arrival at t, the arrivals in (t − 1000 ms, t].
 * The maximum over those windows is the maximum over all one-second windows.
 */
export class SlidingWindowCounter {
  private readonly arrivals = new Map<string, number[]>()
  private maxValue = 0
  private readonly maxByIp = new Map<string, number>()

  record(ip: string, nowMs: number): void {
    let list = this.arrivals.get(ip)
    if (list === undefined) {
      list = []
      this.arrivals.set(ip, list)
    }
    let drop = 0
    while (drop < list.length && (list[drop] as number) <= nowMs - 1000) drop++
    if (drop > 0) list.splice(0, drop)
    list.push(nowMs)
    if (list.length > this.maxValue) this.maxValue = list.length
    if (list.length > (this.maxByIp.get(ip) ?? 0)) this.maxByIp.set(ip, list.length)
  }

  get max(): number {
    return this.maxValue
  }

  /** The largest count of one IP in any sliding second, or 0 when it sent nothing. */
  maxOf(ip: string): number {
    return this.maxByIp.get(ip) ?? 0
  }

  clear(): void {
    this.arrivals.clear()
    this.maxByIp.clear()
    this.maxValue = 0
  }
}
