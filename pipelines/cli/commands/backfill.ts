import type { Command } from 'commander'
import type { Action, CliContext } from '../context.ts'
import { DAY_OPTION_ARGUMENT, parseOnlyOption, parseSiteOption } from '../options.ts'
import {
  CONFIG_OPTION_HELP,
  JSON_OPTION_HELP,
  ONLY_OPTION_HELP,
  runCalltouchCommand,
  SITE_OPTION_HELP,
  type CalltouchRunOptions,
} from './calltouch-run.ts'
import { addDistributedOptions, runDistributedCommand, type DistributedOptions } from './distributed-sync.ts'

export function registerBackfillCommand(program: Command, action: Action): void {
  const registered = program
    .command('backfill')
    .description(
      'read exactly the days --from..--to (inclusive, site-local) for each site and ad account, whatever the ledger says, and load them; exits 1 if any day failed',
    )
    // Checked in the action, not as commander's required options: commander reports a
    // missing required option before an unknown one, so a typo (--form) was never named.
    .option(`--from ${DAY_OPTION_ARGUMENT}`, 'first day, inclusive, site-local (required)')
    .option(`--to ${DAY_OPTION_ARGUMENT}`, 'last day, inclusive, site-local (required)')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--site <id>', SITE_OPTION_HELP, parseSiteOption)
    .option('--only <part>', ONLY_OPTION_HELP, parseOnlyOption)
    .option('--json', JSON_OPTION_HELP)
  addDistributedOptions(registered).action(
    action((ctx: CliContext, command: Command) => {
      const options = command.opts<CalltouchRunOptions & DistributedOptions>()
      return options.distributed === true
        ? runDistributedCommand(ctx, 'backfill', options)
        : runCalltouchCommand(ctx, 'backfill', options)
    }),
  )
}
