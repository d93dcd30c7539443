import { executeSql, type WarehouseDb } from '../../warehouse/connection.ts'
import { recordLoadedDays } from '../../warehouse/ledger.ts'
import { runSqlFile } from '../../warehouse/sql-files.ts'
import type { PageBody, StagedPages, WindowLoadResult, WindowToLoad } from './load-input.ts'
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

/**
 * Runs the window's statements over its staged records (pg_temp.load_records, de-duplicated by
 * delete_superseded_records) and records its days as loaded.
 *
 * @param withSetAside whether records were set aside (the isolating load): they are kept out of
 * every write and sent to etl.rejected_records
 */
export async function loadStagedRecords(
  trx: WarehouseDb,
  window: WindowToLoad,
  withSetAside = false,
): Promise<WindowLoadResult> {
  const { siteId, runId, firstDay, lastDay } = window
  const { rejected, landed, changed } = await writeChangedRecords(trx, window, withSetAside)
  const setAside = withSetAside ? await insertSetAsideRecords(trx, { siteId, runId, firstDay, lastDay }) : 0
  const removed = await markRemovedOrders(trx, { siteId, firstDay, lastDay })
  await markSeenOrders(trx, { siteId })
  // Records without a day of their own (an orderDate that is not a date) count as seen, on no day.
  const byDay = await executeSql<{ day: string | null; records: number }>(
    trx,
    'select record_day as day, count(*)::integer as records from pg_temp.load_records group by record_day',
  )
  const stagedByDay: Record<string, number> = {}
  for (const { day, records } of byDay) if (day !== null) stagedByDay[day] = records
  const recordsByDay = await recordLoadedDays(trx, siteLedgerKey(siteId), {
    firstDay,
    lastDay,
    runId,
    recordsByDay: stagedByDay,
  })
  const seen = byDay.reduce((sum, row) => sum + row.records, 0)
  return { seen, landed, changed, rejected: rejected + setAside, removed, recordsByDay }
}

/**
 * The statements that write each changed record of the window: the ones one record can make
 * fail, and so the ones the isolating load tries on part of the window.
 */
export async function writeChangedRecords(
  trx: WarehouseDb,
  window: WindowToLoad,
  withSetAside: boolean,
): Promise<ChangedRecordsResult> {
  const { siteId, runId, firstDay, lastDay, timeZone } = window
  await stageChangedRecords(trx, { siteId, timeZone })
  if (withSetAside) await deleteSetAsideChanges(trx)
  await executeSql(trx, 'analyze pg_temp.load_changes (order_number, existed, reason)')
  const rejected = await insertRejectedRecords(trx, { siteId, runId, firstDay, lastDay })
  const landed = await insertRawVersions(trx, { siteId, runId })
  const changed = await upsertChangedOrders(trx, { siteId })
  await deleteChangedChildren(trx, { siteId })
  await insertChangedChildren(trx, { siteId })
  return { rejected, landed, changed }
}

/**
 * Fresh statistics let the planner join the staged records to each other and to the warehouse
 * by hash or key instead of by nested scans (temporary tables are never analyzed automatically);
 * then one record per deal is kept, the last read.
 */
export async function settleStagedRecords(trx: WarehouseDb): Promise<void> {
  await executeSql(trx, 'analyze pg_temp.load_records (order_number)')
  await deleteSupersededRecords(trx)
}

/*
 * One typed function per statement of sql/ that the load runs, named after its file: each owns
 * the order of its file's positional parameters ($1, $2…), so callers pass names, and the
 * protocol constants (SET_ASIDE_MARK, LAST_SEEN_RESOLUTION) are passed by these functions alone.
 * All run on the load transaction, over the staging tables of load-staging.ts.
 */

/** Bounds of a window as its statements take them: site, and days 'YYYY-MM-DD', inclusive. */
interface WindowDays {
  readonly siteId: number
  readonly firstDay: string
  readonly lastDay: string
}

