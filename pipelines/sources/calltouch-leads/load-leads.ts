/**
 * Loading a read of a site's calls or requests into the warehouse, in ONE transaction with its
 * ledger days (data before state).
 *
 * Glossary:
 * - lead: a call (calls journal) or a request (requests journal); its id is callId / requestId.
 * - read: the complete answer for consecutive site-local days of one site: every page of a calls
 *   window, or one day of requests (the journal is not paged).
 * - version: a distinct payload of a lead; raw.calltouch_calls / raw.calltouch_requests keep each once.
 * - rejected record: one without a usable id or whose date does not parse; it goes to
 *   etl.rejected_records with its reason and the rest of the read loads.
 *
 * The bodies go to PostgreSQL as text and are parsed there (ids above 2^53 never pass through a
 * JavaScript number); all the work is set-based SQL in sql/ over lead-staging.ts's tables.
 */
import { isDay } from '../../core/day.ts'
import { EtlError, messageOf } from '../../core/errors.ts'
import { clientKeyOf, hashedContact, type ContactPolicy } from '../../core/pii.ts'
import { redact } from '../../core/secrets.ts'
import { executeSql, type WarehouseDb } from '../../warehouse/connection.ts'
import { recordFailedDays, recordLoadedDays, type LedgerKey } from '../../warehouse/ledger.ts'
import { prepareLeadStaging } from './lead-staging.ts'
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
} from './lead-statements.ts'

export const LEAD_JOURNALS = ['calls', 'requests'] as const
export type LeadJournal = (typeof LEAD_JOURNALS)[number]

/** The ledger's (and etl.rejected_records') name of each journal. */
export const LEAD_SOURCES = { calls: 'calltouch-calls', requests: 'calltouch-requests' } as const satisfies Record<
  LeadJournal,
  string
>

/** How fresh last_seen_at is kept for unchanged leads (as for deals): a re-read right away rewrites no row. */
export const LEAD_LAST_SEEN_RESOLUTION = '1 hour'

/** The ledger rows of a site's calls or requests: the account is the site id, as text. */
export function leadsLedgerKey(journal: LeadJournal, siteId: number): LedgerKey {
  return { source: LEAD_SOURCES[journal], account: String(siteId) }
}

/** A response body: its text, or the UTF-8 bytes received. */
export type LeadsBodyText = string | Uint8Array

/** One complete read of a journal, as the loaders take it. */
export interface LeadsToLoad {
  readonly runId: string
  readonly siteId: number
  /** 'YYYY-MM-DD', site-local, inclusive; a requests read is one day (firstDay = lastDay). */
  readonly firstDay: string
  readonly lastDay: string
  /** Every body of the read, exactly as received; records of other days are left out, repeats keep the last read. */
  readonly bodies: readonly LeadsBodyText[]
  /** What may be stored of contacts, and the key of client_key (core/pii.ts); absent: contacts as received, no client_key. */
  readonly contacts?: ContactPolicy
}

/** What loading a read wrote. */
export interface LeadsLoadResult {
  /** Distinct leads of the read's days staged (rejected ones included). */
  readonly seen: number
  /** New raw versions. */
  readonly landed: number
  /** Normalized rows inserted or updated. */
  readonly changed: number
  readonly rejected: number
  /** Leads newly marked removed_from_source_at. */
  readonly removed: number
  /** Loadable leads per day (every day of the read, 0 included). */
  readonly recordsByDay: Readonly<Record<string, number>>
}

/**
 * Lands, normalizes and records in the ledger (source calltouch-calls) a calls window.
 *
 * @example
 * const result = await loadCallsWindow(db, { runId, siteId: 12345, firstDay: '2024-05-01', lastDay: '2024-05-07', bodies: window.bodies })
 */
export function loadCallsWindow(db: WarehouseDb, read: LeadsToLoad): Promise<LeadsLoadResult> {
  return loadLeads(db, 'calls', read)
}

/**
 * Lands, normalizes and records in the ledger (source calltouch-requests) one day of requests.
 *
 * @example
 * const result = await loadRequestsDay(db, { runId, siteId: 12345, day: '2024-05-01', body: answer.body })
 */
