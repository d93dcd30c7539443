import type { Command } from 'commander'
import type { Action, CliContext } from '../context.ts'
import { parseLookbackDaysOption, parseOnlyOption, parseSiteOption } from '../options.ts'
import {
  CONFIG_OPTION_HELP,
  JSON_OPTION_HELP,
  ONLY_OPTION_HELP,
  runCalltouchCommand,
  SITE_OPTION_HELP,
  type CalltouchRunOptions,
} from './calltouch-run.ts'
import { addDistributedOptions, runDistributedCommand, type DistributedOptions } from './distributed-sync.ts'

export function registerSyncCommand(program: Command, action: Action): void {
  const registered = program
    .command('sync')
    .description(
      "the nightly job: for each site, read the days never read, the look-back window and stale older days, and load them into the warehouse; the same for every ad account's spend; exits 1 if any day or account failed",
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--site <id>', SITE_OPTION_HELP, parseSiteOption)
    .option('--only <part>', ONLY_OPTION_HELP, parseOnlyOption)
    .option('--json', JSON_OPTION_HELP)
    .option(
      '--lookback-days <days>',
      'days up to today re-read by every sync, because deals change long after orderDate (default 30, or lookbackDays in the config file)',
      parseLookbackDaysOption,
    )
  addDistributedOptions(registered).action(
    action((ctx: CliContext, command: Command) => {
      const options = command.opts<CalltouchRunOptions & DistributedOptions>()
      return options.distributed === true
        ? runDistributedCommand(ctx, 'sync', options)
        : runCalltouchCommand(ctx, 'sync', options)
    }),
  )
}
