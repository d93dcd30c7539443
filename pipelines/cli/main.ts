import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import type { Env } from '../core/config.ts'
import { EXIT_CODES, exitCodeOf, messageOf, type ExitCode } from '../core/errors.ts'
import { LOG_FORMATS, LOG_LEVELS } from '../core/logger.ts'
import { redact } from '../core/secrets.ts'
import { createContext, type Action, type GlobalOptions } from './context.ts'
import { registerMigrateCommand } from './commands/migrate.ts'
import { registerTransformCommand } from './commands/transform.ts'
import { registerSpendCommand } from './commands/spend.ts'
import { registerStatusCommand } from './commands/status.ts'
import { registerReportCommand } from './commands/report.ts'
import { registerDemoCommand } from './commands/demo.ts'
import { registerScheduleCommand } from './commands/schedule.ts'
import { registerSyncCommand } from './commands/sync.ts'
import { registerCheckCommand } from './commands/check.ts'
import { registerBackfillCommand } from './commands/backfill.ts'
import { registerSimulatorCommand } from './commands/simulator.ts'
import { registerSqlCommand } from './commands/sql.ts'
import { registerServeSqlCommand } from './commands/serve-sql.ts'
import { registerWorkerCommand } from './commands/worker.ts'

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

export interface MainIo {
  readonly env?: Env
  readonly cwd?: string
  readonly stdout?: NodeJS.WritableStream
  readonly stderr?: NodeJS.WritableStream
}

/**
 * Runs the command line and returns the exit code: 0 success, 1 the work
 * failed (or partly failed), 2 bad usage or configuration, 3 the warehouse is
 * busy with another run.
 */
export async function main(argv: readonly string[], io: MainIo = {}): Promise<ExitCode> {
  const env = io.env ?? process.env
  const cwd = io.cwd ?? process.cwd()
  const stdout = io.stdout ?? process.stdout
  const stderr = io.stderr ?? process.stderr
  let exitCode: ExitCode = EXIT_CODES.ok

  const program = new Command('calltouch-etl')
  const action: Action =
    (handler) =>
    async (...args) => {
      const command = args[args.length - 1] as Command
      const globals = command.optsWithGlobals<GlobalOptions>()
      try {
        const ctx = createContext(globals, { env, cwd, stdout, stderr })
        exitCode = (await handler(ctx, command)) ?? EXIT_CODES.ok
      } catch (error) {
        exitCode = exitCodeOf(error)
        stderr.write(`${describeFailure(error, globals.verbose === true)}\n`)
      }
    }

  program
    .description(
      'Calltouch deals into a PostgreSQL warehouse (or an embedded one), with dbt ROI models on top.\nThe warehouse is DATABASE_URL when set, otherwise the embedded one in CALLTOUCH_ETL_DATA_DIR (default .data/warehouse).',
    )
    .version(PACKAGE.version)
    .option('--verbose', 'print the full error with its causes and stack when a command fails')
    .addOption(
      new Option(
        '--log-format <format>',
        'log lines for people (pretty) or machines (json); default: pretty on a terminal, json otherwise (env CALLTOUCH_ETL_LOG_FORMAT)',
      ).choices(LOG_FORMATS),
    )
    .addOption(
      new Option(
        '--log-level <level>',
        'least important log level shown (env CALLTOUCH_ETL_LOG_LEVEL, default info)',
      ).choices(LOG_LEVELS),
    )
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
      // Commander's own messages (unknown option, missing argument) become one line with the way out.
      outputError: (text, write) => write(`${redact(text.trim().replace(/\n+/g, ' '))} (see 'calltouch-etl --help')\n`),
    })

  registerMigrateCommand(program, action)
  registerTransformCommand(program, action)
  registerSpendCommand(program, action)
  registerStatusCommand(program, action)
  registerReportCommand(program, action)
  registerDemoCommand(program, action)
  registerScheduleCommand(program, action)
  registerSyncCommand(program, action)
  registerBackfillCommand(program, action)
  registerCheckCommand(program, action)
  registerSqlCommand(program, action)
  registerServeSqlCommand(program, action)
  registerWorkerCommand(program, action)
  registerSimulatorCommand(program, { stdout })

  if (argv.length <= 2) {
    stderr.write(program.helpInformation())
    return EXIT_CODES.usage
  }
  try {
    await program.parseAsync([...argv])
  } catch (error) {
    if (error instanceof CommanderError) {
      const helpOrVersion = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code)
      return helpOrVersion ? EXIT_CODES.ok : EXIT_CODES.usage
    }
    stderr.write(`${describeFailure(error, argv.includes('--verbose'))}\n`)
    return exitCodeOf(error)
  }
  return exitCode
}

/** One line for people; with --verbose, the stack and every cause. Always redacted. */
export function describeFailure(error: unknown, verbose: boolean): string {
  const line = `error: ${messageOf(error)}`
  if (!verbose) return redact(line)
  const parts: string[] = []
  let current: unknown = error
  while (current !== undefined && current !== null) {
    parts.push(current instanceof Error ? (current.stack ?? current.message) : JSON.stringify(current))
    current = current instanceof Error ? current.cause : undefined
    if (current !== undefined) parts.push('caused by:')
  }
  return redact([line, ...parts].join('\n'))
}
