import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { redact } from '../core/secrets.ts'
import { openWarehouse, type Warehouse, type WarehouseDb } from './connection.ts'
import type { RunStatus } from './schema.ts'

export type RunCounters = Readonly<Record<string, number>>

/**
 * Opens a row in `etl.runs` for a command and returns its run id. Arguments
 * are stored as given; callers pass options, never tokens.
 */
export async function startRun(db: WarehouseDb, command: string, args: Record<string, unknown> = {}): Promise<string> {
  const row = await db
    .insertInto('etl.runs')
    .values({ command, arguments: redact(JSON.stringify(args)), pid: process.pid, hostname: os.hostname() })
    .returning('run_id')
    .executeTakeFirstOrThrow()
  return String(row.run_id)
}

/** Closes a run's row with its outcome; the error is stored redacted, one line. */
export async function finishRun(
  db: WarehouseDb,
  runId: string,
  outcome: { status: Exclude<RunStatus, 'running'>; counters?: RunCounters; error?: string | null },
): Promise<void> {
  await db
    .updateTable('etl.runs')
    .set({
      status: outcome.status,
      finished_at: new Date(),
      counters: JSON.stringify(outcome.counters ?? {}),
      error: outcome.error == null ? null : redact(outcome.error),
    })
    .where('run_id', '=', runId)
    .execute()
}

/**
 * How a run whose warehouse connections were lost tries to close its row: a
 * server restarting answers again within seconds; a longer outage is left to
 * the next run's closeAbandonedRuns rather than holding the command up.
 */
const RECONNECT_ATTEMPTS = 5
const RECONNECT_DELAY_MS = 1_000
const RECONNECT_TIMEOUT_MS = 2_000

/**
 * Closes a run's row as failed, on a new connection when the warehouse's were
 * lost (Warehouse.lost), trying a few times. Never throws: the error that
 * failed the run is the one to report, and a row it cannot close stays
 * `running` until the next run closes it as abandoned.
 */
export async function finishFailedRun(
  warehouse: Warehouse,
  runId: string,
  outcome: { counters?: RunCounters; error: string },
): Promise<void> {
  const failed = { ...outcome, status: 'failed' } as const
  if (!warehouse.lost.aborted) {
    const closed = await finishRun(warehouse.db, runId, failed).then(
      () => true,
      () => false,
    )
    // Failed for another reason than a lost connection: a new one would not do better.
    if (closed || !warehouse.lost.aborted) return
  }
  for (let attempt = 1; attempt <= RECONNECT_ATTEMPTS; attempt++) {
    if (attempt > 1) await sleep(RECONNECT_DELAY_MS)
    try {
      const reopened = await openWarehouse(warehouse.config, { connectTimeoutMs: RECONNECT_TIMEOUT_MS })
      try {
        return await finishRun(reopened.db, runId, failed)
      } finally {
        await reopened.close()
      }
    } catch {
      // The server is not back yet (or refuses the statement): try again, then leave it to the next run.
    }
  }
}

/** What an abandoned run's row says, so a person reading etl.runs knows why it never finished. */
export const ABANDONED_RUN_ERROR =
  'stopped without finishing (the process was killed or crashed); each window it loaded was committed whole, the rest is read again by the next run'

/**
 * Closes the rows of runs whose process died (SIGKILL, a crash, a lost host)
 * and so never called finishRun. Only the holder of the run lock may call it:
 * every writing run holds that lock, so while we hold it any other process's
 * `running` row is abandoned. This process's own rows (a scheduler's run
 * around the sync it is doing) are left alone. Returns how many were closed.
 */
export async function closeAbandonedRuns(db: WarehouseDb): Promise<number> {
  const result = await db
    .updateTable('etl.runs')
    .set({ status: 'failed', finished_at: new Date(), error: ABANDONED_RUN_ERROR })
    .where('status', '=', 'running')
    .where((eb) => eb.not(eb.and([eb('pid', '=', process.pid), eb('hostname', '=', os.hostname())])))
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}
