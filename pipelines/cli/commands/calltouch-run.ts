import { EXIT_CODES, type ExitCode } from '../../core/errors.ts'
import { redact } from '../../core/secrets.ts'
import path from 'node:path'
import { contactPolicyFromEnv } from '../../core/pii.ts'
import {
  siteStreams,
  type CalltouchConfig,
  type CalltouchStream,
  type SiteConfig,
} from '../../sources/calltouch-deals/config.ts'
import { runConfigFromEnv } from '../../jobs/run-config.ts'
import type { SyncMode, SyncProgress, SyncSummary } from '../../sources/calltouch-deals/sync-sites.ts'
import { syncJob, type SyncJobResult, type SyncRequest } from '../../jobs/sync-job.ts'
import type { AdSpendSummary } from '../../jobs/ad-spend-sync.ts'
import type { LeadsSummary } from '../../jobs/leads-sync.ts'
import { say, usageError, withWarehouse, type CliContext } from '../context.ts'
import { withEgress } from '../egress-env.ts'
import { dayRangeOption } from '../options.ts'
import type { Day } from '../../core/day.ts'

/** Options shared by `sync` and `backfill`, as commander hands them over (`--site` and `--lookback-days` parsed by cli/options.ts). */
export interface CalltouchRunOptions {
  readonly config?: string
  readonly site?: number
  readonly lookbackDays?: number
  readonly from?: string
  readonly to?: string
  /** `--only deals,calls,…`: some parts of the run (sync and backfill). */
  readonly only?: SyncRequest['only']
  /** `--json`: one JSON object with the run's result on stdout instead of the lines. */
  readonly json?: boolean
}

/** Where state kept between runs lives (VK Ads tokens) when CALLTOUCH_ETL_STATE_DIR is unset, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.data/state'

export const CONFIG_OPTION_HELP =
  'JSON file listing the sites and run settings (env CALLTOUCH_CONFIG); default: one site from CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN'
export const SITE_OPTION_HELP = 'only this configured site id (and the ad accounts of it)'
export const JSON_OPTION_HELP =
  "print the run's result as one JSON object (counts, failures, per ad account) instead of lines, for scripts"
export const ONLY_OPTION_HELP =
  "only these parts, comma-separated: deals, calls, requests (each site's streams) and spend (the ad accounts); default all"

/**
 * Checks `sync` or `backfill` options and the configuration (exit 2 before the
 * warehouse is touched) and resolves them into the job's request.
 */
export function syncRequestFromOptions(
  ctx: CliContext,
  command: SyncRequest['command'],
  options: CalltouchRunOptions,
  now: Date,
): SyncRequest {
  const { lookbackDays } = options
  const runConfig = runConfigFromEnv(ctx.env, { configFile: options.config, cwd: ctx.cwd, now })
  const config = runConfig.calltouch
  const sites = selectSites(config, options.site)
  const adAccounts = runConfig.adAccounts.filter(
    (account) => options.site === undefined || account.siteId === options.site,
  )
  const spendOnly = options.only !== undefined && options.only.every((part) => part === 'spend')
  if (spendOnly && adAccounts.length === 0)
    throw usageError(
      `--only spend, but no ad account is configured${options.site === undefined ? '' : ` for site ${options.site}`}: add adAccounts to the config file (or YANDEX_DIRECT_TOKEN / VK_ADS_CLIENT_ID), see README, Ad spend`,
    )
  const only = options.only
  const streamsAsked = only?.filter((part): part is CalltouchStream => part !== 'spend')
  if (
    only !== undefined &&
    !spendOnly &&
    streamsAsked !== undefined &&
    !sites.some((site) => streamsAsked.some((stream) => siteStreams(site).includes(stream))) &&
    !(only.includes('spend') && adAccounts.length > 0)
  )
    throw usageError(
      `--only ${only.join(',')}, but no configured site${options.site === undefined ? '' : ` ${options.site}`} loads ${streamsAsked.join(' or ')}: see each site's streams (README, Leads)`,
    )
  const mode = command === 'backfill' ? backfillMode(options, sites, now) : ({ kind: 'sync' } as const)
  const settings = lookbackDays === undefined ? config.run : { ...config.run, lookbackDays }
  const stateDir = path.resolve(ctx.cwd, ctx.env.CALLTOUCH_ETL_STATE_DIR?.trim() || DEFAULT_STATE_DIR)
  return {
    command,
    sites,
    mode,
    settings,
    baseUrl: config.baseUrl,
    configSource: config.source,
    now,
    adAccounts,
    adSettings: runConfig.adSettings,
    ...(options.only ? { only: options.only } : {}),
    stateDir,
    // Only a run that reads deals needs the key: a spend-only run never creates the key file.
    ...(spendOnly ? {} : { contacts: contactPolicyFromEnv(ctx.env, stateDir) }),
  }
}

/**
 * Runs `sync` or `backfill`: checks the options, runs the sync job on the
 * warehouse, prints a one-line summary and the failed windows, and returns 1
 * when any window failed.
 */
export async function runCalltouchCommand(
  ctx: CliContext,
  command: SyncRequest['command'],
  options: CalltouchRunOptions,
): Promise<ExitCode> {
  const result = await runSync(ctx, syncRequestFromOptions(ctx, command, options, new Date()))
  if (options.json !== true) return printSyncResult(ctx, result)
  say(ctx, redact(JSON.stringify(syncResultJson(result))))
  return result.ok ? EXIT_CODES.ok : EXIT_CODES.failed
}

