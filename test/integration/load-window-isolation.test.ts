import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadWindow, type WindowToLoad } from '../../pipelines/sources/calltouch-deals/load-window.ts'
import { MAX_ISOLATION_TRIALS } from '../../pipelines/sources/calltouch-deals/load-isolation.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { HUGE_NUMBER, LONE_SURROGATE, LONG_FIELD, LONG_ORDER_NUMBER, LONG_TAG } from '../helpers/poison-records.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 14014
const ZONE = 'Europe/Moscow'
const MAX_CUSTOM = '99999999999999999999999999999999999999'

/** A good deal of `day` (dd/mm/yyyy), with a 38-digit custom value that no JS number may hold. */
function deal(orderNumber: string, day: string, status = 'start', extra = ''): string {
  return `{"orderNumber":${JSON.stringify(orderNumber)},"orderDate":"${day} 12:00:00","createdDate":"${day}","orderStatus":"${status}","tags":["t"],"custom":{"cost":${MAX_CUSTOM}}${extra}}`
}

function page(records: readonly string[], pageNumber = 1, pageTotal = 1): string {
  return `{"page":${pageNumber},"pageTotal":${pageTotal},"pageSize":1000,"recordsTotal":${records.length},"records":[${records.join(',')}]}`
}

/** Valid data of any length: must land. */
const LONG_TEXT_DEAL = deal('LONG-TEXT', '10/03/2026', 'start', `,"manager":${JSON.stringify(LONG_TAG)}`)
  .replace('"tags":["t"]', `"tags":[${JSON.stringify(LONG_TAG)},"short"]`)
  .replace(`"custom":{"cost":${MAX_CUSTOM}}`, `"custom":{${JSON.stringify(LONG_FIELD)}:${MAX_CUSTOM}}`)
/** Records PostgreSQL refuses, each for a reason of its own, with the message it refuses it with. */
const POISON = [
  {
    orderNumber: 'HUGE-NUMBER',
    text: deal('HUGE-NUMBER', '10/03/2026', 'start', `,"plannedAmount":${HUGE_NUMBER}`),
    message: 'value overflows numeric format',
  },
  {
    orderNumber: LONG_ORDER_NUMBER,
    text: deal(LONG_ORDER_NUMBER, '11/03/2026'),
    message: 'exceeds btree version 4 maximum 2704 for index',
  },
  {
    orderNumber: 'BAD-TEXT',
    text: deal('BAD-TEXT', '11/03/2026', 'start', `,"manager":${LONE_SURROGATE}`),
    message: 'invalid input syntax for type json (Unicode low surrogate must follow a high surrogate.)',
  },
] as const
const GOOD_1 = Array.from({ length: 20 }, (_, index) => `GOOD-${String(index + 1).padStart(2, '0')}`)
const GOOD_2 = Array.from({ length: 15 }, (_, index) => `GOOD-${index + 21}`)

const PAGES = [
  page(
    [
      ...GOOD_1.slice(0, 10).map((key) => deal(key, '10/03/2026')),
      POISON[0].text,
      LONG_TEXT_DEAL,
      ...GOOD_1.slice(10).map((key) => deal(key, '10/03/2026')),
    ],
    1,
    3,
  ),
  page(
    [GOOD_2[0] as string, POISON[1].text, ...GOOD_2.slice(1, 8), POISON[2].text, ...GOOD_2.slice(8)].map((item) =>
      item.startsWith('{') ? item : deal(item, '11/03/2026'),
    ),
    2,
    3,
  ),
  page([], 3, 3),
]

