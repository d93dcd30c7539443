import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { EXIT_CODES, type ExitCode } from '../../core/errors.ts'
import { readRoiReport } from '../../operate/roi-report.ts'
import { spendJob } from '../../jobs/spend-job.ts'
import { transformJob } from '../../jobs/transform-job.ts'
import { describeSpendImport, loadSpendFile } from '../../spend/import-spend.ts'
import { say, withWarehouse, type Action, type CliContext } from '../context.ts'
import { printSyncResult, runSync, syncRequestFromOptions } from './calltouch-run.ts'
import { describeFunnelReport, describeRoiReport } from './report.ts'
import { readFunnelReport } from '../../operate/funnel-report.ts'

/**
 * The demo's own embedded warehouse, apart from `.data/warehouse`, so that
 * simulated deals never mix with a real site's. CALLTOUCH_ETL_DATA_DIR still
 * picks another directory.
 */
export const DEFAULT_DEMO_DATA_DIR = '.data/demo-warehouse'

export function registerDemoCommand(program: Command, action: Action): void {
  program
    .command('demo')
    .description(
      `try it with nothing installed and no account: a local Calltouch simulator, two months of a demo site synced into an embedded warehouse (${DEFAULT_DEMO_DATA_DIR}), sample ad spend, the ROI models, and ROI by channel`,
    )
    .action(action(async (ctx: CliContext) => runDemo(ctx)))
}