/**
 * What `sync --json` and `backfill --json` print: the run's counts and failures, the deals'
 * and the spend's. Secrets never are in a result; the printed text is redacted all the same.
 */
export function syncResultJson(result: SyncJobResult): Record<string, unknown> {
  const { peakPagesHeld: _peakPagesHeld, ...deals } = result.summary
  return {
    command: result.command,
    runId: result.runId,
    ok: result.ok,
    interrupted: result.interrupted,
    durationMs: result.durationMs,
    deals,
    leads: result.leads,
    spend: result.spend,
  }
}

/**
 * Opens the egress (CALLTOUCH_ETL_EGRESS_ADDRESS, CALLTOUCH_ETL_REDIS_URL) and the warehouse and
 * runs the sync job on them, with a bar of days done on stderr when it is a terminal.
 */
export async function runSync(ctx: CliContext, request: SyncRequest): Promise<SyncJobResult> {
  const onProgress = (progress: SyncProgress): void =>
    ctx.progress.updateBar({ value: progress.daysDone, total: progress.daysTotal, failed: progress.daysFailed })
  try {
    return await withEgress(ctx.env, (egress) =>
      withWarehouse(ctx, (warehouse) => syncJob(warehouse, request, { logger: ctx.logger, onProgress, egress })),
    )
  } finally {
    ctx.progress.stopBar()
  }
}

/** Prints a sync's summary line and its failed windows; 1 when the run did not read all its plan. */
export function printSyncResult(ctx: CliContext, result: SyncJobResult): ExitCode {
  if (result.summary.sites > 0 || (result.spend === null && result.leads === null))
    say(ctx, describeSummary(result.command, result.summary, result.durationMs))
  for (const failure of result.summary.failures)
    say(ctx, `failed: site ${failure.siteId} ${failure.firstDay}..${failure.lastDay}: ${failure.error}`)
  if (result.leads !== null) {
    say(ctx, describeLeadsSummary(result.command, result.leads))
    for (const failure of result.leads.failures)
      say(
        ctx,
        `failed: site ${failure.siteId} ${failure.journal} ${failure.firstDay}..${failure.lastDay}: ${failure.error}`,
      )
  }
  if (result.spend !== null) {
    say(ctx, describeSpendSummary(result.command, result.spend))
    for (const account of result.spend.accounts) {
      const name = `${account.type} account ${account.account ?? '?'} (${account.where})`
      if (account.error !== null) say(ctx, `failed: ${name}: ${account.error}`)
      for (const failure of account.failures)
        say(ctx, `failed: ${name} ${failure.firstDay}..${failure.lastDay}: ${failure.error}`)
    }
  }
  return result.ok ? EXIT_CODES.ok : EXIT_CODES.failed
}

/** The one-line summary of a run's calls and requests. */
export function describeLeadsSummary(command: string, leads: LeadsSummary): string {
  const failed = leads.daysFailed === 0 ? '' : ` (${leads.daysFailed} failed)`
  return `${command} leads: ${leads.streams} stream(s), ${leads.days} day(s)${failed}, ${leads.requests} request(s), ${leads.retries} retr${leads.retries === 1 ? 'y' : 'ies'}, ${leads.seen} lead(s) seen, ${leads.changed} changed, ${leads.rejected} rejected, ${leads.removed} removed`
}

/** The one-line summary of a run's ad spend. */
export function describeSpendSummary(command: string, spend: AdSpendSummary): string {
  const failed = spend.accountsFailed === 0 ? '' : ` (${spend.accountsFailed} failed)`
  return `${command} spend: ${spend.accounts.length} ad account(s)${failed}, ${spend.days} day(s), ${spend.requests} request(s), ${spend.retries} retr${spend.retries === 1 ? 'y' : 'ies'}, campaign-days ${spend.inserted} new, ${spend.updated} changed, ${spend.deleted} deleted, ${spend.unchanged} unchanged`
}

/** The one-line summary of a run. */
export function describeSummary(command: string, summary: SyncSummary, durationMs: number): string {
  const failed = summary.daysFailed === 0 ? '' : ` (${summary.daysFailed} failed)`
  return `${command}: ${summary.sites} site(s), ${summary.days} day(s)${failed}, ${summary.requests} request(s), ${summary.retries} retr${summary.retries === 1 ? 'y' : 'ies'}, ${summary.seen} record(s) seen, ${summary.changed} changed, ${summary.rejected} rejected, ${(durationMs / 1000).toFixed(1)} s`
}

function selectSites(config: CalltouchConfig, siteId: number | undefined): readonly SiteConfig[] {
  if (siteId === undefined) return config.sites
  const site = config.sites.find((candidate) => candidate.siteId === siteId)
  if (site === undefined) {
    throw usageError(
      `--site ${siteId} is not a configured site (configured in ${config.source}: ${config.sites.map((s) => s.siteId).join(', ')}); pick one of those or add it to the configuration`,
    )
  }
  return [site]
}

function backfillMode(options: CalltouchRunOptions, sites: readonly SiteConfig[], now: Date): SyncMode {
  // "Today" is the first site's; sites of one account share a zone in practice.
  const zone = sites[0]?.timeZone ?? 'UTC'
  const { from, to } = dayRangeOption(options, { required: true, notAfter: { zone, now }, command: 'backfill' })
  // Both are days here: the range is required, so a missing one was refused above.
  return { kind: 'backfill', from: from as Day, to: to as Day }
}
