import type { Command } from 'commander'
import { warehouseConfigFromEnv, type Env, type WarehouseConfig } from '../core/config.ts'
import { EXIT_CODES, EtlError, type ExitCode } from '../core/errors.ts'
import { createLogger, defaultLogFormat, type LogFormat, type Logger, type LogLevel } from '../core/logger.ts'
import { openWarehouse, type Warehouse } from '../warehouse/connection.ts'
import { migrateToLatest } from '../warehouse/migrator.ts'

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
  readonly verbose: boolean
  /** Opens the warehouse (default openWarehouse); a test wraps it to count the opens. */
  readonly openWarehouse?: (config: WarehouseConfig) => Promise<Warehouse>
}

export function createContext(
  options: GlobalOptions,
  io: { env: Env; cwd: string; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): CliContext {
  const format =
    options.logFormat ??
    parseLogFormat(io.env.CALLTOUCH_ETL_LOG_FORMAT) ??
    defaultLogFormat(io.stderr as NodeJS.WriteStream)
  const level = options.logLevel ?? (io.env.CALLTOUCH_ETL_LOG_LEVEL as LogLevel | undefined) ?? 'info'
  return { ...io, logger: createLogger({ format, level, destination: io.stderr }), verbose: options.verbose === true }
}

function parseLogFormat(value: string | undefined): LogFormat | undefined {
  return value === 'json' || value === 'pretty' ? value : undefined
}

/**
 * Opens the configured warehouse, brings it to the latest schema (commands
 * migrate by themselves, so a new user never meets an outdated schema), runs
 * `work`, and closes the warehouse whatever happens. The run lock and the
 * etl.runs rows are the jobs' (jobs/with-run.ts). A connection lost on the
 * way fails the command with the loss's one line (exit 1), whatever the
 * statement it cut threw.
 */
export async function withWarehouse<T>(ctx: CliContext, work: (warehouse: Warehouse) => Promise<T>): Promise<T> {
  const warehouse = await (ctx.openWarehouse ?? openWarehouse)(warehouseConfigFromEnv(ctx.env, ctx.cwd))
  try {
    const { applied } = await migrateToLatest(warehouse.db)
    if (applied.length > 0)
      ctx.logger.info({ migrations: applied }, `applied ${applied.length} migration(s) to the ${warehouse.description}`)
    const result = await work(warehouse)
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
