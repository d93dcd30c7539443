/**
 * Parsing and validation of a Reports request body `{"params": ReportDefinition}`
 * (API.md §3), into what the simulator builds. Every refusal is a DirectError
 * whose detail names the parameter and the fix.
 */
import { dayKeyOf, dayNumberOf, isoWeekday, MS_PER_DAY } from '../wall-clock.ts'
import { DirectError } from './direct-errors.ts'

/** Columns the simulator can fill. */
export const REPORT_FIELDS = [
  'Date',
  'CampaignId',
  'CampaignName',
  'CampaignType',
  'ClientLogin',
  'Impressions',
  'Clicks',
  'Cost',
  'AvgCpc',
  'Ctr',
] as const
export type ReportField = (typeof REPORT_FIELDS)[number]

/** Every field name of the vendor's list (API.md §3): known but not simulated gets its own message. */
const VENDOR_FIELDS = new Set<string>([
  ...REPORT_FIELDS,
  ...'AdFormat AdGroupId AdGroupName AdId AdNetworkType Age AudienceTargetId AvgClickPosition AvgCpm AvgEffectiveBid AvgImpressionFrequency AvgImpressionPosition AvgPageviews AvgTrafficVolume BounceRate Bounces CampaignUrlPath CarrierType ClickType ConversionRate Conversions CostPerConversion Criteria CriteriaId CriteriaType Criterion CriterionId CriterionType Device DynamicTextAdTargetId ExternalNetworkName Gender GoalsRoi ImpressionReach ImpressionShare IncomeGrade LocationOfPresenceId LocationOfPresenceName MatchType MatchedKeyword MobilePlatform Month Placement Profit Quarter Query Revenue RlAdjustmentId Sessions Slot SmartAdTargetId SmartBannerFilterId TargetingCategory TargetingLocationId TargetingLocationName Week WeightedCtr WeightedImpressions Year PurchaseRevenue PurchaseProfit PurchaseGoalsRoi'.split(
    ' ',
  ),
])

const SIMULATED_REPORT_TYPES = new Set(['CAMPAIGN_PERFORMANCE_REPORT', 'CUSTOM_REPORT'])
const VENDOR_REPORT_TYPES = new Set([
  ...SIMULATED_REPORT_TYPES,
  'ACCOUNT_PERFORMANCE_REPORT',
  'ADGROUP_PERFORMANCE_REPORT',
  'AD_PERFORMANCE_REPORT',
  'CRITERIA_PERFORMANCE_REPORT',
  'REACH_AND_FREQUENCY_PERFORMANCE_REPORT',
  'SEARCH_QUERY_PERFORMANCE_REPORT',
])
const PARAM_KEYS = new Set([
  'SelectionCriteria',
  'FieldNames',
  'ReportName',
  'ReportType',
  'DateRangeType',
  'Format',
  'IncludeVAT',
  'IncludeDiscount',
  'Goals',
  'AttributionModels',
  'Page',
  'OrderBy',
])
const CAMPAIGN_ID_OPERATORS = new Set(['EQUALS', 'IN', 'NOT_EQUALS', 'NOT_IN'])
const MAX_REPORT_NAME_LENGTH = 255

/** A validated report request. */
export interface ReportRequest {
  readonly name: string
  readonly fields: readonly ReportField[]
  readonly fromDay: number
  readonly toDay: number
  /** Campaign ids every row must have (undefined: all), after every filter. */
  readonly campaignIds: ((id: number) => boolean) | undefined
  readonly includeVat: boolean
  readonly orderBy: readonly { field: ReportField; descending: boolean }[]
  readonly page: { limit: number; offset: number } | undefined
  /** The parameters as canonical JSON: the identity of "the same report" (§5). */
  readonly canonical: string
}

/** What the date ranges are computed from, per advertiser. */
export interface DateContext {
  /** Today, a local day number. */
  readonly today: number
  /** First day of `DateRangeType: AUTO` (the window in which statistics may have changed). */
  readonly autoFromDay: () => number
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** JSON with object keys sorted, so the same parameters in another key order are the same report. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

const invalid = (detail: string): DirectError => new DirectError(8000, detail)

function stringParam(params: Record<string, unknown>, key: string, allowed?: ReadonlySet<string>): string {
  const value = params[key]
  if (typeof value !== 'string' || value === '') throw invalid(`params.${key} is required and must be a string`)
  if (allowed !== undefined && !allowed.has(value))
    throw invalid(`params.${key} must be one of ${[...allowed].join(', ')}; got ${JSON.stringify(value)}`)
  return value
}

/** The earliest day with statistics: 3 years before the first day of the current month (API.md §7). */
export function historyLimitDay(today: number): number {
  const d = new Date(today * MS_PER_DAY)
  return Date.UTC(d.getUTCFullYear() - 3, d.getUTCMonth(), 1) / MS_PER_DAY
}

function monthStart(day: number, monthsBack: number): number {
  const d = new Date(day * MS_PER_DAY)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsBack, 1) / MS_PER_DAY
}

