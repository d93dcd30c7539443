/**
 * VK Ads writes money (`spent`, `cpm`, …) as decimal strings, "23328.92" or "0", and perhaps as
 * JSON numbers (shared/vk-ads/API.md §4.1). The warehouse keeps integer micros; the digits go
 * straight from text to a bigint, never through a float, so every kopeck arrives as sent.
 */

/** Decimal places of a micro-unit. */
const MICROS_DIGITS = 6
const DECIMAL = /^(\d+)(?:\.(\d*))?$|^\.(\d+)$/

/**
 * Micros of a non-negative decimal amount, exactly. Digits past the sixth decimal (never seen:
 * VK writes kopecks) are rounded half up to the nearest micro rather than refused, so one odd
 * value cannot keep its days failing for ever. A JSON number is read from its shortest decimal
 * form, which is the text VK sent for any amount of at most 15 significant digits.
 *
 * @example
 * parseMoneyMicros('23328.92') // 23328920000n
 * parseMoneyMicros(86.4) // 86400000n
 * @returns undefined for anything that is not a plain non-negative decimal (a sign, an
 *   exponent, a thousands separator, NaN).
 */
export function parseMoneyMicros(value: unknown): bigint | undefined {
  let text: string
  if (typeof value === 'string') text = value.trim()
  else if (typeof value === 'number' && Number.isFinite(value) && value >= 0) text = plainDecimal(String(value))
  else return undefined
  const match = DECIMAL.exec(text)
  if (match === null) return undefined
  const whole = match[1] ?? '0'
  const fraction = match[2] ?? match[3] ?? ''
  const kept = fraction.slice(0, MICROS_DIGITS).padEnd(MICROS_DIGITS, '0')
  const micros = BigInt(whole) * 10n ** BigInt(MICROS_DIGITS) + BigInt(kept)
  const firstDropped = fraction.charCodeAt(MICROS_DIGITS) - 48
  return firstDropped >= 5 ? micros + 1n : micros
}

/** JavaScript's shortest form of a number without its exponent: "1e-7" → "0.0000001", "1e+21" → "1000…0". */
function plainDecimal(shortest: string): string {
  const match = /^(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(shortest)
  if (match === null) return shortest
  const digits = `${match[1] ?? ''}${match[2] ?? ''}`
  const point = (match[1] ?? '').length + Number(match[3])
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return digits.padEnd(point, '0')
  return `${digits.slice(0, point)}.${digits.slice(point)}`
}

/**
 * A count (`shows`, `clicks`) as a safe integer: a JSON number, or the quoted form the docs' type
 * table uses ("123").
 */
export function parseCount(value: unknown): number | undefined {
  const count = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value
  return typeof count === 'number' && Number.isSafeInteger(count) && count >= 0 ? count : undefined
}
