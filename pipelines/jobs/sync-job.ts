import { messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { RunSettings, SiteConfig } from '../sources/calltouch-deals/config.ts'
import { loadWindow, recordWindowFailure } from '../sources/calltouch-deals/load-window.ts'
import type { Egress } from '../http/egress.ts'
import { countedShareOf, createRequestLimiters } from '../http/request-limiter.ts'
import { siteStreams } from '../sources/calltouch-deals/config.ts'
import { recordContactProtection } from '../sources/calltouch-deals/contact-protection.ts'
import { LEAD_JOURNALS } from '../sources/calltouch-leads/load-leads.ts'
import { syncLeads, type LeadsProgress, type LeadsSummary } from './leads-sync.ts'
import { CALLTOUCH_REQUEST_BUDGET, calltouchRequestBudget } from '../sources/calltouch-deals/api-client.ts'
import { syncSites, type SyncMode, type SyncProgress, type SyncSummary } from '../sources/calltouch-deals/sync-sites.ts'
import { analyzeLoadedTables } from '../warehouse/analyze-tables.ts'
import type { Warehouse } from '../warehouse/connection.ts'
import { DEFAULT_AD_ACCOUNT_SETTINGS, type AdAccountSettings } from '../core/ad-account.ts'
import type { ContactPolicy } from '../core/pii.ts'
import { syncAdAccounts, type AdSpendSummary } from './ad-spend-sync.ts'
import type { AdAccount } from './run-config.ts'
import { withRun, type RunEndStatus } from './with-run.ts'

/**
 * What a run reads: every part (the default) or those `sync --only` names: the Calltouch deals,
 * calls and requests (as each site's `streams` setting allows) and the ad accounts' spend.
 */
export const SYNC_PARTS = ['deals', 'calls', 'requests', 'spend'] as const
export type SyncPart = (typeof SYNC_PARTS)[number]

/** A sync or backfill, checked and resolved by the caller (the CLI parses options and configuration). */
export interface SyncRequest {
  readonly command: 'sync' | 'backfill'
  readonly sites: readonly SiteConfig[]
  readonly mode: SyncMode
  readonly settings: RunSettings
  /** The API's base URL (CalltouchConfig.baseUrl). */
  readonly baseUrl: string
  /** Where the sites came from (CalltouchConfig.source), stored with the run's arguments. */
  readonly configSource: string
  /** The run's clock: "today" and the ledger's ages are taken from it. */
  readonly now: Date
  /** The ad accounts whose spend the run reads besides the deals (none by default). */
  readonly adAccounts?: readonly AdAccount[]
  readonly adSettings?: AdAccountSettings
  /** Only these parts (`sync --only deals,calls`); every part by default. */
  readonly only?: readonly SyncPart[]
  /** Where tokens are kept between runs (VK Ads): CALLTOUCH_ETL_STATE_DIR. Required with a VK Ads account. */
  readonly stateDir?: string
  /** What the warehouse may store of client contacts, and the key of client_key (CALLTOUCH_ETL_PII, CALLTOUCH_ETL_PII_KEY). */
  readonly contacts?: ContactPolicy
}

/**
 * Who reads a run's parts: this process (the default), or workers taking them as jobs
 * (`sync --distributed`: jobs/distributed-parts.ts), each with the same input and summary.
 */
export interface SyncParts {
  readonly syncSites: typeof syncSites
  readonly syncLeads: typeof syncLeads
  readonly syncAdAccounts: typeof syncAdAccounts
}

export interface SyncJobOptions {
  /** Who reads the parts (default this process); the run's lock, row, summary and exit stay the job's. */
  readonly parts?: SyncParts
  readonly logger?: Logger
  /** Stops the run (a scheduler's SIGTERM): requests in flight are aborted, the run is recorded failed as interrupted. */
  readonly signal?: AbortSignal
  readonly onProgress?: (progress: SyncProgress) => void
  /**
   * How the run's API requests leave the process (http/egress.ts): bound to an egress address,
   * and Calltouch's limit counted in Redis with every process sending from it. The caller opens
   * and closes it; when it is lost (Redis gone) the run stops and its error is thrown. Default:
   * the default route and a limit of this process's own.
   */
  readonly egress?: Egress
}

export interface SyncJobResult {
  readonly runId: string
  readonly command: SyncRequest['command']
  /** The deals' part; sites 0 when the run read no deals. */
  readonly summary: SyncSummary
  /** The calls and requests part; null when the run read neither. */
  readonly leads: LeadsSummary | null
  /** The ad accounts' part; null when the run read deals only or no account is configured. */
  readonly spend: AdSpendSummary | null
  readonly durationMs: number
  /** Stopped by the signal: the run read only part of its plan. */
  readonly interrupted: boolean
  /** Every window and every ad account loaded, and the run was not stopped. */
  readonly ok: boolean
}

/**
 * Reads and loads the request's sites under the run lock as one `sync` or
 * `backfill` run in etl.runs: succeeded, partial when some windows failed,
 * failed when all did or the run was stopped. A window that fails is a
 * result, not an exception; a lost warehouse stops the run and is thrown.
 *
 * @example
 * const result = await syncJob(warehouse, { command: 'sync', sites, mode: { kind: 'sync' }, settings, baseUrl, configSource, now: new Date() }, { logger })
 * if (!result.ok) for (const failure of result.summary.failures) console.log(failure.error)
 */
export async function syncJob(
  warehouse: Warehouse,
  request: SyncRequest,
  options: SyncJobOptions = {},
): Promise<SyncJobResult> {
  const startedAt = Date.now()
  const { command, sites, mode, settings, signal, egress } = { ...request, ...options }
  // The vendor's ceiling is Calltouch's fact: its budget (calltouchRequestBudget) holds it, and every Calltouch request
  // shares that one limiter; with a shared egress, every process sending from the same address shares it too.
  const limiters = createRequestLimiters(
    { [CALLTOUCH_REQUEST_BUDGET]: calltouchRequestBudget(settings.requestsPerSecond) },
    egress?.sharedWindows,
  )
  const limiter = limiters.limiterFor(CALLTOUCH_REQUEST_BUDGET)
  // Bound connections only when an address is given: otherwise the parts keep their own default fetch.
  const boundFetch = egress?.address === undefined ? {} : { fetch: egress.fetch }
  const reads = (part: SyncPart): boolean => request.only === undefined || request.only.includes(part)
  const dealSites = reads('deals') ? sites.filter((site) => siteStreams(site).includes('deals')) : []
  const leadJournals = LEAD_JOURNALS.filter(reads)
  const leadSites = sites.filter((site) => leadJournals.some((journal) => siteStreams(site).includes(journal)))
  const adAccounts = reads('spend') ? (request.adAccounts ?? []) : []
  const calltouchSites = sites.filter((site) => dealSites.includes(site) || leadSites.includes(site))
  const runArguments = {
    sites: calltouchSites.map((site) => site.siteId),
    ...(adAccounts.length > 0 ? { adAccounts: adAccounts.map((account) => account.where) } : {}),
    ...(request.only ? { only: request.only } : {}),
    config: request.configSource,
    ...settings,
    ...(mode.kind === 'backfill' ? { from: mode.from, to: mode.to } : {}),
    ...(egress?.address === undefined ? {} : { egressAddress: egress.address }),
  }
  try {
    return await withRun(
      warehouse,
      command,
      {
        arguments: runArguments,
        logger: options.logger,
        failureCounters: () => ({ ...limiter.counters, durationMs: Date.now() - startedAt }),
      },
      async (run) => {
        // A lost warehouse connection, or a lost shared limit, stops the run as a signal would: no window starts on it.
        const runSignal = AbortSignal.any([signal, warehouse.lost, egress?.lost].filter((stop) => stop !== undefined))
        if (egress !== undefined && (egress.address !== undefined || egress.sharedWindows !== undefined))
          run.logger.info(
            { egressAddress: egress.address, sharedLimit: egress.sharedWindows?.keyOf(CALLTOUCH_REQUEST_BUDGET) },
            egress.describe(CALLTOUCH_REQUEST_BUDGET),
          )
        // Checked once before any part loads a contact: deals and leads load in parallel.
        if (request.contacts && calltouchSites.length > 0) await recordContactProtection(warehouse.db, request.contacts)
        const progress = combinedProgress(options.onProgress)
        const spendPart =
          adAccounts.length === 0
            ? Promise.resolve(null)
            : (options.parts?.syncAdAccounts ?? syncAdAccounts)({
                warehouse,
                runId: run.runId,
                accounts: adAccounts,
                mode: mode.kind === 'backfill' ? mode : { kind: 'sync' },
                settings: request.adSettings ?? DEFAULT_AD_ACCOUNT_SETTINGS,
                now: request.now,
                stateDir: request.stateDir ?? '.data/state',
                logger: run.logger,
                signal: runSignal,
                ...boundFetch,
              })
        const leadsPart =
          leadSites.length === 0
            ? Promise.resolve(null)
            : (options.parts?.syncLeads ?? syncLeads)({
                db: warehouse.db,
                runId: run.runId,
                sites: leadSites,
                journals: leadJournals,
                ...(request.contacts ? { contacts: request.contacts } : {}),
                mode,
                baseUrl: request.baseUrl,
                settings,
                limiter,
                now: request.now,
                logger: run.logger,
                onProgress: progress.leads,
                signal: runSignal,
                ...boundFetch,
              })
        const dealsPart = (options.parts?.syncSites ?? syncSites)({
          db: warehouse.db,
          runId: run.runId,
          sites: dealSites,
          ...(request.contacts ? { contacts: request.contacts } : {}),
          mode,
          baseUrl: request.baseUrl,
          settings,
          limiter: countedShareOf(limiter),
          loader: { loadWindow, recordWindowFailure },
          now: request.now,
          logger: run.logger,
          onProgress: progress.deals,
          signal: runSignal,
          ...boundFetch,
        })
        // The parts run side by side (deals and leads on the one Calltouch limiter, spend on its
        // platforms' own); each settles before the run ends.
        const settled = await Promise.allSettled([dealsPart, leadsPart, spendPart])
        for (const part of settled) if (part.status === 'rejected') throw part.reason
        const [summary, leads, spend] = settled.map((part) => (part as PromiseFulfilledResult<unknown>).value) as [
          SyncSummary,
          LeadsSummary | null,
          AdSpendSummary | null,
        ]
        // withRun would find the loss too, but the summary must not be taken for the run's outcome.
        warehouse.lost.throwIfAborted()
        // Its windows stopped as interrupted; the run fails with the one line saying why.
        egress?.lost.throwIfAborted()
        // The models are planned on statistics of what was just loaded (warehouse/analyze-tables.ts).
        if (summary.changed + (leads?.changed ?? 0) + (spend ? spend.inserted + spend.updated + spend.deleted : 0) > 0)
          await analyzeLoadedTables(warehouse.db)
        const durationMs = Date.now() - startedAt
        const interrupted = signal?.aborted === true
        const { failures, ...counters } = summary
        const firstFailure = failures[0]
        const windowError =
          firstFailure === undefined
            ? null
            : `${failures.length} window(s) failed; first: site ${firstFailure.siteId} ${firstFailure.firstDay}..${firstFailure.lastDay}: ${firstFailure.error}`
        const spendError = spend === null ? null : describeSpendFailure(spend)
        const leadsError = leads === null ? null : describeLeadsFailure(leads)
        const parts = summary.windows + (leads?.reads ?? 0) + (spend?.accounts.length ?? 0)
        const partsFailed = summary.windowsFailed + (leads?.readsFailed ?? 0) + (spend?.accountsFailed ?? 0)
        return {
          result: {
            runId: run.runId,
            command,
            summary,
            leads,
            spend,
            durationMs,
            interrupted,
            ok: partsFailed === 0 && !interrupted,
          },
          // A stopped run read only part of its plan: it failed, whatever its windows did.
          status: interrupted ? 'failed' : statusOf(partsFailed, parts),
          counters: { ...counters, ...leadsCounters(leads), ...spendCounters(spend), durationMs },
          error: interrupted
            ? `interrupted after ${summary.windows} window(s): ${messageOf(signal?.reason)}`
            : [windowError, leadsError, spendError].filter((part) => part !== null).join('; ') || null,
        }
      },
    )
  } finally {
    await limiters.stop()
  }
}

/** The leads part's counters in etl.runs, none when the run read no calls nor requests. */
function leadsCounters(leads: LeadsSummary | null): Record<string, number> {
  if (leads === null) return {}
  const { failures: _failures, ...counters } = leads
  return Object.fromEntries(
    Object.entries(counters).map(([name, value]) => [`leads${name[0]?.toUpperCase()}${name.slice(1)}`, value]),
  )
}

/** The first failed read of the leads part, for etl.runs.error; null when none failed. */
function describeLeadsFailure(leads: LeadsSummary): string | null {
  const first = leads.failures[0]
  if (first === undefined) return null
  return `${leads.failures.length} lead read(s) failed; first: site ${first.siteId} ${first.journal} ${first.firstDay}..${first.lastDay}: ${first.error}`
}

/**
 * One progress of days for the whole run: the deals' and the leads' days added up, so the bar
 * ends when both do.
 */
function combinedProgress(onProgress: ((progress: SyncProgress) => void) | undefined): {
  deals: (progress: SyncProgress) => void
  leads: (progress: LeadsProgress) => void
} {
  const zero: SyncProgress = { daysTotal: 0, daysDone: 0, daysFailed: 0 }
  let deals = zero
  let leads = zero
  const report = (): void =>
    onProgress?.({
      daysTotal: deals.daysTotal + leads.daysTotal,
      daysDone: deals.daysDone + leads.daysDone,
      daysFailed: deals.daysFailed + leads.daysFailed,
    })
  return {
    deals: (progress) => {
      deals = progress
      report()
    },
    leads: (progress) => {
      leads = progress
      report()
    },
  }
}

/** The spend part's counters in etl.runs, none when the run read no ad account. */
function spendCounters(spend: AdSpendSummary | null): Record<string, number> {
  if (spend === null) return {}
  return {
    spendAccounts: spend.accounts.length,
    spendAccountsFailed: spend.accountsFailed,
    spendDays: spend.days,
    spendRequests: spend.requests,
    spendRetries: spend.retries,
    spendInserted: spend.inserted,
    spendUpdated: spend.updated,
    spendDeleted: spend.deleted,
  }
}

/** The first failed account of the spend part, for etl.runs.error; null when none failed. */
function describeSpendFailure(spend: AdSpendSummary): string | null {
  const failed = spend.accounts.find((account) => account.error !== null || account.failures.length > 0)
  if (failed === undefined) return null
  const reason =
    failed.error ?? `${failed.failures[0]?.firstDay}..${failed.failures[0]?.lastDay}: ${failed.failures[0]?.error}`
  return `${spend.accountsFailed} ad account(s) failed; first: ${failed.type} ${failed.account ?? failed.where}: ${reason}`
}

/** `partial` when some windows or accounts failed, `failed` when all did. */
function statusOf(failed: number, total: number): RunEndStatus {
  return failed === 0 ? 'succeeded' : failed < total ? 'partial' : 'failed'
}
