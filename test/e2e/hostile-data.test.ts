import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
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
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 970
const FROM = '2026-11-16'
const TO = '2026-11-20'
const MAX_38 = '9'.repeat(38)
const SQL = "'); drop table calltouch.orders; --"
const QUOTES = 'tag "quoted"; it\'s; semi;colon'
const EMOJI = 'ракета 🚀 👩‍👩‍👧'
const CLI_TEST_TIMEOUT_MS = 240_000

/**
 * Deals written through the simulator's write API, as a CRM would. The body is
 * text so the 38-digit values go over the wire as JSON numbers, digit for digit.
 */
const HOSTILE_ORDERS = `{"crm": "AmoCRM", "orders": [
  {"orderNumber": "HOSTILE-NUMBERS", "orderDate": "18/11/2026 10:00:00", "status": "final", "revenue": 1500.5,
   "manager": ${JSON.stringify(QUOTES)}, "client": {"phones": "+7 (495) 000-00-00", "fio": ${JSON.stringify(EMOJI)}},
   "customFields": {"max": ${MAX_38}, "min": -${MAX_38}, ${JSON.stringify(SQL)}: 1, ${JSON.stringify(QUOTES)}: -1, ${JSON.stringify(EMOJI)}: 0},
   "addTags": [${JSON.stringify(SQL)}, ${JSON.stringify(QUOTES)}, ${JSON.stringify(EMOJI)}]},
  {"orderNumber": ${JSON.stringify(SQL)}, "orderDate": "18/11/2026 11:00:00"},
  {"orderNumber": "HOSTILE-NUL", "orderDate": "19/11/2026 12:00:00", "manager": "nul\\u0000manager",
   "customFields": {"nul\\u0000field": 5}, "addTags": ["nul\\u0000tag"]}
]}`

interface OrderRow {
  order_number: string
  status: string | null
  manager: string | null
  completed_amount: string | null
  client_phones: string | null
  client_fio: string | null
  source_type: string | null
}