describeEachEngine('loading a window with records PostgreSQL refuses', (engine) => {
  let tw: TestWarehouse
  let db: WarehouseDb
  let runId: string
  const window = (overrides: Partial<WindowToLoad> = {}): WindowToLoad => ({
    runId,
    siteId: SITE,
    timeZone: ZONE,
    firstDay: '2026-03-10',
    lastDay: '2026-03-11',
    pages: PAGES,
    ...overrides,
  })

  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    db = tw.warehouse.db
    runId = await startRun(db, 'backfill')
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('lands every other deal of the window, the one with a 3,000-character tag included, and counts the window loaded', async () => {
    const result = await loadWindow(db, window())
    expect(result).toEqual({
      seen: 39,
      landed: 36,
      changed: 36,
      rejected: 3,
      removed: 0,
      recordsByDay: { '2026-03-10': 22, '2026-03-11': 17 },
    })
    const orders = await executeSql<{ order_number: string }>(
      db,
      `select order_number from calltouch.orders where site_id = $1 order by order_number`,
      [SITE],
    )
    expect(orders.map((row) => row.order_number)).toEqual([...GOOD_1, ...GOOD_2, 'LONG-TEXT'].sort())
    expect(
      await executeSql(
        db,
        `select day::text as day, status, records, error from etl.site_days where site_id = $1 order by day`,
        [SITE],
      ),
    ).toEqual([
      { day: '2026-03-10', status: 'ok', records: 22, error: null },
      { day: '2026-03-11', status: 'ok', records: 17, error: null },
    ])
  })

  it('stores tags, custom field names and other text of any length exactly', async () => {
    expect(
      await executeSql(
        db,
        `select tag, octet_length(tag) as bytes from calltouch.tags where site_id = $1 and order_number = 'LONG-TEXT' order by tag`,
        [SITE],
      ),
    ).toEqual(
      [
        { tag: 'short', bytes: 5 },
        { tag: LONG_TAG, bytes: 5160 },
      ].sort((a, b) => (a.tag < b.tag ? -1 : 1)),
    )
    expect(
      await executeSql(
        db,
        `select field, value::text as value from calltouch.custom_fields where site_id = $1 and order_number = 'LONG-TEXT'`,
        [SITE],
      ),
    ).toEqual([{ field: LONG_FIELD, value: MAX_CUSTOM }])
    expect(
      await executeSql(db, `select manager from calltouch.orders where site_id = $1 and order_number = 'LONG-TEXT'`, [
        SITE,
      ]),
    ).toEqual([{ manager: LONG_TAG }])
    expect(
      await executeSql(
        db,
        `select count(*)::integer as n, min(value)::text as value from calltouch.custom_fields where site_id = $1`,
        [SITE],
      ),
    ).toEqual([{ n: 36, value: MAX_CUSTOM }])
  })

  it("sends each refused record to etl.rejected_records with PostgreSQL's message, its key and its text as received", async () => {
    const rejected = await executeSql<{
      order_number: string
      day_from: string
      day_to: string
      reason: string
      record: string
      run_id: string
    }>(
      db,
      `
      select order_number, day_from::text as day_from, day_to::text as day_to, reason, record, run_id from etl.rejected_records where site_id = $1 order by record`,
      [SITE],
    )
    expect(rejected).toHaveLength(3)
    for (const poison of POISON) {
      const row = rejected.find((found) => found.order_number === poison.orderNumber)
      expect(row).toMatchObject({ day_from: '2026-03-10', day_to: '2026-03-11', record: poison.text, run_id: runId })
      expect(row?.reason).toMatch(/^PostgreSQL refused the record: /)
      expect(row?.reason).toContain(poison.message)
      expect(row?.reason).not.toMatch(/[\r\n]/)
    }
  })

  it('changes nothing and rejects nothing twice when the same window is loaded again', async () => {
    const before = await executeSql(
      db,
      `select xmin::text, * from etl.rejected_records where site_id = $1 order by rejected_id`,
      [SITE],
    )
    const result = await loadWindow(db, window())
    expect(result).toEqual({
      seen: 39,
      landed: 0,
      changed: 0,
      rejected: 3,
      removed: 0,
      recordsByDay: { '2026-03-10': 22, '2026-03-11': 17 },
    })
    expect(
      await executeSql(db, `select xmin::text, * from etl.rejected_records where site_id = $1 order by rejected_id`, [
        SITE,
      ]),
    ).toEqual(before)
    expect(
      await executeSql(db, `select count(*)::integer as n from raw.calltouch_orders where site_id = $1`, [SITE]),
    ).toEqual([{ n: 36 }])
  })

  it('keeps a deal whose new version is refused as it was, not removed, and its later read wins over an earlier good one', async () => {
    const site = SITE + 1
    const one = (pages: string[]): WindowToLoad =>
      window({ siteId: site, firstDay: '2026-03-12', lastDay: '2026-03-12', pages })
    await loadWindow(db, one([page([deal('KEPT', '12/03/2026', 'start'), deal('OTHER', '12/03/2026', 'start')])]))
    const poisoned = deal('KEPT', '12/03/2026', 'final', `,"completedAmount":${HUGE_NUMBER}`)
    const result = await loadWindow(
      db,
      one([
        page([deal('KEPT', '12/03/2026', 'final'), deal('OTHER', '12/03/2026', 'final')], 1, 2),
        page([poisoned], 2, 2),
      ]),
    )
    expect(result).toEqual({
      seen: 2,
      landed: 1,
      changed: 1,
      rejected: 1,
      removed: 0,
      recordsByDay: { '2026-03-12': 2 },
    })
    expect(
      await executeSql(
        db,
        `select order_number, status, removed_from_source_at from calltouch.orders where site_id = $1 order by order_number`,
        [site],
      ),
    ).toEqual([
      { order_number: 'KEPT', status: 'start', removed_from_source_at: null },
      { order_number: 'OTHER', status: 'final', removed_from_source_at: null },
    ])
    expect(
      await executeSql(db, `select order_number, record from etl.rejected_records where site_id = $1`, [site]),
    ).toEqual([{ order_number: 'KEPT', record: poisoned }])
  })

  it('fails the window as before, keeping nothing, when PostgreSQL refuses more records than it is worth isolating', async () => {
    const site = SITE + 2
    const refused = Array.from({ length: MAX_ISOLATION_TRIALS / 2 }, (_, index) =>
      deal(`NO-${index}`, '13/03/2026', 'start', `,"plannedAmount":${HUGE_NUMBER}`),
    )
    const attempt = loadWindow(
      db,
      window({
        siteId: site,
        firstDay: '2026-03-13',
        lastDay: '2026-03-13',
        pages: [page([deal('YES', '13/03/2026'), ...refused])],
      }),
    )
    await expect(attempt).rejects.toMatchObject({
      code: 'WAREHOUSE',
      message:
        `loading site ${site}, days 2026-03-13..2026-03-13 failed, nothing of it was kept: value overflows numeric format; ` +
        `setting aside the records PostgreSQL refused did not help: more than ${MAX_ISOLATION_TRIALS} trials would be needed to find the records PostgreSQL refuses`,
    })
    expect(
      await executeSql(
        db,
        `select (select count(*) from calltouch.orders where site_id = $1)::integer as orders, (select count(*) from etl.site_days where site_id = $1)::integer as days,
      (select count(*) from etl.rejected_records where site_id = $1)::integer as rejected`,
        [site],
      ),
    ).toEqual([{ orders: 0, days: 0, rejected: 0 }])
  }, 60_000)
})
