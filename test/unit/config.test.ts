import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { describeWarehouse, warehouseConfigFromEnv } from '../../pipelines/core/config.ts'
import { EtlError } from '../../pipelines/core/errors.ts'
import { clearSecretsForTests, redact, redactUrl } from '../../pipelines/core/secrets.ts'

describe('warehouse configuration', () => {
  afterEach(() => clearSecretsForTests())

  it('uses the embedded warehouse in .data/warehouse when nothing is set', () => {
    expect(warehouseConfigFromEnv({}, '/srv/etl')).toEqual({ engine: 'pglite', dataDir: '/srv/etl/.data/warehouse' })
  })

  it('takes the embedded directory from CALLTOUCH_ETL_DATA_DIR, relative to the working directory', () => {
    expect(warehouseConfigFromEnv({ CALLTOUCH_ETL_DATA_DIR: 'wh' }, '/srv/etl')).toEqual({
      engine: 'pglite',
      dataDir: path.resolve('/srv/etl/wh'),
    })
    expect(warehouseConfigFromEnv({ CALLTOUCH_ETL_DATA_DIR: '/var/lib/wh' }, '/srv/etl')).toEqual({
      engine: 'pglite',
      dataDir: '/var/lib/wh',
    })
  })

  it('selects PostgreSQL with DATABASE_URL and registers its password as a secret', () => {
    const config = warehouseConfigFromEnv({ DATABASE_URL: 'postgresql://etl:p%2Fss.w0rd@db:6543/wh' })
    expect(config).toEqual({ engine: 'postgres', databaseUrl: 'postgresql://etl:p%2Fss.w0rd@db:6543/wh' })
    expect(describeWarehouse(config)).toBe('PostgreSQL db:6543/wh')
    expect(redact('failed with p/ss.w0rd and p%2Fss.w0rd')).toBe('failed with [REDACTED] and [REDACTED]')
  })

  it('refuses a DATABASE_URL that is not a URL, as a configuration error', () => {
    expect(() => warehouseConfigFromEnv({ DATABASE_URL: 'localhost:5432' })).toThrow(EtlError)
    try {
      warehouseConfigFromEnv({ DATABASE_URL: 'not a url' })
    } catch (error) {
      expect((error as EtlError).exitCode).toBe(2)
      expect((error as EtlError).message).toBe(
        'DATABASE_URL is not a URL: set it to postgres://user:password@host:5432/database, or unset it to use the embedded warehouse',
      )
    }
  })

  it('redacts the token of an API URL', () => {
    expect(
      redactUrl('https://api.calltouch.ru/calls-service/RestAPI/1/orders-diary/orders?clientApiId=a%2Fb.c&page=2'),
    ).toBe('https://api.calltouch.ru/calls-service/RestAPI/1/orders-diary/orders?clientApiId=REDACTED&page=2')
  })
})
