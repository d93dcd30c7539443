import type { Info } from 'csv-parse'
import { parse } from 'csv-parse/sync'
import { parseAccountId } from '../core/account-id.ts'
import { EtlError } from '../core/errors.ts'

/**
 * Glossary
 * - line: a physical line of the file, counted from 1 (the header is line 1), as
 *   a spreadsheet shows it; every message names lines this way.
 * - spend line: one data line, parsed and validated.
 * - key: (site, day, source, medium, campaign), the primary key of
 *   marketing.ad_spend; lines of one file with the same key are added up.
 */

/** Columns every spend file must have, in the order the README shows them. */
export const REQUIRED_SPEND_COLUMNS = ['date', 'source', 'medium', 'campaign', 'cost'] as const
export const OPTIONAL_SPEND_COLUMNS = ['currency', 'site_id'] as const
export type SpendColumn = (typeof REQUIRED_SPEND_COLUMNS)[number] | (typeof OPTIONAL_SPEND_COLUMNS)[number]

export const DEFAULT_CURRENCY = 'RUB'

/** numeric(18,2): 16 digits before the point; the largest amount in cents is 10^18 − 1. */
const MAX_COST_CENTS = 10n ** 18n - 1n
const MAX_INTEGER_DIGITS = 16

/** Reasons given with their line; beyond this the rest are named by line number only, so one bad column cannot make a megabyte-long message. */
const MAX_REASONS_SHOWN = 50

/** One key's spend: a line's values, or the sum of a file's lines with that key. */
export interface SpendEntry {
  readonly siteId: number
  /** YYYY-MM-DD. */
  readonly spendDate: string
  readonly source: string
  readonly medium: string
  readonly campaign: string
  /** Exact cost in kopecks (cents): never a float. */
  readonly costCents: bigint
  readonly currency: string
}

export interface SpendLine extends SpendEntry {
  /** Line of the file the values came from. */
  readonly line: number
}

export interface SpendFile {
  readonly fileName: string
  readonly delimiter: SpendDelimiter
  /** Data lines read (empty lines not counted). */
  readonly lines: readonly SpendLine[]
  /** Lines added up by key, in order of first appearance. */
  readonly entries: readonly SpendEntry[]
}

export type SpendDelimiter = ';' | ','

export interface ParseSpendCsvConfig {
  /** The file's base name, for messages. */
  readonly fileName: string
  /** Site of lines without a site_id of their own (from --site or the configured site); undefined when none was given. */
  readonly defaultSiteId?: number
}

export interface LineProblem {
  readonly line: number
  readonly reason: string
}

/**
 * Parses and validates a whole spend CSV, or throws one INPUT error (exit 2)
 * that lists every bad line with its reason: a file is imported whole or not
 * at all.
 *
 * @example
 * parseSpendCsv('date;source;medium;campaign;cost\n01.03.2026;yandex;cpc;spring;1 234,50\n', { fileName: 'spend.csv', defaultSiteId: 12345 })
 * // → entries: [{ siteId: 12345, spendDate: '2026-03-01', source: 'yandex', medium: 'cpc', campaign: 'spring', costCents: 123450n, currency: 'RUB' }]
 */
export function parseSpendCsv(text: string, config: ParseSpendCsvConfig): SpendFile {
  const delimiter = detectDelimiter(text)
  const problems: LineProblem[] = []
  const [header, ...rows] = readRecords(text, delimiter, problems)
  if (!header) refuseFile(config.fileName, `the file is empty: it needs a header line ${describeHeader()}`)
  const columns = readHeader(header.fields)
  if ('problem' in columns) refuseFile(config.fileName, `line ${header.line}: ${columns.problem}`)
  if (rows.length === 0 && problems.length === 0) refuseFile(config.fileName, 'the file has a header but no data lines')
  if (columns.index.site_id === undefined && config.defaultSiteId === undefined) {
    refuseFile(
      config.fileName,
      'no site is given for its spend: pass --site ID (or add a site_id column, or set CALLTOUCH_SITE_ID)',
    )
  }

  const lines: SpendLine[] = []
  for (const row of rows) {
    const result = readLine(row.fields, row.line, columns.index, header.fields.length, config.defaultSiteId)
    if ('reasons' in result) problems.push({ line: row.line, reason: result.reasons.join(', ') })
    else lines.push(result)
  }
  const { entries, problems: sumProblems } = sumByKey(lines)
  problems.push(...sumProblems)
  if (problems.length > 0)
    refuse(
      config.fileName,
      problems.sort((a, b) => a.line - b.line),
    )
  return { fileName: config.fileName, delimiter, lines, entries }
}

