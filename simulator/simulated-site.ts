/**
 * One simulated site: its generated deals, the writes it received, and what it
 * serves at a clock. Generated days are made on demand and only a bounded number
 * of deals is cached, so a site with millions of deals needs no more memory than
 * a few busy days.
 */
import { decodeOrderNumber, generateDay, generateDeal, isVisible, renderGeneratedDeal, type GeneratedDeal } from './deal-generator.ts'
import { serializeDealRecord, type DealRecord } from './deal-record.ts'
import type { ResolvedSiteConfig } from './simulator-options.ts'
import { dayNumberOf, MS_PER_DAY, parseCalltouchDateTime, parseInstant, toWallMs, type DayKey } from './wall-clock.ts'

/**
 * The most deals kept in each cache (generated days, rendered days): about ten
 * busy days of 5,000, enough for a few clients paging windows at once without
 * regenerating a day per page, and a bounded memory whatever the history.
 */
const CACHE_DEALS = 50_000
const COUNT_CACHE_ENTRIES = 20_000

/** Changes a write made to one deal; applied in order on top of the generated or created record. */
export type DealChange =
  | { kind: 'set'; field: 'orderStatus' | 'completedDate' | 'manager' | 'service' | 'orderOrigin' | 'funnel'; value: string | null }
  | { kind: 'set'; field: 'completedAmount' | 'plannedAmount'; value: number | null }
  | { kind: 'set'; field: 'isDeleted'; value: boolean }
  | { kind: 'orderDate'; value: string }
  | { kind: 'client'; value: DealRecord['client'] }
  | { kind: 'addTags'; value: string[] }
  | { kind: 'removeTags'; value: string[] }
  | { kind: 'custom'; name: string; value: string | null }

/** What the writes did to one order number. */
interface DealOverlay {
  orderNumber: string
  /** The generated deal this overlay replaces, if any (its generated copy is hidden). */
  origin: { dayNumber: number; index: number } | undefined
  /**
   * The record the changes apply to: the deal as created, or a generated deal as
   * it was at the clock of its first write (from then on the CRM drives it and
   * the simulated lifecycle stops). Undefined only for a deletion.
   */
  created: DealRecord | undefined
  /** Deleted through the API: gone from the export. */
  removed: boolean
  changes: DealChange[]
  /** Day of the current orderDate. */
  dayNumber: number
  wallMs: number
}

/** A day as served at one clock: records sorted by orderDate then orderNumber. */
export interface RenderedDay {
  records: DealRecord[]
  /** orderDate of each record as wall milliseconds. */
  wallMs: number[]
  /**
   * UTF-8 JSON of each record without and with tags, filled on first use. Kept as
   * Buffers: off the JS heap (no GC scanning of a busy day's text) and ready to
   * write, so a page is one Buffer.concat.
   */
  json: (Buffer | undefined)[]
  jsonWithTags: (Buffer | undefined)[]
}

/** Filters of an export request, applied on top of the day's records. */
export interface DealFilter {
  /** Inclusive lower and exclusive upper bound on orderDate, in wall milliseconds. */
  fromWallMs: number
  toWallMs: number
  /** Only deals created by the API unless true (`withAllOrderOrigins`). */
  allOrigins: boolean
  orderSource?: 'CALL' | 'REQUEST' | undefined
  manager?: string | undefined
  service?: string | undefined
  phone?: string | undefined
}

class BoundedCache<V> {
  private readonly entries = new Map<string | number, { value: V; size: number }>()
  private size = 0

  constructor(private readonly maxSize: number) {}

  get(key: string | number): V | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry.value
  }

  set(key: string | number, value: V, size: number): void {
    const existing = this.entries.get(key)
    if (existing !== undefined) {
      this.size -= existing.size
      this.entries.delete(key)
    }
    this.entries.set(key, { value, size })
    this.size += size
    for (const [oldKey, entry] of this.entries) {
      if (this.size <= this.maxSize || this.entries.size <= 1) break
      this.entries.delete(oldKey)
      this.size -= entry.size
    }
  }

  clear(): void {
    this.entries.clear()
    this.size = 0
  }
}

