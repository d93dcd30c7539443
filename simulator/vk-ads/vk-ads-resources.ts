/**
 * `GET /api/v2/ad_plans.json` (list standards of shared/vk-ads/API.md §3) and
 * `GET /api/v2/user.json`.
 */
import { dayKeyOf, MS_PER_DAY } from '../wall-clock.ts'
import type { AdPlan } from './ad-plan-catalog.ts'
import { formatMoney, type VkAdsApiError } from './ad-plan-statistics.ts'
import {
  AD_PLAN_STATUSES,
  type AdPlanStatus,
  type ResolvedVkAdsAccount,
  type ResolvedVkAdsOptions,
} from './vk-ads-options.ts'

/** [DOC] "limit (default 20, documented max 50)". */
export const DEFAULT_LIST_LIMIT = 20
/** [DOC] "fields … default depends on resource, usually id,name". */
export const DEFAULT_AD_PLAN_FIELDS = ['id', 'name'] as const

const badParameter = (message: string): VkAdsApiError => ({ status: 400, code: 'ERR_WRONG_PARAMETER', message })

function dateTime(wallMs: number): string {
  const day = Math.floor(wallMs / MS_PER_DAY)
  const second = Math.floor((wallMs - day * MS_PER_DAY) / 1000)
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${dayKeyOf(day)} ${two(Math.floor(second / 3600))}:${two(Math.floor((second % 3600) / 60))}:${two(second % 60)}`
}

/** Each AdPlan field the simulator serves, from a plan. */
const AD_PLAN_FIELDS: Readonly<Record<string, (plan: AdPlan, fixed2: boolean) => unknown>> = {
  id: (plan) => plan.id,
  name: (plan) => plan.name,
  status: (plan) => plan.status,
  created: (plan) => dateTime(plan.createdWallMs),
  updated: (plan) => dateTime(plan.updatedWallMs),
  date_start: (plan) => dayKeyOf(plan.createdDay),
  date_end: (plan) => (plan.lastActiveDay === Infinity ? null : dayKeyOf(plan.lastActiveDay)),
  budget_limit: (_plan, fixed2) => formatMoney(0, fixed2),
  budget_limit_day: (plan, fixed2) => formatMoney(Math.round((plan.dailySpendKopecks * 1.5) / 100) * 100, fixed2),
  objective: () => 'traffic',
}

function statusList(name: string, value: string): AdPlanStatus[] | VkAdsApiError {
  const statuses = value.split(',').filter((s) => s !== '')
  for (const status of statuses)
    if (!AD_PLAN_STATUSES.includes(status as AdPlanStatus))
      return badParameter(`${name}: unknown status ${JSON.stringify(status)}; use active, blocked or deleted`)
  return statuses as AdPlanStatus[]
}

function idList(name: string, value: string): number[] | VkAdsApiError {
  const ids = value.split(',').filter((s) => s !== '')
  for (const id of ids) if (!/^\d{1,12}$/.test(id)) return badParameter(`${name}: ${JSON.stringify(id)} is not an id`)
  return ids.map(Number)
}

function integerParam(params: URLSearchParams, name: string, fallback: number): number | VkAdsApiError {
  const raw = params.get(name)
  if (raw === null || raw === '') return fallback
  if (!/^\d{1,9}$/.test(raw)) return badParameter(`${name}: must be a non-negative integer, got ${JSON.stringify(raw)}`)
  return Number(raw)
}

const isError = (value: number | unknown[] | VkAdsApiError): value is VkAdsApiError =>
  typeof value === 'object' && !Array.isArray(value)

/** The body of `ad_plans.json` for an account's plans, or a 400. */
export function adPlansBody(
  plans: readonly AdPlan[],
  params: URLSearchParams,
  options: ResolvedVkAdsOptions,
): Record<string, unknown> | VkAdsApiError {
  const fieldsParam = params.get('fields')
  const fields = fieldsParam === null || fieldsParam === '' ? [...DEFAULT_AD_PLAN_FIELDS] : fieldsParam.split(',')
  for (const field of fields)
    if (AD_PLAN_FIELDS[field] === undefined)
      return badParameter(`fields: unknown field ${JSON.stringify(field)} of AdPlan`)
  let limit = integerParam(params, 'limit', DEFAULT_LIST_LIMIT)
  if (isError(limit)) return limit
  if (limit < 1) return badParameter('limit: must be at least 1')
  if (limit > options.maxListLimit) {
    if (options.overListLimit === 'reject')
      return badParameter(`limit: must be at most ${options.maxListLimit}, got ${limit}`)
    limit = options.maxListLimit
  }
  const offset = integerParam(params, 'offset', 0)
  if (isError(offset)) return offset

  let selected = [...plans]
  let statusFiltered = false
  for (const [name, value] of params) {
    if (name === '_status' || name === '_status__in' || name === '_status__ne') {
      const statuses = statusList(name, value)
      if (isError(statuses)) return statuses
      statusFiltered = true
      selected =
        name === '_status__ne'
          ? selected.filter((plan) => !statuses.includes(plan.status))
          : selected.filter((plan) => statuses.includes(plan.status))
    } else if (name === '_id' || name === '_id__in') {
      const ids = idList(name, value)
      if (isError(ids)) return ids
      selected = selected.filter((plan) => ids.includes(plan.id))
    } else if (name.startsWith('_')) {
      return badParameter(
        `${name}: filter not supported by the simulator (use _id, _id__in, _status, _status__in, _status__ne)`,
      )
    }
  }
  // GUESS (API.md §3): without a status filter deleted plans are not listed.
  if (!statusFiltered && !options.listDeletedByDefault) selected = selected.filter((plan) => plan.status !== 'deleted')

  const sorting = params.get('sorting') ?? 'id'
  const descending = sorting.startsWith('-')
  const sortField = descending ? sorting.slice(1) : sorting
  if (sortField !== 'id' && sortField !== 'name' && sortField !== 'status')
    return badParameter(`sorting: must be id, name or status (with - for descending), got ${JSON.stringify(sorting)}`)
  selected.sort((a, b) => {
    const order =
      sortField === 'id'
        ? a.id - b.id
        : a[sortField] < b[sortField]
          ? -1
          : a[sortField] > b[sortField]
            ? 1
            : a.id - b.id
    return descending ? -order : order
  })

  const fixed2 = options.moneyFormat === 'fixed2'
  const items = selected
    .slice(offset, offset + limit)
    .map((plan) => Object.fromEntries(fields.map((field) => [field, AD_PLAN_FIELDS[field]?.(plan, fixed2)])))
  return { count: selected.length, offset, limit, items }
}

/** The body of `user.json` (its shape is a GUESS: the docs name `User.currency`). */
export function userBody(account: ResolvedVkAdsAccount, options: ResolvedVkAdsOptions): Record<string, unknown> {
  const where = options.userCurrencyAt
  return {
    id: account.userId,
    username: account.username,
    status: 'active',
    types: ['user'],
    ...(where === 'account' ? {} : { currency: account.currency }),
    account: {
      id: account.userId + 500_000_000,
      type: 'advertiser',
      ...(where === 'user' ? {} : { currency: account.currency }),
    },
  }
}
