import fs from 'node:fs/promises'
import path from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, CompiledQuery, type Dialect, type KyselyConfig, type PostgresPool } from 'kysely'
import pg from 'pg'
import lockfile from 'proper-lockfile'
import { describeWarehouse, type WarehouseConfig } from '../core/config.ts'
import { EtlError, messageOf } from '../core/errors.ts'
import { redact } from '../core/secrets.ts'
import { EmbeddedThreadDialect, startEmbeddedThread } from './embedded-thread.ts'
import type { WarehouseSchema } from './schema.ts'

export type Engine = WarehouseConfig['engine']
export type WarehouseDb = Kysely<WarehouseSchema>

export interface Warehouse {
  readonly db: WarehouseDb
  readonly config: WarehouseConfig
  readonly engine: Engine
  /** For messages: the server without its password, or the data directory. */
  readonly description: string
  /**
   * Aborted when a connection in use ends (a server restart or failover,
   * pg_terminate_backend, idle_session_timeout), its reason an EtlError of kind
   * WAREHOUSE naming the warehouse and the cause. From then on the warehouse
   * takes no new statement and the ones in flight are cut: the run lock's
   * session may be the one that ended, and nothing may be written without it.
   * Never aborted for the embedded engine, which lives in the process.
   */
  readonly lost: AbortSignal
  /**
   * The embedded engine itself, for serving it over the PostgreSQL protocol
   * (`serve-sql`) or reading a result's columns in order (`sql`): set only when
   * opened with `embeddedEngine: 'in-process'`, undefined for a PostgreSQL
   * server and for the embedded engine in its own thread. Whoever uses it leaves
   * the data directory's lock to the warehouse, which holds it until `close`.
   */
  readonly embedded?: PGlite
  close(): Promise<void>
}

/**
 * Both engines return the same JavaScript values: numeric and bigint as exact
 * strings (custom values have 38 digits; no JS number may hold them), dates as
 * 'YYYY-MM-DD' strings (a Date would shift with the process's zone),
 * timestamptz as Date.
 */
const TYPE_OIDS = { int8: 20, numeric: 1700, date: 1082, text: 25 } as const
const asText = (value: string): string => value

/**
 * A text parameter may be given as the UTF-8 bytes of the text (page bodies are
 * kept as received, outside the JavaScript heap): pg sends bytes as they are, in
 * binary format, which PostgreSQL reads as text; PGlite only takes strings.
 */
function textParameter(value: unknown): string {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
  throw new Error('Invalid input for string type')
}

/** Session settings for every connection: UTC for determinism, no JIT (it slowed the load path). */
const SESSION_SETTINGS = ['SET TIME ZONE UTC', 'SET jit = off'] as const

/** Connections to a PostgreSQL server: enough for windows loading side by side. */
const DEFAULT_POOL_SIZE = 6

/** A lock older than this (ms) is taken to be left by a process that died. */
const EMBEDDED_LOCK_STALE_MS = 5_000

/**
 * Opens the warehouse the configuration names and checks that it answers.
 *
 * The embedded engine is one process's alone: PGlite would corrupt a data
 * directory that two processes open, so the directory is locked for as long
 * as it is open and a second process is told so.
 */
export async function openWarehouse(config: WarehouseConfig, options: WarehouseOptions = {}): Promise<Warehouse> {
  return config.engine === 'postgres' ? openPostgres(config, options) : openEmbedded(config, options)
}

export interface WarehouseOptions {
  /** How long opening a PostgreSQL connection may take (default: as long as the network takes). */
  readonly connectTimeoutMs?: number
  /** Told of every statement that ran, with how long it took from sending it to its last row (benchmarks break a load down by it). */
  readonly onQuery?: (sql: string, milliseconds: number) => void
  /**
   * Where the embedded engine runs: 'thread' (the default), a worker thread of its own, so the
   * event loop goes on (requests leave on time, responses are read) while it runs a statement;
   * 'in-process', on the calling thread, for the callers that need the engine object itself
   * (`embedded`). Ignored for PostgreSQL.
   */
  readonly embeddedEngine?: 'thread' | 'in-process'
}

