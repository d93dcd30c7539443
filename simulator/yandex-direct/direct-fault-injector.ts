/**
 * Seeded faults of the Reports service: the n-th Reports request that passed
 * authorisation and the limits (counted from start, reset or the last change of
 * faults) gets the same faults on every run with the same seed.
 */
import { unitHash } from '../prng.ts'
import type { ResolvedDirectFaults } from './yandex-direct-options.ts'

/** Salts of the independent fault streams (distinct from simulator/fault-injector.ts). */
const STREAM = { reset: 41, serverError: 42, serverErrorCode: 43, htmlBadGateway: 44, slow: 45, truncate: 46 } as const

/** What to do to one request. Checked in this order: reset, server error, HTML 502, slow, truncated body. */
export interface DirectFaultDecision {
  readonly reset: boolean
  readonly serverError: 500 | 502 | undefined
  readonly htmlBadGateway: boolean
  readonly slowMs: number
  readonly truncate: boolean
}

export class DirectFaultInjector {
  private sequence = 0

  constructor(
    private readonly seed: number,
    private faults: ResolvedDirectFaults,
  ) {}

  get current(): ResolvedDirectFaults {
    return this.faults
  }

  /** Replaces faults and switches and restarts the sequence. */
  replace(faults: ResolvedDirectFaults): void {
    this.faults = faults
    this.sequence = 0
  }

  next(): DirectFaultDecision {
    const n = this.sequence++
    const f = this.faults
    const roll = (stream: number, rate: number): boolean => rate > 0 && unitHash(this.seed, stream, n) < rate
    const none = { reset: false, serverError: undefined, htmlBadGateway: false, slowMs: 0, truncate: false }
    if (roll(STREAM.reset, f.resetRate)) return { ...none, reset: true }
    if (roll(STREAM.serverError, f.serverErrorRate))
      return { ...none, serverError: unitHash(this.seed, STREAM.serverErrorCode, n) < 0.5 ? 500 : 502 }
    if (roll(STREAM.htmlBadGateway, f.htmlBadGatewayRate)) return { ...none, htmlBadGateway: true }
    return {
      ...none,
      slowMs: roll(STREAM.slow, f.slowRate) ? f.slowMs : 0,
      truncate: roll(STREAM.truncate, f.truncateRate),
    }
  }
}
