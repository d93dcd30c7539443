import pg from 'pg'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import {
  loadWindow,
  recordWindowFailure,
  type WindowToLoad,
} from '../../pipelines/sources/calltouch-deals/load-window.ts'
import { prepareLoadStaging } from '../../pipelines/sources/calltouch-deals/load-staging.ts'
import { EtlError } from '../../pipelines/core/errors.ts'
import { clearSecretsForTests, registerSecret } from '../../pipelines/core/secrets.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { sqlText } from '../../pipelines/warehouse/sql-files.ts'
import { createTestWarehouse, describeEachEngine, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 12345
const ZONE = 'Europe/Moscow'
const MAX_CUSTOM = '99999999999999999999999999999999999999'
const MIN_CUSTOM = '-99999999999999999999999999999999999999'

/** Record texts as the API sends them (custom values are number literals no JS number can hold). */
const ORD_1 = `{"client":{"phones":"74953080100","fio":"Иванов Иван"},"completedAmount":null,"completedDate":null,"createdDate":"27/02/2026","funnel":"Воронка","isDeleted":false,"manager":"Коля","orderDate":"27/02/2026 15:42:01","orderId":991758039524629869,"orderNumber":"ORD-1","orderOrigin":"API","orderSource":{"callId":123456789012,"duration":95,"phoneNumber":"74951234567","type":"CALL","ani":"79161234567","dateCall":"27/02/2026 15:40:00"},"orderStatus":"start","plannedAmount":6000,"service":"AmoCRM","tags":["VIP \\"gold\\"","a;b","🚀 launch","a;b"],"visit":{"utmSource":"yandex","additionalTags":[{"type":"x","value":"y"}],"utmTerm":"купить","utmContent":"ad1","visitDate":"27/02/2026 15:30:00","utmMedium":"cpc","source":"yandex","medium":"cpc","keyword":"купить слона","utmCampaign":"spring"},"custom":{"Себестоимость":${MAX_CUSTOM},"loss; \\"field\\"":${MIN_CUSTOM},"zero":0},"unknownNew":{"x":[1,2]}}`
const ORD_2 = `{"client":{"phones":null,"fio":null},"completedAmount":12500.5,"completedDate":"28/02/2026","createdDate":"28/02/2026","isDeleted":true,"manager":null,"orderDate":"28/02/2026 00:00:00","orderId":2,"orderNumber":"ORD-2","orderOrigin":"CRM","orderSource":{"requestNumber":"REQ-77","type":"REQUEST"},"orderStatus":"final","plannedAmount":null,"service":null,"tags":null,"visit":null}`
const ORD_3_OLD = `{"client":{"phones":"79990000000","fio":"O'Brien"},"createdDate":"01/03/2026","completedDate":"","isDeleted":false,"manager":"Ольга","orderDate":"01/03/2026 23:59:59","orderNumber":"ORD-3","orderStatus":"start","plannedAmount":0,"orderSource":null,"tags":[],"custom":{},"visit":null}`
const ORD_3 = `{"client":{"phones":"79990000000","fio":"O'Brien; \\"Bob\\""},"createdDate":"01/03/2026","completedDate":"","isDeleted":false,"manager":"Ольга","orderDate":"01/03/2026 23:59:59","orderNumber":"ORD-3","orderStatus":"in_progress","plannedAmount":0,"orderSource":null,"tags":[],"custom":{},"visit":{"utmSource":null,"additionalTags":[],"utmTerm":null,"utmContent":null,"visitDate":null,"utmMedium":null,"source":null,"medium":null,"keyword":null,"utmCampaign":null}}`
const BEFORE_WINDOW = `{"orderNumber":"ORD-0","orderDate":"26/02/2026 23:59:59","orderStatus":"start"}`
const AFTER_WINDOW = `{"orderNumber":"ORD-4","orderDate":"02/03/2026 00:00:00","orderStatus":"start"}`

/** Records that cannot be loaded, with the reason and the record as stored (jsonb's canonical text). */
const REJECTS = [
  { text: '42', orderNumber: null, reason: 'the record is not a JSON object', stored: '42' },
  {
    text: '{"orderNumber":"","orderDate":"27/02/2026 10:00:00"}',
    orderNumber: null,
    reason: 'orderNumber is missing or empty',
    stored: '{"orderDate": "27/02/2026 10:00:00", "orderNumber": ""}',
  },
  {
    text: '{"orderDate":"28/02/2026 10:00:00","orderStatus":"start"}',
    orderNumber: null,
    reason: 'orderNumber is missing or empty',
    stored: '{"orderDate": "28/02/2026 10:00:00", "orderStatus": "start"}',
  },
  {
    text: '{"orderNumber":"BAD-1","orderDate":"29/02/2026 10:00:00"}',
    orderNumber: 'BAD-1',
    reason: 'orderDate "29/02/2026 10:00:00" is not a date and time DD/MM/YYYY HH:MM:SS',
    stored: '{"orderDate": "29/02/2026 10:00:00", "orderNumber": "BAD-1"}',
  },
  {
    text: '{"orderNumber":"BAD-2","orderDate":"28/02/2026 15:42:00","custom":{"ratio":1.5}}',
    orderNumber: 'BAD-2',
    reason: 'custom value 1.5 of field "ratio" is not an integer of up to 38 digits',
    stored: '{"custom": {"ratio": 1.5}, "orderDate": "28/02/2026 15:42:00", "orderNumber": "BAD-2"}',
  },
  {
    text: '{"orderNumber":"BAD-3","orderDate":"01/03/2026 08:00:00","custom":{"ok":1,"code":"abc"}}',
    orderNumber: 'BAD-3',
    reason: 'custom value "abc" of field "code" is not an integer of up to 38 digits',
    stored: '{"custom": {"ok": 1, "code": "abc"}, "orderDate": "01/03/2026 08:00:00", "orderNumber": "BAD-3"}',
  },
  {
    text: '{"orderNumber":"BAD-4","orderDate":"01/03/2026 09:00:00","custom":{"big":123456789012345678901234567890123456789}}',
    orderNumber: 'BAD-4',
    reason: 'custom value 123456789012345678901234567890123456789 of field "big" is not an integer of up to 38 digits',
    stored:
      '{"custom": {"big": 123456789012345678901234567890123456789}, "orderDate": "01/03/2026 09:00:00", "orderNumber": "BAD-4"}',
  },
  {
    text: '{"orderNumber":"BAD-5","orderDate":"27/02/2026 12:00:00","completedDate":"32/01/2026"}',
    orderNumber: 'BAD-5',
    reason: 'completedDate "32/01/2026" is not a date DD/MM/YYYY',
    stored: '{"orderDate": "27/02/2026 12:00:00", "orderNumber": "BAD-5", "completedDate": "32/01/2026"}',
  },
  {
    text: '{"orderNumber":"BAD-6","orderDate":"27/02/2026 13:00:00","createdDate":"2026-02-27"}',
    orderNumber: 'BAD-6',
    reason: 'createdDate "2026-02-27" is not a date DD/MM/YYYY',
    stored: '{"orderDate": "27/02/2026 13:00:00", "createdDate": "2026-02-27", "orderNumber": "BAD-6"}',
  },
  {
    text: '{"orderNumber":"BAD-7","orderDate":"2026-02-27 10:00:00"}',
    orderNumber: 'BAD-7',
    reason: 'orderDate "2026-02-27 10:00:00" is not a date and time DD/MM/YYYY HH:MM:SS',
    stored: '{"orderDate": "2026-02-27 10:00:00", "orderNumber": "BAD-7"}',
  },
  {
    text: '{"orderNumber":"BAD-8","orderDate":"28/02/2026 24:00:00"}',
    orderNumber: 'BAD-8',
    reason: 'orderDate "28/02/2026 24:00:00" is not a date and time DD/MM/YYYY HH:MM:SS',
    stored: '{"orderDate": "28/02/2026 24:00:00", "orderNumber": "BAD-8"}',
  },
] as const

/** A response body: the envelope as the API pages it, the records' texts as given. */
function page(records: readonly string[], pageNumber = 1, pageTotal = 1): string {
  return `{"page":${pageNumber},"pageTotal":${pageTotal},"pageSize":1000,"recordsTotal":${records.length},"records":[${records.join(',')}]}`
}

/** A one-deal record of `day` (dd/mm/yyyy) with a status, for the change and removal stories. */
function deal(orderNumber: string, day: string, status: string, extra = ''): string {
  return `{"orderNumber":"${orderNumber}","orderDate":"${day} 12:00:00","createdDate":"${day}","orderStatus":"${status}","isDeleted":false,"tags":["t-${status}"],"custom":{"f-${status}":1}${extra}}`
}

const FIRST_PAGES = [
  page([BEFORE_WINDOW, ORD_1, ORD_2, ORD_3_OLD], 1, 3),
  // Page 2 overlaps page 1 (ORD-3 moved during paging): the later read wins.
  page([ORD_3, AFTER_WINDOW, ...REJECTS.map((reject) => reject.text)], 2, 3),
  page([], 3, 3),
]

async function rows<Row>(db: WarehouseDb, text: string, parameters: readonly unknown[] = []): Promise<Row[]> {
  return executeSql<Row>(db, text, parameters)
}

/** Every row of the site in raw and calltouch tables with its xmin: equal snapshots mean nothing was rewritten. */
async function snapshot(db: WarehouseDb, siteId: number): Promise<string[]> {
  const tables = [
    'raw.calltouch_orders',
    'calltouch.orders',
    'calltouch.sources',
    'calltouch.visits',
    'calltouch.custom_fields',
    'calltouch.tags',
  ]
  const result: string[] = []
  for (const table of tables) {
    const found = await rows<{ line: string }>(
      db,
      `select '${table} ' || t.xmin::text || ' ' || t::text as line from ${table} t where site_id = $1 order by 1`,
      [siteId],
    )
    result.push(...found.map((row) => row.line))
  }
  return result
}

describeEachEngine('loading a window', (engine) => {
  let tw: TestWarehouse
  let db: WarehouseDb
  let runId: string
  let startedAt: Date
  const window = (overrides: Partial<WindowToLoad> = {}): WindowToLoad => ({
    runId,
    siteId: SITE,
    timeZone: ZONE,
    firstDay: '2026-02-27',
    lastDay: '2026-03-01',
    pages: FIRST_PAGES,
    ...overrides,
  })

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    db = tw.warehouse.db
    runId = await startRun(db, 'backfill')
    startedAt = new Date(Date.now() - 1_000)
  })
  afterAll(async () => {
    clearSecretsForTests()
    await tw?.destroy()
  })

  it('loads the in-window records of overlapping pages, counts them per day and ignores the days around', async () => {
    const result = await loadWindow(db, window())
    expect(result).toEqual({
      seen: 14,
      landed: 3,
      changed: 3,
      rejected: 11,
      removed: 0,
      recordsByDay: { '2026-02-27': 4, '2026-02-28': 4, '2026-03-01': 3 },
    })
  })

  it('lands each deal once in raw, exactly as received with unknown fields, with its hash and run', async () => {
    const raw = await rows<{
      order_number: string
      same: boolean
      payload_hash: string
      run_id: string
      unknown: string | null
      hash_ok: boolean
    }>(
      db,
      `
      select order_number, payload = (case order_number when 'ORD-1' then $2 when 'ORD-2' then $3 else $4 end)::jsonb as same,
        payload_hash, run_id, payload -> 'unknownNew' ->> 'x' as unknown, payload_hash = md5(payload::text) as hash_ok
      from raw.calltouch_orders where site_id = $1 order by raw_id`,
      [SITE, ORD_1, ORD_2, ORD_3],
    )
    expect(
      raw.map(({ payload_hash: _, ...row }) => row).sort((a, b) => a.order_number.localeCompare(b.order_number)),
    ).toEqual([
      { order_number: 'ORD-1', same: true, run_id: runId, unknown: '[1, 2]', hash_ok: true },
      { order_number: 'ORD-2', same: true, run_id: runId, unknown: null, hash_ok: true },
      { order_number: 'ORD-3', same: true, run_id: runId, unknown: null, hash_ok: true },
    ])
    const custom = await rows<{ exact: string }>(
      db,
      `select payload -> 'custom' ->> 'Себестоимость' as exact from raw.calltouch_orders where order_number = 'ORD-1'`,
    )
    expect(custom).toEqual([{ exact: MAX_CUSTOM }])
  })

  it('writes the current state of each deal into calltouch.orders, dates read in the site zone', async () => {
    const orders = await rows<Record<string, unknown>>(
      db,
      `
      select o.*, o.payload_hash = r.payload_hash as hash_matches_raw from calltouch.orders o
      join raw.calltouch_orders r using (site_id, order_number) where o.site_id = $1 order by o.order_number`,
      [SITE],
    )
    const times = orders.map((row) => [row.first_seen_at, row.last_changed_at, row.last_seen_at] as Date[])
    for (const [first, changed, seen] of times) {
      expect(first?.getTime()).toBe(changed?.getTime())
      expect(first?.getTime()).toBe(seen?.getTime())
      expect(first!.getTime()).toBeGreaterThanOrEqual(startedAt.getTime())
    }
    const values = orders.map(
      ({ first_seen_at: _1, last_changed_at: _2, last_seen_at: _3, payload_hash: _4, ...row }) => ({
        ...row,
        order_date: (row.order_date as Date).toISOString(),
      }),
    )
    // Loaded without a contact policy: contacts as received, no client_key (client-contacts.test.ts covers the modes).
    const common = { site_id: SITE, removed_from_source_at: null, client_key: null, hash_matches_raw: true }
    expect(values).toEqual([
      {
        ...common,
        order_number: 'ORD-1',
        order_id: '991758039524629869',
        order_date: '2026-02-27T12:42:01.000Z',
        order_day: '2026-02-27',
        created_date: '2026-02-27',
        completed_date: null,
        status: 'start',
        manager: 'Коля',
        service: 'AmoCRM',
        order_origin: 'API',
        source_type: 'CALL',
        planned_amount: '6000.00',
        completed_amount: null,
        client_phones: '74953080100',
        client_fio: 'Иванов Иван',
        is_deleted: false,
      },
      {
        ...common,
        order_number: 'ORD-2',
        order_id: '2',
        order_date: '2026-02-27T21:00:00.000Z',
        order_day: '2026-02-28',
        created_date: '2026-02-28',
        completed_date: '2026-02-28',
        status: 'final',
        manager: null,
        service: null,
        order_origin: 'CRM',
        source_type: 'REQUEST',
        planned_amount: null,
        completed_amount: '12500.50',
        client_phones: null,
        client_fio: null,
        is_deleted: true,
      },
      {
        ...common,
        order_number: 'ORD-3',
        order_id: null,
        order_date: '2026-03-01T20:59:59.000Z',
        order_day: '2026-03-01',
        created_date: '2026-03-01',
        completed_date: null,
        status: 'in_progress',
        manager: 'Ольга',
        service: null,
        order_origin: null,
        source_type: null,
        planned_amount: '0.00',
        completed_amount: null,
        client_phones: '79990000000',
        client_fio: `O'Brien; "Bob"`,
        is_deleted: false,
      },
    ])
  })

  it('writes sources, visits, exact 38-digit custom values and tags; none for a null visit, source or tags', async () => {
    const sources = await rows<Record<string, unknown>>(
      db,
      `select * from calltouch.sources where site_id = $1 order by order_number`,
      [SITE],
    )
    expect(
      sources.map((row) => ({ ...row, call_time: (row.call_time as Date | null)?.toISOString() ?? null })),
    ).toEqual([
      {
        site_id: SITE,
        order_number: 'ORD-1',
        source_type: 'CALL',
        call_id: '123456789012',
        duration_seconds: 95,
        phone_number: '74951234567',
        caller_phone: '79161234567',
        call_time: '2026-02-27T12:40:00.000Z',
        request_number: null,
      },
      {
        site_id: SITE,
        order_number: 'ORD-2',
        source_type: 'REQUEST',
        call_id: null,
        duration_seconds: null,
        phone_number: null,
        caller_phone: null,
        call_time: null,
        request_number: 'REQ-77',
      },
    ])
    const visits = await rows<Record<string, unknown>>(
      db,
      `select * from calltouch.visits where site_id = $1 order by order_number`,
      [SITE],
    )
    expect(
      visits.map((row) => ({ ...row, visit_time: (row.visit_time as Date | null)?.toISOString() ?? null })),
    ).toEqual([
      {
        site_id: SITE,
        order_number: 'ORD-1',
        visit_time: '2026-02-27T12:30:00.000Z',
        source: 'yandex',
        medium: 'cpc',
        keyword: 'купить слона',
        utm_source: 'yandex',
        utm_medium: 'cpc',
        utm_campaign: 'spring',
        utm_content: 'ad1',
        utm_term: 'купить',
        additional_tags: [{ type: 'x', value: 'y' }],
      },
      {
        site_id: SITE,
        order_number: 'ORD-3',
        visit_time: null,
        source: null,
        medium: null,
        keyword: null,
        utm_source: null,
        utm_medium: null,
        utm_campaign: null,
        utm_content: null,
        utm_term: null,
        additional_tags: [],
      },
    ])
    expect(
      await rows(
        db,
        `select order_number, field, value from calltouch.custom_fields where site_id = $1 order by order_number, field collate "C"`,
        [SITE],
      ),
    ).toEqual([
      { order_number: 'ORD-1', field: 'loss; "field"', value: MIN_CUSTOM },
      { order_number: 'ORD-1', field: 'zero', value: '0' },
      { order_number: 'ORD-1', field: 'Себестоимость', value: MAX_CUSTOM },
    ])
    expect(
      await rows(
        db,
        `select order_number, tag from calltouch.tags where site_id = $1 order by order_number, tag collate "C"`,
        [SITE],
      ),
    ).toEqual([
      { order_number: 'ORD-1', tag: 'VIP "gold"' },
      { order_number: 'ORD-1', tag: 'a;b' },
      { order_number: 'ORD-1', tag: '🚀 launch' },
    ])
  })

  it('sends records that cannot be loaded to etl.rejected_records with their reasons, and nowhere else', async () => {
    const rejected = await rows<Record<string, unknown>>(
      db,
      `
      select run_id, site_id, order_number, day_from, day_to, reason, record from etl.rejected_records
      order by order_number collate "C" nulls first, record collate "C"`,
    )
    const expected = [...REJECTS]
      .sort((a, b) => (a.orderNumber ?? '').localeCompare(b.orderNumber ?? '') || (a.stored < b.stored ? -1 : 1))
      .map((reject) => ({
        run_id: runId,
        site_id: SITE,
        order_number: reject.orderNumber,
        day_from: '2026-02-27',
        day_to: '2026-03-01',
        reason: reject.reason,
        record: reject.stored,
      }))
    expect(rejected).toEqual(expected)
    expect(
      await rows(
        db,
        `select count(*)::integer as n from calltouch.orders where order_number like 'BAD-%' or order_number = ''`,
      ),
    ).toEqual([{ n: 0 }])
    expect(
      await rows(
        db,
        `select count(*)::integer as n from raw.calltouch_orders where order_number like 'BAD-%' or order_number = ''`,
      ),
    ).toEqual([{ n: 0 }])
  })

  it('records every day of the window in the ledger as read, with its record count', async () => {
    const days = await rows<Record<string, unknown>>(db, `select * from etl.ledger where account = $1 order by day`, [
      String(SITE),
    ])
    for (const day of days)
      expect((day.last_succeeded_at as Date).getTime()).toBe((day.last_extracted_at as Date).getTime())
    const ledgerKey = { source: 'calltouch-deals', account: String(SITE) }
    expect(days.map(({ last_extracted_at: _1, last_succeeded_at: _2, ...day }) => day)).toEqual([
      { ...ledgerKey, day: '2026-02-27', run_id: runId, records: 4, status: 'ok', error: null, attempts: 1 },
      { ...ledgerKey, day: '2026-02-28', run_id: runId, records: 4, status: 'ok', error: null, attempts: 1 },
      { ...ledgerKey, day: '2026-03-01', run_id: runId, records: 3, status: 'ok', error: null, attempts: 1 },
    ])
  })

  it('rewrites no row and rejects nothing twice when the same window is loaded again', async () => {
    const before = await snapshot(db, SITE)
    const rejectedBefore = await rows(db, `select count(*)::integer as n from etl.rejected_records`)
    const again = await loadWindow(db, window())
    expect(again).toEqual({
      seen: 14,
      landed: 0,
      changed: 0,
      rejected: 11,
      removed: 0,
      recordsByDay: { '2026-02-27': 4, '2026-02-28': 4, '2026-03-01': 3 },
    })
    expect(await snapshot(db, SITE)).toEqual(before)
    expect(before).toHaveLength(3 + 3 + 2 + 2 + 3 + 3)
    expect(await rows(db, `select count(*)::integer as n from etl.rejected_records`)).toEqual(rejectedBefore)
  })

  it('reads pages given as the UTF-8 bytes received exactly as the same pages given as text', async () => {
    const before = await snapshot(db, SITE)
    const asBytes = await loadWindow(db, window({ pages: FIRST_PAGES.map((text) => Buffer.from(text, 'utf8')) }))
    expect(asBytes).toEqual({
      seen: 14,
      landed: 0,
      changed: 0,
      rejected: 11,
      removed: 0,
      recordsByDay: { '2026-02-27': 4, '2026-02-28': 4, '2026-03-01': 3 },
    })
    expect(await snapshot(db, SITE)).toEqual(before)
  })

  it('lands a new version of a changed deal and replaces its children; A then B then A lands three versions', async () => {
    const site = 2001
    const load = (status: string) =>
      loadWindow(
        db,
        window({
          siteId: site,
          firstDay: '2026-03-05',
          lastDay: '2026-03-05',
          pages: [page([deal('D-1', '05/03/2026', status)])],
        }),
      )
    expect((await load('start')).changed).toBe(1)
    expect(await load('final')).toMatchObject({ landed: 1, changed: 1, removed: 0 })
    expect(await rows(db, `select status from calltouch.orders where site_id = $1`, [site])).toEqual([
      { status: 'final' },
    ])
    expect(await rows(db, `select field from calltouch.custom_fields where site_id = $1`, [site])).toEqual([
      { field: 'f-final' },
    ])
    expect(await rows(db, `select tag from calltouch.tags where site_id = $1`, [site])).toEqual([{ tag: 't-final' }])
    expect(await load('start')).toMatchObject({ landed: 1, changed: 1 })
    expect(
      await rows(
        db,
        `select payload ->> 'orderStatus' as status from raw.calltouch_orders where site_id = $1 order by raw_id`,
        [site],
      ),
    ).toEqual([{ status: 'start' }, { status: 'final' }, { status: 'start' }])
    expect(await rows(db, `select field from calltouch.custom_fields where site_id = $1`, [site])).toEqual([
      { field: 'f-start' },
    ])
  })

  it('marks a deal the API stopped returning as removed, and clears the mark when it comes back', async () => {
    const site = 2002
    const load = (records: string[]) =>
      loadWindow(db, window({ siteId: site, firstDay: '2026-03-05', lastDay: '2026-03-06', pages: [page(records)] }))
    const kept = deal('K-1', '05/03/2026', 'start')
    const leaving = deal('L-1', '06/03/2026', 'start')
    const elsewhere = deal('E-1', '07/03/2026', 'start')
    await loadWindow(
      db,
      window({ siteId: site, firstDay: '2026-03-07', lastDay: '2026-03-07', pages: [page([elsewhere])] }),
    )
    await load([kept, leaving])
    expect(await load([kept])).toMatchObject({ removed: 1, changed: 0, landed: 0 })
    const removed = await rows<{ order_number: string; removed: boolean }>(
      db,
      `
      select order_number, removed_from_source_at is not null as removed from calltouch.orders where site_id = $1 order by order_number`,
      [site],
    )
    expect(removed).toEqual([
      { order_number: 'E-1', removed: false },
      { order_number: 'K-1', removed: false },
      { order_number: 'L-1', removed: true },
    ])
    expect(await load([kept])).toMatchObject({ removed: 0 })
    expect(await load([kept, leaving])).toMatchObject({ removed: 0, changed: 0, landed: 0 })
    expect(
      await rows(
        db,
        `select count(*)::integer as n from calltouch.orders where site_id = $1 and removed_from_source_at is not null`,
        [site],
      ),
    ).toEqual([{ n: 0 }])
  })

  it('does not mark a deal removed when its new version is rejected, and keeps its last good state', async () => {
    const site = 2003
    const load = (record: string) =>
      loadWindow(db, window({ siteId: site, firstDay: '2026-03-05', lastDay: '2026-03-05', pages: [page([record])] }))
    await load(deal('R-1', '05/03/2026', 'start'))
    expect(await load(deal('R-1', '05/03/2026', 'final', ',"completedDate":"31/04/2026"'))).toMatchObject({
      rejected: 1,
      removed: 0,
      changed: 0,
      landed: 0,
    })
    expect(
      await rows(db, `select status, removed_from_source_at from calltouch.orders where site_id = $1`, [site]),
    ).toEqual([{ status: 'start', removed_from_source_at: null }])
    expect(await rows(db, `select reason from etl.rejected_records where site_id = $1`, [site])).toEqual([
      { reason: 'completedDate "31/04/2026" is not a date DD/MM/YYYY' },
    ])
  })

  it('moves last_seen_at of an unchanged deal on once it is older than an hour, and rewrites nothing else', async () => {
    const site = 2004
    const load = () =>
      loadWindow(
        db,
        window({
          siteId: site,
          firstDay: '2026-03-05',
          lastDay: '2026-03-05',
          pages: [page([deal('S-1', '05/03/2026', 'start')])],
        }),
      )
    await load()
    await rows(
      db,
      `update calltouch.orders set last_seen_at = last_seen_at - interval '2 hours', last_changed_at = last_changed_at - interval '2 hours' where site_id = $1`,
      [site],
    )
    const children = (await snapshot(db, site)).filter((line) => !line.startsWith('calltouch.orders '))
    expect(await load()).toMatchObject({ landed: 0, changed: 0 })
    const [row] = await rows<{ seen_now: boolean; changed_then: boolean }>(
      db,
      `
      select last_seen_at > now() - interval '1 minute' as seen_now, last_changed_at < now() - interval '1 hour' as changed_then
      from calltouch.orders where site_id = $1`,
      [site],
    )
    expect(row).toEqual({ seen_now: true, changed_then: true })
    expect((await snapshot(db, site)).filter((line) => !line.startsWith('calltouch.orders '))).toEqual(children)
  })

  it('records a failed window on every day with its redacted one-line error, keeping the last success', async () => {
    registerSecret('tok/en.secret')
    const failure = {
      runId,
      siteId: SITE,
      firstDay: '2026-02-28',
      lastDay: '2026-03-02',
      error: 'HTTP 503 for clientApiId=tok/en.secret\n  after 5 retries',
    }
    await recordWindowFailure(db, failure)
    await recordWindowFailure(db, failure)
    const days = await rows<Record<string, unknown>>(
      db,
      `select * from etl.ledger where account = $1 and day >= '2026-02-28' order by day`,
      [String(SITE)],
    )
    const ledgerKey = { source: 'calltouch-deals', account: String(SITE) }
    expect(
      days.map(({ last_extracted_at: _1, last_succeeded_at: succeeded, ...day }) => ({
        ...day,
        succeeded: succeeded !== null,
      })),
    ).toEqual([
      {
        ...ledgerKey,
        day: '2026-02-28',
        run_id: runId,
        records: 4,
        status: 'failed',
        error: 'HTTP 503 for clientApiId=[REDACTED] after 5 retries',
        attempts: 3,
        succeeded: true,
      },
      {
        ...ledgerKey,
        day: '2026-03-01',
        run_id: runId,
        records: 3,
        status: 'failed',
        error: 'HTTP 503 for clientApiId=[REDACTED] after 5 retries',
        attempts: 3,
        succeeded: true,
      },
      {
        ...ledgerKey,
        day: '2026-03-02',
        run_id: runId,
        records: null,
        status: 'failed',
        error: 'HTTP 503 for clientApiId=[REDACTED] after 5 retries',
        attempts: 2,
        succeeded: false,
      },
    ])
    await loadWindow(db, window({ firstDay: '2026-03-01', lastDay: '2026-03-01' }))
    expect(
      await rows(
        db,
        `select status, error, attempts, records from etl.ledger where source = 'calltouch-deals' and account = $1 and day = '2026-03-01'`,
        [String(SITE)],
      ),
    ).toEqual([{ status: 'ok', error: null, attempts: 1, records: 3 }])
  })

  it('refuses a body that is not JSON or has no records list, and keeps nothing of the window', async () => {
    const site = 2005
    const attempt = (pages: string[]) =>
      loadWindow(db, window({ siteId: site, firstDay: '2026-03-05', lastDay: '2026-03-05', pages }))
    const good = page([deal('G-1', '05/03/2026', 'start')])
    await expect(attempt([good, '{"records":[{"orderNumber":"x"'])).rejects.toThrow(
      new EtlError(
        'INPUT',
        "site 2005, days 2026-03-05..2026-03-05: page 2 is not valid JSON (Expected ',' or '}' after property value in JSON at position 30); read the window again",
      ),
    )
    await expect(attempt([good, '{"message":"Forbidden"}'])).rejects.toThrow(
      'site 2005, days 2026-03-05..2026-03-05: page 2 has no "records" list; an error body must not be loaded as an empty page (it would mark the window\'s deals removed)',
    )
    await expect(attempt([`${good},${good}`])).rejects.toThrow(
      'site 2005, days 2026-03-05..2026-03-05: pages 1..1 are not one JSON object each; pass each response body as it was received',
    )
    expect(
      await rows(
        db,
        `select (select count(*) from calltouch.orders where site_id = $1)::integer as orders, (select count(*) from etl.ledger where account = $1::text)::integer as days`,
        [site],
      ),
    ).toEqual([{ orders: 0, days: 0 }])
  })

  it('refuses a window with a bad zone, day range or run id before touching the warehouse', async () => {
    await expect(loadWindow(db, window({ timeZone: 'Mars/Olympus' }))).rejects.toMatchObject({
      code: 'CONFIG',
      message:
        'site 12345, days 2026-02-27..2026-03-01: time zone "Mars/Olympus" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)',
    })
    await expect(loadWindow(db, window({ pages: [] }))).rejects.toMatchObject({
      code: 'INPUT',
      message:
        'site 12345, days 2026-02-27..2026-03-01: no page bodies; pass every response body of the window (an empty answer is a page with an empty records list)',
    })
    await expect(loadWindow(db, window({ firstDay: '2026-03-02' }))).rejects.toMatchObject({
      code: 'INPUT',
      message: 'site 12345, days 2026-03-02..2026-03-01: the first day is after the last; swap them',
    })
    await expect(loadWindow(db, window({ lastDay: '2026-02-30' }))).rejects.toMatchObject({
      code: 'INPUT',
      message: 'site 12345, days 2026-02-27..2026-02-30: last day 2026-02-30 is not a real date',
    })
    await expect(
      recordWindowFailure(db, {
        runId: 'run-1',
        siteId: SITE,
        firstDay: '2026-03-01',
        lastDay: '2026-03-01',
        error: 'x',
      }),
    ).rejects.toMatchObject({
      code: 'INPUT',
      message: 'site 12345, days 2026-03-01..2026-03-01: run id "run-1" is not one of etl.runs; start a run first',
    })
  })
})

