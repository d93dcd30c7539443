/**
 * `GET /api/v2/statistics/ad_plans/day.json` (shared/vk-ads/API.md §4.1): query
 * checks, the `base` metric set, late corrections, and the rows a test expects.
 */
import { dayKeyOf, dayNumberOf, type DayKey } from '../wall-clock.ts'
import { planDay, type AdPlan, type AdPlanDay } from './ad-plan-catalog.ts'

/** [DOC] "statistics only for the last 366 days". A date 366 days before today is served, 367 is not. */
export const MAX_STATISTICS_AGE_DAYS = 366
/** [DOC] "≤ 200 objects per request". */
export const MAX_STATISTICS_IDS = 200

/** The metric sets of the docs; only `base` is simulated. */
const METRIC_SETS = new Set([
  'all',
  'base',
  'events',
  'video',
  'carousel',
  'ad_offers',
  'uniques',
  'uniques_video',
  'tps',
  'romi',
  'playable',
  'custom_event',
  'social_network',
])

/** A 400 of the statistics or list endpoints: `{"error":{"message","code"}}` ([DOC] §4.4). */
export interface VkAdsApiError {
  status: number
  code: string
  message: string
}

/** Whether a parse result is an error. */
export function isApiError(value: object): value is VkAdsApiError {
  return 'code' in value && 'status' in value && 'message' in value
}

export interface StatisticsQuery {
  ids: number[]
  fromDay: number
  toDay: number
}

/** A late correction of one plan's day: the values the API serves from now on. */
export interface VkAdsCorrection {
  clientId: string
  adPlanId: number
  day: DayKey
  /** Spend in the account currency: a decimal string ('1234.5') or a number, at most 2 decimals. */
  spent?: string | number
  clicks?: number
  shows?: number
}

/** One non-zero day of one plan as a connector stores it (`expectedRows`). */
export interface VkAdsExpectedRow {
  day: DayKey
  campaignId: string
  campaignName: string
  impressions: number
  clicks: number
  /** Spend × 1,000,000 (kopecks × 10,000). */
  costMicros: bigint
}

const badParameter = (message: string): VkAdsApiError => ({ status: 400, code: 'ERR_WRONG_PARAMETER', message })
const badDate = (message: string): VkAdsApiError => ({ status: 400, code: 'ERR_WRONG_DATE', message })

/** Parses and checks a day.json query against today (day number). */
export function parseStatisticsQuery(params: URLSearchParams, today: number): StatisticsQuery | VkAdsApiError {
  const rawIds = params
    .getAll('id')
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '')
  if (rawIds.length === 0) return badParameter('id: this parameter is required')
  const ids: number[] = []
  for (const raw of rawIds) {
    if (!/^\d{1,12}$/.test(raw)) return badParameter(`id: ${JSON.stringify(raw)} is not an integer`)
    const id = Number(raw)
    if (!ids.includes(id)) ids.push(id)
  }
  if (ids.length > MAX_STATISTICS_IDS)
    return {
      status: 400,
      code: 'ERR_LIMIT_EXCEEDED',
      message: `id: at most ${MAX_STATISTICS_IDS} objects per request, got ${ids.length}`,
    }
  const from = params.get('date_from')
  if (from === null || from === '') return badParameter('date_from: this parameter is required')
  const fromDay = dayNumberOf(from)
  if (fromDay === undefined) return badDate(`date_from: ${JSON.stringify(from)} is not a date YYYY-MM-DD`)
  const to = params.get('date_to')
  const toDay = to === null || to === '' ? today : dayNumberOf(to)
  if (toDay === undefined) return badDate(`date_to: ${JSON.stringify(to)} is not a date YYYY-MM-DD`)
  if (fromDay > toDay) return badDate(`date_from ${from} is after date_to ${dayKeyOf(toDay)}`)
  if (today - fromDay > MAX_STATISTICS_AGE_DAYS)
    return badDate(
      `date_from ${from}: statistics are kept for the last ${MAX_STATISTICS_AGE_DAYS} days (from ${dayKeyOf(today - MAX_STATISTICS_AGE_DAYS)})`,
    )
  const metrics = (params.get('metrics') ?? 'base').split(',').filter((m) => m !== '')
  for (const set of metrics) {
    if (!METRIC_SETS.has(set)) return badParameter(`metrics: unknown metric set ${JSON.stringify(set)}`)
    if (set !== 'base') return badParameter(`metrics: the simulator serves only 'base', not ${JSON.stringify(set)}`)
  }
  const attribution = params.get('attribution')
  if (attribution !== null && attribution !== 'conversion' && attribution !== 'impression')
    return badParameter(`attribution: must be conversion or impression, got ${JSON.stringify(attribution)}`)
  return { ids, fromDay, toDay }
}

