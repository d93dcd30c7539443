import { describe, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { loadSpendFile, readSpendFile, summarizeSpendFile } from '../../pipelines/spend/import-spend.ts'
import {
  describeBadFile,
  formatCents,
  parseCostCents,
  parseSpendCsv,
  parseSpendDate,
  type SpendFile,
} from '../../pipelines/spend/parse-spend-csv.ts'

const FIXTURES = new URL('../fixtures/spend/', import.meta.url).pathname
const HEADER = 'date,source,medium,campaign,cost'

/** `null`: no --site and no CALLTOUCH_SITE_ID. */
function parse(text: string, defaultSiteId: number | null = 12345): SpendFile {
  return parseSpendCsv(text, { fileName: 'spend.csv', defaultSiteId: defaultSiteId ?? undefined })
}

/** The message of the INPUT error that `work` must throw. */
function refusal(work: () => unknown): string {
  try {
    work()
  } catch (error) {
    expect(error).toBeInstanceOf(EtlError)
    expect((error as EtlError).code).toBe('INPUT')
    expect((error as EtlError).exitCode).toBe(2)
    return (error as EtlError).message
  }
  throw new Error('expected the file to be refused')
}

const entry = (
  spendDate: string,
  source: string,
  medium: string,
  campaign: string,
  costCents: bigint,
  extra: { siteId?: number; currency?: string } = {},
) => ({
  siteId: extra.siteId ?? 12345,
  spendDate,
  source,
  medium,
  campaign,
  costCents,
  currency: extra.currency ?? 'RUB',
})

describe('a spend cost', () => {
  it.each([
    ['0', 0n],
    ['1234', 123400n],
    ['1234.5', 123450n],
    ['1234,50', 123450n],
    ['1 234,50', 123450n],
    ['1\u00A0234\u00A0567,89', 123456789n],
    ['1\u202F234.01', 123401n],
    ['0.01', 1n],
    ['007,10', 710n],
    ['9999999999999999.99', 999999999999999999n],
    ['-0', 0n],
  ])('reads %j as exactly %s kopecks', (text, cents) => {
    expect(parseCostCents(text)).toBe(cents)
  })

  it.each([
    ['', 'cost is empty (write it like 1234.50 or 1 234,50)'],
    ['-5', 'cost "-5" is negative'],
    ['\u22123,50', 'cost "\u22123,50" is negative'],
    ['abc', 'cost "abc" is not a number (write it like 1234.50 or 1 234,50)'],
    ['12 34', 'cost "12 34" is not a number (write it like 1234.50 or 1 234,50)'],
    ['1.2.3', 'cost "1.2.3" is not a number (write it like 1234.50 or 1 234,50)'],
    ['1,234', 'cost "1,234" has more than 2 decimals'],
    ['0.001', 'cost "0.001" has more than 2 decimals'],
    ['12345678901234567', 'cost "12345678901234567" is too large (at most 16 digits before the decimal point)'],
    ['1e3', 'cost "1e3" is not a number (write it like 1234.50 or 1 234,50)'],
  ])('refuses %j: %s', (text, reason) => {
    expect(parseCostCents(text)).toEqual({ reason })
  })

  it('prints kopecks as the exact decimal text PostgreSQL reads into numeric', () => {
    expect([0n, 1n, 10n, 123450n, 999999999999999999n].map(formatCents)).toEqual([
      '0.00',
      '0.01',
      '0.10',
      '1234.50',
      '9999999999999999.99',
    ])
  })
})

describe('a spend date', () => {
  it.each([
    ['2026-03-01', '2026-03-01'],
    ['01.03.2026', '2026-03-01'],
    ['1.3.2026', '2026-03-01'],
    ['29.02.2028', '2028-02-29'],
    ['2000-02-29', '2000-02-29'],
  ])('reads %j as %s', (text, day) => {
    expect(parseSpendDate(text)).toBe(day)
  })

  it.each([
    ['31.02.2026', 'date "31.02.2026" is not a real date (use YYYY-MM-DD or DD.MM.YYYY)'],
    ['2026-02-29', 'date "2026-02-29" is not a real date (use YYYY-MM-DD or DD.MM.YYYY)'],
    ['1900-02-29', 'date "1900-02-29" is not a real date (use YYYY-MM-DD or DD.MM.YYYY)'],
    ['2026-13-01', 'date "2026-13-01" is not a real date (use YYYY-MM-DD or DD.MM.YYYY)'],
    ['2026-04-31', 'date "2026-04-31" is not a real date (use YYYY-MM-DD or DD.MM.YYYY)'],
    ['03/01/2026', 'date "03/01/2026" is not a date (use YYYY-MM-DD or DD.MM.YYYY)'],
    ['2026-3-1', 'date "2026-3-1" is not a date (use YYYY-MM-DD or DD.MM.YYYY)'],
    ['', 'date is empty (use YYYY-MM-DD or DD.MM.YYYY)'],
  ])('refuses %j: %s', (text, reason) => {
    expect(parseSpendDate(text)).toEqual({ reason })
  })
})

describe('a spend file', () => {
  it('reads a comma-separated file with ISO dates and decimal points, keeping names as written but trimmed', () => {
    const file = parse(
      `${HEADER}\n2026-03-01,yandex,cpc,brand_moscow,1520.40\n2026-03-01, Google , CPC ,  Поиск — Ремонт ,990\n`,
    )
    expect(file.delimiter).toBe(',')
    expect(file.lines).toEqual([
      { line: 2, ...entry('2026-03-01', 'yandex', 'cpc', 'brand_moscow', 152040n) },
      { line: 3, ...entry('2026-03-01', 'Google', 'CPC', 'Поиск — Ремонт', 99000n) },
    ])
  })

  it('reads a Russian spreadsheet export: BOM, semicolons, CRLF, DD.MM.YYYY, spaced thousands with decimal commas, blank rows and quotes', async () => {
    const file = await loadSpendFile(`${FIXTURES}russian-export.csv`, 12345)
    expect(file.delimiter).toBe(';')
    expect(file.lines.map((line) => [line.line, line.campaign, line.costCents])).toEqual([
      [2, 'brand_moscow', 123450n],
      [3, 'Поиск; Москва', 200000n],
      [5, 'brand_moscow', 5n],
      [7, 'search_brand', 1530070n],
      [8, 'Акция "Весна"', 9900n],
    ])
    expect(file.entries).toEqual([
      entry('2026-03-01', 'yandex', 'cpc', 'brand_moscow', 123455n),
      entry('2026-03-01', 'yandex', 'cpc', 'Поиск; Москва', 200000n),
      entry('2026-03-02', 'google', 'cpc', 'search_brand', 1530070n),
      entry('2026-03-02', 'vk', 'social', 'Акция "Весна"', 9900n),
    ])
  })

  it('reads the same export saved in Windows-1251, as Excel does on a Russian Windows', async () => {
    const utf8 = await loadSpendFile(`${FIXTURES}russian-export.csv`, 12345)
    const cp1251 = await loadSpendFile(`${FIXTURES}russian-export-cp1251.csv`, 12345)
    expect((await readSpendFile(`${FIXTURES}russian-export-cp1251.csv`)).text).toContain('Акция "Весна"')
    expect(cp1251.entries).toEqual(utf8.entries)
  })

  it('takes currency and site_id columns in any order and case, defaulting an empty currency to RUB and an empty site_id to --site', () => {
    const file = parse(
      ' Site_ID ;COST;Currency;Date;Source;Medium;Campaign\n777;10,00;usd;2026-03-01;google;cpc;x\n;5;;2026-03-01;google;cpc;x\n',
      12345,
    )
    expect(file.entries).toEqual([
      entry('2026-03-01', 'google', 'cpc', 'x', 1000n, { siteId: 777, currency: 'USD' }),
      entry('2026-03-01', 'google', 'cpc', 'x', 500n),
    ])
  })

  it('keeps a quoted comma inside a field of a comma-separated file and a doubled quote inside quotes', () => {
    const file = parse(`${HEADER}\n2026-03-01,yandex,cpc,"Поиск, Москва ""лето""","1,50"\n`)
    expect(file.entries).toEqual([entry('2026-03-01', 'yandex', 'cpc', 'Поиск, Москва "лето"', 150n)])
  })

  it('adds up lines with the same key to the kopeck, without a float ever holding the sum', () => {
    const lines = Array.from({ length: 10 }, () => '2026-03-01,yandex,cpc,brand,0.10').join('\n')
    const big = '2026-03-02,yandex,cpc,brand,4503599627370495.99\n2026-03-02,yandex,cpc,brand,0.01'
    const file = parse(`${HEADER}\n${lines}\n${big}\n`)
    expect(file.lines.length).toBe(12)
    expect(file.entries).toEqual([
      entry('2026-03-01', 'yandex', 'cpc', 'brand', 100n),
      entry('2026-03-02', 'yandex', 'cpc', 'brand', 450359962737049600n),
    ])
    expect(summarizeSpendFile(file)).toEqual({
      fileName: 'spend.csv',
      linesRead: 12,
      keys: 2,
      siteIds: [12345],
      days: 2,
      firstDay: '2026-03-01',
      lastDay: '2026-03-02',
      totals: [{ currency: 'RUB', cost: '4503599627370497.00' }],
    })
  })

  it('tolerates a trailing delimiter on data lines', () => {
    expect(parse(`${HEADER}\n2026-03-01,a,b,c,1,\n`).entries).toEqual([entry('2026-03-01', 'a', 'b', 'c', 100n)])
  })

  it('is refused with every bad line, its number and its reason', async () => {
    const message = await loadSpendFile(`${FIXTURES}bad-lines.csv`, 12345).then(
      () => '',
      (error: Error) => error.message,
    )
    expect(message).toBe(
      'bad-lines.csv: 3 bad lines — line 4: date "31.02.2026" is not a real date (use YYYY-MM-DD or DD.MM.YYYY); ' +
        'line 6: 4 fields where the header has 5 (a value is missing: leave an empty field for it); line 7: cost "-5" is negative; nothing was imported',
    )
  })

  it('names every reason of a line that has several, and counts physical lines across a quoted line break', () => {
    expect(
      refusal(() => parse(`${HEADER},currency\n2026-03-01,a,b,"two\nlines",1,RUB\n2026-02-30,a,b,c,x,рубли\n`)),
    ).toBe(
      'spend.csv: 1 bad line — line 4: date "2026-02-30" is not a real date (use YYYY-MM-DD or DD.MM.YYYY), cost "x" is not a number (write it like 1234.50 or 1 234,50), ' +
        'currency "рубли" is not a three-letter code such as RUB or USD; nothing was imported',
    )
  })

  it('is refused when one key comes in two currencies, or its sum outgrows numeric(18,2)', () => {
    expect(
      refusal(() =>
        parse(
          `${HEADER},currency\n2026-03-01,a,b,c,1,RUB\n2026-03-01,a,b,c,1,USD\n2026-03-01,a,b,d,9999999999999999.99,RUB\n2026-03-01,a,b,d,0.01,RUB\n`,
        ),
      ),
    ).toBe(
      'spend.csv: 2 bad lines — line 3: currency USD differs from RUB on line 2, which has the same day, source, medium and campaign; ' +
        'line 5: the cost of this day, source, medium and campaign adds up to more than 9999999999999999.99; nothing was imported',
    )
  })

  it('is refused with a shifted line, a bad site_id and an unclosed quote', () => {
    expect(
      refusal(() =>
        parse(
          'date,source,medium,campaign,cost,site_id\n2026-03-01,a,b,c,1,1,2\n2026-03-01,a,b,c,1,abc\n2026-03-01,a,b,c,1,\n2026-03-01,a,b,"c,1,5\n2026-03-02,a,b,c,1,5\n',
          null,
        ),
      ),
    ).toBe(
      'spend.csv: 4 bad lines — line 2: 7 fields where the header has 6 (quote values that contain the delimiter); ' +
        'line 3: site_id "abc" is not a Calltouch site id (a positive integer); line 4: site_id is empty and no --site was given; ' +
        'line 5: not valid CSV through line 6 (Quote Not Closed): check its quotes; nothing was imported',
    )
  })

  it('is refused as a whole for a bad header, no site, no data or no content', () => {
    expect(refusal(() => parse('date;source;campaign;costs;clicks;cost\n2026-03-01;a;b;1;2;3\n'))).toBe(
      'spend.csv: line 1: the header has an unknown column "costs", has an unknown column "clicks", lacks column "medium": it must be date,source,medium,campaign,cost (optionally also currency, site_id); nothing was imported',
    )
    expect(refusal(() => parse(`${HEADER},Cost\n`))).toBe(
      'spend.csv: line 1: the header has column "cost" twice: it must be date,source,medium,campaign,cost (optionally also currency, site_id); nothing was imported',
    )
    expect(refusal(() => parse(`${HEADER}\n2026-03-01,a,b,c,1\n`, null))).toBe(
      'spend.csv: no site is given for its spend: pass --site ID (or add a site_id column, or set CALLTOUCH_SITE_ID); nothing was imported',
    )
    expect(refusal(() => parse(`\n${HEADER}\n\n;;;;\n`))).toBe(
      'spend.csv: the file has a header but no data lines; nothing was imported',
    )
    expect(refusal(() => parse('\uFEFF\n\n'))).toBe(
      'spend.csv: the file is empty: it needs a header line date,source,medium,campaign,cost (optionally also currency, site_id); nothing was imported',
    )
  })

  it('gives reasons for the first 50 bad lines and the numbers of the rest as ranges, so the message stays one readable line', () => {
    const problems = [...Array.from({ length: 52 }, (_, i) => i + 2), 60, 61, 70].map((line) => ({
      line,
      reason: 'cost is empty',
    }))
    const message = describeBadFile('spend.csv', problems)
    expect(message.startsWith('spend.csv: 55 bad lines — line 2: cost is empty; line 3: cost is empty;')).toBe(true)
    expect(
      message.endsWith('line 51: cost is empty; and 5 more bad lines: 52–53, 60–61, 70; nothing was imported'),
    ).toBe(true)
  })
})
