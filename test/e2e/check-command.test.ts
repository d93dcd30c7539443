import { DateTime } from 'luxon'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { E2E_NOW, E2E_TOKEN, OutputLog, runE2eCli, scratchDir, writeConfigFile } from '../helpers/e2e-harness.ts'
import { createTestWarehouse, describePostgres, type TestWarehouse } from '../helpers/warehouse.ts'

const CLI_TEST_TIMEOUT_MS = 120_000

/** `check` tries the configuration, the warehouse and one request per site and ad account, changing nothing. */
describePostgres('calltouch-etl check', () => {
  const log = new OutputLog()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let dir: string

  beforeAll(async () => {
    dir = scratchDir('check')
    sim = await startSimulator({ now: E2E_NOW, sites: [{ siteId: 501, token: E2E_TOKEN, dealsPerDay: 3 }] })
    tw = await createTestWarehouse('postgres')
  }, CLI_TEST_TIMEOUT_MS)
  afterAll(async () => {
    await sim?.close()
    await tw?.destroy()
  })

  const config = () =>
    writeConfigFile(dir, {
      baseUrl: sim.url,
      maxRetries: 0,
      sites: [
        { id: 501, tokenEnv: 'CT_TOKEN' },
        { id: 502, token: 'a-token-of-no-site', streams: ['deals', 'requests'] },
      ],
      adAccounts: [
        { type: 'yandex-direct', site: 501, token: 'direct-test-token', baseUrl: sim.url },
        { type: 'yandex-direct', site: 501, token: 'wrong-direct-token', clientLogin: 'nobody', baseUrl: sim.url },
        { type: 'vk-ads', site: 501, clientId: 'vk-test-client', clientSecret: 'vk-test-secret', baseUrl: sim.url },
      ],
    })

  it(
    'prints one line per check, ok or FAILED with the reason, changes nothing, and exits 1 when one failed',
    async () => {
      const result = await runE2eCli(log, ['check', '--config', config()], {
        ...tw.env,
        CALLTOUCH_ETL_STATE_DIR: path.join(dir, 'state'),
      })
      expect(result.exitCode).toBe(1)
      const lines = result.stdout.trim().split('\n')
      expect(lines.map((line) => line.replace(/:.*$/, ''))).toEqual([
        'ok configuration',
        'ok warehouse',
        'ok site 501',
        'ok site 501 calls',
        'ok site 501 requests',
        'FAILED site 502',
        'FAILED site 502 requests',
        'ok yandex-direct own token (adAccounts[0])',
        'FAILED yandex-direct nobody (adAccounts[1])',
        'ok vk-ads vk-test-client (adAccounts[2])',
        '3 of 10 check(s) failed.',
      ])
      expect(lines[0]).toMatch(/^ok configuration: 2 site\(s\) and 3 ad account\(s\) from .*calltouch\.json$/)
      expect(lines[1]).toMatch(/^ok warehouse: PostgreSQL .*: reachable, schema up to date, no run holding it$/)
      // The site's own streams, each asked once for yesterday (the real clock's, site-local: the
      // simulator's clock is earlier, so its journals hold nothing that day; the probe shows they answer).
      const today = DateTime.now().setZone('Europe/Moscow')
      const yesterday = today.minus({ days: 1 }).toISODate() as string
      const calls = sim.expectedCalls(501, yesterday, yesterday).length
      const requests = sim.expectedRequests(501, yesterday, yesterday).length
      const refusal =
        'Calltouch answered HTTP 403: Доступ запрещён: неверный токен или идентификатор сайта — check the site id and its API token'
      expect(lines.slice(3, 7)).toEqual([
        `ok site 501 calls: the calls journal answers (${calls} call(s) on ${yesterday})`,
        `ok site 501 requests: the requests journal answers (${requests} request(s) on ${yesterday})`,
        `FAILED site 502: deals of site 502 from ${yesterday} to ${today.toISODate()}, page 1: ${refusal}`,
        `FAILED site 502 requests: requests of site 502 on ${yesterday}: ${refusal}`,
      ])
      expect(lines[7]).toBe(
        'ok yandex-direct own token (adAccounts[0]): Clients.get answers: login shop-client, currency RUB',
      )
      expect(lines[8]).toMatch(/53/)
      expect(lines[9]).toBe(
        'ok vk-ads vk-test-client (adAccounts[2]): the token works and user.json answers (currency RUB)',
      )
      expect(sim.vkAds.stats().accounts['vk-test-client']?.tokenMints).toBe(1)
      expect(log.leaks()).toEqual([])
      expect(log.texts.join('\n')).not.toContain('wrong-direct-token')
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'a second check reuses the stored VK token instead of minting another',
    async () => {
      const result = await runE2eCli(log, ['check', '--config', config()], {
        ...tw.env,
        CALLTOUCH_ETL_STATE_DIR: path.join(dir, 'state'),
      })
      expect(result.stdout).toMatch(/\nok vk-ads vk-test-client/)
      expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({ tokenMints: 1, maxLiveTokens: 1 })
    },
    CLI_TEST_TIMEOUT_MS,
  )
})
