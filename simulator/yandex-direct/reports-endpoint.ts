/**
 * The Reports service (API.md §1–§6): request headers, the online/offline
 * decision and the offline queue's answers — 200 with the TSV, 201 accepted,
 * 202 still building (both with `retryIn` and `reportsInQueue`), 400 errors.
 */
import type http from 'node:http'
import type { DirectAccount } from './direct-account.ts'
import { DirectError } from './direct-errors.ts'
import type { OfflineReportQueue } from './offline-report-queue.ts'
import { parseReportRequest, type ReportRequest } from './report-definition.ts'
import { buildSnapshot, type ReportSnapshot, type TsvLayout } from './report-tsv.ts'
import type { ResolvedDirectFaults, ResolvedDirectOptions } from './yandex-direct-options.ts'

export type ProcessingMode = 'online' | 'offline' | 'auto'

/** The Reports request headers that shape an answer. */
export interface ReportHeaders extends TsvLayout {
  readonly processingMode: ProcessingMode
}

/** What the Reports service answers, before faults and encoding. */
export type ReportAnswer =
  | { readonly kind: 'tsv'; readonly snapshot: ReportSnapshot }
  | { readonly kind: 'accepted' | 'building'; readonly retryInSeconds: number; readonly reportsInQueue: number }

const DAY_MS = 86_400_000

function flag(req: http.IncomingMessage, name: string, absent: boolean): boolean {
  const value = req.headers[name.toLowerCase()]
  if (value === undefined) return absent
  if (value === 'true') return true
  if (value === 'false') return false
  throw new DirectError(8000, `header ${name} must be the literal string true or false, got ${JSON.stringify(value)}`)
}

/** Reads the Reports headers; absent `returnMoneyInMicros` means micros, absent `processingMode` means auto. */
export function reportHeaders(req: http.IncomingMessage): ReportHeaders {
  const mode = req.headers['processingmode'] ?? 'auto'
  if (mode !== 'online' && mode !== 'offline' && mode !== 'auto')
    throw new DirectError(8000, `header processingMode must be online, offline or auto, got ${JSON.stringify(mode)}`)
  return {
    processingMode: mode,
    moneyInMicros: flag(req, 'returnMoneyInMicros', true),
    skipReportHeader: flag(req, 'skipReportHeader', false),
    skipColumnHeader: flag(req, 'skipColumnHeader', false),
    skipReportSummary: flag(req, 'skipReportSummary', false),
  }
}

/** The first day of `DateRangeType: AUTO`: three days back, or earlier when yesterday's corrections reach further. */
export function autoFromDay(account: DirectAccount, clockMs: number): number {
  let from = account.dayOf(clockMs) - 3
  for (const day of account.correctedSince(clockMs - DAY_MS, clockMs).values()) from = Math.min(from, day)
  return from
}

export interface ReportContext {
  readonly account: DirectAccount
  readonly queue: OfflineReportQueue
  readonly options: ResolvedDirectOptions
  readonly faults: ResolvedDirectFaults
  readonly clockMs: number
  /** Called with the number of reports queued or building after a report was queued. */
  readonly onQueued: (pending: number) => void
}

/**
 * Answers one Reports request.
 *
 * @throws DirectError for every 400 answer (invalid request, name reused with other
 *   parameters, queue full, too big for online).
 */
export function answerReport(context: ReportContext, headers: ReportHeaders, bodyText: string): ReportAnswer {
  const { account, queue, options, faults, clockMs } = context
  const login = account.login
  const request = parseReportRequest(bodyText, {
    today: account.dayOf(clockMs),
    autoFromDay: () => autoFromDay(account, clockMs),
  })
  const polling = (kind: 'accepted' | 'building'): ReportAnswer => ({
    kind,
    retryInSeconds: faults.retryInSeconds,
    reportsInQueue: queue.pending(login),
  })
  if (headers.processingMode !== 'online') {
    const existing = queue.find(login, request.name)
    if (existing !== undefined) {
      if (existing.canonical !== request.canonical)
        throw new DirectError(
          4000,
          `ReportName ${JSON.stringify(request.name)} is already used by a report with other parameters; give every report a new ReportName`,
        )
      if (existing.snapshot !== undefined) return { kind: 'tsv', snapshot: existing.snapshot }
      return polling('building')
    }
  }
  if (headers.processingMode === 'online' || (headers.processingMode === 'auto' && !faults.forceOffline)) {
    const snapshot = buildSnapshot(request, account, clockMs)
    if (snapshot.rows.length <= options.onlineMaxRows) return { kind: 'tsv', snapshot }
    if (headers.processingMode === 'online')
      throw new DirectError(
        4002,
        `the report has ${snapshot.rows.length} rows, more than ${options.onlineMaxRows} built online; use processingMode auto or offline`,
      )
  }
  return enqueue(context, request, polling)
}

function enqueue(
  context: ReportContext,
  request: ReportRequest,
  polling: (kind: 'accepted') => ReportAnswer,
): ReportAnswer {
  const { account, queue, options, faults } = context
  const login = account.login
  if (queue.pending(login) >= options.maxQueuedReports)
    throw new DirectError(
      9000,
      `${options.maxQueuedReports} reports are already queued or building for ${login}; wait until one is ready, then retry`,
    )
  // The snapshot is taken when the build ends, at the clock of that moment.
  queue.add(login, request.name, request.canonical, () => buildSnapshot(request, account, context.queue.clockMs()), {
    queuedMs: faults.queuedMs,
    buildMs: faults.buildMs,
  })
  context.onQueued(queue.pending(login))
  return polling('accepted')
}