/** Kysely's log hook for {@link WarehouseOptions.onQuery}. */
function queryLog(options: WarehouseOptions): KyselyConfig['log'] {
  const { onQuery } = options
  return onQuery === undefined ? undefined : (event) => onQuery(event.query.sql, event.queryDurationMillis)
}

async function openPostgres(
  config: Extract<WarehouseConfig, { engine: 'postgres' }>,
  options: WarehouseOptions,
): Promise<Warehouse> {
  const description = describeWarehouse(config)
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: DEFAULT_POOL_SIZE,
    ...(options.connectTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.connectTimeoutMs }),
    options: '-c TimeZone=UTC -c jit=off',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === TYPE_OIDS.int8 || oid === TYPE_OIDS.numeric || oid === TYPE_OIDS.date) return asText
        return pg.types.getTypeParser(oid, format) as (value: string) => unknown
      }) as typeof pg.types.getTypeParser,
    },
  })
  // An idle client that loses its server is dropped by the pool and replaced when needed; the
  // pool re-emits its error, which must not crash the process. Clients in use: watchConnections.
  pool.on('error', () => {})
  const watched = watchConnections(pool, description)
  try {
    const client = await pool.connect()
    client.release()
  } catch (error) {
    await pool.end().catch(() => {})
    throw new EtlError(
      'WAREHOUSE',
      `cannot connect to ${description}: ${redact(messageOf(error))} — start the server or fix DATABASE_URL`,
      { cause: error },
    )
  }
  const db: WarehouseDb = new Kysely<WarehouseSchema>({
    dialect: new PostgresDialect({ pool: watched.pool }),
    log: queryLog(options),
  })
  return { db, config, engine: 'postgres', description, lost: watched.lost, close: () => db.destroy() }
}

/**
 * Gives every client of the pool a listener for the loss of its connection:
 * pg emits 'error' on a client whose connection ends outside a query (an idle
 * checked-out client such as the run lock's), and the pool listens only on
 * the clients it holds idle, so without this the process dies of an unhandled
 * 'error' event. A client lost while idle in the pool is the pool's to
 * replace; one lost in use aborts `lost` (see {@link Warehouse.lost}), ends
 * the other clients in use, and the returned pool hands out no client after.
 *
 * The FATAL message the server sends before it closes a session
 * ("terminating connection due to administrator command") is taken as the
 * loss at once: it names the cause, and it arrives before the query it cut
 * is seen to fail, so nothing reacts to that failure with another write.
 */
function watchConnections(pool: pg.Pool, description: string): { lost: AbortSignal; pool: PostgresPool } {
  const lost = new AbortController()
  const inUse = new Set<pg.PoolClient>()
  const onLost = (client: pg.PoolClient, cause: unknown): void => {
    if (!inUse.has(client) || lost.signal.aborted) return
    lost.abort(
      new EtlError(
        'WAREHOUSE',
        `lost the connection to ${description}: ${redact(messageOf(cause))} — the command stopped; run it again once the server answers (what it committed is kept)`,
        { cause },
      ),
    )
    for (const other of inUse) if (other !== client) void other.end().catch(() => {})
  }
  pool.on('connect', (client) => {
    client.on('error', (error) => onLost(client, error))
    client.connection.on('errorMessage', (message: unknown) => {
      if (message instanceof pg.DatabaseError && (message.severity === 'FATAL' || message.severity === 'PANIC'))
        onLost(client, message)
    })
  })
  pool.on('acquire', (client) => inUse.add(client))
  pool.on('release', (_error, client) => inUse.delete(client))
  return {
    lost: lost.signal,
    pool: {
      async connect() {
        lost.signal.throwIfAborted()
        const client = await pool.connect()
        if (lost.signal.aborted) {
          client.release(true)
          lost.signal.throwIfAborted()
        }
        return client
      },
      end: () => pool.end(),
    },
  }
}

