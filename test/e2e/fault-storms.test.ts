import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startSimulator,
  type FaultConfig,
  type RunningSimulator,
  type SimulatorOptions,
  type SimulatorStats,
} from '../../simulator/index.ts'
import { warehouseChecksums, type TableChecksum } from '../helpers/e2e-checksum.ts'
import {
  E2E_NOW,
  E2E_TOKEN,
  OutputLog,
  runE2eCli,
  scratchDir,
  tokenLeaksInWarehouse,
  writeConfigFile,
} from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE_ID = 901
const FROM = '2026-10-22'
const TO = '2026-11-20'
/**
 * 30 days × ~100 deals: a 7-day probe window of one page and a window of 2–3 pages, so pages can
 * shift under the reader. The site reads its default streams, so the storms hit the calls and
 * requests journals too: ~30 calls a day (a probe and a window of one page each) and ~10 requests
 * (one request a day, whatever their number; more leads a day would only make the run longer).
 */
const SIMULATOR: SimulatorOptions = {
  now: E2E_NOW,
  seed: 21,
  sites: [{ siteId: SITE_ID, token: E2E_TOKEN, dealsPerDay: 100, callsPerDay: 30, requestsPerDay: 10 }],
}
/** Short enough that a slow answer (SLOW_MS) is a timeout, long enough that a normal one on a busy machine is not. */
const TIMEOUT_MS = 3000
const SLOW_MS = 5000
const SCHEMAS = ['calltouch', 'raw']

/**
 * Each storm alone, then all of them at once. Which requests a storm hits is a pure function of
 * the seed and the request's number (over every endpoint: deals, calls and requests arrive
 * interleaved, so which part a fault hits varies, not whether one is hit); the rates are chosen so
 * that, with seed 21 or the storm's own, each storm hits some of a run's first 3 requests (a rate is
 * a probability, not a share of so few requests).
 */
const STORMS: readonly { name: string; faults: FaultConfig; seed?: number }[] = [
  { name: '10% of answers are 500, 502 or 503', faults: { failureRate: 0.1 } },
  { name: 'bursts of 429 answers', faults: { burst429: { rate: 0.15, length: 2 } } },
  { name: 'answers cut off in the middle of the JSON', faults: { truncateRate: 0.3 } },
  { name: 'connections reset without an answer', faults: { resetRate: 0.2 } },
  // The deals of these 30 days take 3 requests since windows keep the day after them; seed 21's first 3 would not be slow.
  { name: "answers slower than the client's timeout", faults: { slowRate: 0.35, slowMs: SLOW_MS }, seed: 40 },
  // Shifts need a seed whose first read of a 3-page window is torn and whose next is not (three torn reads fail the window).
  {
    name: 'deals inserted after pages, shifting the next page (the window is read again)',
    faults: { shiftPages: 0.3 },
    seed: 28,
  },
  {
    name: 'all of them together',
    faults: {
      failureRate: 0.1,
      burst429: { rate: 0.1, length: 2 },
      truncateRate: 0.1,
      resetRate: 0.1,
      slowRate: 0.1,
      slowMs: SLOW_MS,
      shiftPages: 0.3,
    },
    seed: 37,
  },
]

/**
 * Injected faults a client must answer with a retry (a shifted page is read again as a whole window
 * instead), over every Calltouch endpoint: the deals' and the leads' retries add up to it.
 */
function retriedFaults(stats: SimulatorStats): number {
  const { serverError, burst429, truncated, reset, slow } = stats.faultsInjected
  return serverError + burst429 + truncated + reset + slow + stats.rejected429
}

/** Requests to the calls and requests journals, retries included. */
function leadRequests(stats: SimulatorStats): number {
  return (stats.requests.byEndpoint.calls ?? 0) + (stats.requests.byEndpoint.requests ?? 0)
}

/** Leads the journals serve for the run's days: calls and requests. */
function servedLeads(sim: RunningSimulator): number {
  return sim.expectedCalls(SITE_ID, FROM, TO).length + sim.expectedRequests(SITE_ID, FROM, TO).length
}

const retriesText = (retries: number): string => `${retries} retr${retries === 1 ? 'y' : 'ies'}`