function compareDeals(aWall: number, aNumber: string, bWall: number, bNumber: string): number {
  if (aWall !== bWall) return aWall - bWall
  return aNumber < bNumber ? -1 : aNumber > bNumber ? 1 : 0
}

function applyChanges(base: DealRecord, changes: readonly DealChange[]): DealRecord {
  const record: DealRecord = { ...base }
  let tags = base.tags === null ? [] : [...base.tags]
  let custom: Record<string, string> | undefined = base.custom === undefined ? undefined : { ...base.custom }
  for (const change of changes) {
    switch (change.kind) {
      case 'set':
        ;(record as unknown as Record<string, unknown>)[change.field] = change.value
        break
      case 'orderDate':
        record.orderDate = change.value
        break
      case 'client':
        record.client = change.value
        break
      case 'addTags':
        for (const tag of change.value) if (!tags.includes(tag)) tags.push(tag)
        break
      case 'removeTags':
        tags = tags.filter((tag) => !change.value.includes(tag))
        break
      case 'custom':
        custom ??= {}
        if (change.value === null) delete custom[change.name]
        else custom[change.name] = change.value
        break
    }
  }
  record.tags = tags.length === 0 ? null : tags
  if (custom === undefined || Object.keys(custom).length === 0) delete record.custom
  else record.custom = custom
  return record
}

/** A simulated site. Use {@link SimulatedSite.dealsOn} to learn exactly what the export serves. */
export class SimulatedSite {
  private readonly generated = new BoundedCache<GeneratedDeal[]>(CACHE_DEALS)
  private readonly rendered = new BoundedCache<RenderedDay>(CACHE_DEALS)
  private readonly counts = new BoundedCache<number>(COUNT_CACHE_ENTRIES)
  private readonly overlays = new Map<string, DealOverlay>()
  private readonly overlayDays = new Map<number, Set<string>>()
  /** Bumped by every write, so caches keyed by it never serve stale days. */
  private writeVersion = 0

  constructor(
    readonly seed: number,
    readonly config: ResolvedSiteConfig,
    readonly timeZone: string,
  ) {}

  get siteId(): number {
    return this.config.siteId
  }

  /** Forgets every write (back to the seed state) and empties the caches. */
  reset(): void {
    this.overlays.clear()
    this.overlayDays.clear()
    this.writeVersion++
    this.rendered.clear()
    this.counts.clear()
  }

  /** Generated deals of a day sorted by (orderDate, orderNumber), regardless of the clock. */
  generatedDay(dayNumber: number): GeneratedDeal[] {
    let deals = this.generated.get(dayNumber)
    if (deals === undefined) {
      deals = generateDay(this.seed, this.config, dayNumber)
      deals.sort((a, b) => compareDeals(a.orderWallMs, a.orderNumber, b.orderWallMs, b.orderNumber))
      this.generated.set(dayNumber, deals, deals.length + 1)
    }
    return deals
  }

  /**
   * The day's records as the export serves them at a clock (all order origins,
   * no filters), sorted by orderDate then orderNumber. Cached: treat as read-only.
   */
  renderDay(dayNumber: number, clockWallMs: number): RenderedDay {
    const key = `${dayNumber}|${clockWallMs}|${this.writeVersion}`
    const cached = this.rendered.get(key)
    if (cached !== undefined) return cached
    const records: DealRecord[] = []
    const wallMs: number[] = []
    const overlaid = this.overlayDays.get(dayNumber)
    if (overlaid === undefined && dayNumber * MS_PER_DAY > clockWallMs) {
      // A day after the clock has no generated deals yet: skip generating them.
    } else if (overlaid === undefined && this.overlays.size === 0) {
      for (const deal of this.generatedDay(dayNumber)) {
        if (!isVisible(deal, clockWallMs)) continue
        records.push(renderGeneratedDeal(deal, clockWallMs))
        wallMs.push(deal.orderWallMs)
      }
    } else {
      const entries: { record: DealRecord; wallMs: number }[] = []
      for (const deal of this.generatedDay(dayNumber)) {
        if (this.overlays.has(deal.orderNumber)) continue
        if (!isVisible(deal, clockWallMs)) continue
        entries.push({ record: renderGeneratedDeal(deal, clockWallMs), wallMs: deal.orderWallMs })
      }
      for (const orderNumber of overlaid ?? []) {
        const overlay = this.overlays.get(orderNumber)
        if (overlay === undefined || overlay.removed) continue
        entries.push({ record: this.renderOverlay(overlay), wallMs: overlay.wallMs })
      }
      entries.sort((a, b) => compareDeals(a.wallMs, a.record.orderNumber, b.wallMs, b.record.orderNumber))
      for (const entry of entries) {
        records.push(entry.record)
        wallMs.push(entry.wallMs)
      }
    }
    const day: RenderedDay = { records, wallMs, json: new Array(records.length), jsonWithTags: new Array(records.length) }
    this.rendered.set(key, day, records.length + 1)
    return day
  }

