import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, inject } from 'vitest'
import type { WarehouseConfig } from '../../pipelines/core/config.ts'
import { openWarehouse, type Warehouse } from '../../pipelines/warehouse/connection.ts'
import { migrateToLatest } from '../../pipelines/warehouse/migrator.ts'
import { PGLITE_TEMPLATE_DIR } from './pglite-template.ts'
import { testDatabaseUrl, withAdminClient } from './postgres-server.ts'

export const ENGINES = ['postgres', 'pglite'] as const
export type TestEngine = (typeof ENGINES)[number]

/**
 * `describe` once per engine, named "<name> (postgres)" and "<name> (pglite)".
 * Without a PostgreSQL server the postgres block is skipped locally (global
 * setup has said why) and fails in CI.
 */
export function describeEachEngine(name: string, body: (engine: TestEngine) => void): void {
  for (const engine of ENGINES) {
    const skip = engine === 'postgres' && inject('postgresProblem') !== null
    ;(skip ? describe.skip : describe)(`${name} (${engine})`, () => body(engine))
  }
}

/** `describe` for what only a PostgreSQL server can show (several connections, roles). */
export function describePostgres(name: string, body: () => void): void {
  ;(inject('postgresProblem') !== null ? describe.skip : describe)(`${name} (postgres)`, body)
}

export interface TestWarehouse {
  readonly engine: TestEngine
  readonly config: WarehouseConfig
  /** Env for a child process (the CLI) that should use this warehouse. */
  readonly env: Record<string, string>
  /** The open warehouse; closed by `release` and while a child process uses an embedded one. */
  warehouse: Warehouse
  /** Closes the warehouse so another process can open it (the embedded one is one process's alone). */
  release(): Promise<void>
  /** Opens it again after `release`. */
  reopen(): Promise<Warehouse>
  /** Closes it and removes the database or directory. */
  destroy(): Promise<void>
}

/**
 * A warehouse of its own for one test file: a new database on the test
 * server, or a copy of the blank PGlite template in a temporary directory;
 * migrated to the latest schema unless `migrate: false`.
 */
export async function createTestWarehouse(
  engine: TestEngine,
  options: { migrate?: boolean } = {},
): Promise<TestWarehouse> {
  const name = `ct_test_${process.pid}_${randomBytes(4).toString('hex')}`
  let config: WarehouseConfig
  let env: Record<string, string>
  let removeStorage: () => Promise<void>
  if (engine === 'postgres') {
    await withAdminClient((client) => client.query(`create database ${name}`))
    const databaseUrl = testDatabaseUrl(name)
    config = { engine, databaseUrl }
    env = { DATABASE_URL: databaseUrl }
    removeStorage = () =>
      withAdminClient((client) => client.query(`drop database if exists ${name} with (force)`)).then(() => {})
  } else {
    const dataDir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-test-')), 'warehouse')
    await fs.cp(PGLITE_TEMPLATE_DIR, dataDir, { recursive: true })
    config = { engine, dataDir }
    env = { CALLTOUCH_ETL_DATA_DIR: dataDir }
    removeStorage = () => fs.rm(path.dirname(dataDir), { recursive: true, force: true })
  }
  let open: Warehouse | undefined = await openWarehouse(config)
  if (options.migrate !== false) await migrateToLatest(open.db)
  const handle: TestWarehouse = {
    engine,
    config,
    env,
    get warehouse(): Warehouse {
      if (!open) throw new Error('the test warehouse is released; call reopen() first')
      return open
    },
    set warehouse(value: Warehouse) {
      open = value
    },
    async release() {
      await open?.close()
      open = undefined
    },
    async reopen() {
      open ??= await openWarehouse(config)
      return open
    },
    async destroy() {
      await handle.release()
      await removeStorage()
    },
  }
  return handle
}
