/**
 * One simulated site: its generated deals, the writes it received, and what it
 * serves at a clock. Generated days are made on demand and only a bounded number
 * of deals is cached, so a site with millions of deals needs no more memory than
 * a few busy days.
 */
import {
  dealCountOn,
  decodeOrderNumber,
  generateDay,
  generateDeal,
  isVisible,
  phoneText,
  renderGeneratedDeal,
  type GeneratedDeal,
} from './deal-generator.ts'
import { serializeDealRecord, type DealRecord } from './deal-record.ts'
import {
  pieceStarts,
  renderTemplateText,
  templateVisible,
  withoutTags,
  writeDayAt,
  writeDayTemplate,
  type DayAtClock,
  type DayBytes,
  type DayTemplate,
} from './day-text.ts'
import type { ResolvedSiteConfig } from './simulator-options.ts'
import { dayNumberOf, MS_PER_DAY, parseCalltouchDateTime, parseInstant, toWallMs, type DayKey } from './wall-clock.ts'

/**
 * The most deals kept in each cache, so memory stays bounded whatever the
 * history. Rendered days (the export's UTF-8 text at one clock, off the JS heap,
 * ~0.8 KB a deal and text variant) serve pages; templates (a day's JSON pieces,
 * ~1.5 KB a deal on the heap) make a day at a new clock or after a write cheap;
 * generated deals (objects) are only needed for record objects and days with
 * writes. About eight busy days of 5,000 rendered: enough for a few clients
 * paging windows at once without rendering a day per page.
 */
const RENDERED_CACHE_DEALS = 40_000
const TEMPLATE_CACHE_DEALS = 25_000
const GENERATED_CACHE_DEALS = 10_000
const COUNT_CACHE_ENTRIES = 20_000

/** Changes a write made to one deal; applied in order on top of the generated or created record. */
export type DealChange =
  | {
      kind: 'set'
      field: 'orderStatus' | 'completedDate' | 'manager' | 'service' | 'orderOrigin' | 'funnel'
      value: string | null
    }
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

export type { DayBytes } from './day-text.ts'

/**
 * A day as served at one clock: records sorted by orderDate then orderNumber,
 * their filter attributes, and their exact JSON, built lazily and cached on the
 * day. Everything here is read-only once built.
 */
export class RenderedDay {
  readonly count: number
  /** orderDate of each record as wall milliseconds (ascending). */
  readonly wallMs: Float64Array
  readonly orderNumber: readonly string[]
  readonly orderOrigin: readonly string[]
  readonly sourceType: readonly (string | undefined)[]
  readonly manager: readonly (string | null)[]
  readonly service: readonly (string | null)[]
  private phones: readonly (string | null)[] | undefined
  private recordList: DealRecord[] | undefined
  private readonly bytes: [DayBytes | undefined, DayBytes | undefined] = [undefined, undefined]
  /** Matching indexes per filter (a handful of filters at most per day and clock). */
  private readonly matches = new Map<string, Int32Array>()

  private constructor(
    attributes: Pick<
      RenderedDay,
      'count' | 'wallMs' | 'orderNumber' | 'orderOrigin' | 'sourceType' | 'manager' | 'service'
    >,
    /** The client's phone of each record (strings made only for a lookup by phone). */
    private readonly makePhones: () => readonly (string | null)[],
    private readonly makeRecords: () => DealRecord[],
    private readonly makeText: (withTags: boolean) => DayBytes,
  ) {
    this.count = attributes.count
    this.wallMs = attributes.wallMs
    this.orderNumber = attributes.orderNumber
    this.orderOrigin = attributes.orderOrigin
    this.sourceType = attributes.sourceType
    this.manager = attributes.manager
    this.service = attributes.service
  }

  /** A day of generated deals only, at a clock: the fast path (no record objects unless asked for). */
  static fromTemplate(template: DayTemplate, clockWallMs: number, makeRecords: () => DealRecord[]): RenderedDay {
    const visible: number[] = []
    for (let i = 0; i < template.count; i++) if (templateVisible(template, i, clockWallMs)) visible.push(i)
    const n = visible.length
    const src = Int32Array.from(visible)
    const wallMs = new Float64Array(n)
    const orderNumber = new Array<string>(n)
    const orderOrigin = new Array<string>(n)
    const sourceType = new Array<string>(n)
    const manager = new Array<string | null>(n)
    const service = new Array<string | null>(n)
    for (let k = 0; k < n; k++) {
      const i = src[k] as number
      wallMs[k] = template.orderWallMs[i] as number
      orderNumber[k] = template.orderNumber[i] as string
      orderOrigin[k] = template.orderOrigin[i] as string
      sourceType[k] = template.sourceType[i] as string
      manager[k] = template.manager[i] as string | null
      service[k] = template.service[i] as string | null
    }
    return new RenderedDay(
      { count: n, wallMs, orderNumber, orderOrigin, sourceType, manager, service },
      () => Array.from(src, (i) => phoneText(template.phoneDigits[i] as number)),
      makeRecords,
      (withTags) => renderTemplateText(template, src, clockWallMs, withTags),
    )
  }

