import { DateTime } from 'luxon'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readWarehouseStatus } from '../../pipelines/operate/site-status.ts'
import { describeStatus } from '../../pipelines/cli/commands/status.ts'
import {
  loadCallsWindow,
  loadRequestsDay,
  recordLeadsFailure,
} from '../../pipelines/sources/calltouch-leads/load-leads.ts'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { recordLoadedDays } from '../../pipelines/warehouse/ledger.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 4321
const ZONE = 'Europe/Moscow'

describeEachEngine('status of a site’s lead streams', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('judges calls and requests as the deals: a failed requests day makes the site failing, with the stream named', async () => {
    const db = tw.warehouse.db
    const runId = await startRun(db, 'sync')
    const yesterday = DateTime.now().setZone(ZONE).minus({ days: 1 })
    const day = yesterday.toISODate() as string
    const dayFirst = yesterday.toFormat('dd/MM/yyyy')
    await recordLoadedDays(
      db,
      { source: 'calltouch-deals', account: String(SITE) },
      {
        firstDay: day,
        lastDay: day,
        runId,
        recordsByDay: {},
      },
    )
    const calls = [1, 2, 3].map((id) => `{"callId":${id},"date":"${dayFirst} 10:0${id}:00","timestamp":1}`)
    await loadCallsWindow(db, { runId, siteId: SITE, firstDay: day, lastDay: day, bodies: [`[${calls.join(',')}]`] })
    await loadRequestsDay(db, { runId, siteId: SITE, day, body: '[]' })
    const failedDay = yesterday.minus({ days: 1 }).toISODate() as string
    await recordLeadsFailure(db, 'requests', {
      runId,
      siteId: SITE,
      firstDay: failedDay,
      lastDay: failedDay,
      error: 'requests of site 4321 on that day: HTTP 500 from Calltouch',
    })
    const [ledger] = await executeSql<{ calls: Date; requests: Date; extracted: Date }>(
      db,
      `select max(last_succeeded_at) filter (where source = 'calltouch-calls') as calls,
              max(last_succeeded_at) filter (where source = 'calltouch-requests') as requests,
              max(last_extracted_at) filter (where source = 'calltouch-requests' and status = 'failed') as extracted
       from etl.ledger where account = $1`,
      [String(SITE)],
    )
    const now = new Date()
    const status = await readWarehouseStatus(db, {
      sites: [{ siteId: SITE, timeZone: ZONE }],
      defaultTimeZone: ZONE,
      now,
    })
    const [site] = status.sites
    expect(site?.state).toBe('failing')
    expect(site?.problems).toEqual([
      `requests: 1 day(s) failed, first ${failedDay}: requests of site 4321 on that day: HTTP 500 from Calltouch`,
    ])
    const hours = (at: Date | undefined): number => Math.round((now.getTime() - (at as Date).getTime()) / 360_000) / 10
    expect(site?.leadStreams).toEqual([
      {
        stream: 'calls',
        lastSuccessAt: ledger?.calls.toISOString(),
        hoursSinceSuccess: hours(ledger?.calls),
        newestOkDay: day,
        failedDays: [],
        leads: { total: 3, recent: 3 },
      },
      {
        stream: 'requests',
        lastSuccessAt: ledger?.requests.toISOString(),
        hoursSinceSuccess: hours(ledger?.requests),
        newestOkDay: day,
        failedDays: [
          {
            day: failedDay,
            error: 'requests of site 4321 on that day: HTTP 500 from Calltouch',
            attempts: 1,
            lastExtractedAt: ledger?.extracted.toISOString(),
          },
        ],
        leads: { total: 0, recent: 0 },
      },
    ])
    const text = describeStatus(status).split('\n')
    expect(text[3]).toMatch(/^│ 4321 │ failing │ .+ │ +1 │ +1 │ +0 │ +0 │ +0 │ +3 │ +0 of 0 │$/)
    expect(text.slice(5)).toEqual([
      `site 4321 failing: requests: 1 day(s) failed, first ${failedDay}: requests of site 4321 on that day: HTTP 500 from Calltouch`,
      `  requests ${failedDay} failed (1 attempt(s)): requests of site 4321 on that day: HTTP 500 from Calltouch`,
      'Not healthy: a site is failing, or stale beyond 36 h.',
    ])
  })
})