function refuse(fileName: string, problems: readonly LineProblem[]): never {
  throw new EtlError('INPUT', describeBadFile(fileName, problems), {
    context: { file: fileName, badLines: problems.length },
  })
}

/** For what is wrong with the file as a whole (its header, no site), where line-by-line reasons would mislead. */
function refuseFile(fileName: string, reason: string): never {
  throw new EtlError('INPUT', `${fileName}: ${reason}; nothing was imported`, { context: { file: fileName } })
}

interface CsvRow {
  readonly fields: readonly string[]
  readonly line: number
}

/** Non-blank records with their first line; lines csv-parse cannot read go to `problems`. */
function readRecords(text: string, delimiter: SpendDelimiter, problems: LineProblem[]): CsvRow[] {
  // csv-parse reports where a bad record ends; it starts after the last good one.
  let lastGoodLine = 0
  const records = parse(text, {
    delimiter,
    bom: true,
    info: true,
    skip_empty_lines: true,
    relax_column_count: true,
    // Campaign names such as `Акция "Весна"` are written unquoted by hand.
    relax_quotes: true,
    skip_records_with_error: true,
    on_record: (record, context) => {
      lastGoodLine = context.lines
      return record
    },
    on_skip: (error) => {
      if (!error) return undefined
      const line = lastGoodLine + 1
      const end = Number(error.lines)
      const through = end > line ? ` through line ${end}` : ''
      problems.push({ line, reason: `not valid CSV${through} (${error.message.split(':')[0]}): check its quotes` })
      lastGoodLine = end
      return undefined
    },
  }) as unknown as { record: string[]; info: Info }[]
  return (
    records
      .map(({ record, info }) => ({ fields: record, line: firstLineOf(record, info) }))
      // Spreadsheets export blank rows as a line of bare delimiters (of either kind, when a file was edited by hand).
      .filter((row) => row.fields.some((field) => !/^[\s;,]*$/.test(field)))
  )
}

/** `;` when the header line has more semicolons than commas (Russian spreadsheets), `,` otherwise. */
export function detectDelimiter(text: string): SpendDelimiter {
  const headerLine =
    text
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .find((line) => line.trim() !== '') ?? ''
  const outsideQuotes = headerLine.replace(/"[^"]*"/g, '')
  const count = (character: string): number => outsideQuotes.split(character).length - 1
  return count(';') > count(',') ? ';' : ','
}

/** A record's first line: csv-parse reports the last, and a quoted field may span lines. */
function firstLineOf(record: readonly string[], info: Info): number {
  const newlinesInside = record.reduce((sum, field) => sum + (field.match(/\n/g)?.length ?? 0), 0)
  return info.lines - newlinesInside
}

type ColumnIndex = Partial<Record<SpendColumn, number>>

const KNOWN_COLUMNS: readonly string[] = [...REQUIRED_SPEND_COLUMNS, ...OPTIONAL_SPEND_COLUMNS]

function describeHeader(): string {
  return `${REQUIRED_SPEND_COLUMNS.join(',')} (optionally also ${OPTIONAL_SPEND_COLUMNS.join(', ')})`
}

function readHeader(fields: readonly string[]): { index: ColumnIndex } | { problem: string } {
  const index: ColumnIndex = {}
  const reasons: string[] = []
  fields.forEach((field, position) => {
    const name = field.trim().toLowerCase()
    if (!KNOWN_COLUMNS.includes(name)) reasons.push(`has an unknown column "${field.trim()}"`)
    else if (index[name as SpendColumn] !== undefined) reasons.push(`has column "${name}" twice`)
    else index[name as SpendColumn] = position
  })
  for (const name of REQUIRED_SPEND_COLUMNS) if (index[name] === undefined) reasons.push(`lacks column "${name}"`)
  if (reasons.length === 0) return { index }
  return { problem: `the header ${reasons.join(', ')}: it must be ${describeHeader()}` }
}

