import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONTACT_MODES, type ContactMode, type ContactPolicy } from '../../pipelines/core/pii.ts'
import { recordContactProtection } from '../../pipelines/sources/calltouch-deals/contact-protection.ts'
import { loadWindow } from '../../pipelines/sources/calltouch-deals/load-window.ts'
import { runTransform } from '../../pipelines/transform/run-transform.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { startSimulator, type DealRecord, type RunningSimulator } from '../../simulator/index.ts'
import { HUGE_NUMBER } from '../helpers/poison-records.ts'
import { allRelations, asMetabaseLogin, contactsFound, readableRelations } from '../helpers/contact-scan.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 12345
const TOKEN = 'sim-token'
const ZONE = 'Europe/Moscow'
const FIRST_DAY = '2026-11-20'
const LAST_DAY = '2026-11-22'
const ROLE = 'calltouch_metabase'
const INSUFFICIENT_PRIVILEGE = '42501'
const KEY = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff', 'hex')

/** Two records of the window's last page that do not load, each with contacts of its own. */
const REJECTED_PHONE = '79990000001'
const REJECTED_NAME = 'Отвергнутый Клиент'
const REFUSED_PHONE = '79990000002'
const REFUSED_NAME = 'Отложенный Клиент'
const POISON_PAGE =
  `{"page":1,"pageTotal":1,"recordsTotal":2,"records":[` +
  `{"orderNumber":"PII-REJECTED","orderDate":"21/11/2026 10:00:00","plannedAmount":"not a number","client":{"phones":"${REJECTED_PHONE}","fio":"${REJECTED_NAME}"},"orderSource":{"type":"CALL","ani":"${REJECTED_PHONE}"}},` +
  `{"orderNumber":"PII-REFUSED","orderDate":"21/11/2026 11:00:00","custom":{"x":${HUGE_NUMBER}},"client":{"phones":"${REFUSED_PHONE}","fio":"${REFUSED_NAME}"},"orderSource":{"type":"CALL","ani":"${REFUSED_PHONE}"}}` +
  `]}`

/** Every page of dateFrom..dateTo as the export serves it. */
async function fetchPages(url: string): Promise<string[]> {
  const pages: string[] = []
  for (let page = 1; ; page++) {
    const query = new URLSearchParams({
      clientApiId: TOKEN,
      dateFrom: '20/11/2026',
      dateTo: '22/11/2026',
      page: String(page),
      limit: '100',
      withOrdersTags: 'true',
      withAllOrderOrigins: 'true',
    })
    const response = await fetch(`${url}/calls-service/RestAPI/${SITE}/orders-diary/orders?${query.toString()}`)
    const body = await response.text()
    pages.push(body)
    if (page >= (JSON.parse(body) as { pageTotal: number }).pageTotal) return pages
  }
}

const hmac = (text: string): string => createHmac('sha256', KEY).update(text, 'utf8').digest('hex')

/** The clear contacts of the served deals and of the two poison records: phones (client and caller) and names. */
function contactsOf(served: readonly DealRecord[]): string[] {
  const contacts = new Set<string>([REJECTED_PHONE, REJECTED_NAME, REFUSED_PHONE, REFUSED_NAME])
  for (const deal of served) {
    if (deal.client.phones !== null) contacts.add(deal.client.phones)
    if (deal.client.fio !== null) contacts.add(deal.client.fio)
    if (deal.orderSource?.type === 'CALL' && deal.orderSource.ani !== null) contacts.add(deal.orderSource.ani)
  }
  return [...contacts]
}

