/**
 * Finding the records PostgreSQL refuses in a load it refused, so that they can be set aside and
 * the rest loaded: what every source's isolating load shares (calltouch-deals/load-isolation.ts,
 * calltouch-leads/lead-isolation.ts).
 *
 * A set-based load writes a read in a few statements, so one record PostgreSQL refuses fails them
 * all: a number jsonb cannot hold (1e400000), an escape its JSON parser refuses (a lone surrogate,
 * "\ud800"), a key too long for a b-tree index, or any other refusal nobody foresaw. Without
 * isolation such a record would fail its read on every run, for ever, and the good records of its
 * days with it. The isolating load tries parts of the read in trials, statements under a savepoint
 * of the load's transaction, and bisects down to the records that make them fail. Trials are
 * bounded (MAX_ISOLATION_TRIALS): past that, the read fails as it would have without isolation.
 */
import { messageOf } from '../core/errors.ts'
import { redact } from '../core/secrets.ts'
import { executeSql, type WarehouseDb } from './connection.ts'

/**
 * SQLSTATE classes of the errors the data of a record can cause: data exception (22: a value
 * out of range, text its parser refuses), integrity constraint violation (23), program limit
 * exceeded (54: a key too long for a b-tree index, JSON nested too deep for the parser's stack).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 * Conflicts with other transactions (40) are retried as they are; a lost connection (08), a
 * server shutting down (57) or anything else is not the data's doing, and isolating records would
 * only repeat it.
 */
const RECORD_PROBLEM_CLASSES: ReadonlySet<string> = new Set(['22', '23', '54'])

/**
 * At most this many trials (statements under a savepoint) a read: each record PostgreSQL refuses
 * costs about 2 × log2(records) of them, so a read of 5,000 records can set aside ~40. More
 * refusals than that are unlikely to be the records' doing, and the read fails.
 */
export const MAX_ISOLATION_TRIALS = 1_000

/**
 * The deepest nesting of arrays and objects a record may have; a deeper one is refused by the
 * loader itself, never sent. The embedded engine answers a JSON value nested more than about
 * 5,690 levels with no rows at all and no error (PGlite 0.4, measured), which a load would take
 * for an empty read; PostgreSQL refuses one deeper than its max_stack_depth allows (54001, at
 * 100,000 levels with the default 2 MB). No API sends more than a handful of levels.
 */
export const MAX_RECORD_NESTING = 1_000

/** Whether PostgreSQL refused a statement because of the data in it (see RECORD_PROBLEM_CLASSES). */
export function isRecordProblem(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && RECORD_PROBLEM_CLASSES.has(code.slice(0, 2))
}

/**
 * What etl.rejected_records says of a record PostgreSQL refused: its message, redacted, on one
 * line. The detail is added for a data exception (class 22), where it describes the value
 * ("Unicode low surrogate must follow a high surrogate."); other details name row positions,
 * which differ from run to run and would store the same refusal again at every read.
 */
export function refusalReason(error: unknown): string {
  const { code, detail } = error as { code?: unknown; detail?: unknown }
  const described =
    typeof code === 'string' && code.startsWith('22') && typeof detail === 'string' && detail !== ''
      ? ` (${detail})`
      : ''
  return redact(`PostgreSQL refused the record: ${messageOf(error)}${described}`)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim()
}

/** What etl.rejected_records says of a record nested deeper than MAX_RECORD_NESTING. */
export function nestingReason(depth: number): string {
  return `the record nests arrays and objects ${depth} levels deep, more than the ${MAX_RECORD_NESTING} the warehouse takes`
}

/** A part that PostgreSQL refused alone: its place in the list bisected (0-based), and the error. */
export interface Refusal {
  readonly index: number
  readonly error: unknown
}

/**
 * The trials of one isolating load, on its transaction: each runs under a savepoint, and all of
 * them together at most MAX_ISOLATION_TRIALS times.
 *
 * @example
 * const trials = new IsolationTrials(trx)
 * const refused = await trials.stageAllButRefused(spans.length, (places) => stage(bodyOf(places)))
 * // the records at refused[i].index were not staged; every other one was
 */
export class IsolationTrials {
  private trialsLeft = MAX_ISOLATION_TRIALS

  constructor(private readonly trx: WarehouseDb) {}

  /**
   * Stages `count` parts, leaving out the ones PostgreSQL refuses: `stage(places)` stages the
   * parts at those places (0-based, ascending). Found by bisection, in trials; then the others
   * are staged for good, in one call (none when all were refused).
   */
  async stageAllButRefused(count: number, stage: (places: readonly number[]) => Promise<unknown>): Promise<Refusal[]> {
    const placesFrom = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, at) => from + at)
    const refusals = await this.bisect(count, (from, to) => this.trial(() => stage(placesFrom(from, to))))
    const refused = new Set(refusals.map((refusal) => refusal.index))
    const kept = placesFrom(0, count).filter((place) => !refused.has(place))
    if (kept.length > 0) await stage(kept)
    return refusals
  }

  /**
   * The parts among `count` that make the load's writes fail, found by bisection:
   * `write(from, to)` keeps the parts from..to-1 and runs the writes, in a trial that is rolled
   * back. None when the writes succeed on all of them; when they fail without any part, no part
   * is to blame, and that error is thrown.
   */
  async refusedByWrites(count: number, write: (from: number, to: number) => Promise<unknown>): Promise<Refusal[]> {
    const trialOf = (from: number, to: number): Promise<unknown> => this.trial(() => write(from, to))
    const all = await trialOf(0, count)
    if (all === undefined) return []
    const none = await trialOf(0, 0)
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what PostgreSQL threw, as it was
    if (none !== undefined) throw none
    return this.bisect(count, trialOf, all)
  }

  /** Runs `work` under a savepoint, kept when it succeeds: its value, or the record problem it met. */
  async attempt<T>(work: () => Promise<T>): Promise<{ value?: T; refused?: unknown }> {
    return this.underSavepoint(work, 'keep')
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
