import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { serializeDealRecord, startSimulator, WRITE_ERROR_CODES, type RunningSimulator } from '../../simulator/index.ts'
import { exportUrl, postJson, SITE, TOKEN } from './http-helpers.ts'

let sim: RunningSimulator
beforeEach(async () => {
  sim = await startSimulator({ rateLimit: false })
})
afterEach(async () => {
  await sim.close()
})

const writeUrl = (kind: 'create' | 'update' | 'delete'): string => `${sim.url}/lead-service/v1/api/client-order/${kind}`
const auth = { 'Access-Token': TOKEN, SiteId: String(SITE) }
const BIG = '-99999999999999999999999999999999999999'

async function exportText(params: Record<string, string>): Promise<string> {
  return (await fetch(exportUrl(sim, { withOrdersTags: 'true', withAllOrderOrigins: 'true', ...params }))).text()
}

describe('writing deals', () => {
  it('creates a deal today whose orderDate is two months ago, and serves it on that old day', async () => {
    const body = `{"crm":"AmoCRM","orders":[{"orderNumber":"CRM-1","orderDate":"29/09/2026 10:15:00","status":"start","revenue":15000,"manager":"Коля","addTags":[{"tag":"импорт"}],"customFields":[{"name":"Код_1С","value":${BIG}}],"matching":[{"type":"request","requestParams":{"requestNumber":"777"}}]}]}`
    const { status, json } = await postJson(writeUrl('create'), body, auth)
    expect(status).toBe(200)
    expect(json).toEqual({ data: { orders: [{ orderNumber: 'CRM-1', result: 'CREATED' }] } })
    const created = sim.expectedDeals(SITE, '2026-09-29', '2026-09-29').find((r) => r.orderNumber === 'CRM-1')
    expect(created).toEqual({
      client: { phones: null, fio: null },
      completedAmount: 15000,
      completedDate: null,
      createdDate: '29/11/2026',
      funnel: null,
      isDeleted: false,
      manager: 'Коля',
      orderDate: '29/09/2026 10:15:00',
      orderId: expect.any(Number),
      orderNumber: 'CRM-1',
      orderOrigin: 'API',
      orderSource: { requestNumber: '777', type: 'REQUEST' },
      orderStatus: 'start',
      plannedAmount: null,
      service: 'AmoCRM',
      tags: ['импорт'],
      visit: null,
      custom: { Код_1С: BIG },
    })
    const text = await exportText({ dateFrom: '29/09/2026', dateTo: '30/09/2026' })
    expect(text).toContain(serializeDealRecord(created!, true))
    expect(text).toContain(`"custom":{"Код_1С":${BIG}}`)
    expect(text.indexOf('"orderNumber":"CRM-1"')).toBeGreaterThan(0)
  })

  it('updates a generated deal: status, revenue, tags and custom fields, on top of what it was', async () => {
    const before = sim.expectedDeals(SITE, '2026-11-20', '2026-11-20')[5]!
    const { status } = await postJson(
      writeUrl('update'),
      {
        crm: 'AmoCRM',
        orders: [
          {
            orderNumber: before.orderNumber,
            status: 'final',
            revenue: 123456,
            addTags: ['оплачено'],
            customFields: { Себестоимость: '12345678901234567890' },
          },
        ],
      },
      auth,
    )
    expect(status).toBe(200)
    const after = sim.expectedDeals(SITE, '2026-11-20', '2026-11-20').find((r) => r.orderNumber === before.orderNumber)
    expect(after).toEqual({
      ...before,
      orderStatus: 'final',
      completedAmount: 123456,
      completedDate: '29/11/2026',
      tags: [...(before.tags ?? []), ...((before.tags ?? []).includes('оплачено') ? [] : ['оплачено'])],
      custom: { ...before.custom, Себестоимость: '12345678901234567890' },
    })
    expect(await exportText({ orderNumber: before.orderNumber })).toBe(
      `{"records":[${serializeDealRecord(after!, true)}]}`,
    )
  })

  it('moves a deal to another day when an update changes its orderDate', async () => {
    const deal = sim.expectedDeals(SITE, '2026-11-20', '2026-11-20')[0]!
    await postJson(
      writeUrl('update'),
      { orders: [{ orderNumber: deal.orderNumber, orderDate: '10/11/2026 09:00:00' }] },
      auth,
    )
    expect(sim.expectedDeals(SITE, '2026-11-20', '2026-11-20').some((r) => r.orderNumber === deal.orderNumber)).toBe(
      false,
    )
    expect(
      sim.expectedDeals(SITE, '2026-11-10', '2026-11-10').find((r) => r.orderNumber === deal.orderNumber)?.orderDate,
    ).toBe('10/11/2026 09:00:00')
  })

  it('deletes a deal from the export', async () => {
    const deal = sim.expectedDeals(SITE, '2026-11-20', '2026-11-20')[1]!
    const { status, json } = await postJson(writeUrl('delete'), { orders: [{ orderNumber: deal.orderNumber }] }, auth)
    expect(status).toBe(200)
    expect(json).toEqual({ data: { orders: [{ orderNumber: deal.orderNumber, result: 'DELETED' }] } })
    expect(await exportText({ dateFrom: '20/11/2026', dateTo: '21/11/2026' })).not.toContain(deal.orderNumber)
    expect(await exportText({ orderNumber: deal.orderNumber })).toBe('{"records":[]}')
  })

  it('rejects a write with a wrong token (403) and an unknown deal or a text custom value (400), applying nothing', async () => {
    const denied = await postJson(
      writeUrl('create'),
      { orders: [{ orderNumber: 'X', orderDate: '01/11/2026 10:00:00' }] },
      { ...auth, 'Access-Token': 'nope' },
    )
    expect(denied).toEqual({ status: 403, json: { message: expect.any(String) } })
    const existing = sim.expectedDeals(SITE, '2026-11-20', '2026-11-20')[2]!
    const unknown = await postJson(
      writeUrl('update'),
      {
        orders: [
          { orderNumber: existing.orderNumber, status: 'lost' },
          { orderNumber: 'no-such-deal', status: 'final' },
        ],
      },
      auth,
    )
    expect(unknown).toEqual({
      status: 400,
      json: { data: { apiErrorData: { errorCode: WRITE_ERROR_CODES.notFound, errorMessage: expect.any(String) } } },
    })
    expect(sim.expectedDeals(SITE, '2026-11-20', '2026-11-20')[2]).toEqual(existing)
    const text = await postJson(
      writeUrl('update'),
      { orders: [{ orderNumber: existing.orderNumber, customFields: [{ name: 'Комментарий', value: 'текст' }] }] },
      auth,
    )
    expect(text.status).toBe(400)
    expect(text.json).toMatchObject({ data: { apiErrorData: { errorCode: WRITE_ERROR_CODES.badCustomField } } })
  })
})