async function openEmbedded(
  config: Extract<WarehouseConfig, { engine: 'pglite' }>,
  options: WarehouseOptions,
): Promise<Warehouse> {
  const description = describeWarehouse(config)
  await fs.mkdir(config.dataDir, { recursive: true })
  let release: () => Promise<void>
  try {
    release = await lockfile.lock(config.dataDir, {
      realpath: false,
      lockfilePath: `${config.dataDir}.lock`,
      stale: EMBEDDED_LOCK_STALE_MS,
      retries: 0,
      // Losing the lock (the disk went away) is reported by the next query.
      onCompromised: () => {},
    })
  } catch (error) {
    if ((error as { code?: string }).code === 'ELOCKED') {
      throw new EtlError(
        'LOCKED',
        `the ${description} is in use by another calltouch-etl process; wait for it to finish (or set CALLTOUCH_ETL_DATA_DIR to another directory)`,
        { cause: error },
      )
    }
    throw new EtlError('WAREHOUSE', `cannot lock ${description}: ${messageOf(error)}`, { cause: error })
  }
  let engine: EmbeddedEngine
  try {
    engine =
      options.embeddedEngine === 'in-process'
        ? await openInProcess(path.resolve(config.dataDir))
        : await openInThread(path.resolve(config.dataDir), description)
  } catch (error) {
    await release().catch(() => {})
    throw new EtlError(
      'WAREHOUSE',
      `cannot open ${description}: ${messageOf(error)} — if it was copied or damaged, move the directory away and run again`,
      { cause: error },
    )
  }
  const db: WarehouseDb = new Kysely<WarehouseSchema>({ dialect: engine.dialect, log: queryLog(options) })
  return {
    db,
    config,
    engine: 'pglite',
    description,
    lost: new AbortController().signal,
    ...(engine.embedded === undefined ? {} : { embedded: engine.embedded }),
    async close() {
      try {
        await db.destroy()
        // Kysely closes the engine only if it ever ran a query through it; one used only as
        // `embedded` stays open, and an open engine keeps the process from exiting for seconds.
        await engine.close()
      } finally {
        await release().catch(() => {})
      }
    },
  }
}

/** The embedded engine opened on its data directory, in this thread or its own, with its session settings run. */
interface EmbeddedEngine {
  readonly dialect: Dialect
  readonly embedded?: PGlite
  /** Closes it unless it is closed already. */
  close(): Promise<void>
}

async function openInThread(dataDir: string, description: string): Promise<EmbeddedEngine> {
  const thread = await startEmbeddedThread(dataDir, SESSION_SETTINGS, description)
  return { dialect: new EmbeddedThreadDialect(thread), close: () => thread.close() }
}

async function openInProcess(dataDir: string): Promise<EmbeddedEngine> {
  // Imported here, not at the top: PGlite's module costs tens of MB of memory that a
  // process whose warehouse is PostgreSQL (or whose engine runs in its own thread) never needs.
  const [{ PGlite: PGliteEngine }, { PGliteDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('kysely-pglite-dialect'),
  ])
  const client = await PGliteEngine.create(dataDir, {
    parsers: { [TYPE_OIDS.int8]: asText, [TYPE_OIDS.numeric]: asText, [TYPE_OIDS.date]: asText },
    serializers: { [TYPE_OIDS.text]: textParameter },
  })
  try {
    for (const statement of SESSION_SETTINGS) await client.exec(statement)
  } catch (error) {
    await client.close().catch(() => {})
    throw error
  }
  return {
    dialect: new PGliteDialect(client),
    embedded: client,
    close: async () => {
      if (!client.closed) await client.close()
    },
  }
}

/** Runs one SQL text with positional parameters ($1, $2 …) on a database or a transaction. */
export async function executeSql<Row>(
  db: Kysely<WarehouseSchema>,
  text: string,
  parameters: readonly unknown[] = [],
): Promise<Row[]> {
  const result = await db.executeQuery<Row>(CompiledQuery.raw(text, [...parameters]))
  return [...result.rows]
}
