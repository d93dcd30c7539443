/**
 * Seeded fault decisions. The n-th faultable request (counted from start, reset or
 * the last change of faults) gets the same faults on every run with the same seed.
 */
import { unitHash } from './prng.ts'
import type { ResolvedFaults } from './simulator-options.ts'

/** Salts of the independent fault streams. */
const STREAM = {
  reset: 11,
  serverError: 12,
  serverErrorCode: 13,
  burst: 14,
  truncate: 15,
  slow: 16,
  shift: 17,
  latency: 18,
} as const
const SERVER_ERROR_CODES = [500, 502, 503] as const

/** What to do to one request. Checked in this order: reset, server error, 429 burst, slow, truncated body. */
export interface FaultDecision {
  reset: boolean
  serverError: 500 | 502 | 503 | undefined
  burst429: boolean
  slowMs: number
  truncate: boolean
}

export const NO_FAULT: FaultDecision = Object.freeze({
  reset: false,
  serverError: undefined,
  burst429: false,
  slowMs: 0,
  truncate: false,
})

export class FaultInjector {
  private sequence = 0
  private shiftSequence = 0
  private latencySequence = 0
  private burstRemaining = 0

  constructor(
    private readonly seed: number,
    private faults: ResolvedFaults,
    private readonly latencyMs: number,
    private readonly latencyJitterMs: number,
  ) {}

  get current(): ResolvedFaults {
    return this.faults
  }

  /** Replaces the faults and restarts the sequences, so what follows is deterministic again. */
  replace(faults: ResolvedFaults): void {
    this.faults = faults
    this.sequence = 0
    this.shiftSequence = 0
    this.burstRemaining = 0
  }

  /** Restarts every sequence (used by reset). */
  restart(faults: ResolvedFaults): void {
    this.replace(faults)
    this.latencySequence = 0
  }

  /** Added latency of the next API request: latencyMs plus seeded jitter in [0, latencyJitterMs]. */
  nextLatencyMs(): number {
    const n = this.latencySequence++
    if (this.latencyJitterMs === 0) return this.latencyMs
    return this.latencyMs + Math.floor(unitHash(this.seed, STREAM.latency, n) * (this.latencyJitterMs + 1))
  }

  /** Faults of the next faultable request. */
  next(): FaultDecision {
    const n = this.sequence++
    const f = this.faults
    const roll = (stream: number, rate: number): boolean => rate > 0 && unitHash(this.seed, stream, n) < rate
    if (roll(STREAM.reset, f.resetRate)) return { ...NO_FAULT, reset: true }
    if (roll(STREAM.serverError, f.failureRate)) {
      const code = SERVER_ERROR_CODES[Math.floor(unitHash(this.seed, STREAM.serverErrorCode, n) * 3)] ?? 500
      return { ...NO_FAULT, serverError: code }
    }
    if (this.burstRemaining > 0) {
      this.burstRemaining--
      return { ...NO_FAULT, burst429: true }
    }
    if (roll(STREAM.burst, f.burst429Rate) && f.burst429Length > 0) {
      this.burstRemaining = f.burst429Length - 1
      return { ...NO_FAULT, burst429: true }
    }
    return {
      reset: false,
      serverError: undefined,
      burst429: false,
      slowMs: roll(STREAM.slow, f.slowRate) ? f.slowMs : 0,
      truncate: roll(STREAM.truncate, f.truncateRate),
    }
  }

  /** Whether to insert a deal into the window after a page that was not the last. */
  nextShift(): boolean {
    const n = this.shiftSequence++
    return this.faults.shiftPagesRate > 0 && unitHash(this.seed, STREAM.shift, n) < this.faults.shiftPagesRate
  }
}