describePostgres('a backfill through fault storms', () => {
  const log = new OutputLog()
  const warehouses: TestWarehouse[] = []
  const simulators: RunningSimulator[] = []
  let cleanChecksums: Record<string, TableChecksum>

  const newWarehouse = async (): Promise<TestWarehouse> => {
    const tw = await createTestWarehouse('postgres')
    warehouses.push(tw)
    return tw
  }
  const newSimulator = async (faults: FaultConfig = {}, seed = SIMULATOR.seed): Promise<RunningSimulator> => {
    const sim = await startSimulator({ ...SIMULATOR, faults, ...(seed === undefined ? {} : { seed }) })
    simulators.push(sim)
    return sim
  }
  const backfill = (sim: RunningSimulator, tw: TestWarehouse) => {
    const config = writeConfigFile(scratchDir('storm'), {
      baseUrl: sim.url,
      sites: [{ id: SITE_ID, tokenEnv: 'CT_TOKEN' }],
      timeoutMs: TIMEOUT_MS,
      maxRetries: 10,
    })
    return runE2eCli(log, ['backfill', '--config', config, '--from', FROM, '--to', TO], tw.env, 180_000)
  }

  beforeAll(async () => {
    const [sim, tw] = await Promise.all([newSimulator(), newWarehouse()])
    const result = await backfill(sim, tw)
    expect(result.exitCode).toBe(0)
    cleanChecksums = await warehouseChecksums(tw.warehouse.db, SCHEMAS)
    expect(cleanChecksums['calltouch.orders']?.rows).toBe(sim.expectedDeals(SITE_ID, FROM, TO).length)
    expect(cleanChecksums['calltouch.calls']?.rows).toBe(sim.expectedCalls(SITE_ID, FROM, TO).length)
    expect(cleanChecksums['calltouch.requests']?.rows).toBe(sim.expectedRequests(SITE_ID, FROM, TO).length)
    expect(cleanChecksums['calltouch.call_tags']?.rows).toBeGreaterThan(0)
    expect(cleanChecksums['calltouch.request_tags']?.rows).toBeGreaterThan(0)
  }, 180_000)
  afterAll(async () => {
    await Promise.all([...simulators.map((sim) => sim.close()), ...warehouses.map((tw) => tw.destroy())])
  })

  // One storm at a time: runs side by side on a busy machine would time out for want of CPU, and
  // a retry the simulator did not cause would spoil the exact count.
  describe('each storm', () => {
    for (const storm of STORMS) {
      it(`leaves the warehouse identical to a run without faults, counting each retry: ${storm.name}`, async () => {
        const [sim, tw] = await Promise.all([newSimulator(storm.faults, storm.seed), newWarehouse()])
        const result = await backfill(sim, tw)
        const stats = sim.stats()
        expect(result.exitCode, result.stderr.slice(-2000)).toBe(0)
        const retries = retriedFaults(stats)
        if (storm.faults.shiftPages === undefined) expect(retries).toBeGreaterThan(0)
        else expect(stats.faultsInjected.shiftedPages).toBeGreaterThan(0)
        if (storm.faults.failureRate !== undefined && storm.faults.shiftPages !== undefined)
          expect(retries).toBeGreaterThan(0)
        const deals = sim.expectedDeals(SITE_ID, FROM, TO).length
        const leads = servedLeads(sim)
        // Each part counts its own retries; which part a fault hit depends on the order requests
        // arrived in, so the parts' split is read from the lines and their sum checked exactly.
        const lines = /^backfill: .*, (\d+) retr(?:y|ies), .*\nbackfill leads: .*, (\d+) retr(?:y|ies), .*\n$/.exec(
          result.stdout,
        )
        const dealRetries = Number(lines?.[1])
        const leadRetries = Number(lines?.[2])
        expect(dealRetries + leadRetries).toBe(retries)
        expect(result.stdout).toBe(
          `backfill: 1 site(s), 30 day(s), ${stats.requests.byEndpoint.export} request(s), ${retriesText(dealRetries)}, ${deals} record(s) seen, ${deals} changed, 0 rejected, ${/, (\d+\.\d s)\n/.exec(result.stdout)?.[1]}\n` +
            `backfill leads: 2 stream(s), 60 day(s), ${leadRequests(stats)} request(s), ${retriesText(leadRetries)}, ${leads} lead(s) seen, ${leads} changed, 0 rejected, 0 removed\n`,
        )
        const run = await tw.warehouse.db.selectFrom('etl.runs').selectAll().executeTakeFirstOrThrow()
        expect(run).toMatchObject({ command: 'backfill', status: 'succeeded', error: null })
        expect(run.counters).toMatchObject({
          requests: stats.requests.byEndpoint.export,
          retries: dealRetries,
          daysFailed: 0,
          seen: deals,
          changed: deals,
          rejected: 0,
          leadsStreams: 2,
          leadsDays: 60,
          leadsDaysFailed: 0,
          leadsReadsFailed: 0,
          leadsRequests: leadRequests(stats),
          leadsRetries: leadRetries,
          leadsSeen: leads,
          leadsChanged: leads,
          leadsRejected: 0,
          leadsRemoved: 0,
        })
        expect(stats.rejected429).toBe(0)

        let expected = cleanChecksums
        if (storm.seed !== undefined) {
          // Other data, and shifting inserts deals into the simulator: the clean run to compare with reads the same.
          sim.setFaults({})
          const clean = await newWarehouse()
          expect((await backfill(sim, clean)).exitCode).toBe(0)
          expected = await warehouseChecksums(clean.warehouse.db, SCHEMAS)
        }
        expect(expected['calltouch.orders']?.rows).toBe(deals)
        expect((expected['calltouch.calls']?.rows ?? 0) + (expected['calltouch.requests']?.rows ?? 0)).toBe(leads)
        expect(await warehouseChecksums(tw.warehouse.db, SCHEMAS)).toEqual(expected)
      }, 240_000)
    }
  })

  it('never lets the token into an output or a table', async () => {
    expect(log.leaks()).toEqual([])
    for (const tw of warehouses) expect(await tokenLeaksInWarehouse(tw.warehouse.db)).toEqual([])
  })
})
