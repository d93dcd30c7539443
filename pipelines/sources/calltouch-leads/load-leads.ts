/**
 * Loading a read of a site's calls or requests into the warehouse, in ONE transaction with its
 * ledger days (data before state).
 *
 * Glossary:
 * - lead: a call (calls journal) or a request (requests journal); its id is callId / requestId.
 * - read: the complete answer for consecutive site-local days of one site: every page of a calls
 *   window, or one day of requests (the journal is not paged).
 * - version: a distinct payload of a lead; raw.calltouch_calls / raw.calltouch_requests keep each once.
 * - rejected record: one without a usable id, whose date does not parse or whose time PostgreSQL
 *   cannot hold, or one PostgreSQL refused (lead-isolation.ts); it goes to etl.rejected_records
 *   with its reason and the rest of the read loads.
 *
 * The bodies go to PostgreSQL as text and are parsed there (ids above 2^53 never pass through a
 * JavaScript number); all the work is set-based SQL in sql/ over lead-staging.ts's tables. A read
 * PostgreSQL refuses because of the data of a record is loaded again without that record
 * (lead-isolation.ts).
 */
import { isDay } from '../../core/day.ts'
import { EtlError, messageOf } from '../../core/errors.ts'
import { redact } from '../../core/secrets.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import { recordFailedDays } from '../../warehouse/ledger.ts'
import { isRecordProblem } from '../../warehouse/record-isolation.ts'
import { loadIsolatingLeads, nestsTooDeep } from './lead-isolation.ts'
import {
  leadsLedgerKey,
  type LeadJournal,
  type LeadsBodyText,
  type LeadsLoadResult,
  type LeadsToLoad,
} from './lead-journals.ts'
import { prepareLeadStaging } from './lead-staging.ts'
import { recordStagedLeads, stageLeadRecords, writeStagedLeads } from './lead-writes.ts'

export * from './lead-journals.ts'

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
  const { siteId, firstDay, lastDay } = read
  const label = `${journal} of site ${siteId}, days ${firstDay}..${lastDay}`
  if (!isDay(firstDay) || !isDay(lastDay) || firstDay > lastDay)
    throw new EtlError('INPUT', `${label}: the days are not an interval of YYYY-MM-DD days`)
  if (journal === 'requests' && firstDay !== lastDay)
    throw new EtlError('INPUT', `${label}: a requests read is one day (the journal is not paged)`)
  if (read.bodies.length === 0) throw new EtlError('INPUT', `${label}: no body to load; a read has at least one`)
  const texts = read.bodies.map(textWithoutNul)
  let failure: string | undefined
  try {
    // A body nested too deep is never sent whole: the isolating load sets its deep records aside.
    if (!texts.some(nestsTooDeep)) {
      try {
        return await db.transaction().execute(async (trx) => {
          await prepareLeadStaging(trx)
          await stageLeadRecords(trx, journal, { bodies: `[${texts.join(',')}]`, firstDay, lastDay })
          return recordStagedLeads(trx, journal, read, await writeStagedLeads(trx, journal, read))
        })
      } catch (error) {
        if (!isRecordProblem(error)) throw error
        failure = redact(messageOf(error))
      }
    }
    return await loadIsolatingLeads(db, journal, read, texts)
  } catch (error) {
    if (error instanceof EtlError) throw error
    const message = redact(messageOf(error))
    const why =
      failure === undefined || failure === message
        ? message
        : `${failure}; setting aside the records PostgreSQL refused did not help: ${message}`
    throw new EtlError('WAREHOUSE', `loading ${label} failed, nothing of it was kept: ${why}`, {
      cause: error,
      context: { siteId, firstDay, lastDay },
    })
  }
}

/** A `\u0000` escape (not an escaped backslash before `u0000`): PostgreSQL's jsonb cannot hold U+0000. */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g

/** The body's text, with `\u0000` as U+FFFD so one such value cannot fail its read for ever. */
function textWithoutNul(body: LeadsBodyText): string {
  const text =
    typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  return text.includes('\\u0000') ? text.replace(NUL_ESCAPE, '$1\\ufffd') : text
}
