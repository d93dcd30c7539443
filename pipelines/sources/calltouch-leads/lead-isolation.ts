/**
 * The isolating load of the leads: what happens to a read PostgreSQL refused because of the data
 * in it, with the trials and bisection the deals' isolating load uses (warehouse/record-isolation.ts).
 *
 * The read is loaded again, in one transaction, trying its parts under savepoints:
 * 1. each body is staged alone; a body PostgreSQL refuses is cut into its records' texts
 *    (core/record-spans.ts), and the records it refuses are found by bisection and set aside;
 * 2. the statements that write the records (lead-writes.ts) are tried on parts of the staged
 *    records, bisecting down to the records that make them fail, which are set aside too;
 * 3. the read is written as usual and its days recorded loaded, the records set aside going to
 *    etl.rejected_records with PostgreSQL's message (their text as received, without the contacts
 *    the mode does not keep) instead of into the warehouse.
 * A record nested deeper than MAX_RECORD_NESTING is set aside without being sent, as is a body
 * that deep: the embedded engine would answer it with no rows and no error. A record set aside
 * keeps its id and day, so its lead counts as returned by the API, as a rejected record's does.
 * When the read still fails, it fails as it would have without this path.
 */
import { EtlError } from '../../core/errors.ts'
import {
  elementSpans,
  jsonProblem,
  nestingDepth,
  objectMembers,
  recordSpans,
  type JsonMember,
  type TextSpan,
} from '../../core/record-spans.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import { IsolationTrials, MAX_RECORD_NESTING, nestingReason, refusalReason } from '../../warehouse/record-isolation.ts'
import { LEAD_KEYS, type LeadJournal, type LeadsLoadResult, type LeadsToLoad } from './lead-journals.ts'
import { prepareLeadStaging } from './lead-staging.ts'
import {
  deleteLeadRecordsOutside,
  deleteSupersededLeadRecords,
  selectStagedLeadRecords,
  setAsideLeadRecord,
} from './lead-statements.ts'
import { recordStagedLeads, stageLeadRecords, writeStagedLeads } from './lead-writes.ts'

/** The members of a record that hold contacts (protect_staged_lead_contacts): left out of a refused record's text unless the mode keeps them. */
const CONTACT_MEMBERS: ReadonlySet<string> = new Set(['callerNumber', 'client'])

/**
 * Whether a body nests deeper than a body of records within MAX_RECORD_NESTING can (its array
 * adds a level): such a body is never sent whole.
 */
export function nestsTooDeep(body: string): boolean {
  return nestingDepth(body, { start: 0, end: body.length }) > MAX_RECORD_NESTING + 1
}

/**
 * Loads a read PostgreSQL refused because of its data, setting aside the records it refuses; one
 * transaction, as the usual load. Throws when that does not help (see the file's comment).
 *
 * @param bodies the read's bodies as text, U+0000 escapes already replaced
 */
export async function loadIsolatingLeads(
  db: WarehouseDb,
  journal: LeadJournal,
  read: LeadsToLoad,
  bodies: readonly string[],
): Promise<LeadsLoadResult> {
  return db.transaction().execute(async (trx) => {
    await prepareLeadStaging(trx)
    const isolation = new LeadIsolation(trx, journal, read)
    for (const [index, body] of bodies.entries()) await isolation.stageBody(body, index)
    await deleteSupersededLeadRecords(trx)
    await isolation.setAsideRefusedWrites()
    return recordStagedLeads(trx, journal, read, await writeStagedLeads(trx, journal, read))
  })
}

class LeadIsolation {
  private readonly trials: IsolationTrials

  constructor(
    private readonly trx: WarehouseDb,
    private readonly journal: LeadJournal,
    private readonly read: LeadsToLoad,
  ) {
    this.trials = new IsolationTrials(trx)
  }

