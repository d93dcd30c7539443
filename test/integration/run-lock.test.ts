import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { openWarehouse } from '../../pipelines/warehouse/connection.ts'
import { withRunLock } from '../../pipelines/warehouse/run-lock.ts'
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
      expect((refusal as EtlError).message).toMatch(/^another calltouch-etl run is working on the PostgreSQL 127\.0\.0\.1:5432\/ct_test_\w+; this one did nothing — try again when it has finished$/)
      expect(await withRunLock(other, async () => 'after release')).toBe('after release')
    } finally {
      await other.close()
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
      expect((second as EtlError).message).toMatch(/^the embedded warehouse at .+ is in use by another calltouch-etl process; wait for it to finish \(or set CALLTOUCH_ETL_DATA_DIR to another directory\)$/)
    } finally {
      await tw.destroy()
    }
  })
})
