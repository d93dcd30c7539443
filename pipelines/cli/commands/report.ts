import { Option, type Command } from 'commander'
import {
  FUNNEL_GROUPINGS,
  readFunnelReport,
  type FunnelGrouping,
  type FunnelReport,
  type FunnelRow,
} from '../../operate/funnel-report.ts'
import {
  readRoiReport,
  ROI_GROUPINGS,
  type RoiGrouping,
  type RoiReport,
  type RoiRow,
} from '../../operate/roi-report.ts'
import { say, withWarehouse, type Action, type CliContext } from '../context.ts'
import { DAY_OPTION_ARGUMENT, dayRangeOption, parseSiteOption } from '../options.ts'
import { renderTable, type TextColumn } from '../text-table.ts'

interface RoiOptions {
  readonly by: RoiGrouping
  readonly from?: string
  readonly to?: string
  readonly site?: number
  readonly json?: boolean
}

interface FunnelOptions {
  readonly by: FunnelGrouping
  readonly from?: string
  readonly to?: string
  readonly site?: number
  readonly json?: boolean
}

export function registerReportCommand(program: Command, action: Action): void {
  const report = program.command('report').description('reports read from the marts (run transform first)')
  report
    .command('roi')
    .description('revenue, spend, profit and ROI from the marts as a table, for people without Metabase yet')
    .addOption(
      new Option(
        '--by <grouping>',
        'one row per channel (utm_source/utm_medium), campaign, ad-campaign (a Direct or VK Ads campaign), month or manager',
      )
        .choices(ROI_GROUPINGS)
        .default('channel'),
    )
    .option(`--from ${DAY_OPTION_ARGUMENT}`, 'first day, inclusive (default: the first day in the marts)')
    .option(`--to ${DAY_OPTION_ARGUMENT}`, 'last day, inclusive (default: the last day in the marts)')
    .option('--site <id>', 'one site only (default: all sites together)', parseSiteOption)
    .option('--json', 'print the rows as JSON; money as exact decimal strings')
    .action(
      action(async (ctx: CliContext, command: Command) => {
        const options = command.opts<RoiOptions>()
        const { from, to } = dayRangeOption(options, { required: false })
        const siteId = options.site ?? null
        const result = await withWarehouse(
          ctx,
          (warehouse) => readRoiReport(warehouse.db, { by: options.by, from, to, siteId }),
          { readOnly: true },
        )
        say(ctx, options.json ? JSON.stringify(result, null, 2) : describeRoiReport(result))
      }),
    )
  report
    .command('funnel')
    .description('the lead funnel from the marts: leads, target leads, deals, spend, cost per lead, conversion and ROI')
    .addOption(
      new Option('--by <grouping>', 'one row per channel (utm_source/utm_medium), campaign or month')
        .choices(FUNNEL_GROUPINGS)
        .default('channel'),
    )
    .option(`--from ${DAY_OPTION_ARGUMENT}`, 'first day, inclusive (default: the first day in the marts)')
    .option(`--to ${DAY_OPTION_ARGUMENT}`, 'last day, inclusive (default: the last day in the marts)')
    .option('--site <id>', 'one site only (default: all sites together)', parseSiteOption)
    .option('--json', 'print the rows as JSON; money and ratios as exact decimal strings')
    .action(
      action(async (ctx: CliContext, command: Command) => {
        const options = command.opts<FunnelOptions>()
        const { from, to } = dayRangeOption(options, { required: false })
        const siteId = options.site ?? null
        const result = await withWarehouse(
          ctx,
          (warehouse) => readFunnelReport(warehouse.db, { by: options.by, from, to, siteId }),
          { readOnly: true },
        )
        say(ctx, options.json ? JSON.stringify(result, null, 2) : describeFunnelReport(result))
      }),
    )
}

const KEY_TITLES: Readonly<Record<string, string>> = {
  utm_source: 'source',
  utm_medium: 'medium',
  utm_campaign: 'campaign',
  month: 'month',
  manager: 'manager',
}

/**
 * The report for people: a title, a table with a total line, and what ROI means.
 *
 * @example
 * say(ctx, describeRoiReport(await readRoiReport(db, { by: 'channel', from: null, to: null, siteId: null })))
 */