  /** A day of generated deals only, written straight at its clock (its first render: no template). */
  static fromDayAtClock(day: DayAtClock, makeRecords: () => DealRecord[]): RenderedDay {
    return new RenderedDay(
      { ...day, wallMs: day.orderWallMs },
      () => Array.from(day.phoneDigits, phoneText),
      makeRecords,
      (withTags) => (withTags ? day : withoutTags(day)),
    )
  }

  /** A day from record objects (days with writes): serialized record by record. */
  static fromRecords(records: DealRecord[], wallMs: readonly number[]): RenderedDay {
    return new RenderedDay(
      {
        count: records.length,
        wallMs: Float64Array.from(wallMs),
        orderNumber: records.map((r) => r.orderNumber),
        orderOrigin: records.map((r) => r.orderOrigin),
        sourceType: records.map((r) => r.orderSource?.type),
        manager: records.map((r) => r.manager),
        service: records.map((r) => r.service),
      },
      () => records.map((r) => r.client.phones),
      () => records,
      (withTags) => {
        // Joined by '\n' (never raw in JSON without whitespace), encoded once; the
        // newlines give the offsets and become the commas between records.
        const buffer = Buffer.from(records.map((record) => serializeDealRecord(record, withTags)).join('\n'), 'utf8')
        const offsets = pieceStarts(buffer, records.length)
        for (let i = 1; i < records.length; i++) buffer[(offsets[i] as number) - 1] = 44 // ','
        return { buffer, offsets }
      },
    )
  }

  /** The client's phone of each record. */
  get phone(): readonly (string | null)[] {
    this.phones ??= this.makePhones()
    return this.phones
  }

  /** The records as objects (built on first use; the HTTP path never needs them). */
  get records(): DealRecord[] {
    this.recordList ??= this.makeRecords()
    return this.recordList
  }

  /** The day's records as one UTF-8 buffer joined by ',' (built once per day, clock, writes and `withTags`). */
  text(withTags: boolean): DayBytes {
    const slot = withTags ? 1 : 0
    let bytes = this.bytes[slot]
    if (bytes === undefined) {
      bytes = this.makeText(withTags)
      this.bytes[slot] = bytes
    }
    return bytes
  }

  /** Indexes of the records that pass a filter, cached per filter key. */
  matching(filter: DealFilter, key: string): Int32Array {
    let indexes = this.matches.get(key)
    if (indexes === undefined) {
      indexes = this.computeMatching(filter)
      if (this.matches.size >= 16) this.matches.clear()
      this.matches.set(key, indexes)
    }
    return indexes
  }

  private computeMatching(filter: DealFilter): Int32Array {
    // Records are sorted by time: the window is one contiguous range.
    const lo = lowerBound(this.wallMs, filter.fromWallMs)
    const hi = lowerBound(this.wallMs, filter.toWallMs)
    const plain =
      filter.allOrigins &&
      filter.orderSource === undefined &&
      filter.manager === undefined &&
      filter.service === undefined &&
      filter.phone === undefined
    if (plain) {
      const out = new Int32Array(Math.max(0, hi - lo))
      for (let i = lo; i < hi; i++) out[i - lo] = i
      return out
    }
    const out: number[] = []
    for (let i = lo; i < hi; i++) {
      if (!filter.allOrigins && this.orderOrigin[i] !== 'API') continue
      if (filter.orderSource !== undefined && this.sourceType[i] !== filter.orderSource) continue
      if (filter.manager !== undefined && this.manager[i] !== filter.manager) continue
      if (filter.service !== undefined && this.service[i] !== filter.service) continue
      if (filter.phone !== undefined && this.phone[i] !== filter.phone) continue
      out.push(i)
    }
    return Int32Array.from(out)
  }
}

