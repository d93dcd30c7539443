/**
 * Deterministic pseudo-random numbers. Every value the simulator invents is a
 * pure function of integers such as (seed, siteId, dayNumber, index), so the
 * same inputs give the same deals on every run and in every process.
 */

/** Mixes one 32-bit integer into a hash state (murmur3 finaliser on top of a multiply-xor step). */
function mix32(state: number, value: number): number {
  let h = Math.imul(state ^ (value | 0), 0x9e3779b1)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Hashes up to six integers into an unsigned 32-bit integer. Numbers of 2^32 and
 * above (e.g. epoch milliseconds) are split into two words. Fixed arity rather
 * than rest parameters: this runs tens of times per generated deal.
 *
 * @example hash32(seed, siteId, dayNumber, index)
 */
export function hash32(a: number, b = 0, c = 0, d = 0, e = 0, f = 0): number {
  let h = mixWide(0x811c9dc5, a)
  h = mixWide(h, b)
  h = mixWide(h, c)
  h = mixWide(h, d)
  h = mixWide(h, e)
  h = mixWide(h, f)
  return mix32(h, 6)
}

function mixWide(state: number, value: number): number {
  if (value >= 0 && value < 0x100000000) return mix32(state, value)
  const low = value % 0x100000000
  return mix32(mix32(state, low), Math.floor(value / 0x100000000))
}

/** A uniform number in [0, 1) from a hash of the given integers. */
export function unitHash(a: number, b = 0, c = 0, d = 0, e = 0, f = 0): number {
  return hash32(a, b, c, d, e, f) / 0x100000000
}

/**
 * A sequential generator of uniform numbers (mulberry32), seeded from a hash of
 * integers. A class rather than closures: one is made per generated deal, so
 * its construction must cost next to nothing.
 */
export class Random {
  private state: number

  constructor(a: number, b = 0, c = 0, d = 0, e = 0, f = 0) {
    this.state = hash32(a, b, c, d, e, f)
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** True with the given probability. */
  chance(probability: number): boolean {
    return this.next() < probability
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** One element of a {@link WeightedChoice}. */
  weighted<T>(choice: WeightedChoice<T>): T {
    const roll = this.next() * choice.total
    const { cumulative, values } = choice
    for (let i = 0; i < cumulative.length; i++) {
      if (roll < (cumulative[i] as number)) return values[i] as T
    }
    return values[values.length - 1] as T
  }
}

/** A fixed set of values with weights (need not sum to 1), prepared once for fast draws. */
export interface WeightedChoice<T> {
  readonly values: readonly T[]
  readonly cumulative: readonly number[]
  readonly total: number
}

/** Prepares a {@link WeightedChoice} from [value, weight] pairs. */
export function weightedChoice<T>(entries: readonly (readonly [T, number])[]): WeightedChoice<T> {
  let total = 0
  const cumulative: number[] = []
  for (const [, weight] of entries) {
    total += weight
    cumulative.push(total)
  }
  return { values: entries.map(([value]) => value), cumulative, total }
}

/** Creates a {@link Random} seeded from a hash of the given integers. */
export function createRandom(a: number, b = 0, c = 0, d = 0, e = 0, f = 0): Random {
  return new Random(a, b, c, d, e, f)
}

/** Stable 32-bit hash of a string (FNV-1a), to feed strings such as tokens or order numbers into hash32. */
export function hashString(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
