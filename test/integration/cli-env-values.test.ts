import { describe, expect, it } from 'vitest'
import { ENV_SETTINGS } from '../../pipelines/core/settings.ts'
import { runCli } from '../helpers/cli.ts'
import { runMain } from '../helpers/run-main.ts'

/** One bad value of every variable with a format, and the one line that answers it. */
const BAD_VALUES: Readonly<Record<string, readonly [string, string]>> = {
  DATABASE_URL: [
    'mysql://root@localhost/db',
    'DATABASE_URL must start with postgres:// (it starts with mysql://): set it to postgres://user:password@host:5432/database, or unset it to use the embedded warehouse',
  ],
  CALLTOUCH_ETL_LOG_FORMAT: ['xml', 'CALLTOUCH_ETL_LOG_FORMAT must be one of pretty, json, got "xml"'],
  CALLTOUCH_ETL_LOG_LEVEL: [
    'verbose',
    'CALLTOUCH_ETL_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
  ],
  CALLTOUCH_SITE_ID: ['12,13', 'CALLTOUCH_SITE_ID must be a Calltouch site id (a positive integer), got "12,13"'],
  CALLTOUCH_TIMEZONE: [
    'Moscow',
    'CALLTOUCH_TIMEZONE "Moscow" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)',
  ],
  CALLTOUCH_START_DATE: ['01.09.2026', 'CALLTOUCH_START_DATE must be a date as YYYY-MM-DD, got "01.09.2026"'],
  CALLTOUCH_STREAMS: [
    'deals,leads',
    'CALLTOUCH_STREAMS: must list one or more of "deals", "calls", "requests", each once, got "leads"',
  ],
  CALLTOUCH_BASE_URL: [
    'api.calltouch.ru',
    'CALLTOUCH_BASE_URL must be an http(s) URL such as https://api.calltouch.ru, got "api.calltouch.ru"',
  ],
  YANDEX_DIRECT_BASE_URL: [
    'ftp://api.direct.yandex.com',
    'YANDEX_DIRECT_BASE_URL: must be an http(s) URL, got "ftp://api.direct.yandex.com"',
  ],
  VK_ADS_BASE_URL: ['ads.vk.com', 'VK_ADS_BASE_URL: must be an http(s) URL, got "ads.vk.com"'],
  CALLTOUCH_ETL_SCHEDULE: [
    '3am',
    `CALLTOUCH_ETL_SCHEDULE "3am" is not a cron expression: give 5 fields (minute hour day month weekday), or 6 with seconds first, e.g. '0 3 * * *'`,
  ],
  CALLTOUCH_ETL_EGRESS_ADDRESS: [
    '127.0.0.300',
    'CALLTOUCH_ETL_EGRESS_ADDRESS must be an IPv4 or IPv6 address of this machine such as 10.0.0.2, got "127.0.0.300"',
  ],
  CALLTOUCH_ETL_REDIS_URL: [
    '127.0.0.1:6379',
    'CALLTOUCH_ETL_REDIS_URL must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379',
  ],
}

/** Valid ad accounts in env mode, so that a bad base URL is the one problem. */
const AD_ACCOUNTS = {
  YANDEX_DIRECT_TOKEN: 'direct-token',
  VK_ADS_CLIENT_ID: 'vk-id',
  VK_ADS_CLIENT_SECRET: 'vk-secret',
}

/** A valid single-site setup, so that each row shows its own variable's problem alone. */
const SITE = { CALLTOUCH_SITE_ID: '12345', CALLTOUCH_API_TOKEN: 'token-12345' }

describe('a bad value of an environment variable', () => {
  it('is tested here for every variable that has a format', () => {
    const checkedFirst = ENV_SETTINGS.filter((setting) => setting.problem !== undefined).map((setting) => setting.name)
    expect(Object.keys(BAD_VALUES)).toEqual(expect.arrayContaining(checkedFirst))
    expect(checkedFirst.sort()).toEqual([
      'CALLTOUCH_ETL_EGRESS_ADDRESS',
      'CALLTOUCH_ETL_LOG_FORMAT',
      'CALLTOUCH_ETL_LOG_LEVEL',
      'CALLTOUCH_ETL_REDIS_URL',
      'CALLTOUCH_ETL_SCHEDULE',
      'DATABASE_URL',
    ])
  })

  it.each(Object.entries(BAD_VALUES))('%s: one line and exit code 2, before any work', async (name, [value, line]) => {
    const result = await runMain(['sync'], { ...SITE, ...AD_ACCOUNTS, [name]: value })
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^error: [^\n]+\n$/)
    expect(result.stderr).toContain(line)
  })

  it('program-wide ones are refused by every command, even one that reads no site', async () => {
    for (const name of [
      'CALLTOUCH_ETL_EGRESS_ADDRESS',
      'CALLTOUCH_ETL_LOG_FORMAT',
      'CALLTOUCH_ETL_LOG_LEVEL',
      'CALLTOUCH_ETL_REDIS_URL',
      'CALLTOUCH_ETL_SCHEDULE',
      'DATABASE_URL',
    ]) {
      const [value, line] = BAD_VALUES[name] ?? ['', '']
      expect(await runMain(['status'], { [name]: value })).toEqual({
        exitCode: 2,
        stdout: '',
        stderr: `error: ${line}\n`,
      })
    }
  })

  it('names every bad variable at once, in one line', async () => {
    const result = await runMain(['sync'], { CALLTOUCH_ETL_LOG_LEVEL: 'verbose', CALLTOUCH_ETL_SCHEDULE: '3am' })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe(
      `error: ${BAD_VALUES.CALLTOUCH_ETL_LOG_LEVEL?.[1]}; ${BAD_VALUES.CALLTOUCH_ETL_SCHEDULE?.[1]}\n`,
    )
  })

  it('CALLTOUCH_ETL_LOG_LEVEL=verbose in the real command: one line, exit 2, no library error', async () => {
    const result = await runCli(['migrate'], { CALLTOUCH_ETL_LOG_LEVEL: 'verbose' })
    expect(result).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: `error: ${BAD_VALUES.CALLTOUCH_ETL_LOG_LEVEL?.[1]}\n`,
    })
  })

  it('CALLTOUCH_TIMEZONE is checked by status even with no site configured', async () => {
    const result = await runMain(['status'], { CALLTOUCH_TIMEZONE: 'Moscow' })
    expect(result).toEqual({ exitCode: 2, stdout: '', stderr: `error: ${BAD_VALUES.CALLTOUCH_TIMEZONE?.[1]}\n` })
  })

  it('leaves blank values alone: blank is unset', async () => {
    const result = await runMain(['status', '--stale-after-hours', 'x'], {
      CALLTOUCH_ETL_LOG_LEVEL: ' ',
      CALLTOUCH_SITE_ID: '',
    })
    expect(result.stderr).toBe('error: --stale-after-hours must be a positive number of hours, got "x"\n')
  })
})