describeEachEngine('client contacts', (engine) => {
  let sim: RunningSimulator
  let pages: string[]
  let served: DealRecord[]
  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      seed: 7,
      rateLimit: false,
      sites: [{ siteId: SITE, token: TOKEN, dealsPerDay: 40 }],
    })
    pages = [...(await fetchPages(sim.url)), POISON_PAGE]
    served = sim.expectedDeals(SITE, FIRST_DAY, LAST_DAY)
  })
  afterAll(async () => {
    await sim?.close()
  })

  for (const mode of CONTACT_MODES) {
    describe(`in mode ${mode}`, () => {
      let tw: TestWarehouse
      const login = `pii_scan_${engine}_${mode}_${process.pid}`
      beforeAll(async () => {
        tw = await createTestWarehouse(engine)
        const db = tw.warehouse.db
        const policy: ContactPolicy = { mode, key: KEY }
        await recordContactProtection(db, policy)
        const runId = await startRun(db, 'backfill')
        const result = await loadWindow(db, {
          runId,
          siteId: SITE,
          timeZone: ZONE,
          firstDay: FIRST_DAY,
          lastDay: LAST_DAY,
          pages,
          contacts: policy,
        })
        expect({ seen: result.seen, changed: result.changed, rejected: result.rejected }).toEqual({
          seen: served.length + 2,
          changed: served.length,
          rejected: 2,
        })
        const transform = await runTransform(db)
        expect(transform.models.filter((model) => model.status !== 'built')).toEqual([])
        await executeSql(db, `create role ${login} login in role ${ROLE}`)
      })
      afterAll(async () => {
        if (tw !== undefined) {
          await executeSql(tw.warehouse.db, `drop role if exists ${login}`).catch(() => {})
          await tw.destroy()
        }
      })

      it('leaves no phone or name of the clients in any table or view the Metabase role can select', async () => {
        const contacts = contactsOf(served)
        expect(contacts.length).toBeGreaterThan(100)
        const { readable, found } = await asMetabaseLogin(tw.warehouse, login, async (db) => {
          const relations = await readableRelations(db)
          return { readable: relations, found: await contactsFound(db, relations, contacts) }
        })
        expect(new Set(readable.map((relation) => relation.schema))).toEqual(new Set(['analytics']))
        expect(readable.map((relation) => relation.name)).toEqual(
          expect.arrayContaining(['fct_deals', 'fct_marketing_daily']),
        )
        expect(found).toEqual({})
      })

      it('cannot select the staging and intermediate views, the calltouch tables or the raw payloads', async () => {
        const relations = [
          'analytics_staging.stg_calltouch__orders',
          'analytics_staging.stg_calltouch__sources',
          'analytics_staging.int_deals_attributed',
          'calltouch.orders',
          'calltouch.sources',
          'raw.calltouch_orders',
          'etl.rejected_records',
        ]
        const states: [string, string][] = []
        for (const relation of relations) {
          const state = await asMetabaseLogin(tw.warehouse, login, async (db) => {
            try {
              await executeSql(db, `select * from ${relation} limit 1`)
              return 'ok'
            } catch (error) {
              return String((error as { code?: unknown }).code)
            }
          })
          states.push([relation, state])
        }
        expect(states).toEqual(relations.map((relation) => [relation, INSUFFICIENT_PRIVILEGE]))
      })

      it('gives each deal the HMAC-SHA256 of its normalized phone as client_key, in calltouch.orders and fct_deals', async () => {
        const expected = served
          .map((deal) => ({
            order_number: deal.orderNumber,
            client_key: deal.client.phones === null ? null : hmac(deal.client.phones),
          }))
          .sort((a, b) => (a.order_number < b.order_number ? -1 : 1))
        const query = (table: string): Promise<{ order_number: string; client_key: string | null }[]> =>
          executeSql(tw.warehouse.db, `select order_number, client_key from ${table} order by order_number collate "C"`)
        expect(await query('calltouch.orders')).toEqual(expected)
        expect(await query('analytics.fct_deals')).toEqual(expected)
        const [counts] = await executeSql<{ clients: number; repeat_clients: number }>(
          tw.warehouse.db,
          `select count(distinct client_key)::int as clients,
             (select count(*)::int from (select client_key from analytics.fct_deals where client_key is not null
               group by client_key having count(*) > 1) r) as repeat_clients
           from analytics.fct_deals`,
        )
        const perPhone = new Map<string, number>()
        for (const deal of served)
          if (deal.client.phones !== null) perPhone.set(deal.client.phones, (perPhone.get(deal.client.phones) ?? 0) + 1)
        expect(counts).toEqual({
          clients: perPhone.size,
          repeat_clients: [...perPhone.values()].filter((deals) => deals > 1).length,
        })
      })

      it(`stores in every table of every schema what mode ${mode} allows`, async () => {
        const contacts = contactsOf(served)
        const found = await contactsFound(tw.warehouse.db, await allRelations(tw.warehouse), contacts)
        if (mode === 'keep') {
          expect(Object.keys(found).sort()).toEqual([
            'calltouch.orders',
            'calltouch.sources',
            'etl.rejected_records',
            'raw.calltouch_orders',
          ])
        } else {
          expect(found).toEqual({})
        }
      })

      it(`stores the contacts of calltouch.orders and calltouch.sources as mode ${mode} says`, async () => {
        const stored = await executeSql<{ order_number: string; phones: string | null; fio: string | null }>(
          tw.warehouse.db,
          `select order_number, client_phones as phones, client_fio as fio from calltouch.orders order by order_number collate "C"`,
        )
        const callers = await executeSql<{ order_number: string; caller: string | null }>(
          tw.warehouse.db,
          `select order_number, caller_phone as caller from calltouch.sources where source_type = 'CALL' order by order_number collate "C"`,
        )
        const byNumber = [...served].sort((a, b) => (a.orderNumber < b.orderNumber ? -1 : 1))
        const as = (value: string | null, normalized: (text: string) => string): string | null => {
          if (value === null || mode === 'drop') return null
          return mode === 'keep' ? value : hmac(normalized(value))
        }
        expect(stored).toEqual(
          byNumber.map((deal) => ({
            order_number: deal.orderNumber,
            phones: as(deal.client.phones, (text) => text),
            fio: as(deal.client.fio, (text) => text.trim().replace(/\s+/g, ' ').toLowerCase()),
          })),
        )
        expect(callers).toEqual(
          byNumber.flatMap((deal) =>
            deal.orderSource?.type === 'CALL'
              ? [{ order_number: deal.orderNumber, caller: as(deal.orderSource.ani, (text) => text) }]
              : [],
          ),
        )
      })

      it('loads the same pages again without a change: the protected payload compares equal', async () => {
        const db = tw.warehouse.db
        const runId = await startRun(db, 'sync')
        const again = await loadWindow(db, {
          runId,
          siteId: SITE,
          timeZone: ZONE,
          firstDay: FIRST_DAY,
          lastDay: LAST_DAY,
          pages,
          contacts: { mode, key: KEY },
        })
        expect({ landed: again.landed, changed: again.changed }).toEqual({ landed: 0, changed: 0 })
      })

      it('refuses a run under another mode or another key, before anything is written', async () => {
        const other: ContactMode = mode === 'keep' ? 'hash' : 'keep'
        await expect(recordContactProtection(tw.warehouse.db, { mode: other, key: KEY })).rejects.toMatchObject({
          code: 'CONFIG',
          message: expect.stringContaining(`loaded with CALLTOUCH_ETL_PII=${mode}, and this run asks for ${other}`),
        })
        await expect(
          recordContactProtection(tw.warehouse.db, { mode, key: Buffer.alloc(32, 7) }),
        ).rejects.toMatchObject({
          code: 'CONFIG',
          message: expect.stringContaining('client keys were made with another PII key'),
        })
        await expect(recordContactProtection(tw.warehouse.db, { mode, key: KEY })).resolves.toBeUndefined()
      })
    })
  }
})
