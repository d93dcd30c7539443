import { dayProblem, isDay, isTimeZone, timeZoneProblem } from '../../core/day.ts'
import { EtlError } from '../../core/errors.ts'
import type { ContactPolicy } from '../../core/pii.ts'
import { siteIdProblem } from './config.ts'

/** One window's pages, as loadWindow takes them. */
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
  /** What the warehouse may store of client contacts, and the key of client_key (core/pii.ts); absent: contacts as
   *  received and no client_key. Applied to the staged records before anything is written. */
  readonly contacts?: ContactPolicy
}

/** A response body: its text, or the UTF-8 bytes received (kept outside the JavaScript heap). */
export type PageBody = string | Uint8Array

/** What loading a window wrote. */
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

/** A window of days that could not be read, for the ledger. */
export interface WindowFailure {
  readonly runId: string
  readonly siteId: number
  /** 'YYYY-MM-DD', inclusive, site-local. */
  readonly firstDay: string
  /** Inclusive. */
  readonly lastDay: string
  /** Why it failed; stored redacted, on one line. */
  readonly error: string
}

interface WindowBounds {
  readonly runId: string
  readonly siteId: number
  readonly firstDay: string
  readonly lastDay: string
}

const RUN_ID_PATTERN = /^[1-9]\d{0,17}$/

/** 'site 12345, days 2026-11-01..2026-11-07', for messages. */
export function windowLabel(window: Pick<WindowBounds, 'siteId' | 'firstDay' | 'lastDay'>): string {
  return `site ${window.siteId}, days ${window.firstDay}..${window.lastDay}`
}

/** Refuses a window the warehouse would misread, before anything is written. */
export function assertValidWindow(
  window: WindowBounds & { readonly timeZone: string; readonly pages: readonly unknown[] },
): void {
  assertValidBounds(window)
  if (!isTimeZone(window.timeZone)) {
    throw new EtlError('CONFIG', `${windowLabel(window)}: time zone ${timeZoneProblem(window.timeZone)}`)
  }
  if (window.pages.length === 0) {
    throw new EtlError(
      'INPUT',
      `${windowLabel(window)}: no page bodies; pass every response body of the window (an empty answer is a page with an empty records list)`,
    )
  }
  const notText = window.pages.findIndex((page) => typeof page !== 'string' && !(page instanceof Uint8Array))
  if (notText >= 0) {
    throw new EtlError(
      'INPUT',
      `${windowLabel(window)}: page ${notText + 1} is not the response body's text or bytes; pass bodies as received, never parsed`,
    )
  }
}

/** What stage_window_records reports of the pages it parsed. */
export interface StagedPages {
  readonly pages: number
  /** Ordinals (1-based, in the window) of pages whose "records" is not a list. */
  readonly bad_pages: readonly number[]
}

/**
 * Refuses a window whose bodies are not what the API sends for a page: each one JSON object
 * with a "records" list. `pagesBefore` pages of the window came before these `pageCount`.
 */
export function assertStagedPages(
  window: Pick<WindowBounds, 'siteId' | 'firstDay' | 'lastDay'>,
  stage: StagedPages | undefined,
  pagesBefore: number,
  pageCount: number,
): void {
  if (stage === undefined || stage.pages !== pageCount) {
    throw new EtlError(
      'INPUT',
      `${windowLabel(window)}: pages ${pagesBefore + 1}..${pagesBefore + pageCount} are not one JSON object each; pass each response body as it was received`,
    )
  }
  if (stage.bad_pages.length > 0) {
    throw new EtlError(
      'INPUT',
      `${windowLabel(window)}: page ${stage.bad_pages.join(', ')} has no "records" list; an error body must not be loaded as an empty page (it would mark the window's deals removed)`,
    )
  }
}

export function assertValidFailure(failure: WindowFailure): void {
  assertValidBounds(failure)
  if (typeof failure.error !== 'string' || failure.error.trim() === '') {
    throw new EtlError('INPUT', `${windowLabel(failure)}: a failed window needs the reason it failed`)
  }
}

function assertValidBounds(window: WindowBounds): void {
  if (!Number.isSafeInteger(window.siteId) || window.siteId <= 0) {
    throw new EtlError('INPUT', `site id ${siteIdProblem(String(window.siteId))}`)
  }
  if (!RUN_ID_PATTERN.test(String(window.runId))) {
    throw new EtlError(
      'INPUT',
      `${windowLabel(window)}: run id ${JSON.stringify(window.runId)} is not one of etl.runs; start a run first`,
    )
  }
  for (const [name, day] of [
    ['first day', window.firstDay],
    ['last day', window.lastDay],
  ] as const) {
    if (!isDay(day)) throw new EtlError('INPUT', `${windowLabel(window)}: ${name} ${dayProblem(String(day))}`)
  }
  if (window.firstDay > window.lastDay) {
    throw new EtlError('INPUT', `${windowLabel(window)}: the first day is after the last; swap them`)
  }
}
