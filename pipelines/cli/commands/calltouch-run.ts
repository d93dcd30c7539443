import cliProgress from 'cli-progress'
import { EXIT_CODES, messageOf, type ExitCode } from '../../core/errors.ts'
import { calltouchConfigFromEnv, dayProblem, type CalltouchConfig, type SiteConfig } from '../../core/site-config.ts'
import { loadWindow, recordWindowFailure } from '../../calltouch/load-window.ts'
import { createRequestLimiter } from '../../calltouch/request-limiter.ts'
import { syncSites, type SyncMode, type SyncProgress, type SyncSummary } from '../../calltouch/sync-sites.ts'
import { finishFailedRun, finishRun, startRun } from '../../warehouse/run-ledger.ts'
import type { RunStatus } from '../../warehouse/schema.ts'
import { say, usageError, withWarehouse, type CliContext } from '../context.ts'

/** Options shared by `sync` and `backfill`, as commander hands them over (text). */
export interface CalltouchRunOptions {
  readonly config?: string
  readonly site?: string
  readonly lookbackDays?: string
  readonly from?: string
  readonly to?: string
}

export const CONFIG_OPTION_HELP = 'JSON file listing the sites and run settings (env CALLTOUCH_CONFIG); default: one site from CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN'
export const SITE_OPTION_HELP = 'only this configured site id'

/**
 * Runs `sync` or `backfill`: checks every option and the configuration before
 * the warehouse is touched (exit 2), then reads and loads under the run lock,
 * records the run in etl.runs, prints a one-line summary, and returns 1 when
 * any window failed.
 */
export async function runCalltouchCommand(
  ctx: CliContext,
  command: 'sync' | 'backfill',
  options: CalltouchRunOptions,
  run: { readonly signal?: AbortSignal } = {},
): Promise<ExitCode> {
  const startedAt = Date.now()
  const now = new Date()
  const siteFilter = options.site === undefined ? undefined : positiveInteger('--site', options.site)
  const lookbackDays = options.lookbackDays === undefined ? undefined : nonNegativeInteger('--lookback-days', options.lookbackDays)
  const config = calltouchConfigFromEnv(ctx.env, { configFile: options.config, cwd: ctx.cwd, now })
  const sites = selectSites(config, siteFilter)
  const mode = command === 'backfill' ? backfillMode(options, sites, now) : ({ kind: 'sync' } as const)
  const settings = lookbackDays === undefined ? config.run : { ...config.run, lookbackDays }
  const runArguments = { sites: sites.map((site) => site.siteId), config: config.source, ...settings, ...(mode.kind === 'backfill' ? { from: mode.from, to: mode.to } : {}) }

  return withWarehouse(ctx, async (warehouse) => {
    const { db } = warehouse
    const runId = await startRun(db, command, runArguments)
    const limiter = createRequestLimiter({ requestsPerSecond: settings.requestsPerSecond })
    const progress = createProgressBar(ctx)
    let summary: SyncSummary
    let durationMs: number
    let interrupted: boolean
    try {
      try {
        summary = await syncSites({
          db,
          runId,
          sites,
          mode,
          baseUrl: config.baseUrl,
          settings,
          limiter,
          loader: { loadWindow, recordWindowFailure },
          now,
          logger: ctx.logger.child({ runId }),
          onProgress: progress.update,
          // A lost warehouse connection stops the run as a signal would: no window starts on it.
          signal: run.signal ? AbortSignal.any([run.signal, warehouse.lost]) : warehouse.lost,
        })
      } finally {
        await limiter.stop()
      }
      warehouse.lost.throwIfAborted()
      progress.stop()
      durationMs = Date.now() - startedAt
      // A stopped run read only part of its plan: it failed, whatever its windows did.
      interrupted = run.signal?.aborted === true
      const status: RunStatus = interrupted ? 'failed' : summary.windowsFailed === 0 ? 'succeeded' : summary.windowsFailed < summary.windows ? 'partial' : 'failed'
      const { failures, ...counters } = summary
      const firstFailure = failures[0]
      const windowError = firstFailure === undefined ? null : `${failures.length} window(s) failed; first: site ${firstFailure.siteId} ${firstFailure.firstDay}..${firstFailure.lastDay}: ${firstFailure.error}`
      await finishRun(db, runId, {
        status,
        counters: { ...counters, durationMs },
        error: interrupted ? `interrupted after ${summary.windows} window(s): ${messageOf(run.signal?.reason)}` : windowError,
      })
    } catch (error) {
      progress.stop()
      // Cut by a lost connection (the last statement, closing the row, included), a statement
      // throws whatever pg says; the loss is the reason.
      const failure: unknown = warehouse.lost.aborted ? warehouse.lost.reason : error
      await finishFailedRun(warehouse, runId, { counters: { ...limiter.counters, durationMs: Date.now() - startedAt }, error: messageOf(failure) })
      throw failure
    }
    say(ctx, describeSummary(command, summary, durationMs))
    for (const failure of summary.failures) say(ctx, `failed: site ${failure.siteId} ${failure.firstDay}..${failure.lastDay}: ${failure.error}`)
    return summary.windowsFailed === 0 && !interrupted ? EXIT_CODES.ok : EXIT_CODES.failed
  }, { exclusive: true })
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
    throw usageError(`--site ${siteId} is not a configured site (configured in ${config.source}: ${config.sites.map((s) => s.siteId).join(', ')}); pick one of those or add it to the configuration`)
  }
  return [site]
}

function backfillMode(options: CalltouchRunOptions, sites: readonly SiteConfig[], now: Date): SyncMode {
  const problems: string[] = []
  // "Today" is the first site's; sites of one account share a zone in practice.
  const zone = sites[0]?.timeZone ?? 'UTC'
  for (const [name, value] of [['--from', options.from], ['--to', options.to]] as const) {
    if (value === undefined) problems.push(`${name} YYYY-MM-DD is required`)
    else {
      const problem = dayProblem(value, zone, now)
      if (problem) problems.push(`${name} ${problem}`)
    }
  }
  if (problems.length === 0 && (options.from as string) > (options.to as string)) problems.push(`--from ${options.from} is after --to ${options.to}; give the earlier day first`)
  if (problems.length > 0) throw usageError(`backfill: ${problems.join('; ')}`)
  return { kind: 'backfill', from: options.from as string, to: options.to as string }
}

function positiveInteger(name: string, text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1) throw usageError(`${name} must be a positive integer, got ${JSON.stringify(text)}`)
  return Number(text)
}

function nonNegativeInteger(name: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw usageError(`${name} must be a whole number of days (0 or more), got ${JSON.stringify(text)}`)
  return Number(text)
}

/** A bar of days done on a terminal; nothing otherwise (logs say the same). */
function createProgressBar(ctx: CliContext): { update: (progress: SyncProgress) => void; stop: () => void } {
  if ((ctx.stdout as NodeJS.WriteStream).isTTY !== true) return { update: () => {}, stop: () => {} }
  const bar = new cliProgress.SingleBar({
    stream: ctx.stdout,
    format: 'days {bar} {value}/{total} ({failed} failed) {eta_formatted} left',
    hideCursor: true,
    clearOnComplete: true,
  }, cliProgress.Presets.shades_classic)
  let started = false
  return {
    update(progress) {
      if (!started) {
        bar.start(progress.daysTotal, progress.daysDone, { failed: progress.daysFailed })
        started = true
      } else bar.update(progress.daysDone, { failed: progress.daysFailed })
    },
    stop() {
      if (started) bar.stop()
      started = false
    },
  }
}