function readLine(
  fields: readonly string[],
  line: number,
  index: ColumnIndex,
  headerLength: number,
  defaultSiteId: number | undefined,
): SpendLine | { reasons: string[] } {
  // A trailing delimiter (empty extra fields) is how some spreadsheets end lines; anything else in extra fields is a shifted line.
  const extraFieldsUsed = fields.slice(headerLength).some((field) => field.trim() !== '')
  if (fields.length < headerLength) {
    return {
      reasons: [
        `${fields.length} fields where the header has ${headerLength} (a value is missing: leave an empty field for it)`,
      ],
    }
  }
  if (extraFieldsUsed) {
    return {
      reasons: [
        `${fields.length} fields where the header has ${headerLength} (quote values that contain the delimiter)`,
      ],
    }
  }
  const value = (column: SpendColumn): string => {
    const position = index[column]
    return position === undefined ? '' : (fields[position] ?? '').trim()
  }
  const reasons: string[] = []
  const spendDate = parseSpendDate(value('date'))
  if (typeof spendDate !== 'string') reasons.push(spendDate.reason)
  const costCents = parseCostCents(value('cost'))
  if (typeof costCents !== 'bigint') reasons.push(costCents.reason)
  const currency = parseCurrency(value('currency'))
  if (typeof currency !== 'string') reasons.push(currency.reason)
  const siteId = lineSiteId(value('site_id'), defaultSiteId)
  if (typeof siteId !== 'number') reasons.push(siteId.reason)
  if (reasons.length > 0) return { reasons }
  return {
    line,
    siteId: siteId as number,
    spendDate: spendDate as string,
    source: value('source'),
    medium: value('medium'),
    campaign: value('campaign'),
    costCents: costCents as bigint,
    currency: currency as string,
  }
}

export interface Rejection {
  readonly reason: string
}

const DATE_FIX = '(use YYYY-MM-DD or DD.MM.YYYY)'

/** 'YYYY-MM-DD' from `YYYY-MM-DD` or `DD.MM.YYYY`, refusing dates that do not exist (31.02). */
export function parseSpendDate(text: string): string | Rejection {
  if (text === '') return { reason: `date is empty ${DATE_FIX}` }
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  const russian = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(text)
  const parts = iso ? [iso[1], iso[2], iso[3]] : russian ? [russian[3], russian[2], russian[1]] : undefined
  if (!parts) return { reason: `date "${text}" is not a date ${DATE_FIX}` }
  const [year, month, day] = parts.map(Number) as [number, number, number]
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return { reason: `date "${text}" is not a real date ${DATE_FIX}` }
  }
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!
}

/**
 * Groups of three digits separated by a space, a no-break space or a narrow
 * no-break space (how Russian spreadsheets print thousands), or plain digits;
 * then an optional decimal point or comma.
 */
const COST_PATTERN = /^(\d+|\d{1,3}(?:[ \u00A0\u202F]\d{3})+)(?:[.,](\d+))?$/
const COST_FIX = '(write it like 1234.50 or 1 234,50)'

/** Exact cents of a cost such as `1234.5`, `1 234,50` or `0`; never through a float. */
export function parseCostCents(text: string): bigint | Rejection {
  if (text === '') return { reason: `cost is empty ${COST_FIX}` }
  const negative = /^[-\u2212]/.test(text)
  const match = COST_PATTERN.exec(negative ? text.slice(1).trim() : text)
  if (!match) return { reason: `cost "${text}" is not a number ${COST_FIX}` }
  const integerDigits = match[1]!.replace(/\D/g, '').replace(/^0+(?=\d)/, '')
  const fraction = match[2] ?? ''
  if (fraction.length > 2) return { reason: `cost "${text}" has more than 2 decimals` }
  if (integerDigits.length > MAX_INTEGER_DIGITS)
    return { reason: `cost "${text}" is too large (at most ${MAX_INTEGER_DIGITS} digits before the decimal point)` }
  const cents = BigInt(integerDigits) * 100n + BigInt(fraction.padEnd(2, '0'))
  if (negative && cents > 0n) return { reason: `cost "${text}" is negative` }
  return cents
}

