import path from 'node:path'
import type { Command } from 'commander'
import { describeWarehouse, warehouseConfigFromEnv } from '../../core/config.ts'
import { EXIT_CODES, messageOf, type ExitCode } from '../../core/errors.ts'
import type { ProbeOutcome } from '../../core/probe.ts'
import { redact } from '../../core/secrets.ts'
import { runConfigFromEnv, type AdAccount, type RunConfig } from '../../jobs/run-config.ts'
import { probeCalltouchSite } from '../../sources/calltouch-deals/probe-site.ts'
import { siteStreams } from '../../sources/calltouch-deals/config.ts'
import { LEAD_JOURNALS } from '../../sources/calltouch-leads/load-leads.ts'
import { probeLeadsJournal } from '../../sources/calltouch-leads/probe-leads.ts'
import { probeVkAdsAccount } from '../../sources/vk-ads/probe-account.ts'
import { probeYandexDirectAccount } from '../../sources/yandex-direct/probe-account.ts'
import { openWarehouse } from '../../warehouse/connection.ts'
import { withRunLock } from '../../warehouse/run-lock.ts'
import { requireLatestSchema, say, type Action, type CliContext } from '../context.ts'
import { egressConfigFromEnv } from '../egress-env.ts'
import { openEgress, type Egress } from '../../http/egress.ts'
import { CALLTOUCH_REQUEST_BUDGET } from '../../sources/calltouch-deals/api-client.ts'
import { CONFIG_OPTION_HELP, DEFAULT_STATE_DIR } from './calltouch-run.ts'

interface CheckOptions {
  readonly config?: string
}

/** One thing `check` tried: what, whether it works, and what it found or how to fix it. */
export interface CheckLine {
  readonly item: string
  readonly ok: boolean
  readonly text: string
}

export function registerCheckCommand(program: Command, action: Action): void {
  program
    .command('check')
    .description(
      'try everything a sync needs, changing nothing: the configuration, the warehouse (reachable, schema up to date, no run holding it), one request per site and per ad account; one line each, ok or FAILED with the fix; exits 1 if anything failed',
    )
    .option('--config <file>', CONFIG_OPTION_HELP)
    .action(action(async (ctx: CliContext, command: Command) => runCheck(ctx, command.opts<CheckOptions>())))
}

async function runCheck(ctx: CliContext, options: CheckOptions): Promise<ExitCode> {
  const lines = await checkEverything(ctx, options, new Date())
  for (const line of lines) say(ctx, `${line.ok ? 'ok' : 'FAILED'} ${line.item}: ${line.text}`)
  const failed = lines.filter((line) => !line.ok).length
  say(ctx, failed === 0 ? 'Everything a sync needs works.' : `${failed} of ${lines.length} check(s) failed.`)
  return failed === 0 ? EXIT_CODES.ok : EXIT_CODES.failed
}

/** Every check, in order; never throws for a failed one. */
export async function checkEverything(ctx: CliContext, options: CheckOptions, now: Date): Promise<CheckLine[]> {
  const lines: CheckLine[] = []
  let config: RunConfig | undefined
  try {
    config = runConfigFromEnv(ctx.env, { configFile: options.config, cwd: ctx.cwd, now })
    lines.push({
      item: 'configuration',
      ok: true,
      text: `${config.calltouch.sites.length} site(s) and ${config.adAccounts.length} ad account(s) from ${config.calltouch.source}`,
    })
  } catch (error) {
    lines.push({ item: 'configuration', ok: false, text: redact(messageOf(error)) })
  }
  lines.push(await checkWarehouse(ctx))
  const egress = await checkEgress(ctx, lines)
  try {
    if (config === undefined) return lines
    // The probes leave from the egress address as a sync would (unbound when it failed: the tokens are still worth trying).
    const bound = egress?.address === undefined ? {} : { fetch: egress.fetch }
    const { calltouch } = config
    const probe = { baseUrl: calltouch.baseUrl, settings: calltouch.run, now, ...bound }
    for (const site of calltouch.sites) {
      const streams = siteStreams(site)
      if (streams.includes('deals')) lines.push(lineOf(`site ${site.siteId}`, await probeCalltouchSite(site, probe)))
      for (const journal of LEAD_JOURNALS.filter((stream) => streams.includes(stream)))
        lines.push(lineOf(`site ${site.siteId} ${journal}`, await probeLeadsJournal(site, journal, probe)))
    }
    const stateDir = path.resolve(ctx.cwd, ctx.env.CALLTOUCH_ETL_STATE_DIR?.trim() || DEFAULT_STATE_DIR)
    for (const account of config.adAccounts)
      lines.push(lineOf(accountName(account), await probeAccount(account, config, stateDir, bound)))
    return lines
  } finally {
    await egress?.close()
  }
}

/**
 * The egress address and the shared limit's Redis, when set: a line for them, and the egress open
 * for the probes (undefined when neither is set or it failed).
 */
async function checkEgress(ctx: CliContext, lines: CheckLine[]): Promise<Egress | undefined> {
  const config = egressConfigFromEnv(ctx.env)
  if (config.address === undefined && config.redisUrl === undefined) return undefined
  try {
    const egress = await openEgress(config)
    lines.push({ item: 'egress', ok: true, text: egress.describe(CALLTOUCH_REQUEST_BUDGET) })
    return egress
  } catch (error) {
    lines.push({ item: 'egress', ok: false, text: redact(messageOf(error)) })
    return undefined
  }
}

async function checkWarehouse(ctx: CliContext): Promise<CheckLine> {
  try {
    const warehouseConfig = warehouseConfigFromEnv(ctx.env, ctx.cwd)
    const description = describeWarehouse(warehouseConfig)
    const warehouse = await (ctx.openWarehouse ?? openWarehouse)(warehouseConfig)
    try {
      await requireLatestSchema(warehouse)
      // Free now: a run holding it would make the sync wait for nothing and exit 3.
      await withRunLock(warehouse, () => Promise.resolve())
    } finally {
      await warehouse.close()
    }
    return { item: 'warehouse', ok: true, text: `${description}: reachable, schema up to date, no run holding it` }
  } catch (error) {
    return { item: 'warehouse', ok: false, text: redact(messageOf(error)) }
  }
}

function probeAccount(
  account: AdAccount,
  config: RunConfig,
  stateDir: string,
  bound: { readonly fetch?: typeof fetch },
): Promise<ProbeOutcome> {
  return account.type === 'yandex-direct'
    ? probeYandexDirectAccount(account, { settings: config.adSettings, ...bound })
    : probeVkAdsAccount(account, { settings: config.adSettings, stateDir, ...bound })
}

function accountName(account: AdAccount): string {
  const id = account.type === 'yandex-direct' ? (account.clientLogin ?? 'own token') : account.clientId
  return `${account.type} ${id} (${account.where})`
}

function lineOf(item: string, outcome: ProbeOutcome): CheckLine {
  return outcome.ok ? { item, ok: true, text: outcome.detail } : { item, ok: false, text: outcome.error }
}
