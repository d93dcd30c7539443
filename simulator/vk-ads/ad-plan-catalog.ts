/**
 * The ad plans of every simulated account: their ids, names (renamable),
 * statuses and the days they were active, and each plan's deterministic daily
 * shows, clicks, goals and spend.
 */
import { createRandom, unitHash } from '../prng.ts'
import { dayKeyOf, dayNumberOf, isoWeekday, MS_PER_DAY } from '../wall-clock.ts'
import {
  GENERATED_AD_PLAN_FIRST_ID,
  type AdPlanConfig,
  type AdPlanStatus,
  type ResolvedVkAdsAccount,
} from './vk-ads-options.ts'

/** Salts of the catalog's random streams. */
const STREAM = { plan: 41, created: 42, ended: 43, day: 44, status: 45 } as const

/** One day of one plan, before any correction. Money in kopecks. */
export interface AdPlanDay {
  shows: number
  clicks: number
  goals: number
  spentKopecks: number
}

export const ZERO_DAY: Readonly<AdPlanDay> = Object.freeze({ shows: 0, clicks: 0, goals: 0, spentKopecks: 0 })

/** A plan as the simulator keeps it. */
export interface AdPlan {
  readonly id: number
  /** Current name: a rename changes it, for every day. */
  name: string
  readonly status: AdPlanStatus
  /** First active day (day number). */
  readonly createdDay: number
  /** Last active day (day number); Infinity for an active plan (it runs until today). */
  readonly lastActiveDay: number
  /** `created` as Moscow wall milliseconds. */
  readonly createdWallMs: number
  /** `updated` as Moscow wall milliseconds (a rename moves it). */
  updatedWallMs: number
  /** Mean daily spend in kopecks on a weekday. */
  readonly dailySpendKopecks: number
  /** Mean cost per thousand shows in kopecks. */
  readonly cpmKopecks: number
  /** Mean click-through rate (0..1). */
  readonly ctr: number
  /** Mean goals per click (0..1). */
  readonly conversion: number
}

/** The summary of a plan given to tests (`adPlans(clientId)`). */
export interface AdPlanSummary {
  id: number
  name: string
  status: AdPlanStatus
  createdDay: string
  /** Last active day, or undefined for an active plan. */
  lastActiveDay: string | undefined
}

function planFromConfig(
  seed: number,
  account: ResolvedVkAdsAccount,
  config: AdPlanConfig,
  startDay: number,
  index: number,
): AdPlan {
  const random = createRandom(seed, STREAM.plan, account.userId, config.id)
  const createdDay =
    config.createdDay !== undefined ? (dayNumberOf(config.createdDay) as number) : account.historyStartDay
  let lastActiveDay = Infinity
  if (config.status !== 'active') {
    lastActiveDay =
      config.lastActiveDay !== undefined
        ? (dayNumberOf(config.lastActiveDay) as number)
        : createdDay +
          Math.floor(unitHash(seed, STREAM.ended, account.userId, config.id) * Math.max(0, startDay - createdDay))
  }
  const createdWallMs = createdDay * MS_PER_DAY + (9 * 3600 + random.int(0, 8 * 3600)) * 1000
  // Spend from ~1,500 to ~40,000 roubles a day, log-uniform; the first plans of the shop spend the most.
  const dailyRoubles = Math.exp(Math.log(1500) + random.next() * Math.log(40_000 / 1500)) * (index < 3 ? 1.5 : 1)
  return {
    id: config.id,
    name: config.name,
    status: config.status,
    createdDay,
    lastActiveDay,
    createdWallMs,
    updatedWallMs: createdWallMs,
    dailySpendKopecks: Math.round(dailyRoubles * 100),
    cpmKopecks: random.int(15_000, 45_000),
    ctr: 0.002 + random.next() * 0.01,
    conversion: random.next() * 0.06,
  }
}

/** Configs of `adPlans: n`: `vk_plan_<k>` with ids from 7000001, ~80% active, ~10% blocked, ~10% deleted. */
function generatedConfigs(
  seed: number,
  account: ResolvedVkAdsAccount,
  count: number,
  startDay: number,
): AdPlanConfig[] {
  const span = Math.max(1, startDay - account.historyStartDay)
  return Array.from({ length: count }, (_, k): AdPlanConfig => {
    const id = GENERATED_AD_PLAN_FIRST_ID + k
    const roll = unitHash(seed, STREAM.status, account.userId, id)
    const status: AdPlanStatus = roll < 0.8 ? 'active' : roll < 0.9 ? 'blocked' : 'deleted'
    const created = account.historyStartDay + Math.floor(unitHash(seed, STREAM.created, account.userId, id) * span)
    return { id, name: `vk_plan_${k + 1}`, status, createdDay: dayKeyOf(Math.min(created, startDay)) }
  })
}

/** Builds an account's plans in id order. `startDay` is the day of the clock at start. */
export function buildAdPlans(seed: number, account: ResolvedVkAdsAccount, startDay: number): AdPlan[] {
  const configs =
    typeof account.adPlans === 'number'
      ? generatedConfigs(seed, account, account.adPlans, startDay)
      : [...account.adPlans]
  return configs
    .map((config, index) => planFromConfig(seed, account, config, startDay, index))
    .sort((a, b) => a.id - b.id)
}

/** Weekly rhythm of spend: Monday … Sunday. */
const WEEKDAY_FACTOR = [1.1, 1.15, 1.1, 1.05, 1, 0.8, 0.7] as const

/**
 * What a plan did on a day, as a pure function of (seed, user, plan, day).
 * Outside the plan's active days, and on ~10% of the days within, everything is
 * zero. `today`'s values are the share of the day elapsed at the clock
 * (`todayFraction`); later days are zero.
 */
export function planDay(
  seed: number,
  userId: number,
  plan: AdPlan,
  dayNumber: number,
  today: number,
  todayFraction: number,
): AdPlanDay {
  if (dayNumber < plan.createdDay || dayNumber > plan.lastActiveDay || dayNumber > today) return ZERO_DAY
  const random = createRandom(seed, STREAM.day, userId, plan.id, dayNumber)
  if (random.chance(0.1)) return ZERO_DAY
  const factor = (WEEKDAY_FACTOR[isoWeekday(dayNumber) - 1] ?? 1) * (0.6 + random.next() * 0.8)
  const share = dayNumber === today ? todayFraction : 1
  const spentKopecks = Math.floor(plan.dailySpendKopecks * factor * share)
  const cpm = plan.cpmKopecks * (0.85 + random.next() * 0.3)
  const shows = Math.floor((spentKopecks / cpm) * 1000)
  const clicks = Math.floor(shows * plan.ctr * (0.7 + random.next() * 0.6))
  const goals = Math.floor(clicks * plan.conversion * random.next() * 2)
  if (shows === 0) return ZERO_DAY
  return { shows, clicks, goals, spentKopecks }
}

/** The test-facing summary of a plan. */
export function summarizeAdPlan(plan: AdPlan): AdPlanSummary {
  return {
    id: plan.id,
    name: plan.name,
    status: plan.status,
    createdDay: dayKeyOf(plan.createdDay),
    lastActiveDay: plan.lastActiveDay === Infinity ? undefined : dayKeyOf(plan.lastActiveDay),
  }
}