  /** Stages body `index` (0-based) of the read; its records PostgreSQL refuses, or that nest too deep, are set aside. */
  async stageBody(body: string, index: number): Promise<void> {
    if (!nestsTooDeep(body)) {
      const whole = await this.trials.attempt(() => this.stage(`[${body}]`, index))
      if (whole.refused === undefined) return
    }
    const problem = jsonProblem(body)
    if (problem !== undefined) {
      const { siteId, firstDay, lastDay } = this.read
      throw new EtlError(
        'INPUT',
        `${this.journal} of site ${siteId}, days ${firstDay}..${lastDay}: body ${index + 1} is not valid JSON (${problem}); read it again`,
      )
    }
    // A body without records stages none, whatever else PostgreSQL refused in it.
    const spans = this.recordSpansOf(body)
    if (spans === undefined) return
    const textOf = (place: number): string =>
      body.slice((spans[place] as TextSpan).start, (spans[place] as TextSpan).end)
    const depths = spans.map((span) => nestingDepth(body, span))
    const sendable = spans.flatMap((_, place) => ((depths[place] as number) <= MAX_RECORD_NESTING ? [place] : []))
    const refusals = await this.trials.stageAllButRefused(sendable.length, (parts) => {
      const places = parts.map((part) => sendable[part] as number)
      return this.stage(`[[${places.map(textOf).join(',')}]]`, index, places)
    })
    for (const [place, depth] of depths.entries())
      if (depth > MAX_RECORD_NESTING)
        await this.setAsideText(body, spans[place] as TextSpan, index, place, nestingReason(depth))
    for (const { index: part, error } of refusals) {
      const place = sendable[part] as number
      await this.setAsideText(body, spans[place] as TextSpan, index, place, refusalReason(error))
    }
  }

  /** Finds the staged records that make the writes of the read fail, and sets them aside. */
  async setAsideRefusedWrites(): Promise<void> {
    const staged = await selectStagedLeadRecords(this.trx)
    // A part is a run of records in read order: the trial keeps from its first to its last.
    const refusals = await this.trials.refusedByWrites(staged.length, async (from, to) => {
      await deleteLeadRecordsOutside(this.trx, { first: staged[from], last: staged[to - 1] })
      await writeStagedLeads(this.trx, this.journal, this.read)
    })
    const mode = this.read.contacts?.mode ?? 'keep'
    for (const { index, error } of refusals)
      await setAsideLeadRecord(this.trx, { recordNo: staged[index] as string, reason: refusalReason(error), mode })
  }

  /** The records of a body as the staging statement finds them: a bare array's elements, or (calls) a page's records. */
  private recordSpansOf(body: string): TextSpan[] | undefined {
    return elementSpans(body) ?? (this.journal === 'calls' ? recordSpans(body) : undefined)
  }

  /**
   * Sets aside a record PostgreSQL refused to stage (or that nests too deep to send): a stand-in
   * of its id and day alone is staged at its place, so that the staging statement decides its
   * id, its day and whether it belongs to the read, as for any record, with the reason and the
   * record's text. A member PostgreSQL refuses too, or that nests too deep, is left out of the
   * stand-in (an id that is not one: the record is reported without).
   */
  private async setAsideText(
    body: string,
    span: TextSpan,
    index: number,
    place: number,
    reason: string,
  ): Promise<void> {
    const members = objectMembers(body, span)
    const keys = LEAD_KEYS[this.journal]
    const member = (key: string): JsonMember[] => (members ?? []).filter((found) => found.key === key).slice(-1)
    const literal = (found: JsonMember): string => body.slice(found.value.start, found.value.end)
    const text = this.textToKeep(body, span, members)
    const tried = new Set<string>()
    for (const standIn of [[...member(keys.id), ...member(keys.day)], member(keys.day), member(keys.id), []]) {
      const record = `{${standIn.map((found) => `${JSON.stringify(found.key)}:${literal(found)}`).join(',')}}`
      if (tried.has(record) || nestingDepth(record, { start: 0, end: record.length }) > MAX_RECORD_NESTING) continue
      tried.add(record)
      // The last stand-in, {}, always stages.
      const staged = await this.trials.attempt(() => this.stage(`[[${record}]]`, index, [place], { reason, text }))
      if (staged.refused === undefined) return
    }
  }

  /** A refused record's text for etl.rejected_records: as received, without its contact members unless the mode keeps them. */
  private textToKeep(body: string, span: TextSpan, members: JsonMember[] | undefined): string {
    const mode = this.read.contacts?.mode ?? 'keep'
    if (mode === 'keep' || members === undefined) return body.slice(span.start, span.end)
    const kept = members.filter((found) => !CONTACT_MEMBERS.has(found.key))
    return `{${kept.map((found) => `${JSON.stringify(found.key)}:${body.slice(found.value.start, found.value.end)}`).join(',')}}`
  }

  /**
   * Stages one body's records as body `index` + 1 of the read: at their places in it (0-based)
   * when they are some of its records, set aside when `setAside` says why.
   */
  private stage(
    bodies: string,
    index: number,
    places?: readonly number[],
    setAside?: { readonly reason: string; readonly text: string },
  ): Promise<number> {
    const { firstDay, lastDay } = this.read
    return stageLeadRecords(this.trx, this.journal, {
      bodies,
      firstDay,
      lastDay,
      bodiesBefore: index,
      ...(places === undefined ? {} : { places: places.map((place) => place + 1) }),
      ...(setAside === undefined ? {} : { setAside }),
    })
  }
}
