import os from 'node:os'
import { redact } from '../core/secrets.ts'
import type { WarehouseDb } from './connection.ts'
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
