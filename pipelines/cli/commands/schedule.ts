import type { Command } from 'commander'
import { warehouseConfigFromEnv } from '../../core/config.ts'
import { parseTimeZone } from '../../core/day.ts'
import { EXIT_CODES, type ExitCode } from '../../core/errors.ts'
import { DEFAULT_TIME_ZONE } from '../../sources/calltouch-deals/config.ts'
import { runConfigFromEnv } from '../../jobs/run-config.ts'
import { nightlyJob, type NightlyJobResult, type NightlyRequest } from '../../jobs/nightly-job.ts'
import { usageError, withWarehouse, type Action, type CliContext } from '../context.ts'
import { withEgress } from '../egress-env.ts'
import { DEFAULT_SCHEDULE, isValidCron, startNightlyScheduler } from '../nightly-scheduler.ts'
import { CONFIG_OPTION_HELP, syncRequestFromOptions } from './calltouch-run.ts'
import {
  addDistributedOptions,
  requirePostgresForDistributed,
  withDistributedParts,
  type DistributedOptions,
} from './distributed-sync.ts'

interface ScheduleOptions extends DistributedOptions {
  readonly cron?: string
  readonly timezone?: string
  readonly config?: string
}

/** `schedule --distributed`: each night's sync is planned as jobs for the workers on this PostgreSQL. */
interface DistributedNights {
  readonly connectionString: string
  readonly options: DistributedOptions
}

export function registerScheduleCommand(program: Command, action: Action): void {
  const registered = program
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
  addDistributedOptions(registered).action(
    action(async (ctx: CliContext, command: Command) => runSchedule(ctx, command.opts<ScheduleOptions>())),
  )
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
  const distributed: DistributedNights | undefined =
    options.distributed === true
      ? { connectionString: requirePostgresForDistributed(ctx, 'schedule --distributed'), options }
      : undefined
  warehouseConfigFromEnv(ctx.env, ctx.cwd)
  // The egress address and Redis too (each run opens its own: a Redis back after an outage serves the next night).
  // A distributed night sends no request of its own: its workers have theirs.
  if (distributed === undefined) await withEgress(ctx.env, () => Promise.resolve())

  const scheduler = startNightlyScheduler({
    cron,
    timeZone,
    logger: ctx.logger,
    run: async (signal, tick) => {
      await runNightlyTick(ctx, { signal, tick, cron, timeZone, configFile: options.config, distributed })
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
 * restart. With `distributed`, the sync's reads are jobs for the workers
 * (opened on the tick's warehouse, as `sync --distributed` does) and this
 * process follows them; the rows, logs and outcome are the same.
 */
export async function runNightlyTick(
  ctx: CliContext,
  run: {
    signal: AbortSignal
    tick: number
    cron: string
    timeZone: string
    configFile: string | undefined
    distributed?: DistributedNights | undefined
  },
): Promise<NightlyJobResult> {
  const request: NightlyRequest = {
    tick: run.tick,
    cron: run.cron,
    timeZone: run.timeZone,
    sync: () => syncRequestFromOptions(ctx, 'sync', { config: run.configFile }, new Date()),
  }
  const { distributed } = run
  if (distributed !== undefined)
    return withWarehouse(ctx, (warehouse) =>
      withDistributedParts(ctx, warehouse, { ...distributed, command: 'sync' }, (parts) =>
        nightlyJob(warehouse, request, { logger: ctx.logger, signal: run.signal, parts }),
      ),
    )
  return withEgress(ctx.env, (egress) =>
    withWarehouse(ctx, (warehouse) =>
      nightlyJob(warehouse, request, { logger: ctx.logger, signal: run.signal, egress }),
    ),
  )
}
