import { sql } from 'kysely'
import { EtlError } from '../core/errors.ts'
import type { Warehouse } from './connection.ts'
import { closeAbandonedRuns } from './run-ledger.ts'

/**
 * One key for every run that writes the warehouse (sync, backfill, transform,
 * schedule's runs): two of them at once would race on the same rows.
 * 0x63746c = 'ctl'.
 */
const RUN_LOCK_KEY = 0x63746c_01

/**
 * Runs `work` while holding the warehouse's run lock, or fails at once with
 * exit code 3 when another run holds it. Holding the lock, it first closes the
 * rows of runs whose process died (see closeAbandonedRuns), so etl.runs never
 * shows a killed run as running for ever.
 *
 * PostgreSQL: a session advisory lock on a connection held for the duration,
 * released when that connection ends, so a killed process frees it. When the
 * connection ends under a live process instead, the lock is gone too: the
 * warehouse is then lost (Warehouse.lost), takes no further statement, and the
 * work's next one fails with the loss, so nothing is written unlocked. Embedded:
 * the data directory is already one process's alone (see connection.ts), which
 * is the same guarantee.
 */
export async function withRunLock<T>(warehouse: Warehouse, work: () => Promise<T>): Promise<T> {
  if (warehouse.engine === 'pglite') {
    await closeAbandonedRuns(warehouse.db)
    return work()
  }
  return warehouse.db.connection().execute(async (connection) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${RUN_LOCK_KEY}) as locked`.execute(
      connection,
    )
    if (rows[0]?.locked !== true) {
      throw new EtlError(
        'LOCKED',
        `another calltouch-etl run is working on the ${warehouse.description}; this one did nothing — try again when it has finished`,
      )
    }
    try {
      await closeAbandonedRuns(warehouse.db)
      return await work()
    } finally {
      // A lost connection took the lock with it, and unlocking on it would only hide why the run stopped.
      if (!warehouse.lost.aborted) await sql`select pg_advisory_unlock(${RUN_LOCK_KEY})`.execute(connection)
    }
  })
}
