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
 * digits and no JavaScript number may hold them. A window PostgreSQL refuses because of the data
 * of a record is loaded again without that record (load-isolation.ts).
 */
import pRetry from 'p-retry'
import { EtlError, messageOf } from '../../core/errors.ts'
import { jsonProblem } from '../../core/record-spans.ts'
import { redact } from '../../core/secrets.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import { recordFailedDays } from '../../warehouse/ledger.ts'
import { protectStagedContacts } from './contact-protection.ts'
import { isRecordProblem, loadIsolatingRecords } from './load-isolation.ts'
import { prepareLoadStaging } from './load-staging.ts'
import {
  assertStagedPages,
  assertValidFailure,
  assertValidWindow,
  windowLabel,
  type PageBody,
  type WindowFailure,
  type WindowLoadResult,
  type WindowToLoad,
} from './load-input.ts'
import {
  loadStagedRecords,
  settleStagedRecords,
  stageWindowRecords,
  type StagedWindowRecords,
} from './load-statements.ts'
import { siteLedgerKey } from './site-ledger.ts'

export type { PageBody, WindowFailure, WindowLoadResult, WindowToLoad } from './load-input.ts'
export { LAST_SEEN_RESOLUTION } from './load-statements.ts'

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

/**
 * Lands, normalizes and records the window's days in the ledger (status ok) in ONE
 * transaction: either all of the window is in the warehouse, or none of it. A record PostgreSQL
 * refuses (a number or text it cannot hold, a key too long to index) goes to
 * etl.rejected_records with PostgreSQL's message, and the rest of the window loads.
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
    try {
      return await withConflictRetries(() => loadInTransaction(db, window, 'by page'))
    } catch (error) {
      if (!(error instanceof PageShapeMismatch)) throw error
    }
    return await withConflictRetries(() => loadInTransaction(db, window, 'by chunk'))
  } catch (error) {
    if (error instanceof EtlError) throw error
    const texts = window.pages.map((page) => textOf(withoutNulEscapes(page)))
    for (const [index, text] of texts.entries()) {
      const problem = jsonProblem(text)
      if (problem !== undefined)
        throw new EtlError(
          'INPUT',
          `${windowLabel(window)}: page ${index + 1} is not valid JSON (${problem}); read the window again`,
          { cause: error },
        )
    }
    let failure = redact(messageOf(error))
    let cause = error
    if (isRecordProblem(error)) {
      try {
        return await withConflictRetries(() => loadIsolatingRecords(db, window, texts))
      } catch (isolationError) {
        if (isolationError instanceof EtlError) throw isolationError
        const message = redact(messageOf(isolationError))
        if (message !== failure) failure += `; setting aside the records PostgreSQL refused did not help: ${message}`
        cause = isolationError
      }
    }
    throw new EtlError('WAREHOUSE', `loading ${windowLabel(window)} failed, nothing of it was kept: ${failure}`, {
      cause,
      context: { siteId, firstDay, lastDay },
    })
  }
}

/** A load in a transaction of its own, run again when PostgreSQL aborted it for another transaction's sake. */
function withConflictRetries(load: () => Promise<WindowLoadResult>): Promise<WindowLoadResult> {
  return pRetry(load, {
    retries: CONFLICT_RETRIES,
    minTimeout: 50,
    maxTimeout: 1_000,
    randomize: true,
    shouldRetry: ({ error }) => isConcurrencyConflict(error),
  })
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
  return db.transaction().execute(async (trx) => {
    await prepareLoadStaging(trx)
    let pagesBefore = 0
    for (const chunk of pageChunks(window.pages.map(withoutNulEscapes))) {
      const stage = await stageChunk(trx, window, chunk, pagesBefore, staging)
      assertStagedPages(window, stage, pagesBefore, chunk.length)
      pagesBefore += chunk.length
    }
    await settleStagedRecords(trx)
    await protectStagedContacts(trx, window.contacts)
    return loadStagedRecords(trx, window)
  })
}

/** Stages a chunk of pages; what it reports is the same whichever way the texts are sent. */
async function stageChunk(
  trx: WarehouseDb,
  window: WindowToLoad,
  chunk: readonly PageBody[],
  pagesBefore: number,
  staging: Staging,
): Promise<StagedWindowRecords | undefined> {
  const { firstDay, lastDay } = window
  if (staging === 'by chunk') {
    return stageWindowRecords(trx, { bodies: chunk.map(textOf).join(','), firstDay, lastDay, pagesBefore })
  }
  const badPages: number[] = []
  for (const [index, page] of chunk.entries()) {
    // A body that fails alone might still be part of a valid chunk (say, an object split across
    // two bodies): the chunk decides.
    const stage = await stageWindowRecords(trx, {
      bodies: page,
      firstDay,
      lastDay,
      pagesBefore: pagesBefore + index,
    }).catch((error: unknown) => {
      throw new PageShapeMismatch('a body is not one JSON value', { cause: error })
    })
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
  const { siteId, firstDay, lastDay, runId, error } = failure
  await recordFailedDays(db, siteLedgerKey(siteId), { firstDay, lastDay, runId, error })
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
