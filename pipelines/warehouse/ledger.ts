import { redact } from '../core/secrets.ts'
import type { WarehouseDb } from './connection.ts'
import type { LedgerDayStatus } from './schema.ts'
import { runSqlFile } from './sql-files.ts'

/**
 * The extraction ledger, `etl.ledger`: one row per source, account and day read, saying when it
 * was last read, whether that read loaded the day completely, and how many records the day held.
 * Planners read it to choose the days a run reads; a window's loader writes its days in the
 * transaction of its data (data before state). This module is the only one that reads or
 * writes the table.
 *
 * - source: what is read, e.g. `calltouch-deals` (the next are `yandex-direct`, `vk-ads`,
 *   `calltouch-leads`);
 * - account: whose data within the source, as text: a Calltouch site id, an ad account login or id.
 *
 * `etl.site_days`, the ledger before sources had a name, is a deprecated view over the
 * `calltouch-deals` rows (migration 20261207130000); nothing of the product reads it.
 */

/** One source's account: the rows of the ledger a planner reads and a loader writes. */
export interface LedgerKey {
  readonly source: string
  readonly account: string
}

/** A ledger row as a planner reads it. */
export interface LedgerDay {
  /** YYYY-MM-DD, in the account's zone. */
  readonly day: string
  /** Records of the day at its last successful read; null if never read successfully. */
  readonly records: number | null
  readonly status: LedgerDayStatus
  readonly lastSucceededAt: Date | null
}

/** Consecutive days of one account that one read covered. */
export interface LedgerDays {
  readonly firstDay: string
  readonly lastDay: string
  readonly runId: string
}

/** A day whose last read failed, and why. */
export interface FailedLedgerDay {
  readonly day: string
  readonly error: string | null
  /** Reads of the day since it last succeeded, the failed one included. */
  readonly attempts: number
  /** ISO 8601. */
  readonly lastExtractedAt: string
}

/** How far an account has been read. */
export interface LedgerSummary {
  /** The newest day whose last read succeeded. */
  readonly newestOkDay: string | null
  /** The latest complete read of any day, and its run. */
  readonly lastSucceededAt: Date | null
  readonly lastSuccessRunId: string | null
}

/**
 * The ledger of one account, oldest day first.
 *
 * @example
 * const ledger = await readLedger(db, { source: 'calltouch-deals', account: '12345' })
 */
export async function readLedger(db: WarehouseDb, key: LedgerKey): Promise<LedgerDay[]> {
  const rows = await db
    .selectFrom('etl.ledger')
    .select(['day', 'records', 'status', 'last_succeeded_at'])
    .where('source', '=', key.source)
    .where('account', '=', key.account)
    .orderBy('day')
    .execute()
  return rows.map((row) => ({
    day: row.day,
    records: row.records,
    status: row.status,
    lastSucceededAt: row.last_succeeded_at,
  }))
}

/**
 * Records every day of a window that loaded: status ok, its record count (0 for a day absent
 * from `recordsByDay`), attempts back to 1. Call it with the transaction that wrote the window's
 * data, so that a day is never called read without its records. Returns the count of each day of
 * the window.
 */
export async function recordLoadedDays(
  trx: WarehouseDb,
  key: LedgerKey,
  days: LedgerDays & { readonly recordsByDay: Readonly<Record<string, number>> },
): Promise<Record<string, number>> {
  const counted = Object.entries(days.recordsByDay)
  const rows = await runSqlFile<{ day: string; records: number }>(trx, 'upsert_loaded_ledger_days', [
    key.source,
    key.account,
    days.firstDay,
    days.lastDay,
    days.runId,
    counted.map(([day]) => day),
    counted.map(([, records]) => records),
  ])
  const recordsByDay: Record<string, number> = {}
  for (const { day, records } of rows.sort((a, b) => a.day.localeCompare(b.day))) recordsByDay[day] = records
  return recordsByDay
}

/**
 * Records every day of a window that could not be read: status failed, the error (redacted, on
 * one line), attempts + 1; the record count and last success of its last good read stay, for
 * the planner.
 */
export async function recordFailedDays(
  db: WarehouseDb,
  key: LedgerKey,
  days: LedgerDays & { readonly error: string },
): Promise<void> {
  const error = redact(days.error)
    .replace(/\s*[\r\n]+\s*/g, ' ')
    .trim()
  await runSqlFile(db, 'upsert_failed_ledger_days', [
    key.source,
    key.account,
    days.firstDay,
    days.lastDay,
    days.runId,
    error,
  ])
}

/** The days of an account whose last read failed, oldest first. */
export async function readFailedDays(db: WarehouseDb, key: LedgerKey): Promise<FailedLedgerDay[]> {
  const rows = await runSqlFile<{ day: string; error: string | null; attempts: number; last_extracted_at: Date }>(
    db,
    'select_failed_ledger_days',
    [key.source, key.account],
  )
  return rows.map((row) => ({
    day: row.day,
    error: row.error,
    attempts: row.attempts,
    lastExtractedAt: new Date(row.last_extracted_at).toISOString(),
  }))
}

/** How far an account has been read; every field null when it never was. */
export async function readLedgerSummary(db: WarehouseDb, key: LedgerKey): Promise<LedgerSummary> {
  const [row] = await runSqlFile<{
    newest_ok_day: string | null
    last_succeeded_at: Date | null
    last_success_run_id: string | null
  }>(db, 'select_ledger_summary', [key.source, key.account])
  return {
    newestOkDay: row?.newest_ok_day ?? null,
    lastSucceededAt: row?.last_succeeded_at == null ? null : new Date(row.last_succeeded_at),
    lastSuccessRunId: row?.last_success_run_id ?? null,
  }
}

/** Every account of a source that the ledger holds a day of, in text order. */
export async function readLedgerAccounts(db: WarehouseDb, source: string): Promise<string[]> {
  const rows = await db
    .selectFrom('etl.ledger')
    .select('account')
    .distinct()
    .where('source', '=', source)
    .orderBy('account')
    .execute()
  return rows.map((row) => row.account)
}
