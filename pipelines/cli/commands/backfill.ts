import type { Command } from 'commander'
import type { CliContext } from '../context.ts'
import type { Action } from '../main.ts'
import { CONFIG_OPTION_HELP, runCalltouchCommand, SITE_OPTION_HELP, type CalltouchRunOptions } from './calltouch-run.ts'

export function registerBackfillCommand(program: Command, action: Action): void {
  program
    .command('backfill')
    .description('read exactly the days --from..--to (inclusive, site-local) for each site, whatever the ledger says, and load them; exits 1 if any day failed')
    .requiredOption('--from <day>', 'first day, YYYY-MM-DD')
    .requiredOption('--to <day>', 'last day, YYYY-MM-DD (included)')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--site <id>', SITE_OPTION_HELP)
    .action(action((ctx: CliContext, command: Command) => runCalltouchCommand(ctx, 'backfill', command.opts<CalltouchRunOptions>())))
}
