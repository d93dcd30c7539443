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
interface StageParams {
  readonly bodies: string
  readonly firstDay: string
  readonly lastDay: string
}

export interface WrittenLeads {
  readonly landed: number
  readonly changed: number
}

/** Stages a calls window's records (sql/stage_call_records.sql); returns how many. */
export async function stageCallRecords(trx: WarehouseDb, params: StageParams): Promise<number> {
  const [row] = await runSqlFile<{ staged: number }>(trx, 'stage_call_records', [
    params.bodies,
    params.firstDay,
    params.lastDay,
  ])
  return row?.staged ?? 0
}

/** Stages a requests read's records (sql/stage_request_records.sql); returns how many. */
export async function stageRequestRecords(trx: WarehouseDb, params: StageParams): Promise<number> {
  const [row] = await runSqlFile<{ staged: number }>(trx, 'stage_request_records', [
    params.bodies,
    params.firstDay,
    params.lastDay,
  ])
  return row?.staged ?? 0
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
  const [row] = await runSqlFile<{ rejected: number }>(trx, 'insert_rejected_lead_records', [
    params.source,
    params.siteId,
    params.runId,
    params.firstDay,
    params.lastDay,
  ])
  return row?.rejected ?? 0
}

/** Writes the new and changed calls: raw versions, calltouch.calls, call tags (sql/write_changed_calls.sql). */
export async function writeChangedCalls(
  trx: WarehouseDb,
  params: { readonly siteId: number; readonly runId: string },
): Promise<WrittenLeads> {
  const [row] = await runSqlFile<WrittenLeads>(trx, 'write_changed_calls', [params.siteId, params.runId])
  return { landed: row?.landed ?? 0, changed: row?.changed ?? 0 }
}

/** Writes the new and changed requests: raw versions, calltouch.requests, request tags (sql/write_changed_requests.sql). */
export async function writeChangedRequests(
  trx: WarehouseDb,
  params: { readonly siteId: number; readonly runId: string },
): Promise<WrittenLeads> {
  const [row] = await runSqlFile<WrittenLeads>(trx, 'write_changed_requests', [params.siteId, params.runId])
  return { landed: row?.landed ?? 0, changed: row?.changed ?? 0 }
}

/** Marks vanished calls and refreshes returned ones (sql/mark_seen_and_removed_calls.sql); returns how many were newly marked. */
export async function markSeenAndRemovedCalls(
  trx: WarehouseDb,
  params: LeadDays & { readonly resolution: string },
): Promise<number> {
  const [row] = await runSqlFile<{ removed: number }>(trx, 'mark_seen_and_removed_calls', [
    params.siteId,
    params.firstDay,
    params.lastDay,
    params.resolution,
  ])
  return row?.removed ?? 0
}

/** Marks vanished requests and refreshes returned ones (sql/mark_seen_and_removed_requests.sql). */
export async function markSeenAndRemovedRequests(
  trx: WarehouseDb,
  params: LeadDays & { readonly resolution: string },
): Promise<number> {
  const [row] = await runSqlFile<{ removed: number }>(trx, 'mark_seen_and_removed_requests', [
    params.siteId,
    params.firstDay,
    params.lastDay,
    params.resolution,
  ])
  return row?.removed ?? 0
}
