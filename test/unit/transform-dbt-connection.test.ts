import { describe, expect, it } from 'vitest'
import { dbtConnectionEnv } from '../../pipelines/transform/dbt-connection.ts'
import { realDbtArguments, realDbtEnv } from '../../pipelines/transform/run-real-dbt.ts'

describe('dbtConnectionEnv', () => {
  it('decodes a password holding /, @ and % and keeps the port, user and database', () => {
    expect(dbtConnectionEnv('postgres://etl%40shop:p%2Fa%40ss%25w0rd@db.example:6432/ware%2Fhouse')).toEqual({
      DBT_HOST: 'db.example',
      DBT_PORT: '6432',
      DBT_USER: 'etl@shop',
      DBT_PASSWORD: 'p/a@ss%w0rd',
      DBT_DBNAME: 'ware/house',
      DBT_SCHEMA: 'analytics',
    })
  })

  it('gives an IPv6 host without its brackets, and the default port and user', () => {
    expect(dbtConnectionEnv('postgresql://[2001:db8::1]/warehouse', 'ci_dbt')).toEqual({
      DBT_HOST: '2001:db8::1',
      DBT_PORT: '5432',
      DBT_USER: 'postgres',
      DBT_PASSWORD: '',
      DBT_DBNAME: 'warehouse',
      DBT_SCHEMA: 'ci_dbt',
    })
  })

  it('reads a socket directory, port and user from the query as libpq does', () => {
    expect(dbtConnectionEnv('postgres:///warehouse?host=/var/run/postgresql&port=5433&user=etl')).toEqual({
      DBT_HOST: '/var/run/postgresql',
      DBT_PORT: '5433',
      DBT_USER: 'etl',
      DBT_PASSWORD: '',
      DBT_DBNAME: 'warehouse',
      DBT_SCHEMA: 'analytics',
    })
  })

  it('refuses in one line what is no PostgreSQL URL, never echoing the password', () => {
    expect(() => dbtConnectionEnv('mysql://u:secret@h/db')).toThrow(
      "DATABASE_URL has the scheme 'mysql', not postgres; write it as postgres://user:password@host:5432/database (percent-encode '/', '@', '%' in the password) or postgres:///database?host=/var/run/postgresql",
    )
    expect(() => dbtConnectionEnv('postgres://u:secret@h')).toThrow(/^DATABASE_URL names no database;/)
    expect(() => dbtConnectionEnv('postgres:///db')).toThrow(/^DATABASE_URL names no host/)
    expect(() => dbtConnectionEnv('not a url secret')).toThrow(/^DATABASE_URL is not a URL;/)
    expect(() => dbtConnectionEnv('postgres://u:%E0%A4%A@h/db')).toThrow(
      /^DATABASE_URL has a password that is not valid percent-encoding;/,
    )
  })
})

describe('real dbt through npm run dbt:*', () => {
  it('derives the DBT_* variables from DATABASE_URL, unless DBT_HOST is set', () => {
    expect(realDbtEnv({ DATABASE_URL: 'postgres://u:p%2F@h:5433/d', PATH: '/bin' })).toEqual({
      DATABASE_URL: 'postgres://u:p%2F@h:5433/d',
      PATH: '/bin',
      DBT_HOST: 'h',
      DBT_PORT: '5433',
      DBT_USER: 'u',
      DBT_PASSWORD: 'p/',
      DBT_DBNAME: 'd',
      DBT_SCHEMA: 'analytics',
    })
    expect(realDbtEnv({ DBT_HOST: 'other', DATABASE_URL: 'postgres://u@h/d' })).toEqual({
      DBT_HOST: 'other',
      DATABASE_URL: 'postgres://u@h/d',
    })
    expect(() => realDbtEnv({})).toThrow(/^real dbt needs a PostgreSQL warehouse: set DATABASE_URL/)
  })

  it('points dbt at the project and its profile', () => {
    expect(realDbtArguments(['build', '--warn-error'], '/p/dbt')).toEqual([
      'build',
      '--warn-error',
      '--project-dir',
      '/p/dbt',
      '--profiles-dir',
      '/p/dbt',
    ])
  })
})
