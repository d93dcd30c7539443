import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { isUtf8 } from 'node:buffer'
import { afterEach, describe, expect, it } from 'vitest'
import { CalltouchClient } from '../../pipelines/sources/calltouch-deals/api-client.ts'
import { createRequestLimiter, type RequestLimiter } from '../../pipelines/http/request-limiter.ts'

const SITE_ID = 4444
let server: http.Server | undefined
let limiter: RequestLimiter | undefined

afterEach(async () => {
  await limiter?.stop()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
  limiter = undefined
})

/** A server answering every request with `body`, as a Calltouch that sends those very bytes. */
async function serve(body: Buffer): Promise<CalltouchClient> {
  server = http.createServer((_, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(body))
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  limiter = createRequestLimiter({ requestsPerSecond: 5 })
  const { port } = server.address() as AddressInfo
  return new CalltouchClient({
    baseUrl: `http://127.0.0.1:${port}`,
    siteId: SITE_ID,
    token: 't',
    limiter,
    timeoutMs: 5000,
    maxRetries: 0,
  })
}

const page = (fio: Buffer): Buffer =>
  Buffer.concat([
    Buffer.from(
      '{"page":1,"pageTotal":1,"recordsTotal":1,"records":[{"orderNumber":"A-1","orderDate":"02/11/2026 10:00:00","client":{"fio":"',
    ),
    fio,
    Buffer.from('"},"custom":{"big":99999999999999999999999999999999999999}}]}'),
  ])

describe('a page body as received', () => {
  it('is kept as the very bytes the API sent, 38-digit numbers included', async () => {
    const body = page(Buffer.from('Иванов', 'utf8'))
    const api = await serve(body)
    const received = await api.fetchOrdersPage({ dateFrom: '2026-11-02', dateTo: '2026-11-03' }, 1)
    expect(Buffer.from(received.body).equals(body)).toBe(true)
    expect(received.orderDays).toEqual(new Set(['02/11/2026']))
  })

  it('has bytes that are not UTF-8 replaced by U+FFFD, as PostgreSQL would refuse the page', async () => {
    const api = await serve(page(Buffer.from([0x49, 0xff, 0x4a])))
    const received = await api.fetchOrdersPage({ dateFrom: '2026-11-02', dateTo: '2026-11-03' }, 1)
    expect(isUtf8(received.body)).toBe(true)
    expect(Buffer.from(received.body).equals(page(Buffer.from('I\ufffdJ', 'utf8')))).toBe(true)
  })
})