/** Writes kopecks as the API's decimal strings: "23328.92", "86.4", "0" (or "86.40", "0.00" when fixed). */
export function formatMoney(kopecks: number, fixed2: boolean): string {
  const whole = Math.floor(kopecks / 100)
  const cents = kopecks - whole * 100
  if (fixed2) return `${whole}.${String(cents).padStart(2, '0')}`
  if (cents === 0) return String(whole)
  return cents % 10 === 0 ? `${whole}.${cents / 10}` : `${whole}.${String(cents).padStart(2, '0')}`
}

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000

/** The `base` metric set of one day or total, in the key order of the docs' example. */
export function baseMetrics(day: AdPlanDay, fixed2: boolean): Record<string, unknown> {
  const money = (kopecks: number): string => formatMoney(kopecks, fixed2)
  const per = (count: number, scale: number): string =>
    count === 0 ? money(0) : money(Math.round((day.spentKopecks * scale) / count))
  return {
    shows: day.shows,
    clicks: day.clicks,
    goals: day.goals,
    spent: money(day.spentKopecks),
    cpm: per(day.shows, 1000),
    cpc: per(day.clicks, 1),
    cpa: per(day.goals, 1),
    ctr: day.shows === 0 ? 0 : round4((day.clicks / day.shows) * 100),
    cr: day.clicks === 0 ? 0 : round4((day.goals / day.clicks) * 100),
    vk: { goals: 0, cpa: 0, cr: 0 },
  }
}

function addInto(sum: AdPlanDay, day: AdPlanDay): void {
  sum.shows += day.shows
  sum.clicks += day.clicks
  sum.goals += day.goals
  sum.spentKopecks += day.spentKopecks
}

/** Parses a correction's spend into kopecks; throws a RangeError naming the value. */
export function spentToKopecks(spent: string | number): number {
  const text = typeof spent === 'number' ? spent.toFixed(2) : spent.trim()
  const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text)
  if (match === null)
    throw new RangeError(`spent must be a non-negative decimal with at most 2 decimals, got ${JSON.stringify(spent)}`)
  return Number(match[1]) * 100 + Number((match[2] ?? '0').padEnd(2, '0'))
}

/** Overrides of corrected days, keyed `userId:planId:dayNumber`. */
export type CorrectionMap = Map<string, Partial<AdPlanDay>>

export const correctionKey = (userId: number, planId: number, dayNumber: number): string =>
  `${userId}:${planId}:${dayNumber}`

/** What "now" means to the statistics: today's day number and the share of it elapsed. */
export interface StatisticsNow {
  today: number
  todayFraction: number
}

/** The served values of a plan's day: generated, then corrected. */
export function servedDay(
  seed: number,
  userId: number,
  plan: AdPlan,
  dayNumber: number,
  now: StatisticsNow,
  corrections: CorrectionMap,
): AdPlanDay {
  const generated = planDay(seed, userId, plan, dayNumber, now.today, now.todayFraction)
  const correction = corrections.get(correctionKey(userId, plan.id, dayNumber))
  if (correction === undefined) return generated
  const shows = correction.shows ?? generated.shows
  // A correction of shows alone keeps clicks within them; explicit clicks are served as given.
  const clicks = correction.clicks ?? Math.min(generated.clicks, shows)
  return {
    shows,
    clicks,
    goals: Math.min(generated.goals, clicks),
    spentKopecks: correction.spentKopecks ?? generated.spentKopecks,
  }
}

/** The body of a day.json answer for plans that all exist. */
export function statisticsBody(
  plans: readonly AdPlan[],
  query: StatisticsQuery,
  day: (plan: AdPlan, dayNumber: number) => AdPlanDay,
  fixed2: boolean,
): Record<string, unknown> {
  const grand: AdPlanDay = { shows: 0, clicks: 0, goals: 0, spentKopecks: 0 }
  const items = plans.map((plan) => {
    const total: AdPlanDay = { shows: 0, clicks: 0, goals: 0, spentKopecks: 0 }
    const rows: Record<string, unknown>[] = []
    for (let d = query.fromDay; d <= query.toDay; d++) {
      const values = day(plan, d)
      addInto(total, values)
      rows.push({ date: dayKeyOf(d), base: baseMetrics(values, fixed2) })
    }
    addInto(grand, total)
    return { id: plan.id, rows, total: { base: baseMetrics(total, fixed2) } }
  })
  return { items, total: { base: baseMetrics(grand, fixed2) } }
}

/** The non-zero rows of these plans over fromDay..toDay, by day then plan id. */
export function expectedRowsOf(
  plans: readonly AdPlan[],
  fromDay: number,
  toDay: number,
  day: (plan: AdPlan, dayNumber: number) => AdPlanDay,
): VkAdsExpectedRow[] {
  const out: VkAdsExpectedRow[] = []
  for (let d = fromDay; d <= toDay; d++) {
    for (const plan of plans) {
      const values = day(plan, d)
      if (values.shows === 0 && values.clicks === 0 && values.spentKopecks === 0) continue
      out.push({
        day: dayKeyOf(d),
        campaignId: String(plan.id),
        campaignName: plan.name,
        impressions: values.shows,
        clicks: values.clicks,
        costMicros: BigInt(values.spentKopecks) * 10_000n,
      })
    }
  }
  return out
}