describeEachEngine('loading a window: amounts, ids and repeated deals', (engine) => {
  let tw: TestWarehouse
  let db: WarehouseDb
  let runId: string

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    db = tw.warehouse.db
    runId = await startRun(db, 'backfill')
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** A deal of 2026-02-27 with `fields` (JSON members) added. */
  const withFields = (orderNumber: string, fields: string): string =>
    `{"orderNumber":"${orderNumber}","orderDate":"27/02/2026 12:00:00",${fields}}`

  it('loads numbers and digit strings in range, and rejects the rest with the value as the API sent it', async () => {
    const records = [
      withFields(
        'OK-1',
        '"plannedAmount":"1500.50","completedAmount":9999999999999999.99,"orderId":"77","orderSource":{"type":"CALL","callId":-5,"duration":"95"}',
      ),
      withFields(
        'OK-2',
        '"plannedAmount":-0.5,"completedAmount":null,"orderId":999999999999999999,"orderSource":{"type":"CALL","callId":"","duration":999999999}',
      ),
      withFields('NO-1', '"plannedAmount":1e16'),
      withFields('NO-2', '"completedAmount":"12,5"'),
      withFields('NO-3', '"orderId":1.5'),
      withFields('NO-4', '"orderId":1000000000000000000'),
      withFields('NO-5', '"orderId":true'),
      withFields('NO-6', '"orderSource":{"type":"CALL","callId":"12a"}'),
      withFields('NO-7', '"orderSource":{"type":"CALL","duration":1000000000}'),
      withFields('NO-8', '"orderSource":{"type":"CALL","duration":95.0}'),
    ]
    const result = await loadWindow(db, {
      runId,
      siteId: SITE,
      timeZone: ZONE,
      firstDay: '2026-02-27',
      lastDay: '2026-02-27',
      pages: [page(records)],
    })
    expect(result).toEqual({
      seen: 10,
      landed: 2,
      changed: 2,
      rejected: 8,
      removed: 0,
      recordsByDay: { '2026-02-27': 10 },
    })
    expect(
      await rows(
        db,
        `
      select o.order_number, o.planned_amount, o.completed_amount, o.order_id, s.call_id, s.duration_seconds
      from calltouch.orders o join calltouch.sources s using (site_id, order_number) order by o.order_number`,
      ),
    ).toEqual([
      {
        order_number: 'OK-1',
        planned_amount: '1500.50',
        completed_amount: '9999999999999999.99',
        order_id: '77',
        call_id: '-5',
        duration_seconds: 95,
      },
      {
        order_number: 'OK-2',
        planned_amount: '-0.50',
        completed_amount: null,
        order_id: '999999999999999999',
        call_id: null,
        duration_seconds: 999999999,
      },
    ])
    expect(
      await rows(db, `select order_number, reason from etl.rejected_records where site_id = $1 order by order_number`, [
        SITE,
      ]),
    ).toEqual([
      { order_number: 'NO-1', reason: 'plannedAmount 10000000000000000 is not an amount of up to 16 integer digits' },
      { order_number: 'NO-2', reason: 'completedAmount "12,5" is not an amount of up to 16 integer digits' },
      { order_number: 'NO-3', reason: 'orderId 1.5 is not an integer of up to 18 digits' },
      { order_number: 'NO-4', reason: 'orderId 1000000000000000000 is not an integer of up to 18 digits' },
      { order_number: 'NO-5', reason: 'orderId true is not an integer of up to 18 digits' },
      { order_number: 'NO-6', reason: 'orderSource.callId "12a" is not an integer of up to 18 digits' },
      { order_number: 'NO-7', reason: 'orderSource.duration 1000000000 is not an integer of up to 9 digits' },
      { order_number: 'NO-8', reason: 'orderSource.duration 95.0 is not an integer of up to 9 digits' },
    ])
  })

  it('keeps the last read of a deal that comes more than once, within a page and across pages', async () => {
    const site = SITE + 1
    const pages = [
      page(
        [
          deal('TWICE-1', '27/02/2026', 'first'),
          deal('TWICE-2', '27/02/2026', 'first'),
          deal('TWICE-1', '27/02/2026', 'second'),
        ],
        1,
        2,
      ),
      page([deal('TWICE-2', '27/02/2026', 'second'), deal('ONCE', '27/02/2026', 'only')], 2, 2),
    ]
    const result = await loadWindow(db, {
      runId,
      siteId: site,
      timeZone: ZONE,
      firstDay: '2026-02-27',
      lastDay: '2026-02-27',
      pages,
    })
    expect(result).toEqual({
      seen: 3,
      landed: 3,
      changed: 3,
      rejected: 0,
      removed: 0,
      recordsByDay: { '2026-02-27': 3 },
    })
    expect(
      await rows(db, `select order_number, status from calltouch.orders where site_id = $1 order by order_number`, [
        site,
      ]),
    ).toEqual([
      { order_number: 'ONCE', status: 'only' },
      { order_number: 'TWICE-1', status: 'second' },
      { order_number: 'TWICE-2', status: 'second' },
    ])
    expect(
      await rows(db, `select order_number, tag from calltouch.tags where site_id = $1 order by order_number`, [site]),
    ).toEqual([
      { order_number: 'ONCE', tag: 't-only' },
      { order_number: 'TWICE-1', tag: 't-second' },
      { order_number: 'TWICE-2', tag: 't-second' },
    ])
    expect(
      await rows(db, `select count(*)::integer as n from raw.calltouch_orders where site_id = $1`, [site]),
    ).toEqual([{ n: 3 }])
  })
})

