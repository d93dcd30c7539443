/**
 * One simulated advertiser: its campaigns, their deterministic daily
 * statistics, late corrections and renames. Statistics of a (campaign, day) are
 * a pure function of (seed, login, campaign id, day), overridden by the
 * corrections stamped at or before the clock.
 */
import { hashString, unitHash } from '../prng.ts'
import { isoWeekday, MS_PER_DAY, toWallMs } from '../wall-clock.ts'
import type { ResolvedDirectAccount } from './yandex-direct-options.ts'

/** Money in Direct is rounded to 10,000 micros (a kopeck or a cent) — API.md §6. */
export const MICROS_STEP = 10_000

export function roundMicros(micros: number): number {
  return Math.round(micros / MICROS_STEP) * MICROS_STEP
}

export interface DirectCampaign {
  readonly id: number
  readonly name: string
  readonly type: string
}

/** A campaign-day with activity. Cost without VAT, in micros. */
export interface DirectStatRow {
  readonly day: number
  readonly campaignId: number
  readonly impressions: number
  readonly clicks: number
  readonly costMicros: number
}

/** New absolute values of a campaign-day; fields left out keep their value. */
export interface DirectCorrectionValues {
  impressions?: number
  clicks?: number
  costMicros?: number
}

interface StampedCorrection {
  readonly day: number
  readonly atMs: number
  readonly values: DirectCorrectionValues
}

interface StampedRename {
  readonly name: string
  readonly atMs: number
}

/** Share of campaign-days without any activity (no row, API.md §6). */
const INACTIVE_SHARE = 0.12
/** Share of active campaign-days with impressions but no click (AvgCpc is `--`). */
const NO_CLICK_SHARE = 0.04

const STREAM = { weight: 1, inactive: 2, noise: 3, cpc: 4, cpcNoise: 5, noClick: 6, ctr: 7, shows: 8 } as const

export class DirectAccount {
  private readonly loginHash: number
  private readonly byId: ReadonlyMap<number, DirectCampaign>
  /** Corrections per campaign, in the order they were made. */
  private corrections = new Map<number, StampedCorrection[]>()
  private renames = new Map<number, StampedRename[]>()

  constructor(
    readonly config: ResolvedDirectAccount,
    private readonly seed: number,
    private readonly timeZone: string,
  ) {
    this.loginHash = hashString(config.login.toLowerCase())
    this.byId = new Map(config.campaigns.map((c) => [c.id, c]))
  }

  get login(): string {
    return this.config.login
  }

  reset(): void {
    this.corrections = new Map()
    this.renames = new Map()
  }

  hasCampaign(id: number): boolean {
    return this.byId.has(id)
  }

  /** The campaigns with their names as of `atMs`, in configuration order. */
  campaigns(atMs: number): DirectCampaign[] {
    return this.config.campaigns.map((c) => ({ id: c.id, name: this.nameAt(c.id, atMs), type: c.type }))
  }

  /** The campaign's name as of `atMs`: the latest rename stamped at or before it. */
  nameAt(campaignId: number, atMs: number): string {
    let name = this.byId.get(campaignId)?.name ?? ''
    for (const rename of this.renames.get(campaignId) ?? []) if (rename.atMs <= atMs) name = rename.name
    return name
  }

  /** The site-local day number of an instant. */
  dayOf(epochMs: number): number {
    return Math.floor(toWallMs(epochMs, this.timeZone) / MS_PER_DAY)
  }

  rename(campaignId: number, name: string, atMs: number): void {
    this.requireCampaign(campaignId)
    if (/[\t\n\r]/.test(name)) throw new RangeError('a campaign name cannot hold a tab or a line break')
    const list = this.renames.get(campaignId) ?? []
    list.push({ name, atMs })
    list.sort((a, b) => a.atMs - b.atMs)
    this.renames.set(campaignId, list)
  }

  correct(campaignId: number, day: number, values: DirectCorrectionValues, atMs: number): void {
    this.requireCampaign(campaignId)
    for (const key of ['impressions', 'clicks', 'costMicros'] as const) {
      const value = values[key]
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
        throw new RangeError(`correction ${key} must be a non-negative integer, got ${value}`)
    }
    const list = this.corrections.get(campaignId) ?? []
    const costMicros = values.costMicros === undefined ? undefined : roundMicros(values.costMicros)
    list.push({ day, atMs, values: { ...values, ...(costMicros === undefined ? {} : { costMicros }) } })
    this.corrections.set(campaignId, list)
  }

