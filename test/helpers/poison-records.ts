/**
 * Record contents PostgreSQL refuses or once refused, for the tests of setting a bad record
 * aside (issue 14): valid data too long for a b-tree key, a key too long to index, a number jsonb
 * cannot hold, and an escape PostgreSQL's JSON parser refuses.
 */

/**
 * `chars` characters that no compression shortens (a b-tree key is compressed before it is
 * refused as too long, so repeated text would fit): the same text for the same seed. Of 3,000
 * characters, 2,160 are Cyrillic (two bytes in UTF-8) and 840 ASCII: 5,160 bytes, as the tag
 * that failed a window in issue 14.
 */
export function incompressibleText(chars: number, seed: number): string {
  let state = seed >>> 0 || 1
  const next = (): number => {
    // xorshift32: deterministic, and random enough that no run repeats.
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state
  }
  let text = ''
  for (let index = 0; index < chars; index++) {
    const cyrillic = index % 25 < 18
    text += cyrillic ? String.fromCharCode(0x0410 + (next() % 64)) : String.fromCharCode(0x30 + (next() % 75))
  }
  return text
}

/** A 3,000-character tag of 5,160 bytes: valid data, which must land. */
export const LONG_TAG = incompressibleText(3_000, 14)
/** A 3,000-character custom field name: valid data, which must land. */
export const LONG_FIELD = incompressibleText(3_000, 15)
/** A 3,000-character orderNumber: a deal key no b-tree index can hold. */
export const LONG_ORDER_NUMBER = incompressibleText(3_000, 16)
/** A JSON number literal no numeric (and so no jsonb) can hold. */
export const HUGE_NUMBER = '1e400000'
/** A JSON string literal with a lone surrogate escape, which PostgreSQL's JSON parser refuses. */
export const LONE_SURROGATE = '"bad \\ud800 text"'