function dateRange(
  type: string,
  criteria: Record<string, unknown>,
  context: DateContext,
): { fromDay: number; toDay: number } {
  const t = context.today
  const hasDates = criteria['DateFrom'] !== undefined || criteria['DateTo'] !== undefined
  if (type !== 'CUSTOM_DATE' && hasDates)
    throw invalid(`SelectionCriteria.DateFrom and DateTo must be left out with DateRangeType ${type}`)
  const monday = t - (isoWeekday(t) - 1)
  const sunday = t - (isoWeekday(t) % 7)
  const lastN = /^LAST_(\d+)_DAYS$/.exec(type)
  if (lastN !== null && ['3', '5', '7', '14', '30', '90', '365'].includes(lastN[1] as string))
    return { fromDay: t - Number(lastN[1]), toDay: t - 1 }
  switch (type) {
    case 'TODAY':
      return { fromDay: t, toDay: t }
    case 'YESTERDAY':
      return { fromDay: t - 1, toDay: t - 1 }
    case 'THIS_WEEK_MON_TODAY':
      return { fromDay: monday, toDay: t }
    case 'THIS_WEEK_SUN_TODAY':
      return { fromDay: sunday, toDay: t }
    case 'LAST_WEEK':
      return { fromDay: monday - 7, toDay: monday - 1 }
    case 'LAST_BUSINESS_WEEK':
      return { fromDay: monday - 7, toDay: monday - 3 }
    case 'LAST_WEEK_SUN_SAT':
      return { fromDay: sunday - 7, toDay: sunday - 1 }
    case 'THIS_MONTH':
      return { fromDay: monthStart(t, 0), toDay: t }
    case 'LAST_MONTH':
      return { fromDay: monthStart(t, 1), toDay: monthStart(t, 0) - 1 }
    case 'ALL_TIME':
      return { fromDay: historyLimitDay(t), toDay: t }
    case 'AUTO':
      return { fromDay: context.autoFromDay(), toDay: t - 1 }
    case 'CUSTOM_DATE': {
      const from = criteria['DateFrom']
      const to = criteria['DateTo']
      if (typeof from !== 'string' || typeof to !== 'string')
        throw invalid('SelectionCriteria.DateFrom and DateTo (YYYY-MM-DD) are required with DateRangeType CUSTOM_DATE')
      const fromDay = dayNumberOf(from)
      const toDay = dayNumberOf(to)
      if (fromDay === undefined || toDay === undefined)
        throw invalid(`SelectionCriteria.DateFrom and DateTo must be YYYY-MM-DD dates, got ${from} and ${to}`)
      if (fromDay > toDay) throw invalid(`SelectionCriteria.DateFrom ${from} is after DateTo ${to}`)
      return { fromDay, toDay }
    }
    default:
      throw invalid(`params.DateRangeType ${JSON.stringify(type)} is not a DateRangeType`)
  }
}

function campaignFilter(criteria: Record<string, unknown>): ((id: number) => boolean) | undefined {
  const filters = criteria['Filter']
  if (filters === undefined) return undefined
  if (!Array.isArray(filters)) throw invalid('SelectionCriteria.Filter must be an array')
  const tests: ((id: number) => boolean)[] = []
  for (const filter of filters) {
    if (!isObject(filter)) throw invalid('every SelectionCriteria.Filter item must be {Field, Operator, Values}')
    const { Field: field, Operator: operator, Values: values } = filter
    if (field === 'CampaignName') throw invalid('CampaignName can be a column but not a filter; filter on CampaignId')
    if (field !== 'CampaignId')
      throw invalid(`Filter on ${JSON.stringify(field)} is not simulated; the simulator filters on CampaignId only`)
    if (typeof operator !== 'string' || !CAMPAIGN_ID_OPERATORS.has(operator))
      throw invalid(`Filter on CampaignId: Operator must be one of ${[...CAMPAIGN_ID_OPERATORS].join(', ')}`)
    if (!Array.isArray(values) || values.length === 0)
      throw invalid('Filter on CampaignId: Values must be a non-empty array of strings')
    if ((operator === 'EQUALS' || operator === 'NOT_EQUALS') && values.length !== 1)
      throw invalid(`Filter on CampaignId: ${operator} takes exactly one value`)
    const ids = new Set<number>()
    for (const value of values) {
      if (typeof value !== 'string' || !/^\d{1,18}$/.test(value))
        throw invalid(`Filter on CampaignId: Values are strings of digits, got ${JSON.stringify(value)}`)
      ids.add(Number(value))
    }
    const include = operator === 'EQUALS' || operator === 'IN'
    tests.push((id) => ids.has(id) === include)
  }
  return (id) => tests.every((test) => test(id))
}

