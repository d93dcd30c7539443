import { afterAll, beforeAll, expect, it } from 'vitest'
import { hashedContact, keyedHash } from '../../pipelines/core/pii.ts'
import {
  loadCallsWindow,
  loadRequestsDay,
  type LeadsLoadResult,
} from '../../pipelines/sources/calltouch-leads/load-leads.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { MAX_ISOLATION_TRIALS } from '../../pipelines/warehouse/record-isolation.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { HUGE_NUMBER, LONE_SURROGATE, LONG_ORDER_NUMBER, LONG_TAG } from '../helpers/poison-records.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 18018
const KEY = Buffer.alloc(32, 5)

/** A call of `day` (dd/mm/yyyy) as JSON text; `fields` are JSON literals that replace or add members. */
function call(callId: string, day: string, fields: Record<string, string> = {}): string {
  const members: Record<string, string> = {
    callId,
    date: `"${day} 12:00:00"`,
    timestamp: '1714567324',
    duration: '1',
    callerNumber: '"79161234567"',
    callTags: '[{"category":"manual","type":"manual","names":["a"]}]',
    ...fields,
  }
  return `{${Object.entries(members)
    .map(([key, value]) => `${JSON.stringify(key)}:${value}`)
    .join(',')}}`
}

const CLIENT = '{"clientId":4455,"fio":"Иван","phones":[{"phoneNumber":"8 916 123-45-67"}]}'

/** A request of 10 February 2024 as JSON text, as `call`. */
function request(requestId: string, fields: Record<string, string> = {}): string {
  const members: Record<string, string> = {
    requestId,
    requestNumber: `"N-${requestId}"`,
    date: '1707568924000',
    dateStr: '"10/02/2024 15:42:04"',
    client: CLIENT,
    ...fields,
  }
  return `{${Object.entries(members)
    .map(([key, value]) => `${JSON.stringify(key)}:${value}`)
    .join(',')}}`
}

/** The text a call set aside in mode hash is kept with: as received, without its callerNumber. */
const withoutCaller = (text: string): string => text.replace(',"callerNumber":"79161234567"', '')

const envelope = (records: readonly string[]): string =>
  `{"page":1,"pageTotal":2,"pageSize":1000,"recordsTotal":${records.length},"records":[${records.join(',')}]}`

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)

/** Calls PostgreSQL refuses or the loader cannot load, each for a reason of its own, with the reason it is rejected for. */
const REFUSED_CALLS = [
  {
    id: '901',
    text: call('901', '01/05/2024', { timestamp: '-999999999999' }),
    reason: 'timestamp -999999999999 is before 4714-11-24 BC, the first time PostgreSQL holds',
  },
  {
    id: '902',
    text: call('902', '01/05/2024', {
      callTags: `[{"category":"manual","type":"manual","names":[${JSON.stringify(LONG_TAG)}]}]`,
    }),
    reason:
      'PostgreSQL refused the record: index row size 5208 exceeds btree version 4 maximum 2704 for index "call_tags_pkey"',
  },
  {
    id: '903',
    text: call('903', '01/05/2024', { source: HUGE_NUMBER }),
    reason: 'PostgreSQL refused the record: value overflows numeric format',
  },
  {
    id: '904',
    text: call('904', '01/05/2024', { keyword: LONE_SURROGATE }),
    reason:
      'PostgreSQL refused the record: invalid input syntax for type json (Unicode low surrogate must follow a high surrogate.)',
  },
  {
    id: '905',
    text: call('905', '02/05/2024', { attrs: nested(1_001) }),
    reason: 'the record nests arrays and objects 1002 levels deep, more than the 1000 the warehouse takes',
  },
] as const

/** A calls window of two pages: good calls, the refused ones, a caller's number of 3,000 characters, and call 7 read twice (as "07", then 7). */
const CALL_PAGES = [
  envelope([
    call('1', '01/05/2024'),
    REFUSED_CALLS[0].text,
    call('2', '01/05/2024'),
    REFUSED_CALLS[1].text,
    call('"07"', '02/05/2024', { duration: '70' }),
    REFUSED_CALLS[2].text,
    call('906', '01/05/2024', { callerNumber: JSON.stringify(LONG_ORDER_NUMBER) }),
  ]),
  `[${[call('3', '02/05/2024'), REFUSED_CALLS[3].text, REFUSED_CALLS[4].text, call('7', '02/05/2024', { duration: '7' })].join(',')}]`,
]

