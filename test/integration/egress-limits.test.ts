/**
 * One limit per egress address, through the real command line over real HTTP, with real Redis
 * and PostgreSQL: two `backfill` processes at once, each with a warehouse of its own (so the run
 * lock does not take turns), read the requests journal of a site each (one request a day, so 30
 * days are 30 requests). Bound to one address and sharing the limit in Redis they never send more
 * than 5 in any second by the simulator's count, which counts per client address as Calltouch
 * does; bound to two addresses each sends its own 5. A bad address, a Redis nobody answers and a
 * Redis that dies mid-run each end in one line.
 */
import { afterEach, beforeEach, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
import { startSimulator, type RunningSimulator, type SimulatorStats } from '../../simulator/index.ts'
import type { CliResult } from '../helpers/cli.ts'
import { E2E_NOW, E2E_TOKEN, OutputLog, runE2eCli, scratchDir, spawnCli } from '../helpers/e2e-harness.ts'
import { describeWithRedis, freePort, startPrivateRedis, TEST_REDIS_URL } from '../helpers/redis-server.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const SITES = [7101, 7102] as const
/** 30 days to E2E_NOW's day: 30 requests a process. */
const FROM = '2026-10-22'
const TO = '2026-11-20'
const DAYS = 30
/** Latency with jitter, so that sends and arrivals do not keep one spacing. */
const SIMULATOR = {
  now: E2E_NOW,
  seed: 19,
  latencyMs: 100,
  latencyJitterMs: 100,
  sites: SITES.map((siteId) => ({ siteId, token: E2E_TOKEN, dealsPerDay: 2, requestsPerDay: 3 })),
}
const TEST_TIMEOUT_MS = 90_000

/** What the simulator counted of one address when it sent its share with the limit kept and never met. */
const saturated = (requests: number): SimulatorStats['byAddress'][string] => ({
  requests,
  rejected429: 0,
  maxRequestsInAnySecond: 5,
  maxStartedInAnySecond: 5,
})

/** The simulator's count of requests, from every address, at a moment. */
interface Sample {
  readonly atMs: number
  readonly requests: number
}

/** Samples of the simulator's request count while the runs go, to see how fast all addresses together sent. */
function sampleRequests(sim: RunningSimulator): { stop(): Sample[] } {
  const samples: Sample[] = []
  const timer = setInterval(() => samples.push({ atMs: performance.now(), requests: sim.stats().requests.total }), 20)
  return {
    stop() {
      clearInterval(timer)
      return samples
    },
  }
}

/** The most requests that arrived, from all addresses together, within any one second of the samples. */
function mostInAnySecond(samples: readonly Sample[]): number {
  let most = 0
  for (let first = 0, last = 0; last < samples.length; last++) {
    while ((samples[last]?.atMs ?? 0) - (samples[first]?.atMs ?? 0) > 1000) first++
    most = Math.max(most, (samples[last]?.requests ?? 0) - (samples[first]?.requests ?? 0))
  }
  return most
}

describePostgres('one limit per egress address', () => {
  describeWithRedis('with Redis', () => {
    let sim: RunningSimulator
    let warehouses: TestWarehouse[] = []
    const log = new OutputLog()

    beforeEach(async () => {
      sim = await startSimulator(SIMULATOR)
      warehouses = await Promise.all(SITES.map(() => createTestWarehouse('postgres')))
    })
    afterEach(async () => {
      await sim.close()
      await Promise.all(warehouses.map((warehouse) => warehouse.destroy()))
      expect(log.leaks()).toEqual([])
    })

    /** The env of the process reading site `index`'s requests into warehouse `index`. */
    const envOf = (index: number, egress: Record<string, string>): Record<string, string> => ({
      ...warehouses[index]?.env,
      CALLTOUCH_SITE_ID: String(SITES[index]),
      CALLTOUCH_API_TOKEN: E2E_TOKEN,
      CALLTOUCH_STREAMS: 'requests',
      CALLTOUCH_BASE_URL: sim.url,
      CALLTOUCH_ETL_STATE_DIR: scratchDir('egress-state'),
      ...egress,
    })
    const backfill = (index: number, egress: Record<string, string>): Promise<CliResult> =>
      runE2eCli(log, ['backfill', '--from', FROM, '--to', TO], envOf(index, egress), 80_000)

    /** Each warehouse holds its site's requests of every day, each day's ledger ok. */
    const expectBothComplete = async (): Promise<void> => {
      for (const [index, siteId] of SITES.entries()) {
        const { db } = (warehouses[index] as TestWarehouse).warehouse
        const served = sim.expectedRequests(siteId, FROM, TO)
        const held = await executeSql<{ request_id: string }>(
          db,
          'select request_id::text as request_id from calltouch.requests where site_id = $1',
          [siteId],
        )
        expect(held.map((row) => Number(row.request_id)).sort((a, b) => a - b)).toEqual(
          served.map((request) => request.requestId).sort((a, b) => a - b),
        )
        const [ledger] = await executeSql<{ days: number; ok: number }>(
          db,
          `select count(*)::integer as days, (count(*) filter (where status = 'ok'))::integer as ok
           from etl.ledger where source = 'calltouch-requests' and account = $1`,
          [String(siteId)],
        )
        expect(ledger).toEqual({ days: DAYS, ok: DAYS })
      }
    }
    const summaryOf = (siteId: number): string =>
      `backfill leads: 1 stream(s), ${DAYS} day(s), ${DAYS} request(s), 0 retries, ${sim.expectedRequests(siteId, FROM, TO).length} lead(s) seen, ${sim.expectedRequests(siteId, FROM, TO).length} changed, 0 rejected, 0 removed\n`

    /**
     * Both backfills at once, process `index` bound to `addresses[index]` and sharing its limit in
     * Redis: each ends ok with its exact summary and says where its requests left from. Returns
     * the samples of the simulator's count taken meanwhile.
     */
    const backfillBoth = async (addresses: readonly [string, string]): Promise<Sample[]> => {
      const sampling = sampleRequests(sim)
      const results = await Promise.all(
        addresses.map((address, index) =>
          backfill(index, { CALLTOUCH_ETL_EGRESS_ADDRESS: address, CALLTOUCH_ETL_REDIS_URL: TEST_REDIS_URL }),
        ),
      )
      const samples = sampling.stop()
      for (const [index, result] of results.entries()) {
        expect(result.exitCode, result.stderr).toBe(0)
        expect(result.stdout).toBe(summaryOf(SITES[index] as number))
        expect(result.stderr).toContain(
          `"msg":"requests leave from ${addresses[index]}; calltouch's limit is shared in Redis as calltouch@${addresses[index]}"`,
        )
      }
      return samples
    }

    it(
      'two processes bound to 127.0.0.2 share its 5 a second through Redis: never 6 in a second at the server, both warehouses complete',
      async () => {
        const samples = await backfillBoth(['127.0.0.2', '127.0.0.2'])
        expect(sim.stats().byAddress).toEqual({ '127.0.0.2': saturated(2 * DAYS) })
        expect(mostInAnySecond(samples)).toBeLessThanOrEqual(5)
        await expectBothComplete()
      },
      TEST_TIMEOUT_MS,
    )

    it(
      'two processes bound to 127.0.0.2 and 127.0.0.3 each send their own 5 a second: together well above 5',
      async () => {
        const samples = await backfillBoth(['127.0.0.2', '127.0.0.3'])
        expect(sim.stats().byAddress).toEqual({ '127.0.0.2': saturated(DAYS), '127.0.0.3': saturated(DAYS) })
        expect(mostInAnySecond(samples)).toBeGreaterThanOrEqual(8)
        await expectBothComplete()
      },
      TEST_TIMEOUT_MS,
    )

    it(
      'an address the machine does not have, and a Redis nobody answers, each stop the run in one line before any request',
      async () => {
        const notOurs = await runE2eCli(
          log,
          ['backfill', '--from', FROM, '--to', TO],
          envOf(0, { CALLTOUCH_ETL_EGRESS_ADDRESS: '192.0.2.7' }),
        )
        expect(notOurs).toEqual({
          exitCode: 2,
          stdout: '',
          stderr:
            'error: CALLTOUCH_ETL_EGRESS_ADDRESS 192.0.2.7 is not an address of this machine (EADDRNOTAVAIL): give one of its own addresses (ip -brief address lists them), or unset it to send from the default route\n',
        })
        const port = await freePort()
        const nobody = await runE2eCli(
          log,
          ['sync'],
          envOf(0, { CALLTOUCH_ETL_REDIS_URL: `redis://127.0.0.1:${port}` }),
        )
        expect(nobody).toEqual({
          exitCode: 1,
          stdout: '',
          stderr: `error: Redis at redis://127.0.0.1:${port} (CALLTOUCH_ETL_REDIS_URL) does not answer (connect ECONNREFUSED 127.0.0.1:${port}): start it, fix the URL, or unset the variable to limit requests per process\n`,
        })
        const check = await runE2eCli(log, ['check'], envOf(0, { CALLTOUCH_ETL_EGRESS_ADDRESS: '192.0.2.7' }))
        expect(check.exitCode).toBe(1)
        expect(check.stdout.split('\n').filter((line) => line.includes('egress'))).toEqual([
          'FAILED egress: CALLTOUCH_ETL_EGRESS_ADDRESS 192.0.2.7 is not an address of this machine (EADDRNOTAVAIL): give one of its own addresses (ip -brief address lists them), or unset it to send from the default route',
        ])
        const bound = await runE2eCli(
          log,
          ['check'],
          envOf(0, { CALLTOUCH_ETL_EGRESS_ADDRESS: '127.0.0.3', CALLTOUCH_ETL_REDIS_URL: TEST_REDIS_URL }),
        )
        expect(bound.exitCode, bound.stdout).toBe(0)
        expect(bound.stdout).toContain(
          "ok egress: requests leave from 127.0.0.3; calltouch's limit is shared in Redis as calltouch@127.0.0.3\n",
        )
        // The failed runs sent nothing; each check probed the requests journal once: unbound when the address
        // failed (the token is still worth trying), from its address when it did not.
        const probe = { requests: 1, rejected429: 0, maxRequestsInAnySecond: 1, maxStartedInAnySecond: 1 }
        expect(sim.stats().byAddress).toEqual({ '127.0.0.1': probe, '127.0.0.3': probe })
      },
      TEST_TIMEOUT_MS,
    )

    it(
      'a Redis that dies mid-run stops the run in one line (exit 1), and nothing is sent unlimited after it',
      async () => {
        const redis = await startPrivateRedis()
        try {
          const run = spawnCli(
            ['backfill', '--from', FROM, '--to', TO],
            envOf(0, { CALLTOUCH_ETL_EGRESS_ADDRESS: '127.0.0.2', CALLTOUCH_ETL_REDIS_URL: redis.url }),
          )
          while (sim.stats().requests.total < 5) await new Promise((resolve) => setTimeout(resolve, 20))
          await redis.kill()
          const killedAt = performance.now()
          const sentBefore = sim.stats().requests.total
          const result = await run.exited
          expect(performance.now() - killedAt).toBeLessThan(15_000)
          expect(result.exitCode).toBe(1)
          const lastLine = result.stderr.trimEnd().split('\n').at(-1)
          expect(lastLine).toMatch(
            new RegExp(
              `^error: the shared request limit is lost: Redis at ${redis.url.replaceAll('.', '\\.')} \\(CALLTOUCH_ETL_REDIS_URL\\) stopped answering \\([^)]+\\); the run stops rather than send unlimited: start Redis and run again$`,
            ),
          )
          // Only requests that had their place before Redis died may still have gone out.
          const stats = sim.stats()
          expect(stats.requests.total - sentBefore).toBeLessThanOrEqual(5)
          expect(stats.byAddress['127.0.0.2']?.maxRequestsInAnySecond).toBeLessThanOrEqual(5)
          const runs = await executeSql<{ command: string; status: string; error: string }>(
            (warehouses[0] as TestWarehouse).warehouse.db,
            'select command, status, error from etl.runs order by run_id',
          )
          expect(runs).toEqual([{ command: 'backfill', status: 'failed', error: lastLine?.slice('error: '.length) }])
        } finally {
          await redis.kill()
        }
      },
      TEST_TIMEOUT_MS,
    )
  })
})