export function loadRequestsDay(
  db: WarehouseDb,
  read: Omit<LeadsToLoad, 'firstDay' | 'lastDay' | 'bodies'> & { readonly day: string; readonly body: LeadsBodyText },
): Promise<LeadsLoadResult> {
  const { day, body, ...rest } = read
  return loadLeads(db, 'requests', { ...rest, firstDay: day, lastDay: day, bodies: [body] })
}

/** Records the days of a read that failed: status failed, its error redacted on one line. */
export async function recordLeadsFailure(
  db: WarehouseDb,
  journal: LeadJournal,
  failure: {
    readonly runId: string
    readonly siteId: number
    readonly firstDay: string
    readonly lastDay: string
    readonly error: string
  },
): Promise<void> {
  const { runId, siteId, firstDay, lastDay, error } = failure
  await recordFailedDays(db, leadsLedgerKey(journal, siteId), { firstDay, lastDay, runId, error })
}

async function loadLeads(db: WarehouseDb, journal: LeadJournal, read: LeadsToLoad): Promise<LeadsLoadResult> {
  const { runId, siteId, firstDay, lastDay } = read
  const label = `${journal} of site ${siteId}, days ${firstDay}..${lastDay}`
  if (!isDay(firstDay) || !isDay(lastDay) || firstDay > lastDay)
    throw new EtlError('INPUT', `${label}: the days are not an interval of YYYY-MM-DD days`)
  if (journal === 'requests' && firstDay !== lastDay)
    throw new EtlError('INPUT', `${label}: a requests read is one day (the journal is not paged)`)
  if (read.bodies.length === 0) throw new EtlError('INPUT', `${label}: no body to load; a read has at least one`)
  const bodies = `[${read.bodies.map(textWithoutNul).join(',')}]`
  try {
    return await db.transaction().execute(async (trx) => {
      await prepareLeadStaging(trx)
      const stage = journal === 'calls' ? stageCallRecords : stageRequestRecords
      await stage(trx, { bodies, firstDay, lastDay })
      if (read.contacts !== undefined) await protectContacts(trx, read.contacts)
      const source = LEAD_SOURCES[journal]
      const rejected = await insertRejectedLeadRecords(trx, { source, siteId, runId, firstDay, lastDay })
      const write = journal === 'calls' ? writeChangedCalls : writeChangedRequests
      const { landed, changed } = await write(trx, { siteId, runId })
      const mark = journal === 'calls' ? markSeenAndRemovedCalls : markSeenAndRemovedRequests
      const removed = await mark(trx, { siteId, firstDay, lastDay, resolution: LEAD_LAST_SEEN_RESOLUTION })
      const byDay = await executeSql<{ day: string; records: number }>(
        trx,
        `select lead_day::text as day, count(*)::integer as records from pg_temp.lead_records
         where reason is null group by lead_day`,
      )
      const seenRows = await executeSql<{ seen: number }>(
        trx,
        'select count(*)::integer as seen from pg_temp.lead_records',
      )
      const recordsByDay = await recordLoadedDays(trx, leadsLedgerKey(journal, siteId), {
        firstDay,
        lastDay,
        runId,
        recordsByDay: Object.fromEntries(byDay.map((row) => [row.day, row.records])),
      })
      return { seen: seenRows[0]?.seen ?? 0, landed, changed, rejected, removed, recordsByDay }
    })
  } catch (error) {
    if (error instanceof EtlError) throw error
    throw new EtlError('WAREHOUSE', `loading ${label} failed, nothing of it was kept: ${redact(messageOf(error))}`, {
      cause: error,
      context: { siteId, firstDay, lastDay },
    })
  }
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

/** A `\u0000` escape (not an escaped backslash before `u0000`): PostgreSQL's jsonb cannot hold U+0000. */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g

/** The body's text, with `\u0000` as U+FFFD so one such value cannot fail its read for ever. */
function textWithoutNul(body: LeadsBodyText): string {
  const text =
    typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  return text.includes('\\u0000') ? text.replace(NUL_ESCAPE, '$1\\ufffd') : text
}
