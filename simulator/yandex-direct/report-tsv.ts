/**
 * Building a report's rows (a snapshot of the statistics at build time) and
 * writing them as the TSV of API.md §6: an optional title line
 * `"<ReportName> (<from> - <to>)"`, an optional column line, one line per row,
 * an optional `Total rows: N` line; tabs between cells, `\n` after every line,
 * `--` for an undefined metric (AvgCpc or Ctr without clicks or impressions).
 */
import { dayKeyOf } from '../wall-clock.ts'
import { roundMicros, type DirectAccount } from './direct-account.ts'
import type { ReportField, ReportRequest } from './report-definition.ts'

/** One report row: the dimensions asked for (others empty) and summed metrics; cost in micros, VAT as asked. */
export interface ReportRow {
  readonly day: number
  readonly campaignId: number
  readonly campaignName: string
  readonly campaignType: string
  readonly impressions: number
  readonly clicks: number
  readonly costMicros: number
}

/** The rows of a report as built at one clock time. */
export interface ReportSnapshot {
  readonly name: string
  readonly login: string
  readonly fields: readonly ReportField[]
  readonly fromDay: number
  readonly toDay: number
  readonly rows: readonly ReportRow[]
}

/** How to write a snapshot: the request headers of the answer (API.md §2). */
export interface TsvLayout {
  readonly moneyInMicros: boolean
  readonly skipReportHeader: boolean
  readonly skipColumnHeader: boolean
  readonly skipReportSummary: boolean
}

const DIMENSIONS: readonly ReportField[] = ['Date', 'CampaignId', 'CampaignName', 'CampaignType', 'ClientLogin']

function compareBy(field: ReportField): (a: ReportRow, b: ReportRow) => number {
  switch (field) {
    case 'Date':
      return (a, b) => a.day - b.day
    case 'CampaignId':
      return (a, b) => a.campaignId - b.campaignId
    case 'CampaignName':
      return (a, b) => (a.campaignName < b.campaignName ? -1 : a.campaignName > b.campaignName ? 1 : 0)
    case 'CampaignType':
      return (a, b) => (a.campaignType < b.campaignType ? -1 : a.campaignType > b.campaignType ? 1 : 0)
    case 'ClientLogin':
      return () => 0
    case 'Impressions':
      return (a, b) => a.impressions - b.impressions
    case 'Clicks':
      return (a, b) => a.clicks - b.clicks
    case 'Cost':
      return (a, b) => a.costMicros - b.costMicros
    case 'AvgCpc':
      return (a, b) => (a.clicks ? a.costMicros / a.clicks : -1) - (b.clicks ? b.costMicros / b.clicks : -1)
    case 'Ctr':
      return (a, b) => (a.impressions ? a.clicks / a.impressions : -1) - (b.impressions ? b.clicks / b.impressions : -1)
  }
}

/**
 * The rows a report request gets from an account at `clockMs`: statistics rows,
 * VAT added per row when asked (cost × (100 + VatRate) / 100, rounded to 10,000
 * micros), grouped by the dimensions among the fields, ordered by Date then
 * CampaignId (then OrderBy, when given), then paged.
 */
export function buildSnapshot(request: ReportRequest, account: DirectAccount, clockMs: number): ReportSnapshot {
  const filter = request.campaignIds
  const ids = new Set(account.config.campaigns.filter((c) => filter === undefined || filter(c.id)).map((c) => c.id))
  const names = new Map(account.campaigns(clockMs).map((c) => [c.id, c]))
  const vatFactor = request.includeVat ? (100 + account.config.vatRate) / 100 : 1
  const dims = new Set(request.fields.filter((f) => DIMENSIONS.includes(f)))
  const groups = new Map<string, ReportRow>()
  for (const stat of account.rows(request.fromDay, request.toDay, clockMs, ids)) {
    const campaign = names.get(stat.campaignId)
    const row: ReportRow = {
      day: dims.has('Date') ? stat.day : 0,
      campaignId: dims.has('CampaignId') ? stat.campaignId : 0,
      campaignName: dims.has('CampaignName') ? (campaign?.name ?? '') : '',
      campaignType: dims.has('CampaignType') ? (campaign?.type ?? '') : '',
      impressions: stat.impressions,
      clicks: stat.clicks,
      costMicros: vatFactor === 1 ? stat.costMicros : roundMicros(stat.costMicros * vatFactor),
    }
    const key = `${row.day}\t${row.campaignId}\t${row.campaignName}\t${row.campaignType}`
    const seen = groups.get(key)
    groups.set(
      key,
      seen === undefined
        ? row
        : {
            ...seen,
            impressions: seen.impressions + row.impressions,
            clicks: seen.clicks + row.clicks,
            costMicros: seen.costMicros + row.costMicros,
          },
    )
  }
  let rows = [...groups.values()]
  const order = [...request.orderBy].reverse()
  rows.sort((a, b) => a.day - b.day || a.campaignId - b.campaignId)
  for (const { field, descending } of order) {
    const compare = compareBy(field)
    rows.sort(descending ? (a, b) => compare(b, a) : compare)
  }
  if (request.page !== undefined) rows = rows.slice(request.page.offset, request.page.offset + request.page.limit)
  return {
    name: request.name,
    login: account.login,
    fields: request.fields,
    fromDay: request.fromDay,
    toDay: request.toDay,
    rows,
  }
}

/** Money as Direct writes it: integer micros, or currency units with 2 decimals. */
export function formatMoney(micros: number, inMicros: boolean): string {
  if (inMicros) return String(micros)
  const cents = Math.round(micros / 10_000)
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`
}

function cell(field: ReportField, row: ReportRow, login: string, inMicros: boolean): string {
  switch (field) {
    case 'Date':
      return dayKeyOf(row.day)
    case 'CampaignId':
      return String(row.campaignId)
    case 'CampaignName':
      return row.campaignName
    case 'CampaignType':
      return row.campaignType
    case 'ClientLogin':
      return login
    case 'Impressions':
      return String(row.impressions)
    case 'Clicks':
      return String(row.clicks)
    case 'Cost':
      return formatMoney(row.costMicros, inMicros)
    case 'AvgCpc':
      return row.clicks === 0 ? '--' : formatMoney(roundMicros(row.costMicros / row.clicks), inMicros)
    case 'Ctr':
      return row.impressions === 0 ? '--' : ((row.clicks / row.impressions) * 100).toFixed(2)
  }
}

/** The TSV text of a snapshot. */
export function formatTsv(snapshot: ReportSnapshot, layout: TsvLayout): string {
  const lines: string[] = []
  if (!layout.skipReportHeader)
    lines.push(`"${snapshot.name} (${dayKeyOf(snapshot.fromDay)} - ${dayKeyOf(snapshot.toDay)})"`)
  if (!layout.skipColumnHeader) lines.push(snapshot.fields.join('\t'))
  for (const row of snapshot.rows)
    lines.push(snapshot.fields.map((f) => cell(f, row, snapshot.login, layout.moneyInMicros)).join('\t'))
  if (!layout.skipReportSummary) lines.push(`Total rows: ${snapshot.rows.length}`)
  return lines.length === 0 ? '' : lines.join('\n') + '\n'
}