describeEachEngine('loading calls and requests that PostgreSQL refuses', (engine) => {
  let tw: TestWarehouse
  let db: WarehouseDb
  let runId: string
  /** What loading CALL_PAGES into SITE first gave. */
  let firstLoad: LeadsLoadResult
  beforeAll(async () => {
    tw = await createTestWarehouse(engine)
    db = tw.warehouse.db
    runId = await startRun(db, 'backfill')
    firstLoad = await loadCalls(SITE, CALL_PAGES)
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  /** What the warehouse kept of a site's calls: rows, ledger days, rejected records. */
  const keptOf = (site: number): Promise<unknown[]> =>
    executeSql(
      db,
      `select (select count(*) from calltouch.calls where site_id = $1)::integer as calls,
        (select count(*) from etl.ledger where account = $1::text)::integer as days,
        (select count(*) from etl.rejected_records where site_id = $1)::integer as rejected`,
      [site],
    )
  const CALLER = keyedHash(KEY, '79161234567')
  const loadCalls = (siteId: number, bodies: readonly string[], firstDay = '2024-05-01', lastDay = '2024-05-02') =>
    loadCallsWindow(db, { runId, siteId, firstDay, lastDay, bodies, contacts: { mode: 'hash', key: KEY } })

  it('loads every other call of the window, counts its days loaded, and rejects each refused call once', async () => {
    expect(firstLoad).toEqual({
      seen: 10,
      landed: 5,
      changed: 5,
      rejected: 5,
      removed: 0,
      recordsByDay: { '2024-05-01': 3, '2024-05-02': 2 },
    })
    expect(
      await executeSql(
        db,
        `select call_id::text, call_day::text, duration_seconds, caller_number from calltouch.calls where site_id = $1 order by call_id`,
        [SITE],
      ),
    ).toEqual([
      { call_id: '1', call_day: '2024-05-01', duration_seconds: 1, caller_number: CALLER },
      { call_id: '2', call_day: '2024-05-01', duration_seconds: 1, caller_number: CALLER },
      { call_id: '3', call_day: '2024-05-02', duration_seconds: 1, caller_number: CALLER },
      { call_id: '7', call_day: '2024-05-02', duration_seconds: 7, caller_number: CALLER },
      {
        call_id: '906',
        call_day: '2024-05-01',
        duration_seconds: 1,
        caller_number: hashedContact(KEY, 'phone', LONG_ORDER_NUMBER),
      },
    ])
    expect(
      await executeSql(
        db,
        `select day::text as day, status, records, error from etl.ledger where source = 'calltouch-calls' and account = $1 order by day`,
        [String(SITE)],
      ),
    ).toEqual([
      { day: '2024-05-01', status: 'ok', records: 3, error: null },
      { day: '2024-05-02', status: 'ok', records: 2, error: null },
    ])
  })

  it("keeps each refused call with its reason on one line, PostgreSQL's message when PostgreSQL refused it, and its text without the caller's number", async () => {
    const rejected = await executeSql<{ order_number: string; reason: string; record: string }>(
      db,
      `select order_number, reason, record from etl.rejected_records
       where site_id = $1 and source = 'calltouch-calls' and run_id = $2 order by order_number`,
      [SITE, runId],
    )
    expect(rejected.map(({ order_number, reason }) => ({ order_number, reason }))).toEqual(
      REFUSED_CALLS.map(({ id, reason }) => ({ order_number: id, reason })),
    )
    for (const [index, refused] of REFUSED_CALLS.entries()) {
      const { record } = rejected[index] as { record: string }
      const received = JSON.parse(refused.text) as Record<string, unknown>
      if (refused.id === '901') {
        // Rejected once staged: PostgreSQL's text of the record, its contact protected as any other's.
        expect(JSON.parse(record)).toEqual({ ...received, callerNumber: CALLER })
      } else if (refused.id === '902') {
        // Refused once staged: PostgreSQL's text of the record as received, its contact left out.
        delete received.callerNumber
        expect(JSON.parse(record)).toEqual(received)
      } else {
        expect(record).toBe(withoutCaller(refused.text))
      }
    }
  })

  it('changes nothing and rejects nothing twice when the same window is loaded again', async () => {
    const before = await executeSql(
      db,
      `select xmin::text, * from etl.rejected_records where site_id = $1 order by 2`,
      [SITE],
    )
    expect(await loadCalls(SITE, CALL_PAGES)).toEqual({
      seen: 10,
      landed: 0,
      changed: 0,
      rejected: 5,
      removed: 0,
      recordsByDay: { '2024-05-01': 3, '2024-05-02': 2 },
    })
    expect(
      await executeSql(db, `select xmin::text, * from etl.rejected_records where site_id = $1 order by 2`, [SITE]),
    ).toEqual(before)
  })

  it('keeps a call whose new version is refused as it was, not removed', async () => {
    const site = SITE + 1
    const day = (bodies: string[]) => loadCalls(site, bodies, '2024-05-03', '2024-05-03')
    await day([`[${call('50', '03/05/2024')},${call('51', '03/05/2024')}]`])
    const refused = call('50', '03/05/2024', { duration: '2', source: HUGE_NUMBER })
    expect(await day([`[${refused},${call('51', '03/05/2024', { duration: '2' })}]`])).toEqual({
      seen: 2,
      landed: 1,
      changed: 1,
      rejected: 1,
      removed: 0,
      recordsByDay: { '2024-05-03': 1 },
    })
    expect(
      await executeSql(
        db,
        `select call_id::text, duration_seconds, removed_from_source_at from calltouch.calls where site_id = $1 order by call_id`,
        [site],
      ),
    ).toEqual([
      { call_id: '50', duration_seconds: 1, removed_from_source_at: null },
      { call_id: '51', duration_seconds: 2, removed_from_source_at: null },
    ])
  })

  it('loads the other requests of a day and rejects a requestNumber too long to index, a time before 4714 BC and a lone surrogate, without the client in mode drop', async () => {
    const site = SITE + 2
    const refused = [
      request('901', { requestNumber: JSON.stringify(LONG_TAG) }),
      request('902', { date: '-999999999999999' }),
      request('903', { subject: LONE_SURROGATE }),
    ]
    const body = `[${[request('1'), ...refused, request('2')].join(',')}]`
    const load = () =>
      loadRequestsDay(db, { runId, siteId: site, day: '2024-02-10', body, contacts: { mode: 'drop', key: KEY } })
    const loaded = {
      seen: 5,
      landed: 2,
      changed: 2,
      rejected: 3,
      removed: 0,
      recordsByDay: { '2024-02-10': 2 },
    }
    expect(await load()).toEqual(loaded)
    expect(await load()).toEqual({ ...loaded, landed: 0, changed: 0 })
    expect(
      await executeSql(
        db,
        `select request_id::text, request_number, client_name from calltouch.requests where site_id = $1 order by request_id`,
        [site],
      ),
    ).toEqual([
      { request_id: '1', request_number: 'N-1', client_name: null },
      { request_id: '2', request_number: 'N-2', client_name: null },
    ])
    const rejected = await executeSql<{ order_number: string; reason: string; record: string }>(
      db,
      `select order_number, reason, record from etl.rejected_records where site_id = $1 order by order_number`,
      [site],
    )
    expect(rejected.map(({ order_number, reason }) => ({ order_number, reason }))).toEqual([
      {
        order_number: '901',
        reason:
          'PostgreSQL refused the record: index row size 5176 exceeds btree version 4 maximum 2704 for index "requests_request_number_idx"',
      },
      { order_number: '902', reason: 'date -999999999999999 is before 4714-11-24 BC, the first time PostgreSQL holds' },
      {
        order_number: '903',
        reason:
          'PostgreSQL refused the record: invalid input syntax for type json (Unicode low surrogate must follow a high surrogate.)',
      },
    ])
    expect(
      rejected.map((row) => row.record).filter((record) => record.includes('Иван') || record.includes('916')),
    ).toEqual([])
    expect(rejected[2]?.record).toBe(refused[2]?.replace(`,"client":${CLIENT}`, ''))
  })

  it('fails a body that is not JSON, keeping nothing: it was cut short, and is read again', async () => {
    const site = SITE + 3
    await expect(loadCalls(site, [`[${call('1', '01/05/2024')},{"callId":2,`])).rejects.toMatchObject({
      code: 'INPUT',
      message: expect.stringMatching(
        new RegExp(
          `^calls of site ${site}, days 2024-05-01\\.\\.2024-05-02: body 1 is not valid JSON \\(.+\\); read it again$`,
        ),
      ),
    })
    expect(await keptOf(site)).toEqual([{ calls: 0, days: 0, rejected: 0 }])
  })

  it('fails the read as before, keeping nothing, when PostgreSQL refuses more records than it is worth isolating', async () => {
    const site = SITE + 4
    const refused = Array.from({ length: MAX_ISOLATION_TRIALS / 2 }, (_, index) =>
      call(String(1000 + index), '01/05/2024', { source: HUGE_NUMBER }),
    )
    await expect(loadCalls(site, [`[${[call('1', '01/05/2024'), ...refused].join(',')}]`])).rejects.toMatchObject({
      code: 'WAREHOUSE',
      message:
        `loading calls of site ${site}, days 2024-05-01..2024-05-02 failed, nothing of it was kept: value overflows numeric format; ` +
        `setting aside the records PostgreSQL refused did not help: more than ${MAX_ISOLATION_TRIALS} trials would be needed to find the records PostgreSQL refuses`,
    })
    expect(await keptOf(site)).toEqual([{ calls: 0, days: 0, rejected: 0 }])
  }, 60_000)
})
