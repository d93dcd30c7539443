/**
 * Loading one extracted window of a site's deals into the warehouse.
 *
 * Glossary:
 * - window: consecutive site-local days of one site, read completely from the API.
 * - record: one deal as the API returned it in a page's `records`.
 * - version: a distinct payload of a deal; raw.calltouch_orders keeps each once, in order.
 * - changed deal: a record whose payload hash differs from the version calltouch.orders reflects.
 * - rejected record: one that cannot be loaded (see sql/stage_changed_records.sql for the reasons).
 *
 * All the work is set-based SQL in `sql/` over two temporary staging tables: the page texts go
 * to PostgreSQL as they were received and are parsed there, because custom values have 38
 * digits and no JavaScript number may hold them.
 */
import pRetry from 'p-retry'
import { EtlError, messageOf } from '../core/errors.ts'
import { redact } from '../core/secrets.ts'
import { executeSql, type WarehouseDb } from '../warehouse/connection.ts'
import { runSqlFile } from '../warehouse/sql-files.ts'
import { prepareLoadStaging } from './load-staging.ts'
import { assertValidFailure, assertValidWindow, windowLabel, type WindowFailure } from './load-input.ts'

export type { WindowFailure } from './load-input.ts'

export interface WindowToLoad {
  readonly runId: string
  readonly siteId: number
  /** IANA zone of the site, e.g. 'Europe/Moscow'; orderDate strings are site-local. */
  readonly timeZone: string
  /** 'YYYY-MM-DD', inclusive, site-local. */
  readonly firstDay: string
  /** Inclusive. */
  readonly lastDay: string
  /** Response bodies of every page of the window, exactly as received (text or its UTF-8 bytes, never re-serialized:
   *  custom values have 38 digits and JS numbers would round them). The extractor may have asked for
   *  [firstDay, lastDay + 1] to be safe about dateTo semantics, so pages can hold records of other days:
   *  load only records whose orderDate falls inside [firstDay, lastDay]; pages can overlap (a record twice):
   *  de-duplicate by orderNumber. */
  readonly pages: readonly PageBody[]
}

/** A response body: its text, or the UTF-8 bytes received (kept outside the JavaScript heap). */
export type PageBody = string | Uint8Array

export interface WindowLoadResult {
  /** Distinct in-window records received. */
  readonly seen: number
  /** New raw versions written. */
  readonly landed: number
  /** calltouch.orders rows inserted or updated (new or changed deals). */
  readonly changed: number
  /** Records sent to etl.rejected_records (counted even when an earlier read already stored them). */
  readonly rejected: number
  /** Deals newly marked removed_from_source_at. */
  readonly removed: number
  /** In-window records per day (all days of the window present, 0 included). */
  readonly recordsByDay: Readonly<Record<string, number>>
}

/**
 * How fresh calltouch.orders.last_seen_at is kept for unchanged deals: a re-read moves it only
 * when it is older than this, so re-reading unchanged data right away rewrites no row, and the
 * nightly re-read of the look-back days rewrites each deal row at most once a night.
 */
export const LAST_SEEN_RESOLUTION = '1 hour'

/**
 * Page texts are sent in chunks of about this many characters: each chunk is one JSON value in
 * PostgreSQL, so a window of many pages never becomes one huge value in the server's memory.
 */
const PAGE_CHUNK_CHARS = 8_000_000

/**
 * SQLSTATEs with which PostgreSQL aborts a transaction only because another one ran alongside it
 * (deadlock_detected, serialization_failure). Windows load side by side, and two of them can meet
 * on a deal that moved from one's days to the other's between their reads; the aborted window kept
 * nothing, so it is loaded again from the start, up to this many more times.
 */
const CONCURRENCY_CONFLICTS: ReadonlySet<string> = new Set(['40P01', '40001'])
const CONFLICT_RETRIES = 3

interface StageRow { pages: number; bad_pages: number[]; staged: number }
interface CountRow { [column: string]: number }

/**
 * Lands, normalizes and records the window's days in etl.site_days (status ok) in ONE
 * transaction: either all of the window is in the warehouse, or none of it.
 *
 * @example
 * const result = await loadWindow(db, { runId, siteId: 12345, timeZone: 'Europe/Moscow',
 *   firstDay: '2026-11-01', lastDay: '2026-11-07', pages: bodies })
 * // result.changed deals were new or changed; loading the same pages again gives changed 0
 */
