import { isDay, type Day } from '../../core/day.ts'

/**
 * The TSV of a Reports answer (shared/yandex-direct/API.md §6): an optional title line, the column
 * line, one line per row, an optional `Total rows: N` line. Columns are found by name, never by
 * position, and `--` (no value) is null in every numeric column.
 */

/** The columns a spend report asks for, in the order of `FieldNames`. */
export const REPORT_FIELD_NAMES = ['Date', 'CampaignId', 'CampaignName', 'Impressions', 'Clicks', 'Cost'] as const

/** One data line of a spend report. */
export interface ReportRow {
  readonly day: Day
  /** Decimal digits: Direct's ids fit in 64 bits, not always in a JavaScript number. */
  readonly campaignId: string
  readonly campaignName: string
  /** Null for `--`. */
  readonly impressions: number | null
  readonly clicks: number | null
  /** Millionths of the account's currency; null for `--`. */
  readonly costMicros: bigint | null
}

/** Why a report's text cannot be read; the report is fetched again, never half-loaded. */
export class ReportTsvError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReportTsvError'
  }
}

const NO_VALUE = '--'
const MICROS_PER_UNIT = 1_000_000n
const MICROS_DIGITS = 6
const SUMMARY_LINE = /^Total rows: *(\d+)$/

/**
 * A money cell as integer micros, exactly, never through a float: integer digits are micros (what
 * Direct sends without `returnMoneyInMicros: false`); a decimal with a point is an amount of the
 * currency (`1234.56`, what it sends with that header) with at most 6 decimals. `--` is null.
 *
 * @example
 * parseMoneyMicros('1234560000') // 1234560000n
 * parseMoneyMicros('1234.56') // 1234560000n
 * parseMoneyMicros('--') // null
 */
export function parseMoneyMicros(text: string): bigint | null {
  const value = text.trim()
  if (value === NO_VALUE) return null
  const match = /^(-?)(\d+)(?:\.(\d*))?$/.exec(value)
  if (match === null) throw new ReportTsvError(`${JSON.stringify(text)} is not an amount of money`)
  const [, sign = '', whole = '', fraction] = match
  let micros: bigint
  if (fraction === undefined) micros = BigInt(whole)
  else {
    if (fraction.length > MICROS_DIGITS)
      throw new ReportTsvError(`${JSON.stringify(text)} has more than ${MICROS_DIGITS} decimals`)
    micros = BigInt(whole) * MICROS_PER_UNIT + BigInt(fraction.padEnd(MICROS_DIGITS, '0'))
  }
  return sign === '-' ? -micros : micros
}

/** A count cell (impressions, clicks); `--` is null. */
export function parseCount(text: string): number | null {
  const value = text.trim()
  if (value === NO_VALUE) return null
  if (!/^\d{1,15}$/.test(value)) throw new ReportTsvError(`${JSON.stringify(text)} is not a count`)
  return Number(value)
}

/**
 * The rows of a spend report's TSV. Tolerates a title line before the column line and a
 * `Total rows: N` line after the rows (whose N must then match: a cut-off answer is refused), a
 * trailing newline and `\r\n`. Extra columns are ignored; a missing one is an error. With
 * `requireSummary` (the report was asked with its summary line) an answer without the line is
 * refused: a body cut at a line's end, or inside the last cost, reads as a shorter report
 * otherwise, and only the missing line tells.
 *
 * @example
 * parseReportTsv('Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost\n2024-05-01\t70012345\tBrand\t1520\t87\t1234560000\n')
 * // [{ day: '2024-05-01', campaignId: '70012345', campaignName: 'Brand', impressions: 1520, clicks: 87, costMicros: 1234560000n }]
 */
export function parseReportTsv(text: string, options: { readonly requireSummary?: boolean } = {}): ReportRow[] {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
  while (lines.length > 0 && lines.at(-1) === '') lines.pop()
  // The column line is the first or, after a title line, the second.
  const headerIndex = lines.slice(0, 2).findIndex((line) => line.split('\t').includes('CampaignId'))
  if (headerIndex === -1)
    throw new ReportTsvError(
      `no column line (${REPORT_FIELD_NAMES.join(', ')}) in the first two lines: ${JSON.stringify(lines.slice(0, 2).join(' | ').slice(0, 200))}`,
    )
  const columns = (lines[headerIndex] ?? '').split('\t')
  const position = (name: (typeof REPORT_FIELD_NAMES)[number]): number => {
    const index = columns.indexOf(name)
    if (index === -1) throw new ReportTsvError(`the column line has no ${name}: ${columns.join(', ')}`)
    return index
  }
  const at = {
    day: position('Date'),
    campaignId: position('CampaignId'),
    campaignName: position('CampaignName'),
    impressions: position('Impressions'),
    clicks: position('Clicks'),
    cost: position('Cost'),
  }
  let dataLines = lines.slice(headerIndex + 1)
  const summary = SUMMARY_LINE.exec(dataLines.at(-1) ?? '')
  if (summary !== null) {
    dataLines = dataLines.slice(0, -1)
    if (Number(summary[1]) !== dataLines.length)
      throw new ReportTsvError(`the report says ${summary[1]} rows but holds ${dataLines.length}`)
  } else if (options.requireSummary === true)
    throw new ReportTsvError(`no "Total rows" line after ${dataLines.length} rows: the answer was cut off`)
  return dataLines.map((line, index) => {
    const lineNumber = headerIndex + 2 + index
    const cells = line.split('\t')
    if (cells.length !== columns.length)
      throw new ReportTsvError(`line ${lineNumber} has ${cells.length} cells, the column line ${columns.length}`)
    const cell = (column: number): string => cells[column] ?? ''
    try {
      const day = cell(at.day)
      if (!isDay(day)) throw new ReportTsvError(`Date ${JSON.stringify(day)} is not a day as YYYY-MM-DD`)
      const campaignId = cell(at.campaignId)
      if (!/^\d{1,19}$/.test(campaignId))
        throw new ReportTsvError(`CampaignId ${JSON.stringify(campaignId)} is not a number`)
      return {
        day,
        campaignId,
        campaignName: cell(at.campaignName),
        impressions: parseCount(cell(at.impressions)),
        clicks: parseCount(cell(at.clicks)),
        costMicros: parseMoneyMicros(cell(at.cost)),
      }
    } catch (error) {
      if (error instanceof ReportTsvError) throw new ReportTsvError(`line ${lineNumber}: ${error.message}`)
      throw error
    }
  })
}
