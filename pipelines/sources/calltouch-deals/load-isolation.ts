/**
 * The isolating load: what happens to a window PostgreSQL refused because of the data in it.
 *
 * The usual load (load-window.ts) writes a window in a few set-based statements, so one record
 * PostgreSQL refuses fails them all: a number jsonb cannot hold (1e400000), an escape its JSON
 * parser refuses (a lone surrogate, "\ud800"), a key too long for a b-tree index, or any other
 * refusal nobody foresaw. Without this path such a record would fail its window on every run, for
 * ever, and the good deals of its days with it.
 *
 * So the window is loaded again, in one transaction, trying its parts under savepoints:
 * 1. each page is staged alone; a page PostgreSQL refuses is cut into its records' texts
 *    (record-spans.ts) and bisected, so the records it refuses are found and set aside;
 * 2. the statements that write the records are tried on parts of the staged records (the rest is
 *    deleted under the savepoint, which is then rolled back), bisecting down to the records that
 *    make them fail, which are set aside too;
 * 3. the window is loaded as usual, the records set aside going to etl.rejected_records with
 *    PostgreSQL's message instead of into the warehouse.
 * A record set aside still counts as returned by the API, as a rejected record does
 * (sql/set_aside_staged_record.sql). The work is bounded (MAX_ISOLATION_TRIALS); when the window
 * still fails, it fails as it would have without this path.
 */
import { messageOf } from '../../core/errors.ts'
import { redact } from '../../core/secrets.ts'
import { executeSql, type WarehouseDb } from '../../warehouse/connection.ts'
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
import { objectMembers, recordSpans, type JsonMember, type TextSpan } from './record-spans.ts'

/**
 * SQLSTATE classes of the errors the data of a record can cause: data exception (22: a value
 * out of range, text its parser refuses), integrity constraint violation (23), program limit
 * exceeded (54: a key too long for a b-tree index).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 * Conflicts with other transactions (40) are retried as they are; a lost connection (08), a
 * server shutting down (57) or anything else is not the data's doing, and isolating records would
 * only repeat it.
 */
const RECORD_PROBLEM_CLASSES: ReadonlySet<string> = new Set(['22', '23', '54'])

/**
 * At most this many trials (statements under a savepoint) a window: each record PostgreSQL
 * refuses costs about 2 × log2(records) of them, so a window of 5,000 records can set aside
 * ~40. More refusals than that are unlikely to be the records' doing, and the window fails.
 */
export const MAX_ISOLATION_TRIALS = 1_000

/** Whether PostgreSQL refused a statement because of the data in it (see RECORD_PROBLEM_CLASSES). */
export function isRecordProblem(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && RECORD_PROBLEM_CLASSES.has(code.slice(0, 2))
}

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

/** A part that PostgreSQL refused alone: its place in the list bisected, and the error. */
interface Refusal {
  readonly index: number
  readonly error: unknown
}

class RecordIsolation {
  private trialsLeft = MAX_ISOLATION_TRIALS

  constructor(
    private readonly trx: WarehouseDb,
    private readonly window: WindowToLoad,
  ) {}

  /** Stages page `index` (0-based) of the window; its records PostgreSQL refuses are set aside. */
  async stagePage(page: string, index: number): Promise<void> {
    const whole = await this.attempt(() => this.stage(page, index))
    if (whole.refused === undefined) return assertStagedPages(this.window, whole.value, index, 1)
    const spans = recordSpans(page)
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what PostgreSQL threw, as it was
    if (spans === undefined) throw whole.refused
    const textOf = (span: TextSpan): string => page.slice(span.start, span.end)
    const pageOf = (records: readonly TextSpan[]): string => `{"records":[${records.map(textOf).join(',')}]}`
    const refusals = await this.bisect(spans.length, (from, to) =>
      this.trial(() => this.stage(pageOf(spans.slice(from, to)), index)),
    )
    const refused = new Set(refusals.map((refusal) => refusal.index))
    const kept = spans.flatMap((_, place) => (refused.has(place) ? [] : [place]))
    if (kept.length > 0) {
      await this.stage(pageOf(kept.map((place) => spans[place] as TextSpan)), index)
      await renumberSplitPage(this.trx, { pageNo: index + 1, places: kept.map((place) => place + 1) })
    }
    for (const { index: place, error } of refusals)
      await this.setAsideText(page, spans[place] as TextSpan, index + 1, place + 1, reasonOf(error))
  }

