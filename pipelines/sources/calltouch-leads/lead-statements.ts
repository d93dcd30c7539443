import type { WarehouseDb } from '../../warehouse/connection.ts'
import { runSqlFile } from '../../warehouse/sql-files.ts'

/*
 * One typed function per statement of sql/ that a leads load runs, named after its file: each
 * owns the order of its file's positional parameters. All run on the load transaction, over the
 * staging tables of lead-staging.ts.
 */

/** Site and days 'YYYY-MM-DD', inclusive. */
interface LeadDays {
  readonly siteId: number
  readonly firstDay: string
  readonly lastDay: string
}

/** The read's bodies as one JSON array text, and its days. */
export interface StageParams {
  readonly bodies: string
  readonly firstDay: string
  readonly lastDay: string
  /** Bodies staged before these (their numbers go on from it); 0 for a whole read. */
  readonly bodiesBefore?: number
  /** The place (1-based) in its body as received of each record of a single body; absent: as read. */
  readonly places?: readonly number[]
  /** Stages the records set aside: with this reason, and this text for etl.rejected_records. */
  readonly setAside?: { readonly reason: string; readonly text: string }
}

export interface WrittenLeads {
  readonly landed: number
  readonly changed: number
}

/** Stages a calls window's records (sql/stage_call_records.sql); returns how many. */
export async function stageCallRecords(trx: WarehouseDb, params: StageParams): Promise<number> {
  const rows = await runSqlFile<{ staged: number }>(trx, 'stage_call_records', stageParameters(params))
  return oneRow(rows, 'stage_call_records').staged
}

/** Stages a requests read's records (sql/stage_request_records.sql); returns how many. */
export async function stageRequestRecords(trx: WarehouseDb, params: StageParams): Promise<number> {
  const rows = await runSqlFile<{ staged: number }>(trx, 'stage_request_records', stageParameters(params))
  return oneRow(rows, 'stage_request_records').staged
}

/** The positional parameters both staging statements take. */
function stageParameters(params: StageParams): unknown[] {
  const { bodies, firstDay, lastDay, bodiesBefore, places, setAside } = params
  return [
    bodies,
    firstDay,
    lastDay,
    bodiesBefore ?? 0,
    places ?? null,
    setAside?.reason ?? null,
    setAside?.text ?? null,
  ]
}

/** Keeps one staged record per lead, the last read, after bodies were staged one at a time (sql/delete_superseded_lead_records.sql). */
export async function deleteSupersededLeadRecords(trx: WarehouseDb): Promise<void> {
  await runSqlFile(trx, 'delete_superseded_lead_records')
}

/** The places of the staged records, in read order (sql/select_staged_lead_records.sql); bigints as text. */
export async function selectStagedLeadRecords(trx: WarehouseDb): Promise<string[]> {
  const rows = await runSqlFile<{ record_no: string }>(trx, 'select_staged_lead_records')
  return rows.map((row) => row.record_no)
}

/** Keeps only the staged records from place `first` to `last` (sql/delete_lead_records_outside.sql); none when absent. */
export async function deleteLeadRecordsOutside(
  trx: WarehouseDb,
  params: { readonly first: string | undefined; readonly last: string | undefined },
): Promise<void> {
  const { first, last } = params
  const keepsNone = first === undefined || last === undefined
  await runSqlFile(trx, 'delete_lead_records_outside', keepsNone ? ['1', '0'] : [first, last])
}

/** Sets a staged record aside with PostgreSQL's reason (sql/set_aside_lead_record.sql). */
export async function setAsideLeadRecord(
  trx: WarehouseDb,
  params: { readonly recordNo: string; readonly reason: string; readonly mode: string },
): Promise<void> {
  await runSqlFile(trx, 'set_aside_lead_record', [params.recordNo, params.reason, params.mode])
}

/** The distinct contacts of the staged leads the mode needs keyed (sql/select_staged_lead_contacts.sql). */
export async function selectStagedLeadContacts(
  trx: WarehouseDb,
  params: { readonly mode: string },
): Promise<{ kind: 'phone' | 'text'; value: string }[]> {
  return runSqlFile<{ kind: 'phone' | 'text'; value: string }>(trx, 'select_staged_lead_contacts', [params.mode])
}

