import fs from 'node:fs/promises'
import path from 'node:path'
import { EtlError, messageOf } from '../core/errors.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { upsertAdSpend } from './ad-spend.ts'
import { formatCents, parseSpendCsv, type SpendFile } from './parse-spend-csv.ts'

export interface SpendFileText {
  /** Base name: what messages and marketing.ad_spend.source_file show. */
  readonly fileName: string
  readonly text: string
}

const FILE_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file — check the path',
  EISDIR: 'it is a directory — give the path of a .csv file',
  EACCES: 'permission denied — make the file readable',
}

/**
 * Reads a spend file as text: UTF-8 (with or without BOM), or Windows-1251 when
 * the bytes are not UTF-8 — what Excel's "CSV (разделители — точки с запятой)"
 * writes on a Russian Windows.
 */
export async function readSpendFile(filePath: string): Promise<SpendFileText> {
  const fileName = path.basename(filePath)
  let bytes: Buffer
  try {
    bytes = await fs.readFile(filePath)
  } catch (error) {
    const code = (error as { code?: string }).code ?? ''
    throw new EtlError('INPUT', `cannot read spend file ${filePath}: ${FILE_PROBLEMS[code] ?? messageOf(error)}`, {
      cause: error,
      context: { file: fileName },
    })
  }
  try {
    return { fileName, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) }
  } catch {
    return { fileName, text: new TextDecoder('windows-1251').decode(bytes) }
  }
}

/** Reads and validates a spend file, or throws the INPUT error that lists its bad lines. */
export async function loadSpendFile(filePath: string, defaultSiteId: number | undefined): Promise<SpendFile> {
  const { fileName, text } = await readSpendFile(filePath)
  return parseSpendCsv(text, { fileName, defaultSiteId })
}

export interface SpendTotal {
  readonly currency: string
  /** Exact decimal text, e.g. '1234.50'. */
  readonly cost: string
}

export interface SpendFileSummary {
  readonly fileName: string
  readonly linesRead: number
  /** Distinct (site, day, source, medium, campaign) keys: the rows the file writes. */
  readonly keys: number
  readonly siteIds: readonly number[]
  readonly days: number
  readonly firstDay: string
  readonly lastDay: string
  /** Total cost per currency, currencies in alphabetical order. */
  readonly totals: readonly SpendTotal[]
}

export interface SpendImportResult extends SpendFileSummary {
  /** Keys the warehouse did not have. */
  readonly keysInserted: number
  /** Keys the warehouse had, whose row was replaced. */
  readonly keysReplaced: number
}

/** What a valid file holds, computed from its entries with exact sums. */
export function summarizeSpendFile(file: SpendFile): SpendFileSummary {
  const days = [...new Set(file.entries.map((entry) => entry.spendDate))].sort()
  const totals = new Map<string, bigint>()
  for (const entry of file.entries) totals.set(entry.currency, (totals.get(entry.currency) ?? 0n) + entry.costCents)
  return {
    fileName: file.fileName,
    linesRead: file.lines.length,
    keys: file.entries.length,
    siteIds: [...new Set(file.entries.map((entry) => entry.siteId))].sort((a, b) => a - b),
    days: days.length,
    firstDay: days[0] ?? '',
    lastDay: days[days.length - 1] ?? '',
    totals: [...totals.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([currency, cents]) => ({ currency, cost: formatCents(cents) })),
  }
}

/**
 * Upserts a validated spend file into marketing.ad_spend in one transaction
 * and one statement. `beforeCommit` runs in that transaction with the result,
 * so what it writes (the run's success, see jobs/spend-job.ts) commits with
 * the rows or not at all. A failure leaves the table as it was and throws a
 * WAREHOUSE error naming the file.
 *
 * @example
 * const file = await loadSpendFile('spend.csv', 12345)
 * const result = await importSpend(warehouse.db, file)
 * say(ctx, describeSpendImport(result))
 */
export async function importSpend(
  db: WarehouseDb,
  file: SpendFile,
  options: { readonly beforeCommit?: (trx: WarehouseDb, result: SpendImportResult) => Promise<void> } = {},
): Promise<SpendImportResult> {
  const summary = summarizeSpendFile(file)
  try {
    return await db.transaction().execute(async (trx) => {
      const { upserted, inserted: keysInserted } = await upsertAdSpend(trx, {
        entries: file.entries,
        fileName: file.fileName,
      })
      const result: SpendImportResult = { ...summary, keysInserted, keysReplaced: upserted - keysInserted }
      await options.beforeCommit?.(trx, result)
      return result
    })
  } catch (error) {
    throw new EtlError('WAREHOUSE', `could not import ${file.fileName} into marketing.ad_spend: ${messageOf(error)}`, {
      cause: error,
      context: { file: file.fileName },
    })
  }
}

/**
 * The one-line summary of an import, e.g. `Imported spend.csv into
 * marketing.ad_spend: 12 lines read, 11 keys upserted (9 new, 2 replaced), 5 days
 * from 2026-03-01 to 2026-03-05, site 12345, total 1234.50 RUB.`
 */
export function describeSpendImport(result: SpendImportResult): string {
  const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`
  const sites = `${result.siteIds.length === 1 ? 'site' : 'sites'} ${result.siteIds.join(', ')}`
  const days =
    result.days === 1
      ? `1 day (${result.firstDay})`
      : `${result.days} days from ${result.firstDay} to ${result.lastDay}`
  const totals = result.totals.map((total) => `${total.cost} ${total.currency}`).join(', ')
  return (
    `Imported ${result.fileName} into marketing.ad_spend: ${plural(result.linesRead, 'line')} read, ` +
    `${plural(result.keys, 'key')} upserted (${result.keysInserted} new, ${result.keysReplaced} replaced), ` +
    `${days}, ${sites}, total ${totals}.`
  )
}
