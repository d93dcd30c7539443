import { DateTime } from 'luxon'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadWindow } from '../../pipelines/sources/calltouch-deals/load-window.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { startSimulator, type DealRecord, type RunningSimulator } from '../../simulator/index.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 12345
const TOKEN = 'sim-token'
const ZONE = 'Europe/Moscow'
const FIRST_DAY = '2026-11-20'
const LAST_DAY = '2026-11-22'
/** Small pages, so the window spans several. */
const PAGE_LIMIT = 40

/** Every page of dateFrom..dateTo as the export serves it, read over HTTP like the extractor does. */
async function fetchPages(url: string, dateFrom: string, dateTo: string): Promise<string[]> {
  const pages: string[] = []
  for (let page = 1; ; page++) {
    const query = new URLSearchParams({
      clientApiId: TOKEN,
      dateFrom,
      dateTo,
      page: String(page),
      limit: String(PAGE_LIMIT),
      withOrdersTags: 'true',
      withAllOrderOrigins: 'true',
    })
    const response = await fetch(`${url}/calls-service/RestAPI/${SITE}/orders-diary/orders?${query.toString()}`)
    const body = await response.text()
    expect(response.status).toBe(200)
    pages.push(body)
    const { pageTotal } = JSON.parse(body) as { pageTotal: number }
    if (page >= pageTotal) return pages
  }
}

const day = (text: string | null): string | null =>
  text === null || text === '' ? null : text.split('/').reverse().join('-')
const instant = (text: string | null): string | null =>
  text === null || text === '' ? null : DateTime.fromFormat(text, 'dd/MM/yyyy HH:mm:ss', { zone: ZONE }).toUTC().toISO()
const amount = (value: number | null): string | null => (value === null ? null : value.toFixed(2))
const iso = (value: unknown): string | null => (value instanceof Date ? value.toISOString() : null)

function expectedOrder(record: DealRecord): Record<string, unknown> & { order_number: string } {
  return {
    order_number: record.orderNumber,
    order_id: String(record.orderId),
    order_date: instant(record.orderDate),
    order_day: day(record.orderDate.slice(0, 10)),
    created_date: day(record.createdDate),
    completed_date: day(record.completedDate),
    status: record.orderStatus,
    manager: record.manager,
    service: record.service,
    order_origin: record.orderOrigin,
    source_type: record.orderSource?.type ?? null,
    planned_amount: amount(record.plannedAmount),
    completed_amount: amount(record.completedAmount),
    client_phones: record.client.phones,
    client_fio: record.client.fio,
    is_deleted: record.isDeleted,
  }
}

async function rows<Row>(db: WarehouseDb, text: string): Promise<Row[]> {
  return executeSql<Row>(db, text, [])
}