  private renderOverlay(overlay: DealOverlay): DealRecord {
    return applyChanges(overlay.created as DealRecord, overlay.changes)
  }

  /** The exact JSON of record `i` of a rendered day, UTF-8. */
  static recordJson(day: RenderedDay, i: number, withTags: boolean): Buffer {
    const cache = withTags ? day.jsonWithTags : day.json
    let bytes = cache[i]
    if (bytes === undefined) {
      bytes = Buffer.from(serializeDealRecord(day.records[i] as DealRecord, withTags), 'utf8')
      cache[i] = bytes
    }
    return bytes
  }

  /**
   * Records of a day as the export serves them at a clock: all order origins,
   * sorted by orderDate then orderNumber, including the writes received.
   * `custom` values are integer literals as text; `tags` is what
   * `withOrdersTags=true` serves. Shared with the server's cache: do not mutate.
   *
   * @param day site-local day, 'YYYY-MM-DD'
   * @param clock the simulator clock: an ISO 8601 instant or epoch milliseconds
   * @example site.dealsOn('2026-11-20', '2026-11-29T12:00:00+03:00')
   */
  dealsOn(day: DayKey, clock: string | number): readonly DealRecord[] {
    const dayNumber = dayNumberOf(day)
    if (dayNumber === undefined) throw new RangeError(`day must be 'YYYY-MM-DD', got ${JSON.stringify(day)}`)
    const epochMs = typeof clock === 'number' ? clock : parseInstant(clock, this.timeZone)
    return this.renderDay(dayNumber, toWallMs(epochMs, this.timeZone)).records
  }

  /** Indexes of a rendered day's records that pass a filter. */
  static matching(day: RenderedDay, filter: DealFilter): number[] {
    const out: number[] = []
    for (let i = 0; i < day.records.length; i++) {
      const wall = day.wallMs[i] as number
      if (wall < filter.fromWallMs || wall >= filter.toWallMs) continue
      const record = day.records[i] as DealRecord
      if (!filter.allOrigins && record.orderOrigin !== 'API') continue
      if (filter.orderSource !== undefined && record.orderSource?.type !== filter.orderSource) continue
      if (filter.manager !== undefined && record.manager !== filter.manager) continue
      if (filter.service !== undefined && record.service !== filter.service) continue
      if (filter.phone !== undefined && record.client.phones !== filter.phone) continue
      out.push(i)
    }
    return out
  }

  /** How many records of a day pass a filter (cached per clock, writes and filter). */
  countOn(dayNumber: number, clockWallMs: number, filter: DealFilter, filterKey: string): number {
    const dayStart = dayNumber * MS_PER_DAY
    const from = Math.max(filter.fromWallMs, dayStart)
    const to = Math.min(filter.toWallMs, dayStart + MS_PER_DAY)
    const key = `${dayNumber}|${clockWallMs}|${this.writeVersion}|${filterKey}|${from}|${to}`
    let count = this.counts.get(key)
    if (count === undefined) {
      count = SimulatedSite.matching(this.renderDay(dayNumber, clockWallMs), filter).length
      this.counts.set(key, count, 1)
    }
    return count
  }

  /** The day a deal with this order number is on now, if it is visible at the clock. */
  locate(orderNumber: string, clockWallMs: number): number | undefined {
    const overlay = this.overlays.get(orderNumber)
    if (overlay !== undefined) return overlay.removed ? undefined : overlay.dayNumber
    const origin = decodeOrderNumber(this.seed, this.siteId, orderNumber)
    if (origin === undefined) return undefined
    if (origin.index >= this.generatedDay(origin.dayNumber).length) return undefined
    const deal = generateDeal(this.seed, this.config, origin.dayNumber, origin.index)
    return isVisible(deal, clockWallMs) ? origin.dayNumber : undefined
  }