/** What one call of stage_window_records staged. */
export interface StagedWindowRecords extends StagedPages {
  /** In-window records staged. */
  readonly staged: number
}

/** A staged record's place in read order: page (1-based in the window; 0 for stand-ins) and place in the page. */
export interface StagedRecordPlace {
  readonly page_no: number
  /** A bigint: text, exact. */
  readonly record_no: string
}

/**
 * Parses page bodies and stages their in-window records (sql/stage_window_records.sql).
 *
 * @param params.bodies one body (text, or its UTF-8 bytes as received), or the texts of consecutive
 * pages joined by commas
 * @param params.pagesBefore pages of the window staged before these (their ordinals go on from it)
 */
export async function stageWindowRecords(
  trx: WarehouseDb,
  params: {
    readonly bodies: PageBody
    readonly firstDay: string
    readonly lastDay: string
    readonly pagesBefore: number
  },
): Promise<StagedWindowRecords | undefined> {
  const [row] = await runSqlFile<StagedWindowRecords>(trx, 'stage_window_records', [
    params.bodies,
    params.firstDay,
    params.lastDay,
    params.pagesBefore,
  ])
  return row
}

/** Keeps one staged record per deal, the last read (sql/delete_superseded_records.sql). */
export async function deleteSupersededRecords(trx: WarehouseDb): Promise<void> {
  await runSqlFile(trx, 'delete_superseded_records')
}

/** Stages the records that differ from the warehouse's versions, converted or with a reason (sql/stage_changed_records.sql). */
export async function stageChangedRecords(
  trx: WarehouseDb,
  params: { readonly siteId: number; readonly timeZone: string },
): Promise<void> {
  await runSqlFile(trx, 'stage_changed_records', [params.siteId, params.timeZone])
}

/** Keeps the records set aside out of every write of the window (sql/delete_set_aside_changes.sql). */
export async function deleteSetAsideChanges(trx: WarehouseDb): Promise<void> {
  await runSqlFile(trx, 'delete_set_aside_changes', [SET_ASIDE_MARK])
}

/** Sends the window's rejected records to etl.rejected_records; returns how many the window has (sql/insert_rejected_records.sql). */
export async function insertRejectedRecords(
  trx: WarehouseDb,
  params: WindowDays & { readonly runId: string },
): Promise<number> {
  const [row] = await runSqlFile<{ rejected: number }>(trx, 'insert_rejected_records', [
    params.siteId,
    params.runId,
    params.firstDay,
    params.lastDay,
  ])
  return row?.rejected ?? 0
}

/** Lands each new or changed deal as a version in raw.calltouch_orders; returns how many (sql/insert_raw_versions.sql). */
export async function insertRawVersions(
  trx: WarehouseDb,
  params: { readonly siteId: number; readonly runId: string },
): Promise<number> {
  const [row] = await runSqlFile<{ landed: number }>(trx, 'insert_raw_versions', [params.siteId, params.runId])
  return row?.landed ?? 0
}

/** Writes the current state of each new or changed deal to calltouch.orders; returns how many (sql/upsert_changed_orders.sql). */
export async function upsertChangedOrders(trx: WarehouseDb, params: { readonly siteId: number }): Promise<number> {
  const [row] = await runSqlFile<{ changed: number }>(trx, 'upsert_changed_orders', [params.siteId])
  return row?.changed ?? 0
}

/** Deletes the sources, visits, custom values and tags the changed deals had (sql/delete_changed_children.sql). */
export async function deleteChangedChildren(trx: WarehouseDb, params: { readonly siteId: number }): Promise<void> {
  await runSqlFile<{ deals: number }>(trx, 'delete_changed_children', [params.siteId])
}

/** Writes the sources, visits, custom values and tags of the new and changed deals (sql/insert_changed_children.sql). */
export async function insertChangedChildren(trx: WarehouseDb, params: { readonly siteId: number }): Promise<void> {
  await runSqlFile<{ deals: number }>(trx, 'insert_changed_children', [params.siteId])
}

