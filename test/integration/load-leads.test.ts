import { afterAll, beforeAll, expect, it } from 'vitest'
import { keyedHash } from '../../pipelines/core/pii.ts'
import { loadCallsWindow, loadRequestsDay } from '../../pipelines/sources/calltouch-leads/load-leads.ts'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 12345
const KEY = Buffer.alloc(32, 7)

/** The digest's call (LEADS-API.md §5), ids above 2^53 in yandexDirect, tags added. */
function call(overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    callId: '32949495',
    date: '"01/05/2024 15:42:04"',
    timestamp: '1714567324',
    duration: '95',
    successful: 'true',
    uniqueCall: 'true',
    targetCall: '"True"',
    source: '"yandex"',
    medium: '"cpc"',
    keyword: '"купить диван"',
    utmCampaign: '"70012345"',
    callerNumber: '"79161234567"',
    phoneNumber: '"74951234567"',
    sessionId: '1234567890',
    callTags: '[{"category":"manual","type":"manual","names":["важный","повтор"]}]',
    yandexDirect: '{"campaignId":70012345,"adGroupId":5012345678,"adId":9007199254740993}',
    ...overrides,
  }
  return `{${Object.entries(fields)
    .map(([key, value]) => `"${key}":${value}`)
    .join(',')}}`
}

const envelope = (records: string[]): string =>
  `{"page":1,"pageTotal":1,"pageSize":1000,"recordsTotal":${records.length},"records":[${records.join(',')}]}`

/** The digest's request (LEADS-API.md §5), created on 10 February (a day ≤ 12). */
function request(overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    requestId: '778899',
    requestNumber: '"5231705"',
    date: '1707568924000',
    dateStr: '"10/02/2024 15:42:04"',
    subject: '"Форма обратной связи"',
    targetRequest: 'true',
    uniqueRequest: 'false',
    session:
      '{"sessionId":1234567890,"sessionDate":"10/02/2024 15:30:11","source":"yandex","medium":"cpc","keywords":"купить диван","utmCampaign":"70012345","utmContent":""}',
    client:
      '{"clientId":4455,"fio":"Иван","phones":[{"phoneNumber":"8 916 123-45-67","phoneType":"MOBILE"}],"contacts":[{"contactType":"EMAIL","contactValue":"ivan@example.ru"}]}',
    RequestTags: '[{"category":"manual","type":"manual","names":["квалифицирован"]}]',
    ...overrides,
  }
  return `[{${Object.entries(fields)
    .map(([key, value]) => `"${key}":${value}`)
    .join(',')}}]`
}

async function rows(db: WarehouseDb, text: string): Promise<unknown[]> {
  return executeSql(db, text, [SITE])
}

