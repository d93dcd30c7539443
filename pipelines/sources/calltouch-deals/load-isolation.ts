/**
 * The isolating load: what happens to a window PostgreSQL refused because of the data in it.
 *
 * The usual load (load-window.ts) writes a window in a few set-based statements, so one record
 * PostgreSQL refuses fails them all (warehouse/record-isolation.ts says which, and holds the trials
 * and the bisection this path shares with the leads').
 *
 * So the window is loaded again, in one transaction, trying its parts under savepoints:
 * 1. each page is staged alone; a page PostgreSQL refuses is cut into its records' texts
 *    (core/record-spans.ts) and bisected, so the records it refuses are found and set aside;
 * 2. the statements that write the records are tried on parts of the staged records (the rest is
 *    deleted under the savepoint, which is then rolled back), bisecting down to the records that
 *    make them fail, which are set aside too;
 * 3. the window is loaded as usual, the records set aside going to etl.rejected_records with
 *    PostgreSQL's message instead of into the warehouse.
 * A record set aside still counts as returned by the API, as a rejected record does
 * (sql/set_aside_staged_record.sql). The work is bounded (MAX_ISOLATION_TRIALS); when the window
 * still fails, it fails as it would have without this path.
 */
import { objectMembers, recordSpans, type JsonMember, type TextSpan } from '../../core/record-spans.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import { IsolationTrials, refusalReason } from '../../warehouse/record-isolation.ts'
import { protectStagedContacts } from './contact-protection.ts'
import { assertStagedPages, type StagedPages } from './load-input.ts'
import { prepareLoadStaging } from './load-staging.ts'
import {
  deleteRecordsOutside,
  loadStagedRecords,
  renumberSplitPage,
  selectStagedRecords,
  setAsideStagedRecord,
  settleStagedRecords,
  stageWindowRecords,
  writeChangedRecords,
  type StagedRecordPlace,
} from './load-statements.ts'
import type { WindowLoadResult, WindowToLoad } from './load-input.ts'

export { isRecordProblem, MAX_ISOLATION_TRIALS } from '../../warehouse/record-isolation.ts'

/**
 * Loads a window PostgreSQL refused because of its data, setting aside the records it refuses;
 * one transaction, as the usual load. Throws when that does not help (see the file's comment).
 *
 * @param pages the window's bodies as text, U+0000 escapes already replaced
 */
export async function loadIsolatingRecords(
  db: WarehouseDb,
  window: WindowToLoad,
  pages: readonly string[],
): Promise<WindowLoadResult> {
  return db.transaction().execute(async (trx) => {
    await prepareLoadStaging(trx)
    const isolation = new RecordIsolation(trx, window)
    for (const [index, page] of pages.entries()) await isolation.stagePage(page, index)
    await settleStagedRecords(trx)
    await protectStagedContacts(trx, window.contacts)
    await isolation.setAsideRefusedWrites()
    return loadStagedRecords(trx, window, true)
  })
}

class RecordIsolation {
  private readonly trials: IsolationTrials

  constructor(
    private readonly trx: WarehouseDb,
    private readonly window: WindowToLoad,
  ) {
    this.trials = new IsolationTrials(trx)
  }

  /** Stages page `index` (0-based) of the window; its records PostgreSQL refuses are set aside. */
  async stagePage(page: string, index: number): Promise<void> {
    const whole = await this.trials.attempt(() => this.stage(page, index))
    if (whole.refused === undefined) return assertStagedPages(this.window, whole.value, index, 1)
    const spans = recordSpans(page)
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what PostgreSQL threw, as it was
    if (spans === undefined) throw whole.refused
    const textOf = (place: number): string =>
      page.slice((spans[place] as TextSpan).start, (spans[place] as TextSpan).end)
    const refusals = await this.trials.stageAllButRefused(spans.length, (places) =>
      this.stage(`{"records":[${places.map(textOf).join(',')}]}`, index),
    )
    const refused = new Set(refusals.map((refusal) => refusal.index))
    const kept = spans.flatMap((_, place) => (refused.has(place) ? [] : [place]))
    if (kept.length > 0)
      await renumberSplitPage(this.trx, { pageNo: index + 1, places: kept.map((place) => place + 1) })
    for (const { index: place, error } of refusals)
      await this.setAsideText(page, spans[place] as TextSpan, index + 1, place + 1, refusalReason(error))
  }

  /** Finds the staged records that make the writes of the window fail, and sets them aside. */
  async setAsideRefusedWrites(): Promise<void> {
    const staged = await selectStagedRecords(this.trx)
    // A part is a run of records in read order: the trial keeps from its first to its last; a
    // range ending before the first page (page 0) keeps none.
    const refusals = await this.trials.refusedByWrites(staged.length, async (from, to) => {
      await deleteRecordsOutside(this.trx, { first: staged[from], last: staged[to - 1] })
      await writeChangedRecords(this.trx, this.window, true)
    })
    for (const { index, error } of refusals) {
      const { page_no: pageNo, record_no: recordNo } = staged[index] as StagedRecordPlace
      const at = { pageNo, recordNo }
      await setAsideStagedRecord(this.trx, { at, to: at, reason: refusalReason(error), text: null, reportedKey: null })
    }
  }

  /**
   * Stages a stand-in for a record PostgreSQL refused to stage: its orderNumber and orderDate
   * alone, so that stage_window_records decides its key, its day and whether it belongs to the
   * window, as for any record; then sets it aside at its place in the page. A member PostgreSQL
   * refuses too is left out of the stand-in (a key too long to index: the record has no key then,
   * and reports it as its orderNumber).
   */
  private async setAsideText(
    page: string,
    span: TextSpan,
    pageNo: number,
    recordNo: number,
    reason: string,
  ): Promise<void> {
    const members = objectMembers(page, span) ?? []
    const member = (key: string): JsonMember[] => members.filter((found) => found.key === key).slice(-1)
    const [orderNumber] = member('orderNumber')
    const literal = (found: JsonMember): string => page.slice(found.value.start, found.value.end)
    const standIns = [
      [...member('orderNumber'), ...member('orderDate')],
      member('orderDate'),
      member('orderNumber'),
      [],
    ]
    const tried = new Set<string>()
    for (const standIn of standIns) {
      const text = `{"records":[{${standIn.map((found) => `${JSON.stringify(found.key)}:${literal(found)}`).join(',')}}]}`
      if (tried.has(text)) continue
      tried.add(text)
      // The last stand-in, {}, always stages.
      if ((await this.trials.attempt(() => this.stage(text, -1))).refused === undefined) break
    }
    const reportedKey = orderNumber === undefined ? null : keyText(literal(orderNumber))
    // The stand-in was staged as the first record of page 0.
    const at = { pageNo: 0, recordNo: 1 }
    await setAsideStagedRecord(this.trx, {
      at,
      to: { pageNo, recordNo },
      reason,
      text: page.slice(span.start, span.end),
      reportedKey,
    })
  }

  /** Stages one body as page `index` + 1 of the window (`index` -1: as page 0, the stand-ins' own). */
  private async stage(body: string, index: number): Promise<StagedPages | undefined> {
    return stageWindowRecords(this.trx, {
      bodies: body,
      firstDay: this.window.firstDay,
      lastDay: this.window.lastDay,
      pagesBefore: index,
    })
  }
}

/** The orderNumber a literal of the record names, for the report: a string's text, a number's digits, else none. */
function keyText(literal: string): string | null {
  if (literal.startsWith('"')) return JSON.parse(literal) as string
  return /^-?[0-9]/.test(literal) ? literal : null
}
