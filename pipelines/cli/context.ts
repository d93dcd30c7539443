import type { Command } from 'commander'
import { sql } from 'kysely'
import { warehouseConfigFromEnv, type Env, type WarehouseConfig } from '../core/config.ts'
import { EXIT_CODES, EtlError, messageOf, type ExitCode } from '../core/errors.ts'
import {
  createLogger,
  defaultLogFormat,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
} from '../core/logger.ts'
import { envProblems } from '../core/settings.ts'
import { StderrWithBar } from './stderr-with-bar.ts'
import { openWarehouse, type Warehouse } from '../warehouse/connection.ts'
import { migrateToLatest, migrationNames } from '../warehouse/migrator.ts'

/** Options every command accepts (set before or after the command name). */
export interface GlobalOptions {
  readonly verbose?: boolean
  readonly logFormat?: LogFormat
  readonly logLevel?: LogLevel
}

/**
 * What a command may touch: its environment, its output streams and a logger.
 * Commands get it passed in, so a test can run `main` with its own env.
 */
export interface CliContext {
  readonly env: Env
  readonly cwd: string
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  readonly logger: Logger
  /** stderr as the logger writes it, with the progress bar of `sync` and `backfill` on a terminal. */
  readonly progress: StderrWithBar
  readonly verbose: boolean
  /** Opens the warehouse (default openWarehouse); a test wraps it to count the opens. */
  readonly openWarehouse?: (config: WarehouseConfig) => Promise<Warehouse>
}

export function createContext(
  options: GlobalOptions,
  io: { env: Env; cwd: string; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): CliContext {
  // Every bad value at once, in one line (exit 2), before anything reads one of them.
  const problems = envProblems(io.env)
  if (problems.length > 0) throw new EtlError('CONFIG', problems.join('; '))
  const format =
    options.logFormat ??
    parseLogFormat(io.env.CALLTOUCH_ETL_LOG_FORMAT) ??
    defaultLogFormat(io.stderr as NodeJS.WriteStream)
  const level = options.logLevel ?? parseLogLevel(io.env.CALLTOUCH_ETL_LOG_LEVEL) ?? 'info'
  const progress = new StderrWithBar(io.stderr)
  return {
    ...io,
    logger: createLogger({ format, level, destination: progress }),
    progress,
    verbose: options.verbose === true,
  }
}

function parseLogFormat(value: string | undefined): LogFormat | undefined {
  return LOG_FORMATS.find((format) => format === value?.trim())
}

function parseLogLevel(value: string | undefined): LogLevel | undefined {
  return LOG_LEVELS.find((level) => level === value?.trim())
}

/** How a command uses the warehouse. */
export interface WarehouseUse {
  /**
   * The command only reads (`status`, `report`): it never migrates, so a read-only login can
   * run it; a schema behind the code fails it with "run calltouch-etl migrate" instead.
   */
  readonly readOnly?: boolean
}

/**
 * Opens the configured warehouse, brings it to the latest schema (commands
 * that write migrate by themselves, so a new user never meets an outdated
 * schema; read-only ones check it instead), runs `work`, and closes the
 * warehouse whatever happens. The run lock and the
 * etl.runs rows are the jobs' (jobs/with-run.ts). A connection lost on the
 * way fails the command with the loss's one line (exit 1), whatever the
 * statement it cut threw.
 */
export async function withWarehouse<T>(
  ctx: CliContext,
  work: (warehouse: Warehouse) => Promise<T>,
  use: WarehouseUse = {},
): Promise<T> {
  const warehouse = await (ctx.openWarehouse ?? openWarehouse)(warehouseConfigFromEnv(ctx.env, ctx.cwd))
  try {
    if (use.readOnly === true) await requireLatestSchema(warehouse)
    else {
      const { applied } = await migrateToLatest(warehouse.db)
      if (applied.length > 0)
        ctx.logger.info(
          { migrations: applied },
          `applied ${applied.length} migration(s) to the ${warehouse.description}`,
        )
    }
    const result = await work(warehouse).catch((error: unknown) => {
      throw use.readOnly === true ? explainPermission(error, warehouse) : error
    })
    // Work that ended normally while a connection was lost may have lost the run lock midway.
    warehouse.lost.throwIfAborted()
    return result
  } catch (error) {
    // Whatever a statement cut by the loss threw, the one line says the warehouse was lost, and why.
    throw warehouse.lost.aborted ? warehouse.lost.reason : error
  } finally {
    await warehouse.close()
  }
}

/** SQLSTATEs of a read-only command's reads (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const INSUFFICIENT_PRIVILEGE = '42501'
const UNDEFINED_TABLE = '42P01'
const INVALID_SCHEMA_NAME = '3F000'

/**
 * Fails (exit 1) when the warehouse's schema is behind the code, naming the fix. A login that
 * may not read the migrator's table (etl.kysely_migration) is not refused here: it may read
 * what the command needs, and the command says so when it does not.
 */
export async function requireLatestSchema(warehouse: Warehouse): Promise<void> {
  let applied: ReadonlySet<string>
  try {
    // The migrator's own table (migrator.ts keeps it in etl); read directly, as the migrator's
    // introspection does not see a table the login may not read and would call it missing.
    const { rows } = await sql<{ name: string }>`select name from etl.kysely_migration`.execute(warehouse.db)
    applied = new Set(rows.map((row) => row.name))
  } catch (error) {
    const state = sqlStateOf(error)
    if (state === INSUFFICIENT_PRIVILEGE) return
    if (state !== UNDEFINED_TABLE && state !== INVALID_SCHEMA_NAME) throw error
    applied = new Set()
  }
  const known = await migrationNames()
  const pending = known.filter((name) => !applied.has(name))
  if (pending.length === 0) return
  const what =
    applied.size === 0
      ? 'has no schema yet'
      : `is ${pending.length} migration(s) behind this calltouch-etl (${pending.join(', ')})`
  throw new EtlError(
    'WAREHOUSE',
    `the ${warehouse.description} ${what}: run calltouch-etl migrate with a login that may change it, then run this again`,
    { context: { pending } },
  )
}

/** A read the login may not make, as one line with the fix; anything else as it is. */
function explainPermission(error: unknown, warehouse: Warehouse): unknown {
  if (sqlStateOf(error) !== INSUFFICIENT_PRIVILEGE) return error
  return new EtlError(
    'WAREHOUSE',
    `the login of the ${warehouse.description} may not read what this command needs (${messageOf(error)}): grant it usage and select on the schemas etl, calltouch, marketing and analytics (README, Deploy)`,
    { cause: error },
  )
}

function sqlStateOf(error: unknown): string | undefined {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as Error & { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  }
  return undefined
}

/** Writes one line to stdout. */
export function say(ctx: CliContext, line: string): void {
  ctx.stdout.write(`${line}\n`)
}

export type CommandResult = ExitCode | void

/** Wraps a command's work (main.ts makes it): builds its context, turns errors into one line and an exit code. */
export type Action = (
  handler: (ctx: CliContext, command: Command) => Promise<CommandResult>,
) => (...args: unknown[]) => Promise<void>

/** A usage error (exit 2) for options that commander cannot check by itself. */
export function usageError(message: string): EtlError {
  return new EtlError('USAGE', message)
}

export const OK: ExitCode = EXIT_CODES.ok