export function describeRoiReport(report: RoiReport): string {
  const period =
    report.from === null && report.to === null
      ? 'all days'
      : `${report.from ?? 'first day'} to ${report.to ?? 'last day'}`
  const sites = report.siteId === null ? 'all sites' : `site ${report.siteId}`
  const title = `ROI by ${report.by}, ${period}, ${sites} (${report.source})`
  if (report.total === null)
    return `${title}: no rows. Run calltouch-etl sync and calltouch-etl transform, or widen --from/--to.`
  const columns: TextColumn[] = [
    ...report.keyNames.map((name) => ({ title: KEY_TITLES[name] ?? name })),
    { title: 'deals', align: 'right' },
    { title: 'revenue', align: 'right' },
    { title: 'spend', align: 'right' },
    { title: 'profit', align: 'right' },
    { title: 'ROI', align: 'right' },
  ]
  const line = (row: RoiRow, keys: readonly string[]): (string | number)[] => [
    ...keys,
    row.deals,
    formatMoney(row.revenue),
    formatMoney(row.spend),
    formatMoney(row.profit),
    row.roiPercent === null ? '—' : `${row.roiPercent}%`,
  ]
  const totalKeys = report.keyNames.map((_, index) => (index === 0 ? 'total' : ''))
  const table = renderTable(columns, [...report.rows.map((row) => line(row, row.keys)), line(report.total, totalKeys)])
  return [
    title,
    table,
    'ROI = (revenue − spend) / spend; — where there was no spend. Revenue: completed amounts of deals neither deleted nor removed.',
  ].join('\n')
}

/**
 * The funnel for people: a title, a table with a total line, and what the ratios mean.
 *
 * @example
 * say(ctx, describeFunnelReport(await readFunnelReport(db, { by: 'channel', from: null, to: null, siteId: null })))
 */
export function describeFunnelReport(report: FunnelReport): string {
  const period =
    report.from === null && report.to === null
      ? 'all days'
      : `${report.from ?? 'first day'} to ${report.to ?? 'last day'}`
  const sites = report.siteId === null ? 'all sites' : `site ${report.siteId}`
  const title = `Lead funnel by ${report.by}, ${period}, ${sites} (${report.source})`
  if (report.total === null)
    return `${title}: no rows. Run calltouch-etl sync and calltouch-etl transform, or widen --from/--to.`
  const columns: TextColumn[] = [
    ...report.keyNames.map((name) => ({ title: KEY_TITLES[name] ?? name })),
    { title: 'leads', align: 'right' },
    { title: 'unique', align: 'right' },
    { title: 'target', align: 'right' },
    { title: 'with deal', align: 'right' },
    { title: 'deals', align: 'right' },
    { title: 'revenue', align: 'right' },
    { title: 'spend', align: 'right' },
    { title: 'per lead', align: 'right' },
    { title: 'per target', align: 'right' },
    { title: 'conversion', align: 'right' },
    { title: 'ROI', align: 'right' },
  ]
  const percent = (value: string | null): string => (value === null ? '—' : `${value}%`)
  const money = (value: string | null): string => (value === null ? '—' : formatMoney(value))
  const line = (row: FunnelRow, keys: readonly string[]): (string | number)[] => [
    ...keys,
    row.leads,
    row.uniqueLeads,
    row.targetLeads,
    row.leadsWithDeals,
    row.deals,
    formatMoney(row.revenue),
    formatMoney(row.spend),
    money(row.costPerLead),
    money(row.costPerTargetLead),
    percent(row.conversionPercent),
    percent(row.roiPercent),
  ]
  const totalKeys = report.keyNames.map((_, index) => (index === 0 ? 'total' : ''))
  const table = renderTable(columns, [...report.rows.map((row) => line(row, row.keys)), line(report.total, totalKeys)])
  return [
    title,
    table,
    'Leads: calls and requests on their day and channel; with deal: of those, the ones with a counted deal; conversion = with deal / leads.',
    'Deals and revenue on their own day and channel, as in report roi; per lead = spend / leads, per target = spend / target leads; ROI = (revenue − spend) / spend; — where the divisor is 0.',
  ].join('\n')
}

/** 1234567.5 → '1 234 567.50', from exact decimal text (no JS number in between). */
export function formatMoney(amount: string): string {
  const negative = amount.startsWith('-')
  const [whole = '0', fraction = ''] = (negative ? amount.slice(1) : amount).split('.')
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ' ')
  return `${negative ? '-' : ''}${grouped}.${fraction.padEnd(2, '0').slice(0, 2)}`
}
