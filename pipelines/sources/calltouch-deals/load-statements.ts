import { executeSql, type WarehouseDb } from '../../warehouse/connection.ts'
import { recordLoadedDays } from '../../warehouse/ledger.ts'
import { runSqlFile } from '../../warehouse/sql-files.ts'
import type { WindowLoadResult, WindowToLoad } from './load-input.ts'
import { siteLedgerKey } from './site-ledger.ts'

/**
 * How fresh calltouch.orders.last_seen_at is kept for unchanged deals: a re-read moves it only
 * when it is older than this, so re-reading unchanged data right away rewrites no row, and the
 * nightly re-read of the look-back days rewrites each deal row at most once a night.
 */
export const LAST_SEEN_RESOLUTION = '1 hour'

/**
 * The payload_hash of a staged record set aside because PostgreSQL refused it
 * (sql/set_aside_staged_record.sql): never an md5, so never a version the warehouse holds.
 */
export const SET_ASIDE_MARK = 'set aside'

/** What the writes of a window's changed records counted. */
export interface ChangedRecordsResult {
  readonly rejected: number
  readonly landed: number
  readonly changed: number
}

interface CountRow { [column: string]: number }

/**
 * Runs the window's statements over its staged records (pg_temp.load_records, de-duplicated by
 * delete_superseded_records) and records its days as loaded.
 *
 * @param withSetAside whether records were set aside (the isolating load): they are kept out of
 * every write and sent to etl.rejected_records
 */
export async function loadStagedRecords(trx: WarehouseDb, window: WindowToLoad, withSetAside = false): Promise<WindowLoadResult> {
  const { siteId, runId, firstDay, lastDay } = window
  const { rejected, landed, changed } = await writeChangedRecords(trx, window, withSetAside)
  const setAside = withSetAside ? await count(trx, 'insert_set_aside_records', [siteId, runId, firstDay, lastDay, SET_ASIDE_MARK]) : 0
  const removed = await count(trx, 'mark_removed_orders', [siteId, firstDay, lastDay])
  await runSqlFile(trx, 'mark_seen_orders', [siteId, LAST_SEEN_RESOLUTION])
  // Records without a day of their own (an orderDate that is not a date) count as seen, on no day.
  const byDay = await executeSql<{ day: string | null; records: number }>(trx, 'select record_day as day, count(*)::integer as records from pg_temp.load_records group by record_day')
  const stagedByDay: Record<string, number> = {}
  for (const { day, records } of byDay) if (day !== null) stagedByDay[day] = records
  const recordsByDay = await recordLoadedDays(trx, siteLedgerKey(siteId), { firstDay, lastDay, runId, recordsByDay: stagedByDay })
  const seen = byDay.reduce((sum, row) => sum + row.records, 0)
  return { seen, landed, changed, rejected: rejected + setAside, removed, recordsByDay }
}

/**
 * The statements that write each changed record of the window: the ones one record can make
 * fail, and so the ones the isolating load tries on part of the window.
 */
export async function writeChangedRecords(trx: WarehouseDb, window: WindowToLoad, withSetAside: boolean): Promise<ChangedRecordsResult> {
  const { siteId, runId, firstDay, lastDay, timeZone } = window
  await runSqlFile(trx, 'stage_changed_records', [siteId, timeZone])
  if (withSetAside) await runSqlFile(trx, 'delete_set_aside_changes', [SET_ASIDE_MARK])
  await executeSql(trx, 'analyze pg_temp.load_changes (order_number, existed, reason)')
  const rejected = await count(trx, 'insert_rejected_records', [siteId, runId, firstDay, lastDay])
  const landed = await count(trx, 'insert_raw_versions', [siteId, runId])
  const changed = await count(trx, 'upsert_changed_orders', [siteId])
  await runSqlFile(trx, 'delete_changed_children', [siteId])
  await runSqlFile(trx, 'insert_changed_children', [siteId])
  return { rejected, landed, changed }
}

/**
 * Fresh statistics let the planner join the staged records to each other and to the warehouse
 * by hash or key instead of by nested scans (temporary tables are never analyzed automatically);
 * then one record per deal is kept, the last read.
 */
export async function settleStagedRecords(trx: WarehouseDb): Promise<void> {
  await executeSql(trx, 'analyze pg_temp.load_records (order_number)')
  await runSqlFile(trx, 'delete_superseded_records')
}

async function count(db: WarehouseDb, name: string, parameters: readonly unknown[]): Promise<number> {
  const [row] = await runSqlFile<CountRow>(db, name, parameters)
  return row === undefined ? 0 : Object.values(row)[0] ?? 0
}
