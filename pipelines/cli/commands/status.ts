import { Option, type Command } from 'commander'
import {
  DEFAULT_STALE_AFTER_HOURS,
  readWarehouseStatus,
  type SiteStatus,
  type WarehouseStatus,
} from '../../operate/site-status.ts'
import { EXIT_CODES } from '../../core/errors.ts'
import { say, usageError, withWarehouse, type Action, type CliContext } from '../context.ts'
import { renderTable } from '../text-table.ts'
import { defaultTimeZoneFromEnv, optionalCalltouchConfig } from '../operate-config.ts'

interface StatusOptions {
  readonly json?: boolean
  readonly staleAfterHours?: string
  readonly config?: string
}

export function registerStatusCommand(program: Command, action: Action): void {
  program
    .command('status')
    .description(
      'per site: last complete read, days behind, failed days and why, rejected records, deals, days without spend; exits 1 when a site is failing or stale',
    )
    .option('--json', 'print the status as JSON, for monitoring')
    .option(
      '--config <file>',
      'JSON file listing the sites (env CALLTOUCH_CONFIG); default: the site of CALLTOUCH_SITE_ID, if any',
    )
    .addOption(
      new Option('--stale-after-hours <hours>', 'a site whose last complete read is older than this is stale').default(
        String(DEFAULT_STALE_AFTER_HOURS),
      ),
    )
    .action(
      action(async (ctx: CliContext, command: Command) => {
        const options = command.opts<StatusOptions>()
        const staleAfterHours = Number(options.staleAfterHours)
        if (!Number.isFinite(staleAfterHours) || staleAfterHours <= 0) {
          throw usageError(
            `--stale-after-hours must be a positive number of hours, got ${JSON.stringify(options.staleAfterHours)}`,
          )
        }
        const config = optionalCalltouchConfig(ctx, options.config)
        const sites = (config?.sites ?? []).map((site) => ({ siteId: site.siteId, timeZone: site.timeZone }))
        const defaultTimeZone = defaultTimeZoneFromEnv(ctx)
        const status = await withWarehouse(ctx, (warehouse) =>
          readWarehouseStatus(warehouse.db, { sites, defaultTimeZone, now: new Date(), staleAfterHours }),
        )
        say(ctx, options.json ? JSON.stringify(status, null, 2) : describeStatus(status))
        return status.healthy ? EXIT_CODES.ok : EXIT_CODES.failed
      }),
    )
}

/** The status for people: a table of sites, then one line per problem. */
export function describeStatus(status: WarehouseStatus): string {
  if (status.sites.length === 0)
    return 'No sites: none is configured and the warehouse holds no sync yet. Set CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN (or --config), then run calltouch-etl sync.'
  const recent = `${status.recentDays} d`
  const table = renderTable(
    [
      { title: 'site' },
      { title: 'state' },
      { title: 'last complete read' },
      { title: 'days behind', align: 'right' },
      { title: 'failed days', align: 'right' },
      { title: `rejected (${recent})`, align: 'right' },
      { title: 'deals', align: 'right' },
      { title: `deals (${recent})`, align: 'right' },
      { title: `days without spend (${recent})`, align: 'right' },
    ],
    status.sites.map((site) => [
      site.configured ? String(site.siteId) : `${site.siteId} (not configured)`,
      site.state,
      site.lastSuccessAt === null
        ? 'never'
        : `${site.lastSuccessAt.slice(0, 16).replace('T', ' ')} UTC (${site.hoursSinceSuccess} h ago)`,
      site.daysBehind ?? '—',
      site.failedDays.length,
      site.rejectedRecords,
      site.deals.total,
      site.deals.recent,
      `${site.spendCoverage.daysWithoutSpend.length} of ${site.spendCoverage.daysWithDeals}`,
    ]),
  )
  const lines = [table, ...status.sites.flatMap(describeProblems)]
  lines.push(
    status.healthy
      ? 'All sites are ok.'
      : `Not healthy: a site is failing, or stale beyond ${status.staleAfterHours} h.`,
  )
  return lines.join('\n')
}

function describeProblems(site: SiteStatus): string[] {
  const lines = site.problems.map((problem) => `site ${site.siteId} ${site.state}: ${problem}`)
  for (const failed of site.failedDays)
    lines.push(`  ${failed.day} failed (${failed.attempts} attempt(s)): ${failed.error ?? 'no reason recorded'}`)
  return lines
}
