import { describe, expect, it } from 'vitest'
import { parseAccountId } from '../../pipelines/core/account-id.ts'
import { EtlError } from '../../pipelines/core/errors.ts'
import {
  dayRangeOption,
  parseLookbackDaysOption,
  parseOnlyOption,
  parseSiteOption,
} from '../../pipelines/cli/options.ts'

const NOW = new Date('2026-11-28T20:30:00Z')

function usageErrorOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(EtlError)
    expect((error as EtlError).exitCode).toBe(2)
    return (error as EtlError).message
  }
  throw new Error('expected a usage error')
}

describe('account ids', () => {
  it('are positive integers that fit an integer column, trimmed', () => {
    expect(['1', ' 12345 ', '2147483647'].map(parseAccountId)).toEqual([1, 12345, 2147483647])
    expect(['0', '-4', '2147483648', '12,13', '1e3', 'main', ''].map(parseAccountId)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ])
  })
})

describe('--site', () => {
  it('is a Calltouch site id', () => {
    expect(parseSiteOption('12345')).toBe(12345)
    expect(usageErrorOf(() => parseSiteOption('main'))).toBe(
      '--site must be a Calltouch site id (a positive integer), got "main"',
    )
    expect(usageErrorOf(() => parseSiteOption('0'))).toBe(
      '--site must be a Calltouch site id (a positive integer), got "0"',
    )
  })
})

describe('--lookback-days', () => {
  it('is a whole number of days, 0 or more', () => {
    expect([parseLookbackDaysOption('0'), parseLookbackDaysOption('30')]).toEqual([0, 30])
    expect(usageErrorOf(() => parseLookbackDaysOption('many'))).toBe(
      '--lookback-days must be a whole number of days (0 or more), got "many"',
    )
    expect(usageErrorOf(() => parseLookbackDaysOption('-1'))).toBe(
      '--lookback-days must be a whole number of days (0 or more), got "-1"',
    )
  })
})

describe('--only', () => {
  it('is a comma-separated list of parts, trimmed, given back in the order deals, calls, requests, spend', () => {
    expect(parseOnlyOption('deals')).toEqual(['deals'])
    expect(parseOnlyOption('spend,deals')).toEqual(['deals', 'spend'])
    expect(parseOnlyOption(' requests , calls ')).toEqual(['calls', 'requests'])
    expect(parseOnlyOption('spend,requests,calls,deals')).toEqual(['deals', 'calls', 'requests', 'spend'])
  })

  it('refuses an unknown part, a wrong case or an empty name, naming the choices', () => {
    const refused = (text: string) =>
      `--only must list one or more of deals, calls, requests, spend (comma-separated), got ${JSON.stringify(text)}`
    for (const text of ['leads', 'deals,leads', 'Deals', '', 'deals,', 'deals;calls'])
      expect(usageErrorOf(() => parseOnlyOption(text))).toBe(refused(text))
  })
})

describe('--from and --to', () => {
  it('are optional bounds for a report, null when absent', () => {
    expect(dayRangeOption({}, { required: false })).toEqual({ from: null, to: null })
    expect(dayRangeOption({ from: '2026-11-01' }, { required: false })).toEqual({ from: '2026-11-01', to: null })
    expect(dayRangeOption({ from: '2026-11-01', to: '2026-11-01' }, { required: false })).toEqual({
      from: '2026-11-01',
      to: '2026-11-01',
    })
  })

  it('name every problem of both at once, after the command', () => {
    expect(
      usageErrorOf(() =>
        dayRangeOption({ from: '2026-02-30', to: 'yesterday' }, { required: true, command: 'backfill' }),
      ),
    ).toBe('backfill: --from 2026-02-30 is not a real date; --to must be a date as YYYY-MM-DD, got "yesterday"')
    expect(usageErrorOf(() => dayRangeOption({ to: '2026-11-01' }, { required: true, command: 'backfill' }))).toBe(
      'backfill: --from YYYY-MM-DD is required',
    )
    expect(usageErrorOf(() => dayRangeOption({ from: '2026-11-02', to: '2026-11-01' }, { required: false }))).toBe(
      '--from 2026-11-02 is after --to 2026-11-01: give the earlier day first',
    )
  })

  it('refuse a day after today in the zone when asked to', () => {
    const notAfter = { zone: 'Europe/Moscow', now: NOW }
    expect(
      usageErrorOf(() =>
        dayRangeOption({ from: '2026-11-28', to: '2026-11-29' }, { required: true, notAfter, command: 'backfill' }),
      ),
    ).toBe('backfill: --to 2026-11-29 is in the future (today is 2026-11-28 in Europe/Moscow)')
    expect(
      dayRangeOption(
        { from: '2026-11-28', to: '2026-11-29' },
        { required: true, notAfter: { zone: 'Asia/Yekaterinburg', now: NOW } },
      ),
    ).toEqual({ from: '2026-11-28', to: '2026-11-29' })
  })
})
