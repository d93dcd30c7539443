import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseMoneyMicros, parseReportTsv, ReportTsvError } from '../../pipelines/sources/yandex-direct/report-tsv.ts'

const COLUMNS = 'Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost'

describe('a Yandex Direct spend report in TSV', () => {
  it('reads the rows of the API.md example with its title and summary lines, money in exact micros', () => {
    const text = [
      '"spend 2024-05-01..2024-05-02 run 1714600000 (2024-05-01 - 2024-05-02)"',
      COLUMNS,
      '2024-05-01\t70012345\tBrand search\t1520\t87\t1234560000',
      '2024-05-01\t70012346\tRetargeting YAN\t30411\t112\t2415300000',
      '2024-05-02\t70012345\tBrand search\t1498\t90\t1301200000',
      'Total rows: 3',
      '',
    ].join('\n')
    expect(parseReportTsv(text)).toEqual([
      {
        day: '2024-05-01',
        campaignId: '70012345',
        campaignName: 'Brand search',
        impressions: 1520,
        clicks: 87,
        costMicros: 1234560000n,
      },
      {
        day: '2024-05-01',
        campaignId: '70012346',
        campaignName: 'Retargeting YAN',
        impressions: 30411,
        clicks: 112,
        costMicros: 2415300000n,
      },
      {
        day: '2024-05-02',
        campaignId: '70012345',
        campaignName: 'Brand search',
        impressions: 1498,
        clicks: 90,
        costMicros: 1301200000n,
      },
    ])
  })

  it('finds columns by name in any order, ignores columns it did not ask for, and reads \\r\\n lines', () => {
    const text =
      'Cost\tClicks\tCampaignType\tImpressions\tCampaignName\tCampaignId\tDate\r\n' +
      '99990000\t3\tTEXT_CAMPAIGN\t40\tБренд / Москва\t9223372036854775807\t2026-11-30\r\n'
    expect(parseReportTsv(text)).toEqual([
      {
        day: '2026-11-30',
        campaignId: '9223372036854775807',
        campaignName: 'Бренд / Москва',
        impressions: 40,
        clicks: 3,
        costMicros: 99990000n,
      },
    ])
  })

  it('reads -- as null in counts and money', () => {
    expect(parseReportTsv(`${COLUMNS}\n2026-11-30\t1\tA\t--\t--\t--\n`)).toEqual([
      { day: '2026-11-30', campaignId: '1', campaignName: 'A', impressions: null, clicks: null, costMicros: null },
    ])
  })

  it('reads a report with no rows, with or without its summary line', () => {
    expect(parseReportTsv(`${COLUMNS}\n`)).toEqual([])
    expect(parseReportTsv(`"empty (2026-11-01 - 2026-11-30)"\n${COLUMNS}\nTotal rows: 0\n`)).toEqual([])
  })

  it('refuses a report cut short: its summary counts more rows than it holds', () => {
    expect(() => parseReportTsv(`${COLUMNS}\n2026-11-30\t1\tA\t1\t1\t10000\nTotal rows: 2\n`)).toThrow(
      new ReportTsvError('the report says 2 rows but holds 1'),
    )
  })

  it('refuses a report asked with its summary line that has none: it was cut off, perhaps inside a cost', () => {
    const cut = `${COLUMNS}\n2026-11-30\t1\tA\t1\t1\t12345\n2026-11-30\t2\tB\t1\t1\t99`
    expect(parseReportTsv(cut)).toHaveLength(2)
    expect(() => parseReportTsv(cut, { requireSummary: true })).toThrow(
      new ReportTsvError('no "Total rows" line after 2 rows: the answer was cut off'),
    )
  })

  it('refuses a line with a cell missing, naming the line', () => {
    expect(() => parseReportTsv(`${COLUMNS}\n2026-11-30\t1\tA\t1\t1\n`)).toThrow(
      new ReportTsvError('line 2 has 5 cells, the column line 6'),
    )
  })

  it('refuses a day that is not a date and a campaign id that is not a number', () => {
    expect(() => parseReportTsv(`${COLUMNS}\n30.11.2026\t1\tA\t1\t1\t0\n`)).toThrow(
      new ReportTsvError('line 2: Date "30.11.2026" is not a day as YYYY-MM-DD'),
    )
    expect(() => parseReportTsv(`${COLUMNS}\n2026-11-30\tx1\tA\t1\t1\t0\n`)).toThrow(
      new ReportTsvError('line 2: CampaignId "x1" is not a number'),
    )
  })

  it('refuses an answer without a column line, and one without a Cost column', () => {
    expect(() => parseReportTsv('<html>Bad Gateway</html>')).toThrow(
      /^no column line \(Date, CampaignId, CampaignName, Impressions, Clicks, Cost\) in the first two lines/,
    )
    expect(() => parseReportTsv('Date\tCampaignId\tCampaignName\tImpressions\tClicks\n')).toThrow(
      new ReportTsvError('the column line has no Cost: Date, CampaignId, CampaignName, Impressions, Clicks'),
    )
  })
})

describe('money as micros', () => {
  it('reads integer digits as micros and a decimal as an amount of the currency, exactly', () => {
    expect(parseMoneyMicros('1234560000')).toBe(1234560000n)
    expect(parseMoneyMicros('1234.56')).toBe(1234560000n)
    expect(parseMoneyMicros('0.01')).toBe(10000n)
    expect(parseMoneyMicros('2415.3')).toBe(2415300000n)
    expect(parseMoneyMicros('7.')).toBe(7000000n)
    expect(parseMoneyMicros('0.000001')).toBe(1n)
    expect(parseMoneyMicros('99999999999999999999.99')).toBe(99999999999999999999990000n)
    expect(parseMoneyMicros('-1.5')).toBe(-1500000n)
    expect(parseMoneyMicros('--')).toBeNull()
  })

  it('refuses what is not an amount, and a decimal finer than a micro', () => {
    expect(() => parseMoneyMicros('1 234,56')).toThrow(new ReportTsvError('"1 234,56" is not an amount of money'))
    expect(() => parseMoneyMicros('1e6')).toThrow(new ReportTsvError('"1e6" is not an amount of money'))
    expect(() => parseMoneyMicros('')).toThrow(new ReportTsvError('"" is not an amount of money'))
    expect(() => parseMoneyMicros('0.0000001')).toThrow(new ReportTsvError('"0.0000001" has more than 6 decimals'))
  })

  it('round-trips any string of digits exactly, however long', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,40}$/), (digits) => {
        const micros = parseMoneyMicros(digits)
        expect(micros).toBe(BigInt(digits))
        expect(micros?.toString()).toBe(digits.replace(/^0+(?=\d)/, ''))
      }),
    )
  })

  it('reads any decimal of up to 6 decimals as its whole part × 1,000,000 plus its decimals padded to 6 digits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.stringMatching(/^[0-9]{0,6}$/), (whole, decimals) => {
        expect(parseMoneyMicros(`${whole}.${decimals}`)).toBe(whole * 1_000_000n + BigInt(decimals.padEnd(6, '0')))
      }),
    )
  })

  it('gives a kopeck amount written both ways the same micros', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), (kopecks) => {
        const decimal = `${kopecks / 100n}.${String(kopecks % 100n).padStart(2, '0')}`
        expect(parseMoneyMicros(decimal)).toBe(parseMoneyMicros(String(kopecks * 10_000n)))
      }),
    )
  })
})
