import type { Command } from 'commander'
import { parseAccountId } from '../../core/account-id.ts'
import { EtlError } from '../../core/errors.ts'
import { siteIdProblem } from '../../sources/calltouch-deals/config.ts'
import { describeSpendImport, loadSpendFile } from '../../spend/import-spend.ts'
import { spendJob } from '../../jobs/spend-job.ts'
import { say, withWarehouse, type Action, type CliContext } from '../context.ts'
import { parseSiteOption } from '../options.ts'

export function registerSpendCommand(program: Command, action: Action): void {
  const spend = program
    .command('spend')
    .description('ad spend in marketing.ad_spend, which the ROI models compare with revenue')

  spend
    .command('import')
    .argument(
      '<file>',
      'CSV with a header date,source,medium,campaign,cost (optionally currency, site_id); ; or , separated',
    )
    .option(
      '--site <id>',
      'Calltouch site id of lines without a site_id column (default: CALLTOUCH_SITE_ID)',
      parseSiteOption,
    )
    .description(
      'load ad costs from a CSV file into marketing.ad_spend; re-importing replaces the rows the file covers, and a file with any bad line is refused whole',
    )
    .action(
      action(async (ctx: CliContext, command: Command) => {
        const [filePath] = command.args as [string]
        // The file is read and checked before the warehouse is opened: a bad file changes nothing.
        const file = await loadSpendFile(filePath, defaultSiteId(ctx, command.opts<{ site?: number }>().site))
        const result = await withWarehouse(ctx, (warehouse) => spendJob(warehouse, file, { logger: ctx.logger }))
        ctx.logger.info(
          { runId: result.runId, file: result.fileName, lines: result.linesRead, keys: result.keys },
          'spend imported',
        )
        say(ctx, describeSpendImport(result))
      }),
    )
}

/** The site of lines without a site_id: --site, else the one site CALLTOUCH_SITE_ID configures. */
function defaultSiteId(ctx: CliContext, option: number | undefined): number | undefined {
  if (option !== undefined) return option
  const configured = ctx.env.CALLTOUCH_SITE_ID?.trim()
  if (!configured) return undefined
  const siteId = parseAccountId(configured)
  if (siteId === undefined)
    throw new EtlError('CONFIG', `CALLTOUCH_SITE_ID ${siteIdProblem(configured)}: fix it, or pass --site ID`)
  return siteId
}