/** Stages the keyed hashes of the leads' contacts (sql/insert_lead_contact_hashes.sql). */
export async function insertLeadContactHashes(
  trx: WarehouseDb,
  params: {
    readonly kinds: readonly string[]
    readonly values: readonly string[]
    readonly hashed: readonly string[]
    readonly clientKeys: readonly (string | null)[]
  },
): Promise<void> {
  await runSqlFile(trx, 'insert_lead_contact_hashes', [params.kinds, params.values, params.hashed, params.clientKeys])
}

/** Sets client_key and applies the contact mode to the staged leads (sql/protect_staged_lead_contacts.sql). */
export async function protectStagedLeadContacts(trx: WarehouseDb, params: { readonly mode: string }): Promise<void> {
  await runSqlFile(trx, 'protect_staged_lead_contacts', [params.mode])
}

/** Sends the staged leads that cannot be loaded to etl.rejected_records (sql/insert_rejected_lead_records.sql). */
export async function insertRejectedLeadRecords(
  trx: WarehouseDb,
  params: LeadDays & { readonly source: string; readonly runId: string },
): Promise<number> {
  const rows = await runSqlFile<{ rejected: number }>(trx, 'insert_rejected_lead_records', [
    params.source,
    params.siteId,
    params.runId,
    params.firstDay,
    params.lastDay,
  ])
  return oneRow(rows, 'insert_rejected_lead_records').rejected
}

/** Writes the new and changed calls: raw versions, calltouch.calls, call tags (sql/write_changed_calls.sql). */
export async function writeChangedCalls(
  trx: WarehouseDb,
  params: { readonly siteId: number; readonly runId: string },
): Promise<WrittenLeads> {
  const rows = await runSqlFile<WrittenLeads>(trx, 'write_changed_calls', [params.siteId, params.runId])
  const { landed, changed } = oneRow(rows, 'write_changed_calls')
  return { landed, changed }
}

/** Writes the new and changed requests: raw versions, calltouch.requests, request tags (sql/write_changed_requests.sql). */
export async function writeChangedRequests(
  trx: WarehouseDb,
  params: { readonly siteId: number; readonly runId: string },
): Promise<WrittenLeads> {
  const rows = await runSqlFile<WrittenLeads>(trx, 'write_changed_requests', [params.siteId, params.runId])
  const { landed, changed } = oneRow(rows, 'write_changed_requests')
  return { landed, changed }
}

/** Marks vanished calls and refreshes returned ones (sql/mark_seen_and_removed_calls.sql); returns how many were newly marked. */
export async function markSeenAndRemovedCalls(
  trx: WarehouseDb,
  params: LeadDays & { readonly resolution: string },
): Promise<number> {
  const rows = await runSqlFile<{ removed: number }>(trx, 'mark_seen_and_removed_calls', [
    params.siteId,
    params.firstDay,
    params.lastDay,
    params.resolution,
  ])
  return oneRow(rows, 'mark_seen_and_removed_calls').removed
}

/** Marks vanished requests and refreshes returned ones (sql/mark_seen_and_removed_requests.sql). */
export async function markSeenAndRemovedRequests(
  trx: WarehouseDb,
  params: LeadDays & { readonly resolution: string },
): Promise<number> {
  const rows = await runSqlFile<{ removed: number }>(trx, 'mark_seen_and_removed_requests', [
    params.siteId,
    params.firstDay,
    params.lastDay,
    params.resolution,
  ])
  return oneRow(rows, 'mark_seen_and_removed_requests').removed
}

/**
 * The one row a statement that counts returns. The embedded engine answers some statements it
 * cannot run with no rows and no error (JSON nested too deep: warehouse/record-isolation.ts); a
 * load must fail then, never take it for an empty read.
 */
function oneRow<Row>(rows: readonly Row[], statement: string): Row {
  const [row] = rows
  if (row === undefined) throw new Error(`${statement} returned no row, where it always returns one`)
  return row
}
