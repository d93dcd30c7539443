import { clientKeyOf, hashedContact, type ContactPolicy } from '../../core/pii.ts'
import { executeSql, type WarehouseDb } from '../../warehouse/connection.ts'
import { recordLoadedDays } from '../../warehouse/ledger.ts'
import {
  LEAD_LAST_SEEN_RESOLUTION,
  LEAD_SOURCES,
  leadsLedgerKey,
  type LeadJournal,
  type LeadsLoadResult,
  type LeadsToLoad,
} from './lead-journals.ts'
import {
  insertLeadContactHashes,
  insertRejectedLeadRecords,
  markSeenAndRemovedCalls,
  markSeenAndRemovedRequests,
  protectStagedLeadContacts,
  selectStagedLeadContacts,
  stageCallRecords,
  stageRequestRecords,
  writeChangedCalls,
  writeChangedRequests,
  type StageParams,
} from './lead-statements.ts'

/*
 * The steps of a leads load over its staged records, the same for the usual load (load-leads.ts)
 * and the isolating one (lead-isolation.ts), which also tries writeStagedLeads on parts of a read.
 */

/** Stages records of a journal (sql/stage_call_records.sql or stage_request_records.sql); returns how many. */
export function stageLeadRecords(trx: WarehouseDb, journal: LeadJournal, params: StageParams): Promise<number> {
  return journal === 'calls' ? stageCallRecords(trx, params) : stageRequestRecords(trx, params)
}

/** What the writes of a read's staged records counted. */
export interface WrittenLeadRecords {
  readonly rejected: number
  readonly landed: number
  readonly changed: number
  readonly removed: number
}

/**
 * Everything a read's staged records write: contacts protected, rejected records to
 * etl.rejected_records, new and changed leads (raw, normalized, tags), vanished leads marked.
 */
export async function writeStagedLeads(
  trx: WarehouseDb,
  journal: LeadJournal,
  read: LeadsToLoad,
): Promise<WrittenLeadRecords> {
  const { runId, siteId, firstDay, lastDay } = read
  if (read.contacts !== undefined) await protectContacts(trx, read.contacts)
  const source = LEAD_SOURCES[journal]
  const rejected = await insertRejectedLeadRecords(trx, { source, siteId, runId, firstDay, lastDay })
  const write = journal === 'calls' ? writeChangedCalls : writeChangedRequests
  const { landed, changed } = await write(trx, { siteId, runId })
  const mark = journal === 'calls' ? markSeenAndRemovedCalls : markSeenAndRemovedRequests
  const removed = await mark(trx, { siteId, firstDay, lastDay, resolution: LEAD_LAST_SEEN_RESOLUTION })
  return { rejected, landed, changed, removed }
}

/** Records the read's days as loaded, with the loadable leads of each, and says what the load wrote. */
export async function recordStagedLeads(
  trx: WarehouseDb,
  journal: LeadJournal,
  read: LeadsToLoad,
  written: WrittenLeadRecords,
): Promise<LeadsLoadResult> {
  const { runId, siteId, firstDay, lastDay } = read
  const byDay = await executeSql<{ day: string; records: number }>(
    trx,
    `select lead_day::text as day, count(*)::integer as records from pg_temp.lead_records
     where reason is null group by lead_day`,
  )
  const seenRows = await executeSql<{ seen: number }>(trx, 'select count(*)::integer as seen from pg_temp.lead_records')
  const recordsByDay = await recordLoadedDays(trx, leadsLedgerKey(journal, siteId), {
    firstDay,
    lastDay,
    runId,
    recordsByDay: Object.fromEntries(byDay.map((row) => [row.day, row.records])),
  })
  const { rejected, landed, changed, removed } = written
  return { seen: seenRows[0]?.seen ?? 0, landed, changed, rejected, removed, recordsByDay }
}

/** Keys and hashes the staged leads' contacts here (core/pii.ts, one normalization), then applies the mode in SQL. */
async function protectContacts(trx: WarehouseDb, policy: ContactPolicy): Promise<void> {
  const contacts = await selectStagedLeadContacts(trx, { mode: policy.mode })
  if (contacts.length > 0) {
    await insertLeadContactHashes(trx, {
      kinds: contacts.map((contact) => contact.kind),
      values: contacts.map((contact) => contact.value),
      hashed: contacts.map((contact) => hashedContact(policy.key, contact.kind, contact.value)),
      clientKeys: contacts.map((contact) => (contact.kind === 'phone' ? clientKeyOf(policy.key, contact.value) : null)),
    })
  }
  await protectStagedLeadContacts(trx, { mode: policy.mode })
}
