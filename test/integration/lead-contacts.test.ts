import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONTACT_MODES, type ContactPolicy } from '../../pipelines/core/pii.ts'
import { calltouchRequestBudget } from '../../pipelines/http/calltouch-api.ts'
import { createRequestLimiter } from '../../pipelines/http/request-limiter.ts'
import { recordContactProtection } from '../../pipelines/sources/calltouch-deals/contact-protection.ts'
import { LeadsClient } from '../../pipelines/sources/calltouch-leads/leads-client.ts'
import { loadCallsWindow, loadRequestsDay } from '../../pipelines/sources/calltouch-leads/load-leads.ts'
import { runTransform } from '../../pipelines/transform/run-transform.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { allRelations, asMetabaseLogin, contactsFound, readableRelations } from '../helpers/contact-scan.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

/*
 * Issue 18, personal data: the leads' caller numbers, client names, phones and e-mails follow the
 * deals' rule (client-contacts.test.ts): nothing the Metabase role can select holds one in clear,
 * in any mode; in hash and drop no table of any schema does.
 */

const SITE = 12345
const TOKEN = 'sim-token'
const DAYS = ['2026-11-20', '2026-11-21', '2026-11-22'] as const
const ROLE = 'calltouch_metabase'
const KEY = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff', 'hex')

describeEachEngine('lead contacts', (engine) => {
  let sim: RunningSimulator
  let callBodies: Uint8Array[]
  let requestBodies: Uint8Array[]
  let contacts: string[]
  beforeAll(async () => {
    sim = await startSimulator({
      port: 0,
      seed: 11,
      rateLimit: false,
      sites: [{ siteId: SITE, token: TOKEN, dealsPerDay: 20 }],
    })
    const limiter = createRequestLimiter(calltouchRequestBudget(5))
    const client = new LeadsClient({
      baseUrl: sim.url,
      siteId: SITE,
      token: TOKEN,
      limiter,
      timeoutMs: 10_000,
      maxRetries: 0,
    })
    const calls = await client.fetchCallsWindow({ dateFrom: DAYS[0], dateTo: DAYS[2] })
    if (calls.kind !== 'read') throw new Error('the calls window was not read whole')
    callBodies = [...calls.bodies]
    requestBodies = []
    for (const day of DAYS) requestBodies.push((await client.fetchRequestsDay(day)).body)
    await limiter.stop()
    // The clients' contacts as served: callers of calls; names, phones and e-mails of requests.
    const found = new Set<string>()
    for (const call of sim.expectedCalls(SITE, DAYS[0], DAYS[2])) if (call.callerNumber) found.add(call.callerNumber)
    for (const request of sim.expectedRequests(SITE, DAYS[0], DAYS[2])) {
      if (request.client.fio) found.add(request.client.fio)
      for (const phone of request.client.phones) found.add(phone.phoneNumber)
      for (const contact of request.client.contacts) found.add(contact.contactValue)
    }
    contacts = [...found]
  })
  afterAll(async () => {
    await sim?.close()
  })

  for (const mode of CONTACT_MODES) {
    describe(`in mode ${mode}`, () => {
      let tw: TestWarehouse
      const login = `lead_scan_${engine}_${mode}_${process.pid}`
      beforeAll(async () => {
        tw = await createTestWarehouse(engine)
        const db = tw.warehouse.db
        const policy: ContactPolicy = { mode, key: KEY }
        await recordContactProtection(db, policy)
        const runId = await startRun(db, 'backfill')
        await loadCallsWindow(db, {
          runId,
          siteId: SITE,
          firstDay: DAYS[0],
          lastDay: DAYS[2],
          bodies: callBodies,
          contacts: policy,
        })
        for (const [index, day] of DAYS.entries())
          await loadRequestsDay(db, {
            runId,
            siteId: SITE,
            day,
            body: requestBodies[index] as Uint8Array,
            contacts: policy,
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

      it('leaves no caller number, name, phone or e-mail of a lead in anything the Metabase role can select', async () => {
        expect(contacts.length).toBeGreaterThan(50)
        const { readable, found } = await asMetabaseLogin(tw.warehouse, login, async (db) => {
          const relations = await readableRelations(db)
          return { readable: relations, found: await contactsFound(db, relations, contacts) }
        })
        expect(readable.map((relation) => `${relation.schema}.${relation.name}`)).toEqual(
          expect.arrayContaining(['analytics.fct_leads', 'analytics.fct_funnel_daily']),
        )
        expect(found).toEqual({})
      })

      it(`stores in every table of every schema what mode ${mode} allows`, async () => {
        const found = await contactsFound(tw.warehouse.db, await allRelations(tw.warehouse), contacts)
        // keep: the clear contacts are where the owner reads them, and nowhere the models put them.
        expect(Object.keys(found).sort()).toEqual(
          mode === 'keep'
            ? ['calltouch.calls', 'calltouch.requests', 'raw.calltouch_calls', 'raw.calltouch_requests']
            : [],
        )
      })
    })
  }
})
