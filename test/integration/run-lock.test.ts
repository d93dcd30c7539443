import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { executeSql, openWarehouse } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { withRunLock } from '../../pipelines/warehouse/run-lock.ts'
import { withAdminClient } from '../helpers/postgres-server.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

describePostgres('the run lock', () => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('lets one run work and refuses a second with exit code 3 until the first is done', async () => {
    const other = await openWarehouse(tw.config)
    try {
      let refusal: unknown
      const result = await withRunLock(tw.warehouse, async () => {
        refusal = await withRunLock(other, async () => 'second ran').catch((error: unknown) => error)
        return 'first ran'
      })
      expect(result).toBe('first ran')
      expect(refusal).toBeInstanceOf(EtlError)
      expect((refusal as EtlError).exitCode).toBe(3)
      expect((refusal as EtlError).message).toMatch(
        /^another calltouch-etl run is working on the PostgreSQL 127\.0\.0\.1:5432\/ct_test_\w+; this one did nothing — try again when it has finished$/,
      )
      expect(await withRunLock(other, async () => 'after release')).toBe('after release')
    } finally {
      await other.close()
    }
  })

  it('stops the work when its connection is terminated: the warehouse is lost, the open transaction rolled back, the lock free', async () => {
    const warehouse = await openWarehouse(tw.config)
    const database = new URL(tw.env.DATABASE_URL as string).pathname.slice(1)
    try {
      const failure = await withRunLock(warehouse, () =>
        warehouse.db.transaction().execute(async (trx) => {
          await startRun(trx, 'written before the loss')
          const lost = new Promise((resolve) => warehouse.lost.addEventListener('abort', resolve, { once: true }))
          await withAdminClient((admin) =>
            admin.query(
              `
          select pg_terminate_backend(l.pid) from pg_locks l join pg_database d on d.oid = l.database
          where l.locktype = 'advisory' and l.granted and d.datname = $1`,
              [database],
            ),
          )
          await lost
          await startRun(trx, 'written after the loss')
        }),
      ).catch((error: unknown) => error)
      expect(failure).toBeInstanceOf(Error)
      const reason = warehouse.lost.reason as EtlError
      expect(reason).toBeInstanceOf(EtlError)
      expect(reason.exitCode).toBe(1)
      expect(reason.message).toBe(
        `lost the connection to PostgreSQL 127.0.0.1:5432/${database}: terminating connection due to administrator command — the command stopped; run it again once the server answers (what it committed is kept)`,
      )
      // It takes no further statement; the transaction's writes are gone; another run may take the lock.
      await expect(executeSql(warehouse.db, 'select 1')).rejects.toBe(reason)
      expect(await executeSql(tw.warehouse.db, 'select command from etl.runs')).toEqual([])
      expect(await withRunLock(tw.warehouse, async () => 'next run')).toBe('next run')
    } finally {
      await warehouse.close()
    }
  })
})

describe('the embedded warehouse (pglite)', () => {
  it('refuses a second opener of its data directory with exit code 3', async () => {
    const tw = await createTestWarehouse('pglite')
    try {
      const second = await openWarehouse(tw.config).catch((error: unknown) => error)
      expect(second).toBeInstanceOf(EtlError)
      expect((second as EtlError).exitCode).toBe(3)
      expect((second as EtlError).message).toMatch(
        /^the embedded warehouse at .+ is in use by another calltouch-etl process; wait for it to finish \(or set CALLTOUCH_ETL_DATA_DIR to another directory\)$/,
      )
    } finally {
      await tw.destroy()
    }
  })
})