export async function loadWindow(db: WarehouseDb, window: WindowToLoad): Promise<WindowLoadResult> {
  assertValidWindow(window)
  const { siteId, firstDay, lastDay } = window
  try {
    const load = (staging: Staging): Promise<WindowLoadResult> => pRetry(() => loadInTransaction(db, window, staging), {
      retries: CONFLICT_RETRIES,
      minTimeout: 50,
      maxTimeout: 1_000,
      randomize: true,
      shouldRetry: ({ error }) => isConcurrencyConflict(error),
    })
    try {
      return await load('by page')
    } catch (error) {
      if (!(error instanceof PageShapeMismatch)) throw error
    }
    return await load('by chunk')
  } catch (error) {
    if (error instanceof EtlError) throw error
    for (const [index, page] of window.pages.entries()) {
      const problem = jsonProblem(textOf(page))
      if (problem !== undefined) throw new EtlError('INPUT', `${windowLabel(window)}: page ${index + 1} is not valid JSON (${problem}); read the window again`, { cause: error })
    }
    throw new EtlError('WAREHOUSE', `loading ${windowLabel(window)} failed, nothing of it was kept: ${redact(messageOf(error))}`, { cause: error, context: { siteId, firstDay, lastDay } })
  }
}

/**
 * How page texts are sent to be staged. 'by page': each body as its own parameter, so that no
 * window-sized string is built in JavaScript (joining them cost more CPU than sending them).
 * 'by chunk': consecutive bodies joined into one JSON array of about PAGE_CHUNK_CHARS; the
 * checks of a body's shape are defined on these arrays, so a window with a body that is not one
 * JSON value is loaded this way, and meets exactly those checks.
 */
type Staging = 'by page' | 'by chunk'

/** A body is not one JSON value (or failed to stage alone): stage the window by chunk instead, whose checks say why. */
class PageShapeMismatch extends Error {}

async function loadInTransaction(db: WarehouseDb, window: WindowToLoad, staging: Staging): Promise<WindowLoadResult> {
  const { siteId, runId, firstDay, lastDay, timeZone } = window
  return db.transaction().execute(async (trx) => {
    await prepareLoadStaging(trx)
    let pagesBefore = 0
    for (const chunk of pageChunks(window.pages.map(withoutNulEscapes))) {
      const stage = await stageChunk(trx, window, chunk, pagesBefore, staging)
      if (stage === undefined || stage.pages !== chunk.length) {
        throw new EtlError('INPUT', `${windowLabel(window)}: pages ${pagesBefore + 1}..${pagesBefore + chunk.length} are not one JSON object each; pass each response body as it was received`)
      }
      if (stage.bad_pages.length > 0) {
        throw new EtlError('INPUT', `${windowLabel(window)}: page ${stage.bad_pages.join(', ')} has no "records" list; an error body must not be loaded as an empty page (it would mark the window's deals removed)`)
      }
      pagesBefore += chunk.length
    }
    // Fresh statistics let the planner join the staged records to each other and to the warehouse
    // by hash or key instead of by nested scans (temporary tables are never analyzed automatically).
    await executeSql(trx, 'analyze pg_temp.load_records (order_number)')
    await runSqlFile(trx, 'delete_superseded_records')
    await runSqlFile(trx, 'stage_changed_records', [siteId, timeZone])
    await executeSql(trx, 'analyze pg_temp.load_changes (order_number, existed, reason)')
    const rejected = await count(trx, 'insert_rejected_records', [siteId, runId, firstDay, lastDay])
    const landed = await count(trx, 'insert_raw_versions', [siteId, runId])
    const changed = await count(trx, 'upsert_changed_orders', [siteId])
    await runSqlFile(trx, 'delete_changed_children', [siteId])
    await runSqlFile(trx, 'insert_changed_children', [siteId])
    const removed = await count(trx, 'mark_removed_orders', [siteId, firstDay, lastDay])
    await runSqlFile(trx, 'mark_seen_orders', [siteId, LAST_SEEN_RESOLUTION])
    const days = await runSqlFile<{ day: string; records: number }>(trx, 'upsert_loaded_site_days', [siteId, firstDay, lastDay, runId])
    const [seenRow] = await executeSql<{ seen: number }>(trx, 'select count(*)::integer as seen from pg_temp.load_records')
    const recordsByDay: Record<string, number> = {}
    for (const { day, records } of days.sort((a, b) => a.day.localeCompare(b.day))) recordsByDay[day] = records
    return { seen: seenRow?.seen ?? 0, landed, changed, rejected, removed, recordsByDay }
  })
}

