import { Option, type Command } from 'commander'
import type { AdAccountSpendMatch, SpendOverlap } from '../../operate/spend-matching.ts'
import {
  DEFAULT_STALE_AFTER_HOURS,
  readWarehouseStatus,
  type SiteStatus,
  type WarehouseStatus,
} from '../../operate/site-status.ts'
import { EXIT_CODES } from '../../core/errors.ts'
import { readDistributedJobs, type DistributedJobsStatus } from '../../operate/distributed-jobs.ts'
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
      'per site: last complete read, days behind, failed days and why, rejected records, deals, days without spend; per ad account: spend matched to deals; exits 1 when a site is failing or stale, no site is configured or nothing was read yet; read-only (never migrates)',
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
        const [status, jobs] = await withWarehouse(
          ctx,
          async (warehouse) =>
            [
              await readWarehouseStatus(warehouse.db, { sites, defaultTimeZone, now: new Date(), staleAfterHours }),
              await readDistributedJobs(warehouse.db),
            ] as const,
          { readOnly: true },
        )
        // The jobs of `sync --distributed` are shown as they stand; they never change the exit code.
        if (options.json) say(ctx, JSON.stringify(jobs === null ? status : { ...status, jobs }, null, 2))
        else say(ctx, [describeStatus(status), ...describeJobs(jobs)].filter((text) => text !== '').join('\n'))
        return status.healthy ? EXIT_CODES.ok : EXIT_CODES.failed
      }),
    )
}

/** The status for people: a table of sites, then one line per problem. */
export function describeStatus(status: WarehouseStatus): string {
  const problems = status.problems.map((problem) => `Not healthy: ${problem}.`)
  if (status.sites.length === 0) return problems.join('\n')
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
      { title: `leads (${recent})`, align: 'right' },
      { title: `days without spend (${recent})`, align: 'right' },
    ],
    status.sites.map((site) => [
      site.configured ? String(site.siteId) : `${site.siteId} (not configured)`,
      site.state,
      site.lastSuccessAt === null
        ? 'never'
        : `${site.lastSuccessAt.slice(0, 16).replace('T', ' ')} UTC (${site.hoursSinceSuccess} h ago)`,
      site.daysBehind ?? '—',
      site.failedDays.length + site.leadStreams.reduce((sum, stream) => sum + stream.failedDays.length, 0),
      site.rejectedRecords,
      site.deals.total,
      site.deals.recent,
      site.leadStreams.length === 0 ? '—' : site.leadStreams.reduce((sum, stream) => sum + stream.leads.recent, 0),
      `${site.spendCoverage.daysWithoutSpend.length} of ${site.spendCoverage.daysWithDeals}`,
    ]),
  )
  const lines = [table, ...status.sites.flatMap(describeProblems), ...describeSpendMatching(status)]
  if (status.healthy) lines.push('All sites are ok.')
  else if (status.sites.every((site) => site.state === 'ok')) lines.push(...problems)
  else lines.push(...problems, `Not healthy: a site is failing, or stale beyond ${status.staleAfterHours} h.`)
  return lines.join('\n')
}

/** The read jobs of `sync --distributed`: counts, then each running, queued and failed job. Nothing without them. */
export function describeJobs(jobs: DistributedJobsStatus | null): string[] {
  if (jobs === null) return []
  const lines = [`jobs: ${jobs.queued} queued, ${jobs.running} running, ${jobs.failed} failed`]
  for (const job of jobs.jobs) {
    const attempt = `attempt ${job.retries + 1} of ${job.retryLimit + 1}`
    if (job.state === 'active') lines.push(`  running: ${job.key ?? job.id} (${attempt})`)
    else if (job.state === 'failed') lines.push(`  failed: ${job.key ?? job.id}: ${job.error ?? 'no reason recorded'}`)
    else
      lines.push(
        `  queued: ${job.key ?? job.id}${job.state === 'retry' ? ` (${attempt}, last: ${job.error ?? 'no reason recorded'})` : ''}`,
      )
  }
  return lines
}

function describeProblems(site: SiteStatus): string[] {
  const lines = site.problems.map((problem) => `site ${site.siteId} ${site.state}: ${problem}`)
  const failed = [
    ...site.failedDays.map((day) => ({ ...day, stream: '' })),
    ...site.leadStreams.flatMap((stream) => stream.failedDays.map((day) => ({ ...day, stream: `${stream.stream} ` }))),
  ]
  for (const day of failed)
    lines.push(`  ${day.stream}${day.day} failed (${day.attempts} attempt(s)): ${day.error ?? 'no reason recorded'}`)
  return lines
}

/** Per ad account, its recent spend against the deals; then the CSV spend a connector overrides. Nothing without ad accounts. */
function describeSpendMatching(status: WarehouseStatus): string[] {
  if (status.adAccounts.length === 0) return []
  const recent = `${status.recentDays} d`
  const table = renderTable(
    [
      { title: 'ad account' },
      { title: 'site', align: 'right' },
      { title: 'channel' },
      { title: `spend (${recent})`, align: 'right' },
      { title: 'matched to deals', align: 'right' },
      { title: 'unmatched', align: 'right' },
      { title: `deals (${recent})`, align: 'right' },
      { title: 'deals matching no campaign', align: 'right' },
    ],
    status.adAccounts.map((account) => [
      accountName(account),
      account.siteId,
      `${account.utmSource} / ${account.utmMedium}, campaign ${account.utmCampaignHolds}`,
      `${account.spend} ${account.currency}`,
      account.matchedSpend,
      account.unmatchedSpend,
      account.deals,
      account.unmatchedDeals,
    ]),
  )
  return [table, ...status.adAccounts.flatMap(describeUnmatched), ...status.spendOverlaps.map(describeOverlap)]
}

function accountName(account: { readonly sourceSystem: string; readonly account: string }): string {
  return `${account.sourceSystem} ${account.account}`
}

function describeUnmatched(account: AdAccountSpendMatch): string[] {
  const lines: string[] = []
  const name = accountName(account)
  if (account.topUnmatchedCampaigns.length > 0) {
    const top = account.topUnmatchedCampaigns
      .map((campaign) => `${campaign.campaignId} ${JSON.stringify(campaign.campaignName)} ${campaign.spend}`)
      .join(', ')
    lines.push(
      `${name}: ${account.unmatchedSpend} ${account.currency} of spend in ${account.campaigns - account.matchedCampaigns} of ${account.campaigns} campaign(s) matches no deal; most: ${top}`,
    )
  }
  if (account.unmatchedDeals > 0) {
    const top = account.topUnmatchedUtmCampaigns
      .map((value) => `${JSON.stringify(value.utmCampaign)} (${value.deals})`)
      .join(', ')
    lines.push(
      `${name}: ${account.unmatchedDeals} of ${account.deals} deal(s) under ${account.utmSource} / ${account.utmMedium} match no campaign by ${account.utmCampaignHolds}; most: ${top}`,
    )
  }
  return lines
}

function describeOverlap(overlap: SpendOverlap): string {
  return `warning: site ${overlap.siteId}: CSV spend and ${accountName(overlap)} both cover ${overlap.utmSource} / ${overlap.utmMedium} on ${overlap.days} day(s), ${overlap.firstDay} to ${overlap.lastDay}: the connector's spend counts, ${overlap.csvSpendLeftOut} of CSV spend is left out`
}
