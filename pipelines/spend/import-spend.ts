import fs from 'node:fs/promises'
import path from 'node:path'
import { EtlError, messageOf } from '../core/errors.ts'
import type { WarehouseDb } from '../warehouse/connection.ts'
import { finishRun, startRun } from '../warehouse/run-ledger.ts'
import { runSqlFile } from '../warehouse/sql-files.ts'
import { formatCents, parseSpendCsv, type SpendEntry, type SpendFile } from './parse-spend-csv.ts'

/** The command name in etl.runs. */
export const SPEND_IMPORT_COMMAND = 'spend import'

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
    throw new EtlError('INPUT', `cannot read spend file ${filePath}: ${FILE_PROBLEMS[code] ?? messageOf(error)}`, { cause: error, context: { file: fileName } })
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
  readonly runId: string
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
    totals: [...totals.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([currency, cents]) => ({ currency, cost: formatCents(cents) })),
  }
}

/**
 * Upserts a validated spend file into marketing.ad_spend in one transaction
 * and one statement, and records the run in etl.runs (command 'spend import').
 * The rows and the run's success commit together; a failure leaves the table
 * as it was and the run marked failed.
 *
 * @example
 * const file = await loadSpendFile('spend.csv', 12345)
 * const result = await importSpend(warehouse.db, file)
 * say(ctx, describeSpendImport(result))
 */
export async function importSpend(db: WarehouseDb, file: SpendFile): Promise<SpendImportResult> {
  const summary = summarizeSpendFile(file)
  const runId = await startRun(db, SPEND_IMPORT_COMMAND, { file: file.fileName, sites: summary.siteIds })
  try {
    return await db.transaction().execute(async (trx) => {
      const [counts] = await runSqlFile<{ upserted: number; inserted: number }>(trx, 'upsert_ad_spend', [JSON.stringify(file.entries.map(toRow)), file.fileName])
      const keysInserted = counts?.inserted ?? 0
      const result: SpendImportResult = { ...summary, runId, keysInserted, keysReplaced: (counts?.upserted ?? 0) - keysInserted }
      await finishRun(trx, runId, {
        status: 'succeeded',
        counters: { lines_read: result.linesRead, keys_upserted: result.keys, keys_inserted: result.keysInserted, keys_replaced: result.keysReplaced, days: result.days },
      })
      return result
    })
  } catch (error) {
    const message = `could not import ${file.fileName} into marketing.ad_spend: ${messageOf(error)}`
    await finishRun(db, runId, { status: 'failed', error: message }).catch(() => {})
    throw new EtlError('WAREHOUSE', message, { cause: error, context: { file: file.fileName, runId } })
  }
}

/** marketing.ad_spend's column names; cost as exact decimal text so that no float ever holds it. */
function toRow(entry: SpendEntry): Record<string, string | number> {
  return {
    site_id: entry.siteId,
    spend_date: entry.spendDate,
    source: entry.source,
    medium: entry.medium,
    campaign: entry.campaign,
    cost: formatCents(entry.costCents),
    currency: entry.currency,
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
  const days = result.days === 1 ? `1 day (${result.firstDay})` : `${result.days} days from ${result.firstDay} to ${result.lastDay}`
  const totals = result.totals.map((total) => `${total.cost} ${total.currency}`).join(', ')
  return `Imported ${result.fileName} into marketing.ad_spend: ${plural(result.linesRead, 'line')} read, `
    + `${plural(result.keys, 'key')} upserted (${result.keysInserted} new, ${result.keysReplaced} replaced), `
    + `${days}, ${sites}, total ${totals}.`
}