function fieldNames(value: unknown): ReportField[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('params.FieldNames must be a non-empty array')
  const simulated = new Set<string>(REPORT_FIELDS)
  const out: ReportField[] = []
  for (const name of value) {
    if (typeof name !== 'string') throw invalid('params.FieldNames holds strings only')
    if (!VENDOR_FIELDS.has(name)) throw invalid(`params.FieldNames: unknown field ${JSON.stringify(name)}`)
    if (!simulated.has(name))
      throw invalid(`params.FieldNames: ${name} is not simulated; use ${REPORT_FIELDS.join(', ')}`)
    if (out.includes(name as ReportField)) throw invalid(`params.FieldNames: ${name} is listed twice`)
    out.push(name as ReportField)
  }
  return out
}

/**
 * Parses a Reports request body.
 *
 * @throws DirectError 8000 for an invalid request, 4001 for a period beyond the history limit.
 */
export function parseReportRequest(bodyText: string, context: DateContext): ReportRequest {
  let body: unknown
  try {
    body = JSON.parse(bodyText)
  } catch {
    throw invalid('the request body is not JSON; send {"params": ReportDefinition}')
  }
  if (!isObject(body) || !isObject(body['params'])) throw invalid('the request body must be {"params": {...}}')
  const params = body['params']
  for (const key of Object.keys(params))
    if (!PARAM_KEYS.has(key)) throw invalid(`params.${key} is not a ReportDefinition parameter`)
  const criteria = params['SelectionCriteria']
  if (!isObject(criteria)) throw invalid('params.SelectionCriteria is required (an object, {} allowed)')
  const fields = fieldNames(params['FieldNames'])
  const name = stringParam(params, 'ReportName')
  if (name.length > MAX_REPORT_NAME_LENGTH)
    throw invalid(`params.ReportName is longer than ${MAX_REPORT_NAME_LENGTH} characters`)
  const reportType = stringParam(params, 'ReportType')
  if (!VENDOR_REPORT_TYPES.has(reportType)) throw invalid(`params.ReportType ${JSON.stringify(reportType)} is unknown`)
  if (!SIMULATED_REPORT_TYPES.has(reportType))
    throw invalid(`params.ReportType ${reportType} is not simulated; use CAMPAIGN_PERFORMANCE_REPORT or CUSTOM_REPORT`)
  stringParam(params, 'Format', new Set(['TSV']))
  const includeVat = stringParam(params, 'IncludeVAT', new Set(['YES', 'NO'])) === 'YES'
  if (params['IncludeDiscount'] !== undefined) stringParam(params, 'IncludeDiscount', new Set(['YES', 'NO']))
  const { fromDay, toDay } = dateRange(stringParam(params, 'DateRangeType'), criteria, context)
  const limit = historyLimitDay(context.today)
  if (fromDay < limit)
    throw new DirectError(
      4001,
      `statistics are kept from ${dayKeyOf(limit)} (3 years before the first day of this month); ask from that day on`,
    )
  const orderBy: { field: ReportField; descending: boolean }[] = []
  const order = params['OrderBy']
  if (order !== undefined) {
    if (!Array.isArray(order)) throw invalid('params.OrderBy must be an array of {Field, SortOrder}')
    for (const item of order) {
      if (!isObject(item) || !fields.includes(item['Field'] as ReportField))
        throw invalid('params.OrderBy: every Field must be one of the FieldNames')
      const sort = item['SortOrder'] ?? 'ASCENDING'
      if (sort !== 'ASCENDING' && sort !== 'DESCENDING')
        throw invalid('params.OrderBy: SortOrder must be ASCENDING or DESCENDING')
      orderBy.push({ field: item['Field'] as ReportField, descending: sort === 'DESCENDING' })
    }
  }
  let page: ReportRequest['page']
  const pageParam = params['Page']
  if (pageParam !== undefined) {
    if (!isObject(pageParam)) throw invalid('params.Page must be {Limit, Offset}')
    const pageLimit = pageParam['Limit']
    const offset = pageParam['Offset'] ?? 0
    if (
      !Number.isInteger(pageLimit) ||
      (pageLimit as number) < 1 ||
      !Number.isInteger(offset) ||
      (offset as number) < 0
    )
      throw invalid('params.Page.Limit must be a positive integer and Offset a non-negative one')
    page = { limit: pageLimit as number, offset: offset as number }
  }
  return {
    name,
    fields,
    fromDay,
    toDay,
    campaignIds: campaignFilter(criteria),
    includeVat,
    orderBy,
    page,
    canonical: canonicalJson(params),
  }
}
