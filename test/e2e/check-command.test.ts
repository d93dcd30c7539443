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
        { id: 502, token: 'a-token-of-no-site' },
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
        'FAILED site 502',
        'ok yandex-direct own token (adAccounts[0])',
        'FAILED yandex-direct nobody (adAccounts[1])',
        'ok vk-ads vk-test-client (adAccounts[2])',
        '2 of 7 check(s) failed.',
      ])
      expect(lines[0]).toMatch(/^ok configuration: 2 site\(s\) and 3 ad account\(s\) from .*calltouch\.json$/)
      expect(lines[1]).toMatch(/^ok warehouse: PostgreSQL .*: reachable, schema up to date, no run holding it$/)
      expect(lines[4]).toBe(
        'ok yandex-direct own token (adAccounts[0]): Clients.get answers: login shop-client, currency RUB',
      )
      expect(lines[5]).toMatch(/53/)
      expect(lines[6]).toBe(
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
