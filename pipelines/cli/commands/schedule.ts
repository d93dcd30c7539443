import type { Command } from 'commander'
import { IANAZone } from 'luxon'
import { warehouseConfigFromEnv } from '../../core/config.ts'
import { EXIT_CODES, messageOf, type ExitCode } from '../../core/errors.ts'
import { calltouchConfigFromEnv } from '../../core/site-config.ts'
import { runTransform } from '../../transform/run-transform.ts'
import { finishRun, startRun, type RunCounters } from '../../warehouse/run-ledger.ts'
import type { RunStatus } from '../../warehouse/schema.ts'
import { usageError, withWarehouse, type Action, type CliContext } from '../context.ts'
import { DEFAULT_SCHEDULE, isValidCron, startNightlyScheduler } from '../nightly-scheduler.ts'
import { CONFIG_OPTION_HELP, runCalltouchCommand } from './calltouch-run.ts'

interface ScheduleOptions {
  readonly cron?: string
  readonly timezone?: string
  readonly config?: string
}

export function registerScheduleCommand(program: Command, action: Action): void {
  program
    .command('schedule')
    .description(`keep running: sync then transform on a cron expression (default '${DEFAULT_SCHEDULE}', nightly at 03:00, in the site's zone), one run at a time; SIGINT/SIGTERM stop it cleanly`)
    .option('--cron <expression>', `when to run: 5 cron fields, or 6 with seconds first (env CALLTOUCH_ETL_SCHEDULE, default '${DEFAULT_SCHEDULE}')`)
    .option('--timezone <zone>', 'IANA zone of the expression (default: the first site\'s zone, CALLTOUCH_TIMEZONE, Europe/Moscow)')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .action(action(async (ctx: CliContext, command: Command) => runSchedule(ctx, command.opts<ScheduleOptions>())))
}

async function runSchedule(ctx: CliContext, options: ScheduleOptions): Promise<ExitCode> {
  // Everything a run needs is checked now (exit 2), not at 03:00.
  const cron = options.cron ?? (ctx.env.CALLTOUCH_ETL_SCHEDULE?.trim() || DEFAULT_SCHEDULE)
  if (!isValidCron(cron)) throw usageError(`'${cron}' is not a cron expression: give 5 fields (minute hour day month weekday), or 6 with seconds first, e.g. '0 3 * * *'`)
  const config = calltouchConfigFromEnv(ctx.env, { configFile: options.config, cwd: ctx.cwd, now: new Date() })
  const timeZone = options.timezone ?? config.sites[0]?.timeZone ?? 'Europe/Moscow'
  if (!IANAZone.isValidZone(timeZone)) throw usageError(`--timezone ${JSON.stringify(timeZone)} is not an IANA time zone (e.g. Europe/Moscow)`)
  warehouseConfigFromEnv(ctx.env, ctx.cwd)

  const scheduler = startNightlyScheduler({
    cron,
    timeZone,
    logger: ctx.logger,
    run: (signal, tick) => runNightly(ctx, { signal, tick, cron, timeZone, configFile: options.config }),
  })
  const onSignal = (name: NodeJS.Signals): void => {
    void scheduler.stop(name)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await scheduler.stopped
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return EXIT_CODES.ok
}

/**
 * One scheduled run: sync, then transform when the sync was not stopped, each
 * under the run lock and recorded in etl.runs as usual, inside a `schedule`
 * row that says how the whole run ended.
 */
async function runNightly(
  ctx: CliContext,
  run: { signal: AbortSignal; tick: number; cron: string; timeZone: string; configFile: string | undefined },
): Promise<void> {
  const scheduleRunId = await withWarehouse(ctx, (warehouse) => startRun(warehouse.db, 'schedule', { tick: run.tick, cron: run.cron, timeZone: run.timeZone }))
  // `scheduleRunId`, not `runId`: the sync and transform bind their own runId.
  const runCtx: CliContext = { ...ctx, logger: ctx.logger.child({ scheduleRunId }) }
  let status: Exclude<RunStatus, 'running'> = 'failed'
  let error: string | null = null
  const counters: Record<string, number> = {}
  try {
    counters.syncExitCode = await runCalltouchCommand(runCtx, 'sync', { config: run.configFile }, { signal: run.signal })
    if (run.signal.aborted) throw new Error(`interrupted during sync: ${messageOf(run.signal.reason)}`)
    const transform = await withWarehouse(runCtx, (warehouse) => runTransform(warehouse.db, { logger: runCtx.logger }), { exclusive: true })
    counters.testsFailed = transform.testsFailed
    status = counters.syncExitCode === EXIT_CODES.ok && transform.ok ? 'succeeded' : 'partial'
    if (status === 'partial') error = counters.syncExitCode === EXIT_CODES.ok ? 'the transform failed a model or a test' : 'the sync failed some days (see the sync run)'
  } catch (thrown) {
    error = messageOf(thrown)
    throw thrown
  } finally {
    const outcome: { status: Exclude<RunStatus, 'running'>; counters: RunCounters; error: string | null } = { status, counters, error }
    await withWarehouse(ctx, (warehouse) => finishRun(warehouse.db, scheduleRunId, outcome))
      .catch((finishError: unknown) => runCtx.logger.error({ err: messageOf(finishError) }, `could not record the end of schedule run ${scheduleRunId}`))
  }
}