  /** Finds the staged records that make the writes of the window fail, and sets them aside. */
  async setAsideRefusedWrites(): Promise<void> {
    const staged = await selectStagedRecords(this.trx)
    // A part is a run of records in read order: the trial keeps from its first to its last; a
    // range ending before the first page (page 0) keeps none.
    const trialOf = (from: number, to: number): Promise<unknown> =>
      this.trial(async () => {
        await deleteRecordsOutside(this.trx, { first: staged[from], last: staged[to - 1] })
        await writeChangedRecords(this.trx, this.window, true)
      })
    const all = await trialOf(0, staged.length)
    if (all === undefined) return
    // When the statements fail without any record, no record is to blame.
    const none = await trialOf(0, 0)
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what PostgreSQL threw, as it was
    if (none !== undefined) throw none
    for (const { index, error } of await this.bisect(staged.length, trialOf, all)) {
      const { page_no: pageNo, record_no: recordNo } = staged[index] as StagedRecordPlace
      const at = { pageNo, recordNo }
      await setAsideStagedRecord(this.trx, { at, to: at, reason: reasonOf(error), text: null, reportedKey: null })
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
      if ((await this.attempt(() => this.stage(text, -1))).refused === undefined) break
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

  /**
   * The parts among `count` that PostgreSQL refuses alone, by bisection: a part that fails is
   * halved until a single one fails. `trialOf(from, to)` tries the parts from..to-1 and gives
   * the error, or undefined; `failure` is the error of all of them when it is known.
   */
  private async bisect(
    count: number,
    trialOf: (from: number, to: number) => Promise<unknown>,
    failure?: unknown,
  ): Promise<Refusal[]> {
    const refusals: Refusal[] = []
    const visit = async (from: number, to: number, error: unknown): Promise<void> => {
      if (error === undefined) return
      if (to - from === 1) {
        refusals.push({ index: from, error })
        return
      }
      const middle = from + Math.ceil((to - from) / 2)
      await visit(from, middle, await trialOf(from, middle))
      await visit(middle, to, await trialOf(middle, to))
    }
    if (count > 0) await visit(0, count, failure ?? (await trialOf(0, count)))
    return refusals
  }

  /** Runs `work` under a savepoint that is always rolled back: the record problem it met, or undefined. */
  private async trial(work: () => Promise<unknown>): Promise<unknown> {
    const outcome = await this.underSavepoint(work, 'rollback')
    return outcome.refused
  }

  /** Runs `work` under a savepoint, kept when it succeeds: its value, or the record problem it met. */
  private async attempt<T>(work: () => Promise<T>): Promise<{ value?: T; refused?: unknown }> {
    return this.underSavepoint(work, 'keep')
  }

  private async underSavepoint<T>(
    work: () => Promise<T>,
    onSuccess: 'keep' | 'rollback',
  ): Promise<{ value?: T; refused?: unknown }> {
    if (this.trialsLeft-- <= 0) {
      throw new Error(`more than ${MAX_ISOLATION_TRIALS} trials would be needed to find the records PostgreSQL refuses`)
    }
    await executeSql(this.trx, 'savepoint isolation_trial')
    let outcome: { value?: T; refused?: unknown }
    try {
      outcome = { value: await work() }
    } catch (error) {
      if (!isRecordProblem(error)) throw error
      outcome = { refused: error }
    }
    if (outcome.refused !== undefined || onSuccess === 'rollback')
      await executeSql(this.trx, 'rollback to savepoint isolation_trial')
    await executeSql(this.trx, 'release savepoint isolation_trial')
    return outcome
  }
}

/**
 * What etl.rejected_records says of a record PostgreSQL refused: its message, redacted, on one
 * line. The detail is added for a data exception (class 22), where it describes the value
 * ("Unicode low surrogate must follow a high surrogate."); other details name row positions,
 * which differ from run to run and would store the same refusal again at every read.
 */
function reasonOf(error: unknown): string {
  const { code, detail } = error as { code?: unknown; detail?: unknown }
  const described =
    typeof code === 'string' && code.startsWith('22') && typeof detail === 'string' && detail !== ''
      ? ` (${detail})`
      : ''
  return redact(`PostgreSQL refused the record: ${messageOf(error)}${described}`)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim()
}

/** The orderNumber a literal of the record names, for the report: a string's text, a number's digits, else none. */
function keyText(literal: string): string | null {
  if (literal.startsWith('"')) return JSON.parse(literal) as string
  return /^-?[0-9]/.test(literal) ? literal : null
}
