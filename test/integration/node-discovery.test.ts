import { afterEach, describe, expect, it } from 'vitest'
import { CalltouchClient } from '../../pipelines/sources/calltouch-deals/api-client.ts'
import { createRequestLimiter, type RequestLimiter } from '../../pipelines/http/request-limiter.ts'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'

const SITE_ID = 4343
const TOKEN = 'node-discovery-token'
const RANGE = { dateFrom: '2026-11-02', dateTo: '2026-11-03' }

const running: RunningSimulator[] = []
let limiter: RequestLimiter | undefined

afterEach(async () => {
  await limiter?.stop()
  await Promise.all(running.splice(0).map((sim) => sim.close()))
  limiter = undefined
})

async function simulator(nodeId: number): Promise<RunningSimulator> {
  const sim = await startSimulator({
    rateLimit: false,
    sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 50, nodeId }],
  })
  running.push(sim)
  return sim
}

/** A client whose default host is `entry`, node N living at `nodes[N]`. */
function client(
  entry: RunningSimulator,
  nodes: Record<number, string>,
  siteId = SITE_ID,
): { client: CalltouchClient; askedNodes: number[] } {
  limiter = createRequestLimiter({ requestsPerSecond: 5 })
  const askedNodes: number[] = []
  const nodeBaseUrl = (nodeId: number): string => {
    askedNodes.push(nodeId)
    return nodes[nodeId] ?? 'http://127.0.0.1:9'
  }
  return {
    askedNodes,
    client: new CalltouchClient({
      baseUrl: entry.url,
      siteId,
      token: TOKEN,
      limiter,
      timeoutMs: 5000,
      maxRetries: 0,
      minRetryDelayMs: 50,
      discoverNode: true,
      nodeBaseUrl,
    }),
  }
}

describe('node discovery against the simulator', () => {
  it('asks getnodeid once, then reads every page from the node it names', async () => {
    const entry = await simulator(7)
    const node = await simulator(7)
    const { client: api, askedNodes } = client(entry, { 7: node.url })
    const first = await api.fetchOrdersPage(RANGE, 1)
    const again = await api.fetchOrdersPage(RANGE, 1)
    expect(again.recordsTotal).toBe(first.recordsTotal)
    expect(first.recordsTotal).toBe(node.expectedDeals(SITE_ID, RANGE.dateFrom, RANGE.dateTo).length)
    expect(askedNodes).toEqual([7])
    expect(entry.stats().requests.byEndpoint).toMatchObject({ getNodeId: 1, export: 0 })
    expect(node.stats().requests.byEndpoint).toMatchObject({ getNodeId: 0, export: 2 })
  })

  it('falls back to the default host when getnodeid refuses the site', async () => {
    const entry = await simulator(3)
    // A site the simulator does not know: getnodeid answers 403.
    const { client: api, askedNodes } = client(entry, {}, SITE_ID + 1)
    expect(await api.resolveApiBase()).toBe(entry.url)
    expect(askedNodes).toEqual([])
    expect(entry.stats().requests.byEndpoint).toMatchObject({ getNodeId: 1, export: 0 })
  })
})
