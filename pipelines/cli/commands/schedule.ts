import type { Command } from 'commander'
import { warehouseConfigFromEnv } from '../../core/config.ts'
import { parseTimeZone } from '../../core/day.ts'
import { EXIT_CODES, type ExitCode } from '../../core/errors.ts'
import { DEFAULT_TIME_ZONE } from '../../sources/calltouch-deals/config.ts'
import { runConfigFromEnv } from '../../jobs/run-config.ts'
import { nightlyJob, type NightlyJobResult } from '../../jobs/nightly-job.ts'
import { usageError, withWarehouse, type Action, type CliContext } from '../context.ts'
import { withEgress } from '../egress-env.ts'
import { DEFAULT_SCHEDULE, isValidCron, startNightlyScheduler } from '../nightly-scheduler.ts'
import { CONFIG_OPTION_HELP, syncRequestFromOptions } from './calltouch-run.ts'

interface ScheduleOptions {
  readonly cron?: string
  readonly timezone?: string
  readonly config?: string
}

export function registerScheduleCommand(program: Command, action: Action): void {
  program
    .command('schedule')
    .description(
      `keep running: sync then transform on a cron expression (default '${DEFAULT_SCHEDULE}', nightly at 03:00, in the site's zone), one run at a time; SIGINT/SIGTERM stop it cleanly`,
    )
    .option(
      '--cron <expression>',
      `when to run: 5 cron fields, or 6 with seconds first (env CALLTOUCH_ETL_SCHEDULE, default '${DEFAULT_SCHEDULE}')`,
    )
    .option(
      '--timezone <zone>',
      "IANA zone of the expression (default: the first site's zone, CALLTOUCH_TIMEZONE, Europe/Moscow)",
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .action(action(async (ctx: CliContext, command: Command) => runSchedule(ctx, command.opts<ScheduleOptions>())))
}

async function runSchedule(ctx: CliContext, options: ScheduleOptions): Promise<ExitCode> {
  // Everything a run needs is checked now (exit 2), not at 03:00.
  const cron = options.cron ?? (ctx.env.CALLTOUCH_ETL_SCHEDULE?.trim() || DEFAULT_SCHEDULE)
  if (!isValidCron(cron))
    throw usageError(
      `'${cron}' is not a cron expression: give 5 fields (minute hour day month weekday), or 6 with seconds first, e.g. '0 3 * * *'`,
    )
  const config = runConfigFromEnv(ctx.env, { configFile: options.config, cwd: ctx.cwd, now: new Date() }).calltouch
  const timeZone = parseTimeZone(
    options.timezone ?? config.sites[0]?.timeZone ?? DEFAULT_TIME_ZONE,
    '--timezone',
    'USAGE',
  )
  warehouseConfigFromEnv(ctx.env, ctx.cwd)
  // The egress address and Redis too (each run opens its own: a Redis back after an outage serves the next night).
  await withEgress(ctx.env, () => Promise.resolve())

  const scheduler = startNightlyScheduler({
    cron,
    timeZone,
    logger: ctx.logger,
    run: async (signal, tick) => {
      await runNightlyTick(ctx, { signal, tick, cron, timeZone, configFile: options.config })
    },
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
 * One scheduled run on one open warehouse: the nightly job (sync, then
 * transform, inside a `schedule` row of etl.runs). Each tick reads the
 * configuration again, so a fixed config file or token is picked up without a
 * restart.
 */
export async function runNightlyTick(
  ctx: CliContext,
  run: { signal: AbortSignal; tick: number; cron: string; timeZone: string; configFile: string | undefined },
): Promise<NightlyJobResult> {
  return withEgress(ctx.env, (egress) =>
    withWarehouse(ctx, (warehouse) =>
      nightlyJob(
        warehouse,
        {
          tick: run.tick,
          cron: run.cron,
          timeZone: run.timeZone,
          sync: () => syncRequestFromOptions(ctx, 'sync', { config: run.configFile }, new Date()),
        },
        { logger: ctx.logger, signal: run.signal, egress },
      ),
    ),
  )
}