/** `1234.50` from 123450n: the exact decimal text PostgreSQL reads into numeric. */
export function formatCents(cents: bigint): string {
  const whole = cents / 100n
  const fraction = String(cents % 100n).padStart(2, '0')
  return `${whole}.${fraction}`
}

/** ISO 4217 code, upper-cased; RUB when the column is absent or empty. */
export function parseCurrency(text: string): string | Rejection {
  if (text === '') return DEFAULT_CURRENCY
  if (!/^[A-Za-z]{3}$/.test(text)) return { reason: `currency "${text}" is not a three-letter code such as RUB or USD` }
  return text.toUpperCase()
}

function lineSiteId(text: string, defaultSiteId: number | undefined): number | Rejection {
  if (text === '') return defaultSiteId ?? { reason: 'site_id is empty and no --site was given' }
  return parseAccountId(text) ?? { reason: `site_id "${text}" is not a Calltouch site id (a positive integer)` }
}

function keyOf(line: SpendLine): string {
  return JSON.stringify([line.siteId, line.spendDate, line.source, line.medium, line.campaign])
}

/** Adds up the lines of each key exactly; a key in two currencies or beyond numeric(18,2) is a bad line. */
function sumByKey(lines: readonly SpendLine[]): { entries: SpendEntry[]; problems: LineProblem[] } {
  const sums = new Map<string, { entry: SpendEntry; firstLine: number }>()
  const problems: LineProblem[] = []
  for (const line of lines) {
    const key = keyOf(line)
    const seen = sums.get(key)
    if (!seen) {
      const { line: firstLine, ...entry } = line
      sums.set(key, { entry, firstLine })
      continue
    }
    if (seen.entry.currency !== line.currency) {
      problems.push({
        line: line.line,
        reason: `currency ${line.currency} differs from ${seen.entry.currency} on line ${seen.firstLine}, which has the same day, source, medium and campaign`,
      })
      continue
    }
    const costCents = seen.entry.costCents + line.costCents
    if (costCents > MAX_COST_CENTS) {
      problems.push({
        line: line.line,
        reason: `the cost of this day, source, medium and campaign adds up to more than ${formatCents(MAX_COST_CENTS)}`,
      })
      continue
    }
    seen.entry = { ...seen.entry, costCents }
  }
  return { entries: [...sums.values()].map((sum) => sum.entry), problems }
}

/**
 * One line for a refused file: `spend.csv: 2 bad lines — line 4: …; line 7: …;
 * nothing was imported`. Past MAX_REASONS_SHOWN the remaining lines are
 * listed as number ranges.
 */
export function describeBadFile(fileName: string, problems: readonly LineProblem[]): string {
  const shown = problems.slice(0, MAX_REASONS_SHOWN).map((problem) => `line ${problem.line}: ${problem.reason}`)
  const rest = problems.slice(MAX_REASONS_SHOWN).map((problem) => problem.line)
  if (rest.length > 0) shown.push(`and ${rest.length} more bad lines: ${describeRanges(rest)}`)
  const count = problems.length === 1 ? '1 bad line' : `${problems.length} bad lines`
  return `${fileName}: ${count} — ${shown.join('; ')}; nothing was imported`
}

/** `4–9, 12` from [4, 5, 6, 7, 8, 9, 12]. */
function describeRanges(numbers: readonly number[]): string {
  const ranges: string[] = []
  let start = numbers[0]!
  let previous = start
  for (const number of [...numbers.slice(1), Number.NaN]) {
    if (number === previous + 1 || number === previous) {
      previous = number
      continue
    }
    ranges.push(start === previous ? String(start) : `${start}–${previous}`)
    start = number
    previous = number
  }
  return ranges.join(', ')
}