  /** Days that hold written deals (for lookups by phone, which scan everything). */
  overlayDayNumbers(): number[] {
    return [...this.overlayDays.keys()]
  }

  private placeOverlay(overlay: DealOverlay, dayNumber: number, wallMs: number): void {
    this.overlayDays.get(overlay.dayNumber)?.delete(overlay.orderNumber)
    overlay.dayNumber = dayNumber
    overlay.wallMs = wallMs
    let set = this.overlayDays.get(dayNumber)
    if (set === undefined) {
      set = new Set()
      this.overlayDays.set(dayNumber, set)
    }
    set.add(overlay.orderNumber)
  }

  /** Whether a deal with this order number is in the export at the clock. */
  exists(orderNumber: string, clockWallMs: number): boolean {
    return this.locate(orderNumber, clockWallMs) !== undefined
  }

  /** Creates a deal (a write from a CRM). An existing order number is replaced. */
  create(record: DealRecord): void {
    const wallMs = parseCalltouchDateTime(record.orderDate)
    if (wallMs === undefined) throw new RangeError(`orderDate must be 'dd/mm/yyyy hh:mm:ss', got ${JSON.stringify(record.orderDate)}`)
    const existing = this.overlays.get(record.orderNumber)
    const overlay: DealOverlay = existing ?? {
      orderNumber: record.orderNumber,
      origin: decodeOrderNumber(this.seed, this.siteId, record.orderNumber),
      created: undefined,
      removed: false,
      changes: [],
      dayNumber: Math.floor(wallMs / MS_PER_DAY),
      wallMs,
    }
    overlay.created = record
    overlay.removed = false
    overlay.changes = []
    this.overlays.set(record.orderNumber, overlay)
    this.placeOverlay(overlay, Math.floor(wallMs / MS_PER_DAY), wallMs)
    this.writeVersion++
  }

  /**
   * Changes a deal that exists at the clock; returns false when there is none.
   * The changes stack on top of earlier writes.
   */
  update(orderNumber: string, changes: DealChange[], clockWallMs: number): boolean {
    const dayNumber = this.locate(orderNumber, clockWallMs)
    if (dayNumber === undefined) return false
    let overlay = this.overlays.get(orderNumber)
    if (overlay === undefined) {
      const origin = decodeOrderNumber(this.seed, this.siteId, orderNumber) as { dayNumber: number; index: number }
      const deal = generateDeal(this.seed, this.config, origin.dayNumber, origin.index)
      overlay = { orderNumber, origin, created: undefined, removed: false, changes: [], dayNumber, wallMs: deal.orderWallMs }
      this.overlays.set(orderNumber, overlay)
      // A generated deal keeps its lifecycle up to this write; from now on the CRM drives it.
      overlay.created = renderGeneratedDeal(deal, clockWallMs)
      this.placeOverlay(overlay, dayNumber, deal.orderWallMs)
    }
    overlay.changes.push(...changes)
    for (const change of changes) {
      if (change.kind !== 'orderDate') continue
      const wallMs = parseCalltouchDateTime(change.value) as number
      this.placeOverlay(overlay, Math.floor(wallMs / MS_PER_DAY), wallMs)
    }
    this.writeVersion++
    return true
  }

  /** Deletes a deal from the export; returns false when there is none at the clock. */
  remove(orderNumber: string, clockWallMs: number): boolean {
    const dayNumber = this.locate(orderNumber, clockWallMs)
    if (dayNumber === undefined) return false
    let overlay = this.overlays.get(orderNumber)
    if (overlay === undefined) {
      overlay = { orderNumber, origin: decodeOrderNumber(this.seed, this.siteId, orderNumber), created: undefined, removed: true, changes: [], dayNumber, wallMs: 0 }
      this.overlays.set(orderNumber, overlay)
    }
    overlay.removed = true
    this.writeVersion++
    return true
  }

}