describeEachEngine('loading calls and requests', (engine) => {
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

  const window = { siteId: SITE, firstDay: '2024-05-01', lastDay: '2024-05-01' }

  it('lands a calls page exactly, and loading it again writes nothing', async () => {
    const bodies = [envelope([call(), call({ callId: '"2"', date: '"02/05/2024 00:00:01"' })])]
    expect(await loadCallsWindow(db, { runId, ...window, bodies })).toEqual({
      seen: 1,
      landed: 1,
      changed: 1,
      rejected: 0,
      removed: 0,
      recordsByDay: { '2024-05-01': 1 },
    })
    expect(
      await rows(
        db,
        `select call_id::text, call_time = timestamptz '2024-05-01 12:42:04+00' as exact_time, call_local_time::text, call_day::text,
          duration_seconds, successful, unique_call, target_call, source, medium, keyword, utm_campaign, caller_number,
          session_id::text, yandex_direct_campaign_id::text, yandex_direct_ad_id::text, client_key, removed_from_source_at
         from calltouch.calls where site_id = $1`,
      ),
    ).toEqual([
      {
        call_id: '32949495',
        exact_time: true,
        call_local_time: '2024-05-01 15:42:04',
        call_day: '2024-05-01',
        duration_seconds: 95,
        successful: true,
        unique_call: true,
        target_call: true,
        source: 'yandex',
        medium: 'cpc',
        keyword: 'купить диван',
        utm_campaign: '70012345',
        caller_number: '79161234567',
        session_id: '1234567890',
        yandex_direct_campaign_id: '70012345',
        yandex_direct_ad_id: '9007199254740993',
        client_key: null,
        removed_from_source_at: null,
      },
    ])
    expect(
      await rows(
        db,
        `select call_id::text, category, type, tag from calltouch.call_tags where site_id = $1 order by tag`,
      ),
    ).toEqual([
      { call_id: '32949495', category: 'manual', type: 'manual', tag: 'важный' },
      { call_id: '32949495', category: 'manual', type: 'manual', tag: 'повтор' },
    ])
    expect(
      await rows(
        db,
        `select payload -> 'yandexDirect' ->> 'adId' as ad_id from raw.calltouch_calls where site_id = $1`,
      ),
    ).toEqual([{ ad_id: '9007199254740993' }])
    expect(
      await rows(
        db,
        `select source, account, day::text, records, status from etl.ledger where account = '12345' and $1::integer > 0`,
      ),
    ).toEqual([{ source: 'calltouch-calls', account: '12345', day: '2024-05-01', records: 1, status: 'ok' }])

    expect(await loadCallsWindow(db, { runId, ...window, bodies })).toMatchObject({ landed: 0, changed: 0, removed: 0 })
    expect(await rows(db, `select count(*)::integer as n from raw.calltouch_calls where site_id = $1`)).toEqual([
      { n: 1 },
    ])
  })

  it('updates one row and lands one version when a flag changes, and marks a call that vanished', async () => {
    const changed = [
      envelope([call({ targetCall: 'false', callTags: '[{"category":"manual","type":"manual","names":["важный"]}]' })]),
    ]
    expect(await loadCallsWindow(db, { runId, ...window, bodies: changed })).toMatchObject({ landed: 1, changed: 1 })
    expect(await rows(db, `select target_call from calltouch.calls where site_id = $1`)).toEqual([
      { target_call: false },
    ])
    expect(await rows(db, `select tag from calltouch.call_tags where site_id = $1`)).toEqual([{ tag: 'важный' }])
    expect(await rows(db, `select count(*)::integer as n from raw.calltouch_calls where site_id = $1`)).toEqual([
      { n: 2 },
    ])

    expect(await loadCallsWindow(db, { runId, ...window, bodies: [envelope([])] })).toMatchObject({ removed: 1 })
    expect(
      await rows(db, `select removed_from_source_at is not null as removed from calltouch.calls where site_id = $1`),
    ).toEqual([{ removed: true }])
    await loadCallsWindow(db, { runId, ...window, bodies: changed })
    expect(
      await rows(db, `select removed_from_source_at is not null as removed from calltouch.calls where site_id = $1`),
    ).toEqual([{ removed: false }])
  })

  it('sets aside a call without an id and one whose date does not parse, with their reasons, and loads the others', async () => {
    const bodies = [
      envelope([
        call({ callId: 'null' }),
        call({ callId: '77', date: '"31/02/2024 10:00:00"' }),
        call({ callId: '78' }),
      ]),
    ]
    const result = await loadCallsWindow(db, {
      runId,
      siteId: SITE,
      firstDay: '2024-05-01',
      lastDay: '2024-05-01',
      bodies,
    })
    expect(result).toMatchObject({ rejected: 2, landed: 1 })
    expect(
      await rows(
        db,
        `select source, order_number, reason from etl.rejected_records where site_id = $1 order by reason`,
      ),
    ).toEqual([
      { source: 'calltouch-calls', order_number: null, reason: 'callId is missing' },
      {
        source: 'calltouch-calls',
        order_number: '77',
        reason: 'date "31/02/2024 10:00:00" is not a date and time DD/MM/YYYY HH:MM:SS',
      },
    ])
  })

  it('reads month-first request days, milliseconds and session fields, and protects contacts in mode hash', async () => {
    const result = await loadRequestsDay(db, {
      runId,
      siteId: SITE,
      day: '2024-02-10',
      body: request(),
      contacts: { mode: 'hash', key: KEY },
    })
    expect(result).toEqual({
      seen: 1,
      landed: 1,
      changed: 1,
      rejected: 0,
      removed: 0,
      recordsByDay: { '2024-02-10': 1 },
    })
    expect(
      await rows(
        db,
        `select request_id::text, request_number, request_time = timestamptz '2024-02-10 12:42:04+00' as exact_time,
          request_local_time::text, request_day::text, target_request, unique_request, session_local_time::text,
          source, medium, keyword, utm_campaign, utm_content, client_id::text, client_name, client_phones, client_emails, client_key
         from calltouch.requests where site_id = $1`,
      ),
    ).toEqual([
      {
        request_id: '778899',
        request_number: '5231705',
        exact_time: true,
        request_local_time: '2024-02-10 15:42:04',
        request_day: '2024-02-10',
        target_request: true,
        unique_request: false,
        session_local_time: '2024-02-10 15:30:11',
        source: 'yandex',
        medium: 'cpc',
        keyword: 'купить диван',
        utm_campaign: '70012345',
        utm_content: '',
        client_id: '4455',
        client_name: keyedHash(KEY, 'иван'),
        client_phones: keyedHash(KEY, '79161234567'),
        client_emails: keyedHash(KEY, 'ivan@example.ru'),
        client_key: keyedHash(KEY, '79161234567'),
      },
    ])
    const [raw] = (await rows(db, `select payload::text as text from raw.calltouch_requests where site_id = $1`)) as {
      text: string
    }[]
    expect(raw?.text).not.toMatch(/Иван|916|ivan/)
    expect(await rows(db, `select tag from calltouch.request_tags where site_id = $1`)).toEqual([
      { tag: 'квалифицирован' },
    ])
  })

  it('drops contacts in mode drop, keeping the client key', async () => {
    await loadCallsWindow(db, {
      runId,
      siteId: SITE,
      firstDay: '2024-05-02',
      lastDay: '2024-05-02',
      bodies: [envelope([call({ callId: '90', date: '"02/05/2024 09:00:00"' })])],
      contacts: { mode: 'drop', key: KEY },
    })
    expect(
      await rows(db, `select caller_number, client_key from calltouch.calls where site_id = $1 and call_id = 90`),
    ).toEqual([{ caller_number: null, client_key: keyedHash(KEY, '79161234567') }])
    expect(
      await rows(
        db,
        `select payload ? 'callerNumber' as has from raw.calltouch_calls where site_id = $1 and call_id = 90`,
      ),
    ).toEqual([{ has: false }])
  })
})