describe('the admin calls', () => {
  it('sets and reports the clock; deals appear as it passes their orderDate', async () => {
    expect(await (await fetch(`${sim.url}/_sim/clock`)).json()).toEqual({
      now: '2026-11-29T12:00:00.000+03:00',
      epochMs: Date.parse('2026-11-29T09:00:00Z'),
    })
    const dayAhead = await postJson(`${sim.url}/_sim/clock`, { now: '2026-12-01T00:00:00+03:00' })
    expect(dayAhead).toEqual({
      status: 200,
      json: { now: '2026-12-01T00:00:00.000+03:00', epochMs: Date.parse('2026-11-30T21:00:00Z') },
    })
    expect(sim.expectedDeals(SITE, '2026-11-30', '2026-11-30').length).toBeGreaterThan(0)
    await postJson(`${sim.url}/_sim/clock`, { now: '2026-11-29T00:00:00+03:00' })
    expect(sim.expectedDeals(SITE, '2026-11-30', '2026-11-30')).toEqual([])
  })

  it('resets writes, clock and stats to the seed state', async () => {
    const pristine = await exportText({ dateFrom: '20/11/2026', dateTo: '21/11/2026' })
    const deal = sim.expectedDeals(SITE, '2026-11-20', '2026-11-20')[0]!
    await postJson(writeUrl('delete'), { orders: [{ orderNumber: deal.orderNumber }] }, auth)
    await postJson(`${sim.url}/_sim/clock`, { now: '2027-01-01T00:00:00+03:00' })
    expect(await exportText({ dateFrom: '20/11/2026', dateTo: '21/11/2026' })).not.toBe(pristine)
    expect(await postJson(`${sim.url}/_sim/reset`, {})).toEqual({ status: 200, json: { ok: true } })
    expect(sim.stats().requests.total).toBe(0)
    expect(sim.now()).toBe('2026-11-29T12:00:00.000+03:00')
    expect(await exportText({ dateFrom: '20/11/2026', dateTo: '21/11/2026' })).toBe(pristine)
  })

  it('counts requests per endpoint in /_sim/stats', async () => {
    await fetch(`${sim.url}/calls-service/RestAPI/${SITE}/getnodeid/`)
    await exportText({ dateFrom: '20/11/2026', dateTo: '21/11/2026' })
    await postJson(writeUrl('create'), { orders: [{ orderNumber: 'A', orderDate: '01/11/2026 10:00:00' }] }, auth)
    await fetch(`${sim.url}/calls-service/nothing`)
    const stats = await (await fetch(`${sim.url}/_sim/stats`)).json()
    expect(stats).toEqual({
      requests: { total: 4, byEndpoint: { export: 1, getNodeId: 1, create: 1, update: 0, delete: 0, unknown: 1 } },
      served: 4,
      rejected429: 0,
      queued: 0,
      maxRequestsInAnySecond: 4,
      maxStartedInAnySecond: 4,
      byAddress: {
        '127.0.0.1': { requests: 4, rejected429: 0, maxRequestsInAnySecond: 4, maxStartedInAnySecond: 4 },
      },
      responsesByStatus: { '200': 3, '404': 1 },
      faultsInjected: { serverError: 0, burst429: 0, truncated: 0, reset: 0, slow: 0, shiftedPages: 0 },
    })
  })
})