async function runDemo(ctx: CliContext): Promise<ExitCode> {
  const startedAt = Date.now()
  const dataDir = path.resolve(ctx.cwd, ctx.env.CALLTOUCH_ETL_DATA_DIR?.trim() || DEFAULT_DEMO_DATA_DIR)
  if (ctx.env.DATABASE_URL?.trim())
    say(
      ctx,
      'DATABASE_URL is set, but the demo keeps its simulated deals out of real warehouses: it uses the embedded one.',
    )
  // Only the demo and simulator commands (and tests, benchmarks) load simulator/ and demo/, and only when they run.
  const { startSimulator } = await import('../../../simulator/index.ts')
  const {
    DEMO_DEALS_PER_DAY,
    DEMO_FIRST_DAY,
    DEMO_LAST_DAY,
    DEMO_READ_FROM,
    DEMO_NOW,
    DEMO_REPORT_FROM,
    DEMO_REPORT_TO,
    DEMO_SEED,
    DEMO_SITE_ID,
    DEMO_SPEND_FILE,
    DEMO_TIME_ZONE,
    DEMO_TOKEN,
    DEMO_VK_ADS,
    DEMO_YANDEX_DIRECT,
    demoConfig,
  } = await import('../../../demo/demo-settings.ts')
  const simulator = await startSimulator({
    port: 0,
    seed: DEMO_SEED,
    now: DEMO_NOW,
    timeZone: DEMO_TIME_ZONE,
    sites: [{ siteId: DEMO_SITE_ID, token: DEMO_TOKEN, dealsPerDay: DEMO_DEALS_PER_DAY, historyStart: DEMO_FIRST_DAY }],
    yandexDirect: DEMO_YANDEX_DIRECT,
    vkAds: DEMO_VK_ADS,
  })
  // The demo's site and ad accounts, all pointing at the simulator, in a config file beside its warehouse.
  const demoDir = path.dirname(dataDir)
  mkdirSync(demoDir, { recursive: true })
  const configFile = path.join(demoDir, `${path.basename(dataDir)}.config.json`)
  writeFileSync(configFile, JSON.stringify(demoConfig(simulator.url), null, 2))
  const demo: CliContext = {
    ...ctx,
    env: {
      PATH: ctx.env.PATH,
      CALLTOUCH_ETL_DATA_DIR: dataDir,
      CALLTOUCH_CONFIG: configFile,
      CALLTOUCH_ETL_STATE_DIR: path.join(demoDir, `${path.basename(dataDir)}.state`),
      CALLTOUCH_TIMEZONE: DEMO_TIME_ZONE,
    },
  }
  try {
    say(
      ctx,
      `Calltouch simulator at ${simulator.url}: demo site ${DEMO_SITE_ID}, its clock at ${DEMO_NOW}, the real API's limit of 5 requests a second; a Yandex Direct and a VK Ads account on the same port.`,
    )
    say(ctx, `Reading ${DEMO_READ_FROM} to ${DEMO_LAST_DAY} into the embedded warehouse at ${dataDir} ...`)
    const synced = await runSync(
      demo,
      syncRequestFromOptions(demo, 'backfill', { from: DEMO_READ_FROM, to: DEMO_LAST_DAY }, new Date()),
    )
    if (printSyncResult(ctx, synced) !== EXIT_CODES.ok) return EXIT_CODES.failed
  } finally {
    await simulator.close()
  }
  const report = await withWarehouse(demo, async (warehouse) => {
    const spend = await spendJob(warehouse, await loadSpendFile(fileURLToPath(DEMO_SPEND_FILE), DEMO_SITE_ID), {
      logger: ctx.logger,
    })
    say(ctx, describeSpendImport(spend))
    const transform = await transformJob(warehouse, {}, { logger: ctx.logger })
    say(
      ctx,
      `Built ${transform.models.filter((model) => model.status === 'built').length} models in analytics; their tests: ${transform.testsPassed} passed, ${transform.testsFailed} failed.`,
    )
    const period = { from: DEMO_REPORT_FROM, to: DEMO_REPORT_TO, siteId: DEMO_SITE_ID }
    return {
      channels: await readRoiReport(warehouse.db, { by: 'channel', ...period }),
      campaigns: await readRoiReport(warehouse.db, { by: 'ad-campaign', ...period }),
      funnel: await readFunnelReport(warehouse.db, { by: 'channel', ...period }),
    }
  })
  say(ctx, '')
  say(ctx, describeRoiReport(report.channels))
  say(ctx, '')
  // The connectors' campaigns, the biggest spenders first.
  say(ctx, describeRoiReport(report.campaigns))
  say(ctx, '')
  // The leads behind the deals: what a lead cost and how many became deals.
  say(ctx, describeFunnelReport(report.funnel))
  const shownDir = dataDir.startsWith(`${ctx.cwd}${path.sep}`) ? path.relative(ctx.cwd, dataDir) : dataDir
  say(ctx, '')
  say(
    ctx,
    [
      `Done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s. The data is in the embedded PostgreSQL (PGlite) at ${dataDir}:`,
      'deals in calltouch.orders, calls and requests in calltouch.calls and calltouch.requests (raw versions in raw.*), ad spend in marketing.ad_campaign_stats (Direct, VK Ads) and marketing.ad_spend (CSV), the marts in analytics.',
      'Look further (the demo warehouse is chosen by CALLTOUCH_ETL_DATA_DIR):',
      `  CALLTOUCH_ETL_DATA_DIR=${shownDir} npx calltouch-etl report roi --by campaign`,
      `  CALLTOUCH_ETL_DATA_DIR=${shownDir} npx calltouch-etl report roi --by month`,
      `  CALLTOUCH_ETL_DATA_DIR=${shownDir} npx calltouch-etl report funnel --by campaign`,
      `  CALLTOUCH_ETL_DATA_DIR=${shownDir} npx calltouch-etl status`,
      `  CALLTOUCH_ETL_DATA_DIR=${shownDir} npx calltouch-etl sql "select * from analytics.fct_marketing_monthly limit 5"`,
      `For psql, DBeaver or Metabase: CALLTOUCH_ETL_DATA_DIR=${shownDir} npx calltouch-etl serve-sql, then psql -h 127.0.0.1 -p 5433 -U postgres`,
      '(README: SQL and Metabase on the embedded warehouse; for a real site, PostgreSQL and Metabase, README: Deploy).',
    ].join('\n'),
  )
  return EXIT_CODES.ok
}
