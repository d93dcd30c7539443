import path from 'node:path'
import { EtlError } from './errors.ts'
import { registerSecret } from './secrets.ts'

/** Where the embedded warehouse lives when neither DATABASE_URL nor CALLTOUCH_ETL_DATA_DIR is set. */
export const DEFAULT_DATA_DIR = '.data/warehouse'

export type WarehouseConfig =
  | { readonly engine: 'postgres'; readonly databaseUrl: string }
  | { readonly engine: 'pglite'; readonly dataDir: string }

export type Env = Readonly<Record<string, string | undefined>>

/**
 * The warehouse from the environment: `DATABASE_URL` (postgres:// or
 * postgresql://) selects a PostgreSQL server; without it the embedded PGlite
 * warehouse lives in `CALLTOUCH_ETL_DATA_DIR` (default `.data/warehouse`,
 * relative to `cwd`).
 */
export function warehouseConfigFromEnv(env: Env, cwd: string = process.cwd()): WarehouseConfig {
  const databaseUrl = env.DATABASE_URL?.trim()
  if (databaseUrl) {
    let parsed: URL
    try {
      parsed = new URL(databaseUrl)
    } catch {
      throw new EtlError(
        'CONFIG',
        'DATABASE_URL is not a URL: set it to postgres://user:password@host:5432/database, or unset it to use the embedded warehouse',
      )
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new EtlError(
        'CONFIG',
        `DATABASE_URL must start with postgres:// (it starts with ${parsed.protocol}//): set it to postgres://user:password@host:5432/database, or unset it to use the embedded warehouse`,
      )
    }
    if (parsed.password) registerSecret(decodeURIComponent(parsed.password))
    return { engine: 'postgres', databaseUrl }
  }
  const dataDir = env.CALLTOUCH_ETL_DATA_DIR?.trim() || DEFAULT_DATA_DIR
  return { engine: 'pglite', dataDir: path.resolve(cwd, dataDir) }
}

/** The warehouse named for people: the server without its password, or the data directory. */
export function describeWarehouse(config: WarehouseConfig): string {
  if (config.engine === 'pglite') return `embedded warehouse at ${config.dataDir}`
  const url = new URL(config.databaseUrl)
  return `PostgreSQL ${url.hostname}:${url.port || '5432'}${url.pathname}`
}