describeEachEngine('loading a window the simulator served', (engine) => {
  let tw: TestWarehouse
  let sim: RunningSimulator
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    sim = await startSimulator({
      port: 0,
      seed: 7,
      rateLimit: false,
      sites: [{ siteId: SITE, token: TOKEN, dealsPerDay: 60 }],
    })
  })
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  it('stores every field of every deal exactly as the simulator served it, and nothing of the day after', async () => {
    const db = tw.warehouse.db
    // The day after is asked for too, as the extractor does when it cannot tell whether dateTo is inclusive.
    const pages = await fetchPages(sim.url, '20/11/2026', '23/11/2026')
    const served = sim.expectedDeals(SITE, FIRST_DAY, LAST_DAY)
    expect(pages.length).toBeGreaterThan(3)
    const runId = await startRun(db, 'backfill')
    const result = await loadWindow(db, {
      runId,
      siteId: SITE,
      timeZone: ZONE,
      firstDay: FIRST_DAY,
      lastDay: LAST_DAY,
      pages,
    })

    const perDay: Record<string, number> = { [FIRST_DAY]: 0, '2026-11-21': 0, [LAST_DAY]: 0 }
    for (const record of served) perDay[day(record.orderDate.slice(0, 10)) as string]! += 1
    expect(result).toEqual({
      seen: served.length,
      landed: served.length,
      changed: served.length,
      rejected: 0,
      removed: 0,
      recordsByDay: perDay,
    })

    const byNumber = (a: { order_number: string }, b: { order_number: string }): number =>
      a.order_number < b.order_number ? -1 : 1
    const orders = await rows<Record<string, unknown> & { order_number: string }>(
      db,
      `
      select order_number, order_id, order_date, order_day, created_date, completed_date, status, manager, service, order_origin,
        source_type, planned_amount, completed_amount, client_phones, client_fio, is_deleted from calltouch.orders`,
    )
    expect(orders.map((row) => ({ ...row, order_date: iso(row.order_date) })).sort(byNumber)).toEqual(
      served.map(expectedOrder).sort(byNumber),
    )

    const sources = await rows<Record<string, unknown> & { order_number: string }>(
      db,
      `select order_number, source_type, call_id, duration_seconds, phone_number, caller_phone, call_time, request_number from calltouch.sources`,
    )
    expect(sources.map((row) => ({ ...row, call_time: iso(row.call_time) })).sort(byNumber)).toEqual(
      served
        .flatMap((record) => {
          const source = record.orderSource
          if (source === null) return []
          return [
            source.type === 'CALL'
              ? {
                  order_number: record.orderNumber,
                  source_type: 'CALL',
                  call_id: source.callId === null ? null : String(source.callId),
                  duration_seconds: source.duration,
                  phone_number: source.phoneNumber,
                  caller_phone: source.ani,
                  call_time: instant(source.dateCall),
                  request_number: null,
                }
              : {
                  order_number: record.orderNumber,
                  source_type: 'REQUEST',
                  call_id: null,
                  duration_seconds: null,
                  phone_number: null,
                  caller_phone: null,
                  call_time: null,
                  request_number: source.requestNumber,
                },
          ]
        })
        .sort(byNumber),
    )

    const visits = await rows<Record<string, unknown> & { order_number: string }>(
      db,
      `select order_number, visit_time, source, medium, keyword, utm_source, utm_medium, utm_campaign, utm_content, utm_term, additional_tags from calltouch.visits`,
    )
    expect(visits.map((row) => ({ ...row, visit_time: iso(row.visit_time) })).sort(byNumber)).toEqual(
      served
        .flatMap((record) => {
          const visit = record.visit
          if (visit === null) return []
          return [
            {
              order_number: record.orderNumber,
              visit_time: instant(visit.visitDate),
              source: visit.source,
              medium: visit.medium,
              keyword: visit.keyword,
              utm_source: visit.utmSource,
              utm_medium: visit.utmMedium,
              utm_campaign: visit.utmCampaign,
              utm_content: visit.utmContent,
              utm_term: visit.utmTerm,
              additional_tags: visit.additionalTags,
            },
          ]
        })
        .sort(byNumber),
    )

    const line = (orderNumber: string, key: string, value: string): string => `${orderNumber} ${key} ${value}`
    const custom = await rows<{ order_number: string; field: string; value: string }>(
      db,
      `select order_number, field, value from calltouch.custom_fields`,
    )
    const servedCustom = served.flatMap((record) =>
      Object.entries(record.custom ?? {}).map(([field, value]) =>
        line(record.orderNumber, field, BigInt(value).toString()),
      ),
    )
    expect(servedCustom.some((entry) => entry.replace(/^\S+ \S+ -?/, '').length >= 30)).toBe(true)
    expect(custom.map((row) => line(row.order_number, row.field, row.value)).sort()).toEqual(servedCustom.sort())

    const tags = await rows<{ order_number: string; tag: string }>(db, `select order_number, tag from calltouch.tags`)
    const servedTags = served.flatMap((record) =>
      [...new Set(record.tags ?? [])].map((tag) => line(record.orderNumber, 'tag', tag)),
    )
    expect(tags.map((row) => line(row.order_number, 'tag', row.tag)).sort()).toEqual(servedTags.sort())
  })
})
