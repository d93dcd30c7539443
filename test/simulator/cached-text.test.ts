import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serializeDealRecord, startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { exportUrl, postJson, SITE, TOKEN } from './http-helpers.ts'

/**
 * The export serves a busy day from text built once per day and clock (pieces
 * written at generation, slices per page). These pin that text to the record
 * serializer, page by page, across clock changes, writes and a reset.
 */
describe('the cached text of busy days', () => {
  let sim: RunningSimulator
  beforeAll(async () => {
    sim = await startSimulator({
      rateLimit: false,
      seed: 11,
      sites: [{ siteId: SITE, token: TOKEN, dealsPerDay: 1500 }],
    })
  })
  afterAll(async () => {
    await sim.close()
  })

  /** Every page of 700 of a two-day window, with and without tags, against the serializer. */
  async function expectPagesMatchRecords(): Promise<number> {
    const records = sim.expectedDeals(SITE, '2026-11-19', '2026-11-20')
    for (const withTags of [true, false]) {
      const pageTotal = Math.ceil(records.length / 700)
      for (let page = 1; page <= pageTotal; page++) {
        const text = await (
          await fetch(
            exportUrl(sim, {
              dateFrom: '19/11/2026',
              dateTo: '20/11/2026',
              page: String(page),
              limit: '700',
              withOrdersTags: String(withTags),
              withAllOrderOrigins: 'true',
            }),
          )
        ).text()
        const expected = records.slice((page - 1) * 700, page * 700).map((r) => serializeDealRecord(r, withTags))
        expect(text).toBe(
          `{"page":${page},"pageTotal":${pageTotal},"pageSize":700,"recordsTotal":${records.length},"records":[${expected.join(',')}]}`,
        )
      }
    }
    return records.length
  }

  it('serves pages byte-identical to the serializer, then follows the clock, a write and a reset', async () => {
    const early = '2026-11-20T18:00:00+03:00'
    sim.setClock(early)
    const atEarly = await expectPagesMatchRecords()
    expect(atEarly).toBeGreaterThan(1500)
    const earlyStatuses = sim.expectedDeals(SITE, '2026-11-19', '2026-11-20').map((r) => r.orderStatus)

    sim.setClock('2027-03-01T12:00:00+03:00')
    await expectPagesMatchRecords()
    const lateStatuses = sim.expectedDeals(SITE, '2026-11-19', '2026-11-20').map((r) => r.orderStatus)
    expect(lateStatuses.filter((s) => s === 'final' || s === 'lost').length).toBeGreaterThan(
      earlyStatuses.filter((s) => s === 'final' || s === 'lost').length,
    )

    const target = sim.expectedDeals(SITE, '2026-11-20', '2026-11-20')[10]!
    const { status } = await postJson(
      `${sim.url}/lead-service/v1/api/client-order/update`,
      { crm: 'AmoCRM', orders: [{ orderNumber: target.orderNumber, status: 'final', revenue: 777 }] },
      { 'Access-Token': TOKEN, SiteId: String(SITE) },
    )
    expect(status).toBe(200)
    await expectPagesMatchRecords()
    expect(
      sim.expectedDeals(SITE, '2026-11-20', '2026-11-20').find((r) => r.orderNumber === target.orderNumber)
        ?.completedAmount,
    ).toBe(777)

    sim.reset()
    sim.setClock(early)
    expect(await expectPagesMatchRecords()).toBe(atEarly)
    expect(sim.expectedDeals(SITE, '2026-11-19', '2026-11-20').map((r) => r.orderStatus)).toEqual(earlyStatuses)
  })

  it('serves days read first at a late clock (written straight at the clock) as the serializer does, with the same bytes as before that path existed', async () => {
    // A fresh simulator whose first look at these days is an HTTP page: closed, lost, deleted and vanished deals, no template yet.
    const late = await startSimulator({
      rateLimit: false,
      seed: 11,
      now: '2027-03-01T12:00:00+03:00',
      sites: [{ siteId: SITE, token: TOKEN, dealsPerDay: 1500 }],
    })
    try {
      const pages: string[] = []
      for (const withTags of [true, false]) {
        for (let page = 1; page <= 4; page++) {
          pages.push(
            await (
              await fetch(
                exportUrl(late, {
                  dateFrom: '19/11/2026',
                  dateTo: '20/11/2026',
                  page: String(page),
                  limit: '1000',
                  withOrdersTags: String(withTags),
                  withAllOrderOrigins: 'true',
                }),
              )
            ).text(),
          )
        }
      }
      const records = late.expectedDeals(SITE, '2026-11-19', '2026-11-20')
      expect(records.length).toBe(3394)
      expect([
        records.filter((r) => r.isDeleted).length,
        records.filter((r) => r.orderStatus === 'final').length,
        records.filter((r) => r.orderStatus === 'lost').length,
      ]).toEqual([89, 1638, 1102])
      const expected = [true, false].flatMap((withTags) =>
        [1, 2, 3, 4].map(
          (page) =>
            `{"page":${page},"pageTotal":4,"pageSize":1000,"recordsTotal":3394,"records":[${records
              .slice((page - 1) * 1000, page * 1000)
              .map((r) => serializeDealRecord(r, withTags))
              .join(',')}]}`,
        ),
      )
      expect(pages).toEqual(expected)
      // Taken from the simulator before days were written straight at a clock (commit eb246fd): the generator's bytes must not move.
      // Moved once since, on purpose, when deals began to share leads and some request deals became numberless (issue 18):
      // of the 3394 deals only the orderSource of 203 moved, and the client phone of 138 of those (the lead's client).
      expect(createHash('sha256').update(pages.join('')).digest('hex')).toBe(
        '93d5bd36f24a39c70af5f9e1629f15645297541f70be2b1345fd99b2507fba3c',
      )
    } finally {
      await late.close()
    }
  })
})
