/**
 * Seeded faults of the VK Ads GET API requests. The n-th such request (counted
 * from start, reset or the last change of faults) gets the same faults for the
 * same seed, as in simulator/fault-injector.ts.
 */
import { unitHash } from '../prng.ts'
import type { ResolvedVkAdsFaults } from './vk-ads-options.ts'

/** Salts of the independent fault streams (distinct from Calltouch's). */
const STREAM = { reset: 61, serverError: 62, serverErrorCode: 63, burst: 64, truncate: 65, slow: 66 } as const

/** What to do to one request. Checked in this order: reset, server error, 429 burst, slow, truncated body. */
export interface VkAdsFaultDecision {
  reset: boolean
  serverError: 500 | 503 | undefined
  burst429: boolean
  slowMs: number
  truncate: boolean
}

export const NO_VK_ADS_FAULT: Readonly<VkAdsFaultDecision> = Object.freeze({
  reset: false,
  serverError: undefined,
  burst429: false,
  slowMs: 0,
  truncate: false,
})

export class VkAdsFaultInjector {
  private sequence = 0
  private burstRemaining = 0

  constructor(
    private readonly seed: number,
    private faults: ResolvedVkAdsFaults,
  ) {}

  get current(): ResolvedVkAdsFaults {
    return this.faults
  }

  /** Replaces the faults and restarts the sequence, so what follows is deterministic again. */
  replace(faults: ResolvedVkAdsFaults): void {
    this.faults = faults
    this.sequence = 0
    this.burstRemaining = 0
  }

  next(): VkAdsFaultDecision {
    const n = this.sequence++
    const f = this.faults
    const roll = (stream: number, rate: number): boolean => rate > 0 && unitHash(this.seed, stream, n) < rate
    if (roll(STREAM.reset, f.resetRate)) return { ...NO_VK_ADS_FAULT, reset: true }
    if (roll(STREAM.serverError, f.failureRate)) {
      const serverError = unitHash(this.seed, STREAM.serverErrorCode, n) < 0.5 ? 500 : 503
      return { ...NO_VK_ADS_FAULT, serverError }
    }
    if (this.burstRemaining > 0) {
      this.burstRemaining--
      return { ...NO_VK_ADS_FAULT, burst429: true }
    }
    if (roll(STREAM.burst, f.burst429Rate)) {
      this.burstRemaining = f.burst429Length - 1
      return { ...NO_VK_ADS_FAULT, burst429: true }
    }
    return {
      reset: false,
      serverError: undefined,
      burst429: false,
      slowMs: roll(STREAM.slow, f.slowRate) ? f.slowMs : 0,
      truncate: roll(STREAM.truncate, f.truncateRate),
    }
  }
}