describePostgres('hostile data from the API', () => {
  const log = new OutputLog()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let backfill: string[]

  beforeAll(async () => {
    ;[sim, tw] = await Promise.all([
      startSimulator({ now: E2E_NOW, seed: 9, sites: [{ siteId: SITE_ID, token: E2E_TOKEN, dealsPerDay: 5 }] }),
      createTestWarehouse('postgres'),
    ])
    const written = await fetch(`${sim.url}/lead-service/v1/api/client-order/create`, {
      method: 'POST',
      headers: { 'Access-Token': E2E_TOKEN, SiteId: String(SITE_ID), 'content-type': 'application/json' },
      body: HOSTILE_ORDERS,
    })
    expect(written.status, await written.clone().text()).toBe(200)
    const config = writeConfigFile(scratchDir('hostile'), {
      baseUrl: sim.url,
      // Deals only: the hostile records are deals, and the first case expects their one summary line.
      sites: [{ id: SITE_ID, tokenEnv: 'CT_TOKEN', streams: ['deals'] }],
      maxRetries: 1,
    })
    backfill = ['backfill', '--config', config, '--from', FROM, '--to', TO]
  })
  afterAll(async () => {
    await Promise.all([sim?.close(), tw?.destroy()])
  })

  it(
    'loads every deal, hostile ones included, without a rejection, exit code 0',
    async () => {
      const result = await runE2eCli(log, backfill, tw.env)
      const deals = sim.expectedDeals(SITE_ID, FROM, TO).length
      expect(result.exitCode, result.stderr.slice(-1500)).toBe(0)
      expect(result.stdout).toMatch(
        new RegExp(
          `^backfill: 1 site\\(s\\), 5 day\\(s\\), 1 request\\(s\\), 0 retries, ${deals} record\\(s\\) seen, ${deals} changed, 0 rejected, \\d+\\.\\d s\\n$`,
        ),
      )
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('keeps custom values of 38 nines, negative too, and field names with quotes, SQL and emoji, exactly', async () => {
    const rows = await executeSql<{ field: string; value: string }>(
      tw.warehouse.db,
      `select field, value::text as value from calltouch.custom_fields where site_id = $1 and order_number = 'HOSTILE-NUMBERS' order by field collate "C"`,
      [SITE_ID],
    )
    expect(rows).toEqual([
      { field: SQL, value: '1' },
      { field: 'max', value: MAX_38 },
      { field: 'min', value: `-${MAX_38}` },
      { field: QUOTES, value: '-1' },
      { field: EMOJI, value: '0' },
    ])
  })

  it('keeps tags, managers and client names with quotes, SQL and emoji exactly, and a deal whose number is SQL', async () => {
    const tags = await executeSql<{ tag: string }>(
      tw.warehouse.db,
      `select tag from calltouch.tags where site_id = $1 and order_number = 'HOSTILE-NUMBERS' order by tag collate "C"`,
      [SITE_ID],
    )
    expect(tags.map((row) => row.tag)).toEqual([SQL, QUOTES, EMOJI])
    const orders = await executeSql<OrderRow>(
      tw.warehouse.db,
      `
      select order_number, status, manager, completed_amount::text as completed_amount, client_phones, client_fio, source_type
      from calltouch.orders where site_id = $1 and order_number in ('HOSTILE-NUMBERS', $2) order by order_number collate "C"`,
      [SITE_ID, SQL],
    )
    expect(orders).toEqual([
      {
        order_number: SQL,
        status: 'start',
        manager: null,
        completed_amount: null,
        client_phones: null,
        client_fio: null,
        source_type: null,
      },
      {
        order_number: 'HOSTILE-NUMBERS',
        status: 'final',
        manager: QUOTES,
        completed_amount: '1500.50',
        client_phones: '+7 (495) 000-00-00',
        client_fio: EMOJI,
        source_type: null,
      },
    ])
  })

  it('loads a deal with no manager, no client, no call or request and no visit with nulls and no child rows', async () => {
    const [counts] = await executeSql<{ sources: number; visits: number; tags: number; custom: number }>(
      tw.warehouse.db,
      `
      select (select count(*)::integer from calltouch.sources where site_id = $1 and order_number = $2) as sources,
        (select count(*)::integer from calltouch.visits where site_id = $1 and order_number = $2) as visits,
        (select count(*)::integer from calltouch.tags where site_id = $1 and order_number = $2) as tags,
        (select count(*)::integer from calltouch.custom_fields where site_id = $1 and order_number = $2) as custom`,
      [SITE_ID, SQL],
    )
    expect(counts).toEqual({ sources: 0, visits: 0, tags: 0, custom: 0 })
  })

  it('turns U+0000, which PostgreSQL text cannot hold, into U+FFFD and loads the deal rather than failing its window', async () => {
    const [order] = await executeSql<{ manager: string }>(
      tw.warehouse.db,
      `select manager from calltouch.orders where site_id = $1 and order_number = 'HOSTILE-NUL'`,
      [SITE_ID],
    )
    expect(order).toEqual({ manager: 'nul\uFFFDmanager' })
    const [child] = await executeSql<{ tag: string; field: string; value: string }>(
      tw.warehouse.db,
      `
      select t.tag, c.field, c.value::text as value from calltouch.tags t join calltouch.custom_fields c using (site_id, order_number)
      where t.site_id = $1 and t.order_number = 'HOSTILE-NUL'`,
      [SITE_ID],
    )
    expect(child).toEqual({ tag: 'nul\uFFFDtag', field: 'nul\uFFFDfield', value: '5' })
  })

  it('keeps fields the pipeline does not know in the raw payload, exactly as served', async () => {
    // funnel is in no normalized table: the raw landing is where it survives.
    const served = sim.expectedDeals(SITE_ID, FROM, TO).filter((deal) => deal.orderNumber !== 'HOSTILE-NUL')
    const raw = await executeSql<{
      order_number: string
      funnel: string | null
      has_funnel: boolean
      max: string | null
    }>(
      tw.warehouse.db,
      `
      select order_number, payload ->> 'funnel' as funnel, payload ? 'funnel' as has_funnel, payload -> 'custom' ->> 'max' as max
      from raw.calltouch_orders where site_id = $1 and order_number <> 'HOSTILE-NUL' order by order_number collate "C"`,
      [SITE_ID],
    )
    expect(raw).toEqual(
      served
        .map((deal) => ({
          order_number: deal.orderNumber,
          funnel: deal.funnel ?? null,
          has_funnel: true,
          max: deal.orderNumber === 'HOSTILE-NUMBERS' ? MAX_38 : null,
        }))
        .sort((a, b) => (Buffer.from(a.order_number) < Buffer.from(b.order_number) ? -1 : 1)),
    )
  })

  it(
    'loads the same hostile pages again without a change, and the tables are all still there',
    async () => {
      const before = await warehouseChecksums(tw.warehouse.db, ['calltouch', 'raw'])
      const again = await runE2eCli(log, backfill, tw.env)
      expect(again.exitCode).toBe(0)
      expect(again.stdout).toMatch(/ 0 changed, 0 rejected, /)
      expect(await warehouseChecksums(tw.warehouse.db, ['calltouch', 'raw'])).toEqual(before)
      expect(Object.keys(before)).toEqual([
        'calltouch.call_tags',
        'calltouch.calls',
        'calltouch.custom_fields',
        'calltouch.orders',
        'calltouch.request_tags',
        'calltouch.requests',
        'calltouch.sources',
        'calltouch.tags',
        'calltouch.visits',
        'raw.calltouch_calls',
        'raw.calltouch_orders',
        'raw.calltouch_requests',
      ])
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('never lets the token into an output or a table', async () => {
    expect(log.leaks()).toEqual([])
    expect(await tokenLeaksInWarehouse(tw.warehouse.db)).toEqual([])
  })
})
