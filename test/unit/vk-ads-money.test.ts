import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseCount, parseMoneyMicros } from '../../pipelines/sources/vk-ads/vk-ads-money.ts'

/** Kopecks as VK might write them: "12.30", "12.3", "12" (its examples trim zeros: "86.4", "0"). */
function written(kopecks: bigint, style: 'fixed2' | 'trim'): string {
  const whole = (kopecks / 100n).toString()
  const fraction = (kopecks % 100n).toString().padStart(2, '0')
  if (style === 'fixed2') return `${whole}.${fraction}`
  const trimmed = fraction.replace(/0+$/, '')
  return trimmed === '' ? whole : `${whole}.${trimmed}`
}

describe('parseMoneyMicros', () => {
  it('reads every decimal string of at most two places as exactly ten thousand micros a kopeck', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 16n }),
        fc.constantFrom('fixed2' as const, 'trim' as const),
        (kopecks, style) => {
          expect(parseMoneyMicros(written(kopecks, style))).toBe(kopecks * 10_000n)
        },
      ),
    )
  })

  it('reads a JSON number of up to fifteen significant digits with at most two places exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }), (kopecks) => {
        const json = JSON.parse(written(kopecks, 'trim')) as number
        expect(parseMoneyMicros(json)).toBe(kopecks * 10_000n)
      }),
    )
  })

  it('reads the documented example amounts', () => {
    expect(parseMoneyMicros('23328.92')).toBe(23_328_920_000n)
    expect(parseMoneyMicros('86.4')).toBe(86_400_000n)
    expect(parseMoneyMicros('0')).toBe(0n)
    expect(parseMoneyMicros('0.00')).toBe(0n)
    expect(parseMoneyMicros(86.4)).toBe(86_400_000n)
    expect(parseMoneyMicros(0.1)).toBe(100_000n)
  })

  it('rounds digits past the sixth place half up to the nearest micro', () => {
    expect(parseMoneyMicros('1.0000005')).toBe(1_000_001n)
    expect(parseMoneyMicros('1.0000004999')).toBe(1_000_000n)
    expect(parseMoneyMicros(1e-7)).toBe(0n)
    expect(parseMoneyMicros(5e-7)).toBe(1n)
  })

  it('reads numbers JavaScript writes with an exponent', () => {
    expect(parseMoneyMicros(1e21)).toBe(10n ** 27n)
  })

  it('refuses negative amounts, exponents in text, separators and non-numbers', () => {
    for (const value of [
      '-1.00',
      '1e3',
      '1 000.00',
      '1,5',
      '',
      'abc',
      '1.2.3',
      null,
      undefined,
      Number.NaN,
      -0.5,
      true,
    ])
      expect(parseMoneyMicros(value)).toBeUndefined()
  })
})

describe('parseCount', () => {
  it('reads whole numbers given as JSON numbers or quoted digits', () => {
    expect(parseCount(75881)).toBe(75881)
    expect(parseCount('270')).toBe(270)
    expect(parseCount(0)).toBe(0)
  })

  it('refuses fractions, negatives and text', () => {
    for (const value of [1.5, -1, '1.5', 'x', null, undefined, 2 ** 60]) expect(parseCount(value)).toBeUndefined()
  })
})
