import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { registerSecret } from '../../pipelines/core/secrets.ts'
import { DirectApiError } from '../../pipelines/sources/yandex-direct/direct-errors.ts'
import { ReportSlots, directBudgetFor } from '../../pipelines/sources/yandex-direct/direct-limits.ts'
import {
  reportName,
  retryInSeconds,
  spendReportBody,
  YandexDirectClient,
  type YandexDirectClientConfig,
} from '../../pipelines/sources/yandex-direct/reports-client.ts'

const TOKEN = 'y0_direct-client/Test+token'
registerSecret(TOKEN)

/** A request as the server saw it. */
interface Seen {
  readonly at: number
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

interface Reply {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

let server: http.Server | undefined

afterEach(async () => {
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

/** A server answering the n-th request (from 0) with `reply(n, seen)`, recording every request. */
async function serve(reply: (index: number, seen: Seen) => Reply): Promise<{ baseUrl: string; seen: Seen[] }> {
  const seen: Seen[] = []
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const entry = {
        at: performance.now(),
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      seen.push(entry)
      const answer = reply(seen.length - 1, entry)
      response.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '')
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const TSV =
  'Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost\n' +
  '2026-11-01\t70012345\tBrand search\t1520\t87\t1234560000\n' +
  '2026-11-02\t70012345\tBrand search\t1498\t90\t1301200000\n' +
  'Total rows: 2\n'
const ready: Reply = { status: 200, headers: { requestid: '300' }, body: TSV }
const errorReply = (status: number, code: number, text: string, detail: string, requestId = '777'): Reply => ({
  status,
  headers: { 'content-type': 'application/json', requestid: requestId },
  body: JSON.stringify({
    error: { request_id: requestId, error_code: code, error_string: text, error_detail: detail },
  }),
})

/** Every test has a token of its own, so no budget (20 in 10 s, 5 reports) carries over between tests. */
let tokenCount = 0
function client(baseUrl: string, overrides: Partial<YandexDirectClientConfig> = {}): YandexDirectClient {
  tokenCount += 1
  const token = `${TOKEN}-${tokenCount}`
  registerSecret(token)
  return new YandexDirectClient({
    baseUrl,
    token,
    clientLogin: 'shop-client',
    where: 'adAccounts[1]',
    budget: directBudgetFor(token),
    timeoutMs: 2000,
    maxRetries: 3,
    timing: { retryInScaleMs: 20, reportTimeoutMs: 5000 },
    ...overrides,
  })
}

const NOVEMBER_1_2 = { firstDay: '2026-11-01', lastDay: '2026-11-02', reportName: 'calltouch-etl run 1 test' }

describe('the Yandex Direct reports client', () => {
  it('polls a 201 and a 202 after their retryIn with the identical request, then reads the 200', async () => {
    const { baseUrl, seen } = await serve(
      (index) =>
        [
          { status: 201, headers: { retryin: '5', reportsinqueue: '1', requestid: '100' } },
          { status: 202, headers: { retryin: '3', reportsinqueue: '1', requestid: '200' } },
          ready,
        ][index]!,
    )
    const direct = client(baseUrl)
    const report = await direct.fetchSpendReport(NOVEMBER_1_2)
    expect(report).toEqual({
      requestId: '300',
      requests: 3,
      rows: [
        {
          day: '2026-11-01',
          campaignId: '70012345',
          campaignName: 'Brand search',
          impressions: 1520,
          clicks: 87,
          costMicros: 1234560000n,
        },
        {
          day: '2026-11-02',
          campaignId: '70012345',
          campaignName: 'Brand search',
          impressions: 1498,
          clicks: 90,
          costMicros: 1301200000n,
        },
      ],
    })
    expect(direct.counters).toEqual({ requests: 3, retries: 0 })
    expect(seen.map((request) => request.path)).toEqual(['/json/v5/reports', '/json/v5/reports', '/json/v5/reports'])
    // retryIn 5 and 3 seconds at 20 ms a second.
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(100)
    expect(seen[2]!.at - seen[1]!.at).toBeGreaterThanOrEqual(60)
    expect(new Set(seen.map((request) => request.body)).size).toBe(1)
    expect(JSON.parse(seen[0]!.body)).toEqual({
      params: {
        SelectionCriteria: { DateFrom: '2026-11-01', DateTo: '2026-11-02' },
        FieldNames: ['Date', 'CampaignId', 'CampaignName', 'Impressions', 'Clicks', 'Cost'],
        ReportName: 'calltouch-etl run 1 test',
        ReportType: 'CAMPAIGN_PERFORMANCE_REPORT',
        DateRangeType: 'CUSTOM_DATE',
        Format: 'TSV',
        IncludeVAT: 'NO',
      },
    })
    for (const request of seen) {
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}-${tokenCount}`)
      expect(request.headers['client-login']).toBe('shop-client')
      expect(request.headers['accept-language']).toBe('en')
      expect(request.headers.processingmode).toBe('auto')
      expect(request.headers.skipreportheader).toBe('true')
      expect(request.headers.skipreportsummary).toBe('false')
      expect(request.headers.returnmoneyinmicros).toBeUndefined()
    }
  })

  it('sends no Client-Login for an advertiser read with its own token', async () => {
    const { baseUrl, seen } = await serve(() => ready)
    await client(baseUrl, { clientLogin: undefined }).fetchSpendReport(NOVEMBER_1_2)
    expect(seen[0]!.headers['client-login']).toBeUndefined()
  })

  it('waits 60 seconds of retryIn when a 202 names none', async () => {
    const { baseUrl, seen } = await serve((index) => (index === 0 ? { status: 202 } : ready))
    await client(baseUrl, { timing: { retryInScaleMs: 5, reportTimeoutMs: 5000 } }).fetchSpendReport(NOVEMBER_1_2)
    expect(seen).toHaveLength(2)
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(300)
  })

  it('gives a report up when it is not ready within the report timeout, saying how it last answered', async () => {
    const { baseUrl, seen } = await serve(() => ({ status: 202, headers: { retryin: '1', requestid: '55' } }))
    const error = await client(baseUrl, { timing: { retryInScaleMs: 100, reportTimeoutMs: 250 } })
      .fetchSpendReport(NOVEMBER_1_2)
      .catch((thrown: unknown) => thrown)
    expect(error).toBeInstanceOf(DirectApiError)
    expect((error as DirectApiError).action).toBe('fail-range')
    const message = (error as DirectApiError).message
    expect(message).toMatch(
      /^Yandex Direct report of shop-client for 2026-11-01\.\.2026-11-02: not ready within 250 ms \(\d waits; last answer HTTP 202, building, RequestId 55\); the range is read again by the next run$/,
    )
    // One request, then one after each wait.
    expect(seen).toHaveLength(Number(/\((\d) waits/.exec(message)?.[1]) + 1)
  })

  it('fails the account on error 53 with the vendor words, the RequestId and the fix, and never repeats it', async () => {
    const { baseUrl, seen } = await serve(() => errorReply(400, 53, 'Authorization error', 'Invalid OAuth token'))
    const direct = client(baseUrl)
    const error = (await direct.fetchSpendReport(NOVEMBER_1_2).catch((thrown: unknown) => thrown)) as DirectApiError
    expect(error).toBeInstanceOf(DirectApiError)
    expect(error.action).toBe('fail-account')
    expect(error.errorCode).toBe(53)
    expect(error.requestId).toBe('777')
    expect(error.message).toBe(
      'Yandex Direct refused the token (HTTP 400, error 53 Authorization error: Invalid OAuth token, RequestId 777): get a new OAuth token at oauth.yandex.ru for an app with Direct API access and set it in adAccounts[1].token (or its tokenEnv variable)',
    )
    expect(seen).toHaveLength(1)
    expect(direct.counters).toEqual({ requests: 1, retries: 0 })
  })

  it('names the environment variable to set for an account configured by the environment', async () => {
    const { baseUrl } = await serve(() => errorReply(400, 53, 'Authorization error', 'Invalid OAuth token'))
    const error = (await client(baseUrl, { where: 'environment (YANDEX_DIRECT_TOKEN)' })
      .fetchSpendReport(NOVEMBER_1_2)
      .catch((thrown: unknown) => thrown)) as DirectApiError
    expect(error.message).toBe(
      'Yandex Direct refused the token (HTTP 400, error 53 Authorization error: Invalid OAuth token, RequestId 777): get a new OAuth token at oauth.yandex.ru for an app with Direct API access and set it in YANDEX_DIRECT_TOKEN',
    )
  })

  it('fails the account on another 4xx in the vendor words, with the token redacted from anything it echoes', async () => {
    const { baseUrl } = await serve((_, request) =>
      errorReply(400, 8000, 'Invalid request', `bad header ${request.headers.authorization ?? ''}`),
    )
    const error = (await client(baseUrl)
      .fetchSpendReport(NOVEMBER_1_2)
      .catch((thrown: unknown) => thrown)) as DirectApiError
    expect(error.action).toBe('fail-account')
    expect(error.message).toBe(
      'Yandex Direct report of shop-client for 2026-11-01..2026-11-02: Yandex Direct answered HTTP 400, error 8000 Invalid request: bad header Bearer [REDACTED], RequestId 777; fix the account in adAccounts[1] or the request, then run again',
    )
  })

  it('repeats a 500 with backoff and counts the retry', async () => {
    const { baseUrl, seen } = await serve((index) =>
      index === 0 ? errorReply(500, 1000, 'Server temporarily unavailable', '') : ready,
    )
    const direct = client(baseUrl)
    const report = await direct.fetchSpendReport(NOVEMBER_1_2)
    expect(report.rows).toHaveLength(2)
    expect(seen).toHaveLength(2)
    expect(direct.counters).toEqual({ requests: 2, retries: 1 })
  })

  it('asks again for a report whose body was cut off before its Total rows line', async () => {
    const cut = TSV.slice(0, TSV.indexOf('1301200000') + 4)
    const { baseUrl, seen } = await serve((index) => (index === 0 ? { status: 200, body: cut } : ready))
    const direct = client(baseUrl)
    const report = await direct.fetchSpendReport(NOVEMBER_1_2)
    expect(report.rows.map((row) => row.costMicros)).toEqual([1234560000n, 1301200000n])
    expect(seen).toHaveLength(2)
    expect(direct.counters).toEqual({ requests: 2, retries: 1 })
  })

  it('asks for a range in halves after two 502s whose body is not JSON', async () => {
    const { baseUrl, seen } = await serve(() => ({ status: 502, body: '<html>502 Bad Gateway</html>' }))
    const error = (await client(baseUrl)
      .fetchSpendReport(NOVEMBER_1_2)
      .catch((thrown: unknown) => thrown)) as DirectApiError
    expect(error.action).toBe('split')
    expect(error.message).toBe(
      'Yandex Direct report of shop-client for 2026-11-01..2026-11-02: Yandex Direct answered HTTP 502, not an error object: "<html>502 Bad Gateway</html>"; 2 times: the range is read in halves',
    )
    expect(seen).toHaveLength(2)
  })

  it('repeats a one-day 502 until its retries are spent, then fails the range', async () => {
    const { baseUrl, seen } = await serve(() => ({ status: 502, body: '' }))
    const error = (await client(baseUrl, { maxRetries: 2 })
      .fetchSpendReport({ ...NOVEMBER_1_2, lastDay: '2026-11-01' })
      .catch((thrown: unknown) => thrown)) as DirectApiError
    expect(error.action).toBe('retry')
    expect(error.message).toBe(
      'Yandex Direct report of shop-client for 2026-11-01..2026-11-01: Yandex Direct answered HTTP 502, (empty answer)',
    )
    expect(seen).toHaveLength(3)
  })

  it('waits out a full report queue (9000) and sends the identical request again', async () => {
    const { baseUrl, seen } = await serve((index) =>
      index === 0 ? errorReply(400, 9000, 'Report queue is full', 'wait for a report to finish') : ready,
    )
    const direct = client(baseUrl)
    const report = await direct.fetchSpendReport(NOVEMBER_1_2)
    expect(report.rows).toHaveLength(2)
    // 30 seconds of back-off at 20 ms a second.
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(600)
    expect(seen[1]!.body).toBe(seen[0]!.body)
    expect(direct.counters).toEqual({ requests: 2, retries: 1 })
  })

  it('stops waiting for a report when the run is stopped', async () => {
    const { baseUrl, seen } = await serve(() => ({ status: 201, headers: { retryin: '60' } }))
    const stop = new AbortController()
    const pending = client(baseUrl, { signal: stop.signal })
      .fetchSpendReport(NOVEMBER_1_2)
      .catch((thrown: unknown) => thrown)
    setTimeout(() => stop.abort(), 100)
    const error = (await pending) as DirectApiError
    expect(error.kind).toBe('stopped')
    expect(error.message).toBe(
      'Yandex Direct report of shop-client for 2026-11-01..2026-11-02: interrupted, the run is stopping',
    )
    expect(seen).toHaveLength(1)
  })

  it('keeps at most 5 reports of one token queued at once', async () => {
    const open = new Set<string>()
    let mostOpen = 0
    const { baseUrl } = await serve((_, request) => {
      const name = (JSON.parse(request.body) as { params: { ReportName: string } }).params.ReportName
      if (!open.has(name)) {
        open.add(name)
        mostOpen = Math.max(mostOpen, open.size)
        return { status: 201, headers: { retryin: '2' } }
      }
      open.delete(name)
      return ready
    })
    const direct = client(baseUrl)
    await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        direct.fetchSpendReport({ ...NOVEMBER_1_2, reportName: `report ${index}` }),
      ),
    )
    expect(mostOpen).toBe(5)
    expect(direct.counters).toEqual({ requests: 16, retries: 0 })
  })

  it('learns the login and currency from Clients.get', async () => {
    const { baseUrl, seen } = await serve(() => ({
      status: 200,
      body: JSON.stringify({ result: { Clients: [{ Login: 'shop-client', Currency: 'KZT' }] } }),
    }))
    await expect(client(baseUrl, { clientLogin: undefined }).getClientInfo()).resolves.toEqual({
      login: 'shop-client',
      currency: 'KZT',
    })
    expect(seen[0]!.path).toBe('/json/v5/clients')
    expect(JSON.parse(seen[0]!.body)).toEqual({ method: 'get', params: { FieldNames: ['Login', 'Currency'] } })
  })

  it('fails the account when Clients.get answers an error object with HTTP 200', async () => {
    const { baseUrl } = await serve(() => errorReply(200, 54, 'No rights', 'Access to the client is denied'))
    const error = (await client(baseUrl)
      .getClientInfo()
      .catch((thrown: unknown) => thrown)) as DirectApiError
    expect(error.action).toBe('fail-account')
    expect(error.message).toBe(
      "Yandex Direct refused access to the advertiser (HTTP 200, error 54 No rights: Access to the client is denied, RequestId 777): with an agency's token set the advertiser's login in adAccounts[1].clientLogin; with the advertiser's own token check that its user may use the API",
    )
  })
})

describe('a report name', () => {
  const base = {
    runId: '42',
    runStartedAt: new Date('2026-12-07T03:00:00Z'),
    login: 'shop-client',
    firstDay: '2026-11-01',
    lastDay: '2026-11-30',
  }

  it('names the run and the range, and is the same for the same run, advertiser and range', () => {
    expect(reportName(base)).toMatch(/^calltouch-etl run 42 2026-11-01\.\.2026-11-30 [0-9a-f]{10}$/)
    expect(reportName({ ...base })).toBe(reportName(base))
  })

  it('differs for another run, another start of the same run id, another advertiser or another range', () => {
    const names = [
      reportName(base),
      reportName({ ...base, runId: '43' }),
      reportName({ ...base, runStartedAt: new Date('2026-12-08T03:00:00Z') }),
      reportName({ ...base, login: 'other-client' }),
      reportName({ ...base, lastDay: '2026-11-29' }),
    ]
    expect(new Set(names).size).toBe(5)
  })

  it('stays within 255 characters whatever the run id, keeping the range and hash', () => {
    const name = reportName({ ...base, runId: '9'.repeat(400) })
    expect(name).toHaveLength(255)
    expect(name).toMatch(/ 2026-11-01\.\.2026-11-30 [0-9a-f]{10}$/)
  })

  it('is the ReportName of the report body', () => {
    expect(spendReportBody({ firstDay: '2026-11-01', lastDay: '2026-11-30', reportName: 'x' }).params.ReportName).toBe(
      'x',
    )
  })
})

describe('retryIn', () => {
  it('is read in seconds, 60 when absent or unreadable, at least 1 and at most 180', () => {
    expect(retryInSeconds('5')).toBe(5)
    expect(retryInSeconds(null)).toBe(60)
    expect(retryInSeconds('soon')).toBe(60)
    expect(retryInSeconds('0')).toBe(1)
    expect(retryInSeconds('3600')).toBe(180)
  })
})

describe('report slots', () => {
  it('hands a freed slot straight to the first waiter', async () => {
    const slots = new ReportSlots(1)
    const release = await slots.acquire('a')
    const order: string[] = []
    const second = slots.acquire('b').then((done) => {
      order.push('b')
      return done
    })
    order.push('released')
    release()
    release()
    ;(await second)()
    expect(order).toEqual(['released', 'b'])
    expect(slots.held()).toBe(0)
  })
})
