import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Kysely } from 'kysely'
import { executeSql } from './connection.ts'
import type { WarehouseSchema } from './schema.ts'

/** Runtime SQL lives in `sql/`, one statement a file, named verb_object.sql. */
const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url))

const cache = new Map<string, string>()

/** The text of `sql/<name>.sql`, read once. */
export function sqlText(name: string): string {
  let text = cache.get(name)
  if (text === undefined) {
    text = readFileSync(`${SQL_DIR}${name}.sql`, 'utf8')
    cache.set(name, text)
  }
  return text
}

/** The name of every statement in `sql/` (what {@link sqlText} and {@link runSqlFile} take). */
export function sqlFileNames(): string[] {
  return readdirSync(SQL_DIR)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => file.slice(0, -'.sql'.length))
}

/**
 * Runs `sql/<name>.sql` with positional parameters on a database or a
 * transaction; the same text runs on PostgreSQL and on PGlite.
 *
 * Call it only from the one typed function of the statement, which takes
 * named parameters, puts them in the file's `$1, $2…` order and returns typed
 * rows: the order is then written once, beside the table's other statements.
 * It is named after its file (`upsert_ad_spend` → `upsertAdSpend`), or after
 * what it means to its table's module (ledger.ts: `recordLoadedDays` runs
 * `upsert_loaded_ledger_days`).
 * test/unit/typed-sql.test.ts fails on a statement with no such function or
 * with two callers.
 *
 * @example
 * export async function markRemovedOrders(trx: WarehouseDb, params: WindowDays): Promise<number> {
 *   const [row] = await runSqlFile<{ removed: number }>(trx, 'mark_removed_orders', [params.siteId, params.firstDay, params.lastDay])
 *   return row?.removed ?? 0
 * }
 */
export async function runSqlFile<Row = Record<string, unknown>>(
  db: Kysely<WarehouseSchema>,
  name: string,
  parameters: readonly unknown[] = [],
): Promise<Row[]> {
  return executeSql<Row>(db, sqlText(name), parameters)
}
