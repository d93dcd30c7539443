import { warehouseConfigFromEnv, type Env } from '../core/config.ts'
import { EXIT_CODES, type ExitCode } from '../core/errors.ts'
import { createLogger, defaultLogFormat, type LogFormat, type Logger, type LogLevel } from '../core/logger.ts'
import { openWarehouse, type Warehouse } from '../warehouse/connection.ts'
import { migrateToLatest } from '../warehouse/migrator.ts'
import { withRunLock } from '../warehouse/run-lock.ts'

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
}

export function createContext(
  options: GlobalOptions,
  io: { env: Env; cwd: string; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): CliContext {
  const format = options.logFormat ?? parseLogFormat(io.env.CALLTOUCH_ETL_LOG_FORMAT) ?? defaultLogFormat(io.stderr as NodeJS.WriteStream)
  const level = options.logLevel ?? (io.env.CALLTOUCH_ETL_LOG_LEVEL as LogLevel | undefined) ?? 'info'
  return { ...io, logger: createLogger({ format, level, destination: io.stderr }), verbose: options.verbose === true }
}

function parseLogFormat(value: string | undefined): LogFormat | undefined {
  return value === 'json' || value === 'pretty' ? value : undefined
}

/**
 * Opens the configured warehouse, brings it to the latest schema (commands
 * migrate by themselves, so a new user never meets an outdated schema), runs
 * `work`, and closes the warehouse whatever happens. With `exclusive`, `work`
 * runs under the run lock: a second run exits with code 3 instead of racing.
 */
export async function withWarehouse<T>(
  ctx: CliContext,
  work: (warehouse: Warehouse) => Promise<T>,
  options: { exclusive?: boolean } = {},
): Promise<T> {
  const warehouse = await openWarehouse(warehouseConfigFromEnv(ctx.env, ctx.cwd))
  try {
    const { applied } = await migrateToLatest(warehouse.db)
    if (applied.length > 0) ctx.logger.info({ migrations: applied }, `applied ${applied.length} migration(s) to the ${warehouse.description}`)
    return options.exclusive ? await withRunLock(warehouse, () => work(warehouse)) : await work(warehouse)
  } finally {
    await warehouse.close()
  }
}

/** Writes one line to stdout. */
export function say(ctx: CliContext, line: string): void {
  ctx.stdout.write(`${line}\n`)
}

export type CommandResult = ExitCode | void

export const OK: ExitCode = EXIT_CODES.ok