/** Stages a chunk of pages; what it reports is the same whichever way the texts are sent. */
async function stageChunk(trx: WarehouseDb, window: WindowToLoad, chunk: readonly PageBody[], pagesBefore: number, staging: Staging): Promise<StageRow | undefined> {
  const { firstDay, lastDay } = window
  if (staging === 'by chunk') {
    const [stage] = await runSqlFile<StageRow>(trx, 'stage_window_records', [chunk.map(textOf).join(','), firstDay, lastDay, pagesBefore])
    return stage
  }
  const badPages: number[] = []
  for (const [index, page] of chunk.entries()) {
    // A body that fails alone might still be part of a valid chunk (say, an object split across
    // two bodies): the chunk decides.
    const [stage] = await runSqlFile<StageRow>(trx, 'stage_window_records', [page, firstDay, lastDay, pagesBefore + index])
      .catch((error: unknown) => { throw new PageShapeMismatch('a body is not one JSON value', { cause: error }) })
    if (stage === undefined || stage.pages !== 1) throw new PageShapeMismatch('a body is not one JSON value')
    badPages.push(...stage.bad_pages)
  }
  return { pages: chunk.length, bad_pages: badPages, staged: 0 }
}

/**
 * Records every day of a window that could not be read: status 'failed', its error (redacted,
 * one line), attempts + 1, keeping records/last_succeeded_at of the last success.
 */
export async function recordWindowFailure(db: WarehouseDb, failure: WindowFailure): Promise<void> {
  assertValidFailure(failure)
  const error = redact(failure.error).replace(/\s*[\r\n]+\s*/g, ' ').trim()
  await runSqlFile(db, 'upsert_failed_site_days', [failure.siteId, failure.firstDay, failure.lastDay, failure.runId, error])
}

async function count(db: WarehouseDb, name: string, parameters: readonly unknown[]): Promise<number> {
  const [row] = await runSqlFile<CountRow>(db, name, parameters)
  return row === undefined ? 0 : Object.values(row)[0] ?? 0
}

/** A `\u0000` escape: one preceded by an escaped backslash (`\\u0000`, text) is not one. */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g

/**
 * PostgreSQL's jsonb and text cannot hold U+0000, and a single `\u0000` in a page fails the whole
 * window's statement, on every run, for ever. It becomes U+FFFD, the replacement character: the
 * deal loads, and the spot stays visible in the value.
 */
export function withoutNulEscapes(page: PageBody): PageBody {
  if (typeof page !== 'string') return bytesOf(page).includes('\\u0000') ? withoutNulEscapes(textOf(page)) : page
  return page.includes('\\u0000') ? page.replace(NUL_ESCAPE, '$1\\ufffd') : page
}

function bytesOf(page: Uint8Array): Buffer {
  return Buffer.isBuffer(page) ? page : Buffer.from(page.buffer, page.byteOffset, page.byteLength)
}

function textOf(page: PageBody): string {
  return typeof page === 'string' ? page : bytesOf(page).toString('utf8')
}

/** Consecutive pages grouped so that each group's texts add up to about PAGE_CHUNK_CHARS. */
function* pageChunks(pages: readonly PageBody[]): Generator<PageBody[]> {
  let chunk: PageBody[] = []
  let chars = 0
  for (const page of pages) {
    if (chunk.length > 0 && chars + page.length > PAGE_CHUNK_CHARS) {
      yield chunk
      chunk = []
      chars = 0
    }
    chunk.push(page)
    chars += page.length
  }
  if (chunk.length > 0) yield chunk
}

function isConcurrencyConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && CONCURRENCY_CONFLICTS.has(code)
}

/** Only on the failure path: tells a bad body apart from a warehouse failure, in the same words on both engines. */
function jsonProblem(text: string): string | undefined {
  try {
    JSON.parse(text)
    return undefined
  } catch (error) {
    return messageOf(error)
  }
}