describePostgres('loading a window that deadlocks with another transaction', () => {
  let tw: TestWarehouse
  let runId: string
  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
    runId = await startRun(tw.warehouse.db, 'sync')
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('is loaded again from the start when PostgreSQL picks it as the deadlock victim, and lands each version once', async () => {
    const db = tw.warehouse.db
    const window = (status: string): WindowToLoad => ({
      runId,
      siteId: SITE,
      timeZone: ZONE,
      firstDay: '2026-03-05',
      lastDay: '2026-03-05',
      pages: [page([deal('D-1', '05/03/2026', status)])],
    })
    await loadWindow(db, window('start'))
    const other = new pg.Client({ connectionString: (tw.config as { databaseUrl: string }).databaseUrl })
    await other.connect()
    try {
      // The other transaction holds D-1's row, so the load waits on it holding its raw insert; the
      // other then waits for the raw table. Its own deadlock check runs late, so the load's runs first
      // and the load is the victim.
      await other.query(
        `begin; set local deadlock_timeout = '30s'; select 1 from calltouch.orders where order_number = 'D-1' for update`,
      )
      const loading = loadWindow(db, window('final'))
      await vi.waitFor(
        async () => {
          const waiting = await other.query(
            `select count(*)::integer as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          )
          expect(waiting.rows[0].n).toBe(1)
        },
        { timeout: 10_000, interval: 20 },
      )
      await other.query(`lock table raw.calltouch_orders in share mode`)
      await other.query('rollback')
      expect(await loading).toEqual({
        seen: 1,
        landed: 1,
        changed: 1,
        rejected: 0,
        removed: 0,
        recordsByDay: { '2026-03-05': 1 },
      })
    } finally {
      await other.end()
    }
    expect(
      await executeSql(
        db,
        `select payload ->> 'orderStatus' as status from raw.calltouch_orders where order_number = 'D-1' order by raw_id`,
      ),
    ).toEqual([{ status: 'start' }, { status: 'final' }])
    expect(await executeSql(db, `select status from calltouch.orders where order_number = 'D-1'`)).toEqual([
      { status: 'final' },
    ])
  })
})

describePostgres("looking up a window's deals in a site with a long history", () => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse('postgres')
    const db = tw.warehouse.db
    // 20,000 deals written since the last analyze (here: none, and autovacuum may not run one), as
    // in a first backfill or for a newly added site: the planner takes the site for a few rows.
    for (const table of ['orders', 'sources', 'visits', 'tags', 'custom_fields']) {
      await executeSql(db, `alter table calltouch.${table} set (autovacuum_enabled = false)`)
    }
    await executeSql(
      db,
      `insert into calltouch.orders (site_id, order_number, order_day, payload_hash, first_seen_at, last_changed_at, last_seen_at)
      select $1::integer, 'OLD-' || n, date '2020-01-01' + n / 10, 'h', now(), now(), now() - interval '1 day' from generate_series(1, 20000) n`,
      [SITE],
    )
    await executeSql(
      db,
      `insert into calltouch.sources (site_id, order_number) select $1::integer, 'OLD-' || n from generate_series(1, 20000) n`,
      [SITE],
    )
    await executeSql(
      db,
      `insert into calltouch.visits (site_id, order_number) select $1::integer, 'OLD-' || n from generate_series(1, 20000) n`,
      [SITE],
    )
    await executeSql(
      db,
      `insert into calltouch.tags (site_id, order_number, tag) select $1::integer, 'OLD-' || n, 't' from generate_series(1, 20000) n`,
      [SITE],
    )
    await executeSql(
      db,
      `insert into calltouch.custom_fields (site_id, order_number, field, value) select $1::integer, 'OLD-' || n, 'f', n from generate_series(1, 20000) n`,
      [SITE],
    )
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** How the statements that look a window's deals up read the deal tables, for 1,000 staged new records and 1,000 changed deals the warehouse holds. */
  async function lookupPlans(): Promise<Record<string, string[]>> {
    return tw.warehouse.db.transaction().execute(async (trx) => {
      await prepareLoadStaging(trx)
      await executeSql(
        trx,
        `insert into pg_temp.load_records (order_number, record, record_day, payload_hash, page_no, record_no)
        select 'NEW-' || n, jsonb_build_object('orderNumber', 'NEW-' || n), '2026-03-01', 'h', 1, n from generate_series(1, 1000) n`,
      )
      await executeSql(
        trx,
        `insert into pg_temp.load_changes (order_number, payload_hash, existed)
        select 'OLD-' || n, 'h2', true from generate_series(1, 1000) n`,
      )
      await executeSql(trx, 'analyze pg_temp.load_records')
      await executeSql(trx, 'analyze pg_temp.load_changes')
      // Each read of a deal table, with the columns its scan is bounded by ('orders by site_id' would
      // read every deal of the site).
      const plan = async (name: string, parameters: readonly unknown[]): Promise<string[]> => {
        const lines = (
          await executeSql<{ 'QUERY PLAN': string }>(trx, `explain (costs off) ${sqlText(name)}`, parameters)
        ).map((line) => line['QUERY PLAN'].trim())
        const reads: string[] = []
        for (const [index, line] of lines.entries()) {
          const table = /Scan.* on (orders|sources|visits|custom_fields|tags) /.exec(line)?.[1]
          if (table === undefined) continue
          const condition = lines.slice(index + 1).find((next) => /^(Index|Recheck|TID) Cond:/.test(next)) ?? ''
          reads.push(`${table} by ${[...condition.matchAll(/\((\w+) = /g)].map((match) => match[1]).join(', ')}`)
        }
        return reads
      }
      return {
        stage_changed_records: await plan('stage_changed_records', [SITE, ZONE]),
        mark_seen_orders: await plan('mark_seen_orders', [SITE, '1 hour']),
        delete_changed_children: await plan('delete_changed_children', [SITE]),
      }
    })
  }

  it("reads each of the window's deals by key, never every deal of the site", async () => {
    expect(await lookupPlans()).toEqual({
      stage_changed_records: ['orders by site_id, order_number'],
      mark_seen_orders: ['orders by site_id, order_number'],
      delete_changed_children: ['sources', 'visits', 'custom_fields', 'tags'].map(
        (table) => `${table} by site_id, order_number`,
      ),
    })
  })
})
