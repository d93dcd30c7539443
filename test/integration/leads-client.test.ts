import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clearSecretsForTests, registerSecret } from '../../pipelines/core/secrets.ts'
import { calltouchRequestBudget } from '../../pipelines/http/calltouch-api.ts'
import { createRequestLimiter } from '../../pipelines/http/request-limiter.ts'
import { LeadsClient } from '../../pipelines/sources/calltouch-leads/leads-client.ts'

const TOKEN = 'tok/en.with+chars'
const SITE = 12345

/** A small stand-in of both journals: calls in pages of the asked limit, requests as a bare array. */
describe('the leads client over real HTTP', () => {
  const seen: URL[] = []
  let server: http.Server
  let baseUrl: string
  const calls = Array.from({ length: 2500 }, (_, index) => `{"callId":${index + 1},"date":"10/02/2024 10:00:00"}`)
  beforeAll(async () => {
    registerSecret(TOKEN)
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      seen.push(url)
      if (url.searchParams.get('clientApiId') !== TOKEN) {
        res.writeHead(403).end('{"message":"wrong token"}')
        return
      }
      if (url.pathname === `/calls-service/RestAPI/${SITE}/calls-diary/calls`) {
        const page = Number(url.searchParams.get('page'))
        const limit = Number(url.searchParams.get('limit'))
        const records = calls.slice((page - 1) * limit, page * limit)
        const pageTotal = Math.ceil(calls.length / limit)
        res.end(
          `{"page":${page},"pageTotal":${pageTotal},"pageSize":${limit},"recordsTotal":${calls.length},"records":[${records.join(',')}]}`,
        )
        return
      }
      if (url.pathname === '/calls-service/RestAPI/requests') {
        res.end('[{"requestId":9007199254740993,"dateStr":"10/02/2024 15:42:04","date":1707568924000}]')
        return
      }
      res.writeHead(404).end('{"message":"no such path"}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    clearSecretsForTests()
    await new Promise((resolve) => server.close(resolve))
  })

  const client = (token = TOKEN): LeadsClient =>
    new LeadsClient({
      baseUrl,
      siteId: SITE,
      token,
      limiter: createRequestLimiter(calltouchRequestBudget(50)),
      timeoutMs: 5_000,
      maxRetries: 0,
    })

  it('reads a calls window in ⌈calls / 1000⌉ requests with day-first dates, and stops at pageTotal', async () => {
    seen.length = 0
    const window = await client().fetchCallsWindow({ dateFrom: '2024-02-10', dateTo: '2024-02-11' })
    if (window.kind !== 'read') throw new Error(`the window was not read: ${window.kind}`)
    expect(window.requests).toBe(3)
    expect(window.recordsTotal).toBe(2500)
    expect(
      window.bodies.map(
        (body) => (JSON.parse(Buffer.from(body).toString('utf8')) as { records: unknown[] }).records.length,
      ),
    ).toEqual([1000, 1000, 500])
    expect(
      seen.map((url) => [
        url.searchParams.get('dateFrom'),
        url.searchParams.get('dateTo'),
        url.searchParams.get('page'),
      ]),
    ).toEqual([
      ['10/02/2024', '11/02/2024', '1'],
      ['10/02/2024', '11/02/2024', '2'],
      ['10/02/2024', '11/02/2024', '3'],
    ])
  })

  it('asks for one day of requests month first, with siteId in the query, and keeps the body byte for byte', async () => {
    seen.length = 0
    const day = await client().fetchRequestsDay('2024-02-10')
    expect(
      seen.map((url) => [
        url.searchParams.get('dateFrom'),
        url.searchParams.get('dateTo'),
        url.searchParams.get('siteId'),
      ]),
    ).toEqual([['02/10/2024', '02/10/2024', '12345']])
    expect(Buffer.from(day.body).toString('utf8')).toContain('"requestId":9007199254740993')
    expect(day.records).toBe(1)
  })

  it('names a refusal in the API’s words, without the token', async () => {
    const failure = await client(`${TOKEN}x`)
      .fetchRequestsDay('2024-02-10')
      .then(() => new Error('no refusal'))
      .catch((error: unknown) => error as Error)
    expect(failure.message).toContain('Calltouch answered HTTP 403: wrong token — check the site id and its API token')
    expect(failure.message).not.toContain('tok/en')
    expect(failure.message).not.toContain(encodeURIComponent(TOKEN))
  })
})