/** Sends the records set aside to etl.rejected_records; returns how many were set aside (sql/insert_set_aside_records.sql). */
export async function insertSetAsideRecords(
  trx: WarehouseDb,
  params: WindowDays & { readonly runId: string },
): Promise<number> {
  const [row] = await runSqlFile<{ rejected: number }>(trx, 'insert_set_aside_records', [
    params.siteId,
    params.runId,
    params.firstDay,
    params.lastDay,
    SET_ASIDE_MARK,
  ])
  return row?.rejected ?? 0
}

/** Marks the window's deals the API no longer returned; returns how many were newly marked (sql/mark_removed_orders.sql). */
export async function markRemovedOrders(trx: WarehouseDb, params: WindowDays): Promise<number> {
  const [row] = await runSqlFile<{ removed: number }>(trx, 'mark_removed_orders', [
    params.siteId,
    params.firstDay,
    params.lastDay,
  ])
  return row?.removed ?? 0
}

/** Records that the API returned the window's unchanged deals, at LAST_SEEN_RESOLUTION (sql/mark_seen_orders.sql). */
export async function markSeenOrders(trx: WarehouseDb, params: { readonly siteId: number }): Promise<void> {
  await runSqlFile(trx, 'mark_seen_orders', [params.siteId, LAST_SEEN_RESOLUTION])
}

/**
 * Gives the records staged from a split page their places in the page as received
 * (sql/renumber_split_page.sql).
 *
 * @param params.places the place in the page (1-based) of each record staged from it, in staging order
 */
export async function renumberSplitPage(
  trx: WarehouseDb,
  params: { readonly pageNo: number; readonly places: readonly number[] },
): Promise<void> {
  await runSqlFile(trx, 'renumber_split_page', [params.pageNo, params.places])
}

/** The staged records not set aside, in read order (sql/select_staged_records.sql). */
export async function selectStagedRecords(trx: WarehouseDb): Promise<StagedRecordPlace[]> {
  return runSqlFile<StagedRecordPlace>(trx, 'select_staged_records', [SET_ASIDE_MARK])
}

/**
 * Keeps only the staged records from `first` to `last` in read order, and those set aside
 * (sql/delete_records_outside.sql); page 0 place 0 for both keeps none of the others.
 */
export async function deleteRecordsOutside(
  trx: WarehouseDb,
  params: { readonly first: StagedRecordPlace | undefined; readonly last: StagedRecordPlace | undefined },
): Promise<void> {
  const { first, last } = params
  const range =
    first === undefined || last === undefined
      ? [0, 0, 0, 0]
      : [first.page_no, first.record_no, last.page_no, last.record_no]
  await runSqlFile(trx, 'delete_records_outside', [...range, SET_ASIDE_MARK])
}

/**
 * Sets one staged record aside with PostgreSQL's reason (sql/set_aside_staged_record.sql).
 *
 * @param params.at the staged row's page and place; `to` its page and place from now on
 * @param params.text the record's text (null: the staged payload's)
 * @param params.reportedKey the orderNumber to report when the row has no key (null: none)
 */
export async function setAsideStagedRecord(
  trx: WarehouseDb,
  params: {
    readonly at: { readonly pageNo: number; readonly recordNo: number | string }
    readonly to: { readonly pageNo: number; readonly recordNo: number | string }
    readonly reason: string
    readonly text: string | null
    readonly reportedKey: string | null
  },
): Promise<void> {
  const { at, to, reason, text, reportedKey } = params
  await runSqlFile(trx, 'set_aside_staged_record', [
    at.pageNo,
    at.recordNo,
    to.pageNo,
    to.recordNo,
    reason,
    text,
    reportedKey,
    SET_ASIDE_MARK,
  ])
}
