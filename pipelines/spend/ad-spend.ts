import type { WarehouseDb } from '../warehouse/connection.ts'
import { runSqlFile } from '../warehouse/sql-files.ts'
import { formatCents, type SpendEntry } from './parse-spend-csv.ts'

/**
 * marketing.ad_spend: the typed statements that write it. Each function owns the positional
 * parameters of its sql/ file, so callers pass names.
 */

/** What an upsert did: keys written, of which new (the rest replaced a row the table held). */
export interface AdSpendUpsert {
  readonly upserted: number
  readonly inserted: number
}

/**
 * Writes a file's entries (one per key, already added up) in one statement, replacing the rows
 * of keys the table holds (sql/upsert_ad_spend.sql).
 *
 * @param params.fileName the file's base name, stored as each row's source_file
 */
export async function upsertAdSpend(
  db: WarehouseDb,
  params: { readonly entries: readonly SpendEntry[]; readonly fileName: string },
): Promise<AdSpendUpsert> {
  const [row] = await runSqlFile<AdSpendUpsert>(db, 'upsert_ad_spend', [
    JSON.stringify(params.entries.map(toRow)),
    params.fileName,
  ])
  return { upserted: row?.upserted ?? 0, inserted: row?.inserted ?? 0 }
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