  /**
   * Per campaign, the earliest day corrected by corrections stamped in [sinceMs, untilMs]
   * (Changes.check `BorderDate`).
   */
  correctedSince(sinceMs: number, untilMs: number): Map<number, number> {
    const out = new Map<number, number>()
    for (const [campaignId, list] of this.corrections)
      for (const c of list)
        if (c.atMs >= sinceMs && c.atMs <= untilMs) out.set(campaignId, Math.min(out.get(campaignId) ?? c.day, c.day))
    return out
  }

  /** Campaigns renamed in [sinceMs, untilMs]. */
  renamedSince(sinceMs: number, untilMs: number): Set<number> {
    const out = new Set<number>()
    for (const [campaignId, list] of this.renames)
      if (list.some((r) => r.atMs >= sinceMs && r.atMs <= untilMs)) out.add(campaignId)
    return out
  }

  /**
   * The rows of days fromDay..toDay (inclusive) as a report built at `clockMs`
   * sees them, ordered by day then by campaign id. Today is partial: its values
   * grow with the share of the local day elapsed; later days have no rows.
   */
  rows(fromDay: number, toDay: number, clockMs: number, campaignIds?: ReadonlySet<number>): DirectStatRow[] {
    const wallMs = toWallMs(clockMs, this.timeZone)
    const today = Math.floor(wallMs / MS_PER_DAY)
    const todayShare = (wallMs - today * MS_PER_DAY) / MS_PER_DAY
    const campaigns = [...this.config.campaigns]
      .filter((c) => campaignIds === undefined || campaignIds.has(c.id))
      .sort((a, b) => a.id - b.id)
    const out: DirectStatRow[] = []
    const first = Math.max(fromDay, this.config.historyStartDay)
    const last = Math.min(toDay, today)
    for (let day = first; day <= last; day++) {
      for (const campaign of campaigns) {
        let row = this.baseRow(campaign.id, day, day === today ? todayShare : 1)
        const corrections = this.corrections.get(campaign.id)
        if (corrections !== undefined)
          for (const c of corrections)
            if (c.day === day && c.atMs <= clockMs)
              row = {
                day,
                campaignId: campaign.id,
                impressions: c.values.impressions ?? row?.impressions ?? 0,
                clicks: c.values.clicks ?? row?.clicks ?? 0,
                costMicros: c.values.costMicros ?? row?.costMicros ?? 0,
              }
        if (row !== undefined && (row.impressions > 0 || row.clicks > 0 || row.costMicros > 0)) out.push(row)
      }
    }
    return out
  }

  /** The generated statistics of a campaign-day (a `share` of it for today), or undefined without activity. */
  private baseRow(campaignId: number, day: number, share: number): DirectStatRow | undefined {
    const { seed, loginHash } = this
    const u = (stream: number, perDay = true): number =>
      unitHash(seed, loginHash, campaignId, perDay ? day : -1, stream)
    if (u(STREAM.inactive) < INACTIVE_SHARE) return undefined
    const ctr = 0.01 + 0.09 * u(STREAM.ctr, false)
    if (u(STREAM.noClick) < NO_CLICK_SHARE) {
      const impressions = Math.floor((10 + Math.floor(290 * u(STREAM.shows))) * share)
      return impressions > 0 ? { day, campaignId, impressions, clicks: 0, costMicros: 0 } : undefined
    }
    const weight = 0.3 + 1.4 * u(STREAM.weight, false)
    const weekday = isoWeekday(day) >= 6 ? 0.7 : 1
    const noise = 0.6 + 0.8 * u(STREAM.noise)
    const fullCost = this.config.dailyCostMicros * weight * weekday * noise
    const cpcMicros = (20 + 100 * u(STREAM.cpc, false)) * 1_000_000 * (0.8 + 0.4 * u(STREAM.cpcNoise))
    const fullClicks = Math.max(1, Math.round(fullCost / cpcMicros))
    const fullImpressions = Math.round(fullClicks / ctr) + Math.floor(20 * u(STREAM.shows))
    const clicks = Math.floor(fullClicks * share)
    const impressions = Math.floor(fullImpressions * share)
    const costMicros = clicks === 0 ? 0 : roundMicros(fullCost * share)
    if (impressions === 0 && clicks === 0) return undefined
    return { day, campaignId, impressions, clicks, costMicros }
  }

  private requireCampaign(campaignId: number): void {
    if (!this.byId.has(campaignId))
      throw new RangeError(
        `${this.login} has no campaign ${campaignId}; its campaigns are ${this.config.campaigns.map((c) => c.id).join(', ')}`,
      )
  }
}
