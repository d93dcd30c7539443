import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
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
import type { CliResult } from '../helpers/cli.ts'

const SITE_ID = 950
const FROM = '2026-11-14'
const TO = '2026-11-20'
/** What must not change: the deals, their raw versions and the spend (the ledger may say a read failed). */
const LOADED = ['calltouch', 'raw', 'marketing']
/** A duration at the end of a summary line. */
const SECONDS = /\d+\.\d s/
/** Several CLI runs on a busy 2-core machine: each starts tsx (2–10 s under load). */
const CLI_TEST_TIMEOUT_MS = 240_000

describePostgres('bad input to the command line', () => {
  const log = new OutputLog()
  let sim: RunningSimulator
  let tw: TestWarehouse
  let dir: string
  let loaded: Record<string, TableChecksum>
  let closedPort: number

  const cli = (args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runE2eCli(log, args, { ...tw.env, ...env })
  const config = (name: string, content: Record<string, unknown> | string): string =>
    writeConfigFile(dir, content, name)
  /** A site that reads deals only: the cases expect the deals' lines exactly. */
  const site = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    id: SITE_ID,
    tokenEnv: 'CT_TOKEN',
    streams: ['deals'],
    ...extra,
  })

  /** The answer, with the duration of a summary line made fixed, and the warehouse's loaded content unchanged. */
  const answerOf = async (result: CliResult): Promise<{ exitCode: number; stdout: string; stderr: string }> => {
    expect(await warehouseChecksums(tw.warehouse.db, LOADED)).toEqual(loaded)
    return { exitCode: result.exitCode, stdout: result.stdout.replace(SECONDS, 'N s'), stderr: result.stderr }
  }
  /** stderr lines that are not JSON log lines: what a person reads. */
  const said = (stderr: string): string =>
    stderr
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('{'))
      .join('\n')

  beforeAll(async () => {
    dir = scratchDir('bad-input')
    ;[sim, tw] = await Promise.all([
      startSimulator({ now: E2E_NOW, seed: 5, sites: [{ siteId: SITE_ID, token: E2E_TOKEN, dealsPerDay: 10 }] }),
      createTestWarehouse('postgres'),
    ])
    const good = config('good.json', { baseUrl: sim.url, sites: [site()], maxRetries: 1, timeoutMs: 3000 })
    expect((await cli(['backfill', '--config', good, '--from', FROM, '--to', TO])).exitCode).toBe(0)
    writeFileSync(path.join(dir, 'spend.csv'), 'date,source,medium,campaign,cost\n2026-11-14,yandex,cpc,brand,100.50\n')
    expect((await cli(['spend', 'import', path.join(dir, 'spend.csv'), '--site', String(SITE_ID)])).exitCode).toBe(0)
    loaded = await warehouseChecksums(tw.warehouse.db, LOADED)
    expect(loaded['calltouch.orders']?.rows).toBe(sim.expectedDeals(SITE_ID, FROM, TO).length)
    expect(loaded['marketing.ad_spend']?.rows).toBe(1)
    // A port nothing listens on: take a free one and let it go.
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closedPort = (server.address() as net.AddressInfo).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }, 180_000)
  afterAll(async () => {
    await Promise.all([sim?.close(), tw?.destroy()])
  })

  it("answers a wrong token with the API's refusal per window and exit code 1", async () => {
    const file = config('wrong-token.json', {
      baseUrl: sim.url,
      sites: [site({ tokenEnv: 'CT_WRONG' })],
      maxRetries: 1,
    })
    const result = await answerOf(
      await cli(['backfill', '--config', file, '--from', FROM, '--to', TO], { CT_WRONG: 'wrong/token+x.y' }),
    )
    // A refusal of the site is not retried, and its other windows are not tried.
    expect({ ...result, stderr: said(result.stderr) }).toEqual({
      exitCode: 1,
      stdout: `backfill: 1 site(s), 7 day(s) (7 failed), 1 request(s), 0 retries, 0 record(s) seen, 0 changed, 0 rejected, N s\nfailed: site ${SITE_ID} 2026-11-14..2026-11-20: deals of site ${SITE_ID} from 2026-11-14 to 2026-11-21, page 1: Calltouch answered HTTP 403: Доступ запрещён: неверный токен или идентификатор сайта — check the site id and its API token\n`,
      stderr: '',
    })
  })

  it('answers a site the token does not open with the same refusal and exit code 1', async () => {
    const file = config('wrong-site.json', { baseUrl: sim.url, sites: [site({ id: SITE_ID + 1 })], maxRetries: 1 })
    const result = await answerOf(await cli(['backfill', '--config', file, '--from', FROM, '--to', TO]))
    expect({ ...result, stderr: said(result.stderr) }).toEqual({
      exitCode: 1,
      stdout: `backfill: 1 site(s), 7 day(s) (7 failed), 1 request(s), 0 retries, 0 record(s) seen, 0 changed, 0 rejected, N s\nfailed: site ${SITE_ID + 1} 2026-11-14..2026-11-20: deals of site ${SITE_ID + 1} from 2026-11-14 to 2026-11-21, page 1: Calltouch answered HTTP 403: Доступ запрещён: неверный токен или идентификатор сайта — check the site id and its API token\n`,
      stderr: '',
    })
  })

  it(
    'answers an API nobody listens at with the network error and exit code 1',
    async () => {
      const file = config('unreachable.json', {
        baseUrl: `http://127.0.0.1:${closedPort}`,
        sites: [site()],
        maxRetries: 1,
      })
      const result = await answerOf(await cli(['backfill', '--config', file, '--from', FROM, '--to', TO]))
      // A network error is retried (maxRetries 1 here), then the window fails.
      expect({ ...result, stderr: said(result.stderr) }).toEqual({
        exitCode: 1,
        stdout: `backfill: 1 site(s), 7 day(s) (7 failed), 2 request(s), 1 retry, 0 record(s) seen, 0 changed, 0 rejected, N s\nfailed: site ${SITE_ID} ${FROM}..${TO}: deals of site ${SITE_ID} from ${FROM} to 2026-11-21, page 1: network error (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${closedPort})\n`,
        stderr: '',
      })
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'refuses days that are not dates, or backwards, missing or unknown options, with one line and exit code 2',
    async () => {
      const good = config('good-2.json', { baseUrl: sim.url, sites: [site()] })
      const answers = []
      for (const args of [
        ['backfill', '--config', good, '--from', '2026-02-30', '--to', 'yesterday'],
        ['backfill', '--config', good, '--from', TO, '--to', FROM],
        ['backfill', '--config', good, '--from', FROM, '--to', TO, '--sites', String(SITE_ID)],
        ['backfill', '--config', good, '--form', FROM, '--to', TO],
        ['backfill', '--config', good, '--to', TO],
        ['sync', '--config', good, '--lookback-days', 'many'],
      ])
        answers.push(await answerOf(await cli(args)))
      const refused = (line: string) => ({ exitCode: 2, stdout: '', stderr: `error: ${line}\n` })
      expect(answers).toEqual([
        refused('backfill: --from 2026-02-30 is not a real date; --to must be a date as YYYY-MM-DD, got "yesterday"'),
        refused(`backfill: --from ${TO} is after --to ${FROM}: give the earlier day first`),
        refused("unknown option '--sites' (Did you mean --site?) (see 'calltouch-etl --help')"),
        refused("unknown option '--form' (Did you mean --from?) (see 'calltouch-etl --help')"),
        refused('backfill: --from YYYY-MM-DD is required'),
        refused('--lookback-days must be a whole number of days (0 or more), got "many"'),
      ])
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'refuses a config file that is not JSON, and lists every problem of one that is, with exit code 2',
    async () => {
      const answers = []
      answers.push(
        await answerOf(
          await cli([
            'sync',
            '--config',
            config('not-json.json', `{ "sites": [ { "id": ${SITE_ID}, "token": "${E2E_TOKEN}", } ] }`),
          ]),
        ),
      )
      // A token written without quotes: V8's message would quote the text around it.
      const unquoted = config('unquoted.json', `{"sites":[{"id":1,"token":${E2E_TOKEN}}]}`)
      answers.push(await answerOf(await cli(['sync', '--config', unquoted])))
      // --verbose prints causes and stacks: V8's own message must not be among them.
      expect((await cli(['sync', '--verbose', '--config', unquoted])).stderr).not.toContain(E2E_TOKEN.slice(0, 5))
      answers.push(
        await answerOf(
          await cli([
            'sync',
            '--config',
            config('problems.json', {
              baseUrl: 'ftp://example.com',
              sites: [
                { id: 0, token: E2E_TOKEN },
                { id: SITE_ID, token: E2E_TOKEN, tokenEnv: 'CT_TOKEN' },
                { id: 7, tokenEnv: 'NOT_SET', startDate: '2026-13-01' },
              ],
              lookbackDays: -1,
              colour: 'blue',
            }),
          ]),
        ),
      )
      answers.push(await answerOf(await cli(['sync', '--config', path.join(dir, 'missing.json')])))
      answers.push(
        await answerOf(await cli(['sync'], { CALLTOUCH_SITE_ID: 'abc', CALLTOUCH_TIMEZONE: 'Mars/Olympus' })),
      )
      const refused = (line: string) => ({ exitCode: 2, stdout: '', stderr: `error: ${line}\n` })
      expect(answers).toEqual([
        refused(
          `the Calltouch config file ${dir}/not-json.json is not valid JSON (Expected double-quoted property name in JSON at position 57): fix its syntax`,
        ),
        refused(
          `the Calltouch config file ${dir}/unquoted.json is not valid JSON (an unexpected character: check the quotes and commas): fix its syntax`,
        ),
        refused(
          `the Calltouch config file ${dir}/problems.json has 7 problems — fix and run again: sites[0].id: Too small: expected number to be >=1; lookbackDays: Too small: expected number to be >=0; (the file): Unrecognized key: "colour"; sites[1]: give either token or tokenEnv, not both; sites[2].tokenEnv: the environment variable NOT_SET is not set or empty: export it with the site's API token; sites[2].startDate: 2026-13-01 is not a real date; baseUrl: must be an http(s) URL, got "ftp://example.com"`,
        ),
        refused(
          `cannot read the Calltouch config file ${dir}/missing.json: ENOENT: no such file or directory, open '${dir}/missing.json' — pass an existing JSON file to --config (or CALLTOUCH_CONFIG)`,
        ),
        refused(
          'the Calltouch configuration in the environment has 3 problems — fix and run again: CALLTOUCH_SITE_ID must be a Calltouch site id (a positive integer), got "abc"; CALLTOUCH_API_TOKEN is not set: set it to the API token (clientApiId) from Calltouch\'s integration settings; CALLTOUCH_TIMEZONE "Mars/Olympus" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)',
        ),
      ])
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'refuses a spend file with bad lines whole, naming each line, with exit code 2',
    async () => {
      const result = await answerOf(
        await cli(['spend', 'import', path.resolve('test/fixtures/spend/bad-lines.csv'), '--site', String(SITE_ID)]),
      )
      expect(result).toEqual({
        exitCode: 2,
        stdout: '',
        stderr:
          'error: bad-lines.csv: 3 bad lines — line 4: date "31.02.2026" is not a real date (use YYYY-MM-DD or DD.MM.YYYY); line 6: 4 fields where the header has 5 (a value is missing: leave an empty field for it); line 7: cost "-5" is negative; nothing was imported\n',
      })
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it('never lets the token into an output or a table', async () => {
    expect(log.leaks()).toEqual([])
    expect(await tokenLeaksInWarehouse(tw.warehouse.db)).toEqual([])
  })
})