/** First index whose value is ≥ `value` (values ascending). */
function lowerBound(values: Float64Array, value: number): number {
  let lo = 0
  let hi = values.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((values[mid] as number) < value) lo = mid + 1
    else hi = mid
  }
  return lo
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
  private readonly generated = new BoundedCache<GeneratedDeal[]>(GENERATED_CACHE_DEALS)
  private readonly templates = new BoundedCache<DayTemplate>(TEMPLATE_CACHE_DEALS)
  /** Days rendered at least once (see {@link SimulatedSite.renderDay}). */
  private readonly renderedOnce = new BoundedCache<true>(COUNT_CACHE_ENTRIES)
  private readonly rendered = new BoundedCache<RenderedDay>(RENDERED_CACHE_DEALS)
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

  /** Forgets every write (back to the seed state) and empties the caches that depend on writes. */
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

  /** The JSON pieces of a day's generated deals (clock-independent; cached). */
  private dayTemplate(dayNumber: number): DayTemplate {
    let template = this.templates.get(dayNumber)
    if (template === undefined) {
      template = writeDayTemplate(this.seed, this.config, dayNumber)
      this.templates.set(dayNumber, template, template.count + 1)
    }
    return template
  }

  /**
   * The day's records as the export serves them at a clock (all order origins,
   * no filters), sorted by orderDate then orderNumber. Cached per (day, clock,
   * writes): treat as read-only.
   */
  renderDay(dayNumber: number, clockWallMs: number): RenderedDay {
    const key = `${dayNumber}|${clockWallMs}|${this.writeVersion}`
    const cached = this.rendered.get(key)
    if (cached !== undefined) return cached
    let day: RenderedDay
    const overlaid = this.overlayDays.get(dayNumber)
    if (overlaid === undefined && dayNumber * MS_PER_DAY > clockWallMs) {
      // A day after the clock has no generated deals yet: skip generating them.
      day = RenderedDay.fromRecords([], [])
    } else if (overlaid === undefined && this.overlays.size === 0) {
      const makeRecords = (): DealRecord[] => {
        const records: DealRecord[] = []
        for (const deal of this.generatedDay(dayNumber))
          if (isVisible(deal, clockWallMs)) records.push(renderGeneratedDeal(deal, clockWallMs))
        return records
      }
      // The first render of a day is written straight at the clock; a day rendered again
      // (the clock moved, or its text left the cache) gets a template, so more clocks cost a copy each.
      const template = this.templates.get(dayNumber)
      if (template === undefined && this.renderedOnce.get(dayNumber) === undefined) {
        this.renderedOnce.set(dayNumber, true, 1)
        day = RenderedDay.fromDayAtClock(writeDayAt(this.seed, this.config, dayNumber, clockWallMs), makeRecords)
      } else {
        day = RenderedDay.fromTemplate(template ?? this.dayTemplate(dayNumber), clockWallMs, makeRecords)
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
      day = RenderedDay.fromRecords(
        entries.map((entry) => entry.record),
        entries.map((entry) => entry.wallMs),
      )
    }
    this.rendered.set(key, day, day.count + 1)
    return day
  }

  private renderOverlay(overlay: DealOverlay): DealRecord {
    return applyChanges(overlay.created as DealRecord, overlay.changes)
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

  /** How many records of a day pass a filter (cached per clock, writes and filter). */
  countOn(dayNumber: number, clockWallMs: number, filter: DealFilter, filterKey: string): number {
    const key = `${dayNumber}|${clockWallMs}|${this.writeVersion}|${filterKey}|${SimulatedSite.clippedKey(dayNumber, filter)}`
    let count = this.counts.get(key)
    if (count === undefined) {
      count = this.matchingOn(dayNumber, clockWallMs, filter, filterKey).length
      this.counts.set(key, count, 1)
    }
    return count
  }

  /** Indexes of the records of a rendered day that pass a filter (cached on the day). */
  matchingOn(dayNumber: number, clockWallMs: number, filter: DealFilter, filterKey: string): Int32Array {
    return this.renderDay(dayNumber, clockWallMs).matching(
      filter,
      `${filterKey}|${SimulatedSite.clippedKey(dayNumber, filter)}`,
    )
  }

  /** The filter's time bounds clipped to a day, as a cache key part. */
  private static clippedKey(dayNumber: number, filter: DealFilter): string {
    const dayStart = dayNumber * MS_PER_DAY
    return `${Math.max(filter.fromWallMs, dayStart)}|${Math.min(filter.toWallMs, dayStart + MS_PER_DAY)}`
  }

  /** The day a deal with this order number is on now, if it is visible at the clock. */
  locate(orderNumber: string, clockWallMs: number): number | undefined {
    const overlay = this.overlays.get(orderNumber)
    if (overlay !== undefined) return overlay.removed ? undefined : overlay.dayNumber
    const origin = decodeOrderNumber(this.seed, this.siteId, orderNumber)
    if (origin === undefined) return undefined
    if (origin.index >= dealCountOn(this.seed, this.config, origin.dayNumber)) return undefined
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
    if (wallMs === undefined)
      throw new RangeError(`orderDate must be 'dd/mm/yyyy hh:mm:ss', got ${JSON.stringify(record.orderDate)}`)
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
      overlay = {
        orderNumber,
        origin,
        created: undefined,
        removed: false,
        changes: [],
        dayNumber,
        wallMs: deal.orderWallMs,
      }
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
      overlay = {
        orderNumber,
        origin: decodeOrderNumber(this.seed, this.siteId, orderNumber),
        created: undefined,
        removed: true,
        changes: [],
        dayNumber,
        wallMs: 0,
      }
      this.overlays.set(orderNumber, overlay)
    }
    overlay.removed = true
    this.writeVersion++
    return true
  }
}
