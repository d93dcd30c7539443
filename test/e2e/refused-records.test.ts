import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { serializeDealRecord, startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { warehouseChecksums } from '../helpers/e2e-checksum.ts'
import {
  E2E_NOW,
  E2E_TOKEN,
  OutputLog,
  runE2eCli,
  scratchDir,
  tokenLeaksInWarehouse,
  writeConfigFile,
} from '../helpers/e2e-harness.ts'
import { HUGE_NUMBER, LONE_SURROGATE, LONG_FIELD, LONG_ORDER_NUMBER, LONG_TAG } from '../helpers/poison-records.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 971
const FROM = '2026-11-16'
const TO = '2026-11-20'
const DAYS = ['2026-11-16', '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20']
const CLI_TEST_TIMEOUT_MS = 240_000

/**
 * Deals written through the simulator's write API, as a CRM would: one with a tag and a custom
 * field name of 3,000 characters (valid data, which must land), and three PostgreSQL refuses.
 * The body is text, so the number and the escape go over the wire as written.
 */
const WRITTEN_ORDERS = `{"crm": "AmoCRM", "orders": [
  {"orderNumber": "LONG-TEXT", "orderDate": "17/11/2026 10:00:00", "addTags": [${JSON.stringify(LONG_TAG)}, "short"], "customFields": {${JSON.stringify(LONG_FIELD)}: 7}},
  {"orderNumber": ${JSON.stringify(LONG_ORDER_NUMBER)}, "orderDate": "18/11/2026 11:00:00"},
  {"orderNumber": "HUGE-NUMBER", "orderDate": "18/11/2026 12:00:00", "customFields": {"huge": ${HUGE_NUMBER}}},
  {"orderNumber": "BAD-TEXT", "orderDate": "19/11/2026 13:00:00", "manager": ${LONE_SURROGATE}}
]}`
/** The refused deals, with what PostgreSQL says of each. */
const REFUSED = [
  { orderNumber: LONG_ORDER_NUMBER, message: 'exceeds btree version 4 maximum 2704 for index' },
  { orderNumber: 'HUGE-NUMBER', message: 'value overflows numeric format' },
  {
    orderNumber: 'BAD-TEXT',
    message: 'invalid input syntax for type json (Unicode low surrogate must follow a high surrogate.)',
  },
] as const
const REFUSED_KEYS: readonly string[] = REFUSED.map((refused) => refused.orderNumber)

interface RejectedRow {
  rejected_id: string
  order_number: string
  day_from: string
  day_to: string
  reason: string
  record: string
}

describePostgres('records PostgreSQL refuses, from the API', () => {
  const log = new OutputLog()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let backfill: string[]

  const rejectedRows = (): Promise<RejectedRow[]> =>
    executeSql<RejectedRow>(
      tw.warehouse.db,
      `
    select rejected_id, order_number, day_from::text as day_from, day_to::text as day_to, reason, record
    from etl.rejected_records where site_id = $1 order by rejected_id`,
      [SITE_ID],
    )

  beforeAll(async () => {
    ;[sim, tw] = await Promise.all([
      startSimulator({ now: E2E_NOW, seed: 14, sites: [{ siteId: SITE_ID, token: E2E_TOKEN, dealsPerDay: 5 }] }),
      createTestWarehouse('postgres'),
    ])
    const written = await fetch(`${sim.url}/lead-service/v1/api/client-order/create`, {
      method: 'POST',
      headers: { 'Access-Token': E2E_TOKEN, SiteId: String(SITE_ID), 'content-type': 'application/json' },
      body: WRITTEN_ORDERS,
    })
    expect(written.status, await written.clone().text()).toBe(200)
    const config = writeConfigFile(scratchDir('refused'), {
      baseUrl: sim.url,
      // Deals only: the refused records are deals, and the cases expect the deals' one line and rejected rows.
      sites: [{ id: SITE_ID, tokenEnv: 'CT_TOKEN', streams: ['deals'] }],
      maxRetries: 1,
    })
    backfill = ['backfill', '--config', config, '--from', FROM, '--to', TO]
  })
  afterAll(async () => {
    await Promise.all([sim?.close(), tw?.destroy()])
  })

  it(
    'loads the window with every other deal, counts the refused ones as rejected, and exits 0',
    async () => {
      const result = await runE2eCli(log, backfill, tw.env)
      const served = sim.expectedDeals(SITE_ID, FROM, TO)
      expect(result.exitCode, result.stderr.slice(-1500)).toBe(0)
      expect(result.stdout).toMatch(
        new RegExp(
          `^backfill: 1 site\\(s\\), 5 day\\(s\\), 1 request\\(s\\), 0 retries, ${served.length} record\\(s\\) seen, ${served.length - 3} changed, 3 rejected, \\d+\\.\\d s\\n$`,
        ),
      )
      const keys = await executeSql<{ order_number: string }>(
        tw.warehouse.db,
        `select order_number from calltouch.orders where site_id = $1 order by order_number`,
        [SITE_ID],
      )
      const expected = served.map((deal) => deal.orderNumber).filter((key) => !REFUSED_KEYS.includes(key))
      expect(expected).toContain('LONG-TEXT')
      expect(keys.map((row) => row.order_number)).toEqual(
        expected.sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)),
      )
      expect(
        await executeSql(
          tw.warehouse.db,
          `select day::text as day, status, error from etl.site_days where site_id = $1 order by day`,
          [SITE_ID],
        ),
      ).toEqual(DAYS.map((day) => ({ day, status: 'ok', error: null })))
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('stores the 3,000-character tag and custom field name exactly', async () => {
    const tags = await executeSql<{ tag: string; bytes: number }>(
      tw.warehouse.db,
      `
      select tag, octet_length(tag) as bytes from calltouch.tags where site_id = $1 and order_number = 'LONG-TEXT' order by octet_length(tag)`,
      [SITE_ID],
    )
    expect(tags).toEqual([
      { tag: 'short', bytes: 5 },
      { tag: LONG_TAG, bytes: 5160 },
    ])
    expect(
      await executeSql(
        tw.warehouse.db,
        `select field, value::text as value from calltouch.custom_fields where site_id = $1 and order_number = 'LONG-TEXT'`,
        [SITE_ID],
      ),
    ).toEqual([{ field: LONG_FIELD, value: '7' }])
  })

  it("sends each refused deal to etl.rejected_records with PostgreSQL's message and the record as served", async () => {
    const served = new Map(
      sim.expectedDeals(SITE_ID, FROM, TO).map((deal) => [deal.orderNumber, serializeDealRecord(deal, true)]),
    )
    const rows = await rejectedRows()
    expect(rows.map((row) => row.order_number).sort()).toEqual([...REFUSED_KEYS].sort())
    for (const { orderNumber, message } of REFUSED) {
      const row = rows.find((found) => found.order_number === orderNumber)
      expect(row).toMatchObject({ day_from: FROM, day_to: TO, record: served.get(orderNumber) })
      expect(row?.reason).toMatch(/^PostgreSQL refused the record: [^\n]+$/)
      expect(row?.reason).toContain(message)
    }
    expect(served.get('HUGE-NUMBER')).toContain(`"huge":${HUGE_NUMBER}`)
    expect(served.get('BAD-TEXT')).toContain(`"manager":${LONE_SURROGATE}`)
  })

  it(
    'changes nothing and rejects nothing twice when the same days are read again',
    async () => {
      const before = await warehouseChecksums(tw.warehouse.db, ['calltouch', 'raw'])
      const rejected = await rejectedRows()
      const again = await runE2eCli(log, backfill, tw.env)
      expect(again.exitCode, again.stderr.slice(-1500)).toBe(0)
      expect(again.stdout).toMatch(/ 0 changed, 3 rejected, /)
      expect(await warehouseChecksums(tw.warehouse.db, ['calltouch', 'raw'])).toEqual(before)
      expect(await rejectedRows()).toEqual(rejected)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('never lets the token into an output or a table', async () => {
    expect(log.leaks()).toEqual([])
    expect(await tokenLeaksInWarehouse(tw.warehouse.db)).toEqual([])
  })
})
