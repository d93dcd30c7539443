/**
 * Writes demo/demo-spend.csv: daily ad spend for the paid campaigns the
 * simulator generates for the demo site, sized so that each campaign shows a
 * different ROI (some pay off, some do not). Run it again after changing
 * demo-settings.ts or the simulator's channels:
 *
 *   npx tsx demo/generate-demo-spend.ts
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expectedDeals } from '../simulator/index.ts'
import {
  DEMO_DEALS_PER_DAY,
  DEMO_FIRST_DAY,
  DEMO_LAST_DAY,
  DEMO_NOW,
  DEMO_SEED,
  DEMO_SITE_ID,
  DEMO_SPEND_FILE,
  DEMO_TIME_ZONE,
  DEMO_TOKEN,
} from './demo-settings.ts'

/**
 * Target ROI of each paid campaign over the period, by utm source, medium and campaign: Google
 * Ads only, the cabinet without a connector. Yandex Direct and VK Ads spend comes from their
 * simulated accounts through the connectors.
 */
const TARGETS: readonly (readonly [source: string, medium: string, campaign: string, roi: number])[] = [
  ['google', 'cpc', 'search_brand', 1.2],
  ['google', 'cpc', 'pmax_moscow', -0.45],
  ['google', 'cpc', 'Поиск — Ремонт', 0.05],
]
const keyOf = (source: string | null, medium: string | null, campaign: string | null): string =>
  JSON.stringify([source, medium, campaign])
const paidKeys = new Set(TARGETS.map(([source, medium, campaign]) => keyOf(source, medium, campaign)))

const deals = expectedDeals(
  {
    seed: DEMO_SEED,
    now: DEMO_NOW,
    timeZone: DEMO_TIME_ZONE,
    sites: [{ siteId: DEMO_SITE_ID, token: DEMO_TOKEN, dealsPerDay: DEMO_DEALS_PER_DAY, historyStart: DEMO_FIRST_DAY }],
  },
  DEMO_SITE_ID,
  DEMO_FIRST_DAY,
  DEMO_LAST_DAY,
)

const revenueByCampaign = new Map<string, number>()
for (const deal of deals) {
  if (deal.visit === null || deal.isDeleted || deal.completedAmount === null) continue
  const key = keyOf(deal.visit.utmSource, deal.visit.utmMedium, deal.visit.utmCampaign)
  if (paidKeys.has(key)) revenueByCampaign.set(key, (revenueByCampaign.get(key) ?? 0) + deal.completedAmount)
}

const days: string[] = []
for (
  let day = new Date(`${DEMO_FIRST_DAY}T00:00:00Z`);
  day <= new Date(`${DEMO_LAST_DAY}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + 1)
) {
  days.push(day.toISOString().slice(0, 10))
}

/** A deterministic number in [0, 1) per (campaign, day), for day-to-day variation. */
function jitter(text: string): number {
  let hash = 2166136261
  for (const char of text) hash = Math.imul(hash ^ (char.codePointAt(0) ?? 0), 16777619) >>> 0
  return hash / 2 ** 32
}

const lines = ['date;source;medium;campaign;cost;currency']
for (const [source, medium, campaign, roi] of TARGETS) {
  const key = keyOf(source, medium, campaign)
  // Spend that gives the target ROI over the period, spread over the days: less at weekends.
  const totalKopecks = Math.round(((revenueByCampaign.get(key) ?? 0) / (1 + roi)) * 100)
  const weights = days.map((day) => {
    const weekday = new Date(`${day}T00:00:00Z`).getUTCDay()
    return (weekday === 0 || weekday === 6 ? 0.6 : 1) * (0.85 + 0.3 * jitter(`${key}|${day}`))
  })
  const weightSum = weights.reduce((sum, weight) => sum + weight, 0)
  days.forEach((day, index) => {
    const kopecks = Math.round((totalKopecks * (weights[index] as number)) / weightSum)
    lines.push(
      `${day};${source};${medium};${campaign};${Math.floor(kopecks / 100)},${String(kopecks % 100).padStart(2, '0')};RUB`,
    )
  })
}
writeFileSync(DEMO_SPEND_FILE, `${lines.join('\n')}\n`)
process.stdout.write(`wrote ${lines.length - 1} rows to ${fileURLToPath(DEMO_SPEND_FILE)}\n`)
