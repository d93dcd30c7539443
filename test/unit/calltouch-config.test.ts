import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { clearSecretsForTests, redact } from '../../pipelines/core/secrets.ts'
import {
  calltouchConfigFromEnv,
  DEFAULT_RUN_SETTINGS,
  siteStreams,
} from '../../pipelines/sources/calltouch-deals/config.ts'

const NOW = new Date('2026-11-29T12:00:00+03:00')
const dir = mkdtempSync(path.join(os.tmpdir(), 'site-config-'))

function configFile(name: string, content: unknown): string {
  const file = path.join(dir, name)
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

function problemOf(run: () => unknown): { message: string; exitCode: number } {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(EtlError)
    return { message: (error as EtlError).message, exitCode: (error as EtlError).exitCode }
  }
  throw new Error('expected a configuration error')
}

describe('site configuration from the environment', () => {
  afterEach(() => clearSecretsForTests())

  it('reads one site with the defaults: Moscow, 90 days back, the vendor host', () => {
    const config = calltouchConfigFromEnv(
      { CALLTOUCH_SITE_ID: '12345', CALLTOUCH_API_TOKEN: 'ab/c+d.e' },
      { cwd: dir, now: NOW },
    )
    expect(config).toEqual({
      baseUrl: 'https://api.calltouch.ru',
      sites: [{ siteId: 12345, token: 'ab/c+d.e', timeZone: 'Europe/Moscow', startDate: '2026-08-31' }],
      run: DEFAULT_RUN_SETTINGS,
      source: 'environment',
    })
  })

  it('registers the token as a secret the moment it is read', () => {
    calltouchConfigFromEnv({ CALLTOUCH_SITE_ID: '1', CALLTOUCH_API_TOKEN: 'ab/c+d.e' }, { cwd: dir, now: NOW })
    expect(redact('token ab/c+d.e and ab%2Fc%2Bd.e')).toBe('token [REDACTED] and [REDACTED]')
  })

  it('names every problem at once and exits 2', () => {
    const problem = problemOf(() =>
      calltouchConfigFromEnv(
        {
          CALLTOUCH_SITE_ID: '-4',
          CALLTOUCH_API_TOKEN: 'tok/en',
          CALLTOUCH_TIMEZONE: 'Mars/Olympus',
          CALLTOUCH_START_DATE: '2026-02-30',
          CALLTOUCH_BASE_URL: 'ftp://x',
        },
        { cwd: dir, now: NOW },
      ),
    )
    expect(problem).toEqual({
      exitCode: 2,
      message:
        'the Calltouch configuration in the environment has 4 problems — fix and run again: CALLTOUCH_SITE_ID must be a Calltouch site id (a positive integer), got "-4"; CALLTOUCH_TIMEZONE "Mars/Olympus" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg); CALLTOUCH_START_DATE 2026-02-30 is not a real date; CALLTOUCH_BASE_URL must be an http(s) URL, got "ftp://x"',
    })
  })

  it("refuses a start date in the future of the site's zone", () => {
    expect(
      problemOf(() =>
        calltouchConfigFromEnv(
          { CALLTOUCH_SITE_ID: '1', CALLTOUCH_API_TOKEN: 'tok/en', CALLTOUCH_START_DATE: '2026-11-30' },
          { cwd: dir, now: NOW },
        ),
      ).message,
    ).toBe(
      'the Calltouch configuration in the environment has a problem — fix and run again: CALLTOUCH_START_DATE 2026-11-30 is in the future (today is 2026-11-29 in Europe/Moscow)',
    )
  })

  it('takes the streams from CALLTOUCH_STREAMS, trimmed, in the order deals, calls, requests; blank is every stream', () => {
    const streamsOf = (value: string) =>
      calltouchConfigFromEnv(
        { CALLTOUCH_SITE_ID: '1', CALLTOUCH_API_TOKEN: 'tok/en', CALLTOUCH_STREAMS: value },
        { cwd: dir, now: NOW },
      ).sites[0]
    expect(streamsOf(' requests , calls ')).toEqual({
      siteId: 1,
      token: 'tok/en',
      timeZone: 'Europe/Moscow',
      startDate: '2026-08-31',
      streams: ['calls', 'requests'],
    })
    expect(streamsOf('deals')?.streams).toEqual(['deals'])
    expect(streamsOf('requests,deals,calls')?.streams).toEqual(['deals', 'calls', 'requests'])
    const blank = streamsOf(' ')
    expect(blank).toEqual({ siteId: 1, token: 'tok/en', timeZone: 'Europe/Moscow', startDate: '2026-08-31' })
    expect(siteStreams(blank as NonNullable<typeof blank>)).toEqual(['deals', 'calls', 'requests'])
  })

  it('refuses CALLTOUCH_STREAMS naming an unknown stream, one twice or an empty name, in one line, exit 2', () => {
    const problemWith = (value: string) =>
      problemOf(() =>
        calltouchConfigFromEnv(
          { CALLTOUCH_SITE_ID: '1', CALLTOUCH_API_TOKEN: 'tok/en', CALLTOUCH_STREAMS: value },
          { cwd: dir, now: NOW },
        ),
      )
    const refused = (got: string) => ({
      exitCode: 2,
      message: `the Calltouch configuration in the environment has a problem — fix and run again: CALLTOUCH_STREAMS: must list one or more of "deals", "calls", "requests", each once, got ${got}`,
    })
    expect(problemWith('deals,leads')).toEqual(refused('"leads"'))
    expect(problemWith('Deals')).toEqual(refused('"Deals"'))
    expect(problemWith('calls,requests,calls')).toEqual(refused('a stream twice'))
    expect(problemWith('deals,')).toEqual(refused('""'))
    expect(problemWith(',')).toEqual(refused('"", ""'))
  })

  it('says how to configure a site when none is', () => {
    expect(problemOf(() => calltouchConfigFromEnv({}, { cwd: dir, now: NOW })).message).toBe(
      'no Calltouch site is configured: set CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN, or pass --config FILE (or set CALLTOUCH_CONFIG) listing the sites',
    )
  })
})

describe('site configuration from a JSON file', () => {
  afterEach(() => clearSecretsForTests())

  it('reads several sites, tokens inline or from env, and run settings', () => {
    const file = configFile('good.json', {
      baseUrl: 'http://127.0.0.1:8787/',
      sites: [
        { id: 1, tokenEnv: 'CT_ONE', startDate: '2026-01-01' },
        { id: 2, token: 'two/2+x', timeZone: 'Asia/Yekaterinburg' },
      ],
      lookbackDays: 14,
      timeoutMs: 5000,
    })
    const config = calltouchConfigFromEnv(
      { CT_ONE: 'one/1+y', CALLTOUCH_CONFIG: 'ignored.json' },
      { configFile: file, cwd: dir, now: NOW },
    )
    expect(config).toEqual({
      baseUrl: 'http://127.0.0.1:8787',
      sites: [
        { siteId: 1, token: 'one/1+y', timeZone: 'Europe/Moscow', startDate: '2026-01-01' },
        { siteId: 2, token: 'two/2+x', timeZone: 'Asia/Yekaterinburg', startDate: '2026-08-31' },
      ],
      run: { ...DEFAULT_RUN_SETTINGS, lookbackDays: 14, timeoutMs: 5000 },
      source: file,
    })
    expect(redact('one/1+y two/2+x')).toBe('[REDACTED] [REDACTED]')
  })

  it('takes the file from CALLTOUCH_CONFIG, relative to the working directory', () => {
    configFile('env.json', { sites: [{ id: 7, token: 'seven/7' }] })
    expect(
      calltouchConfigFromEnv({ CALLTOUCH_CONFIG: 'env.json' }, { cwd: dir, now: NOW }).sites.map((site) => site.siteId),
    ).toEqual([7])
  })

  it('lists every problem of the file in one message', () => {
    const file = configFile('bad.json', {
      sites: [
        { id: 1, token: 'tok/one' },
        { id: 1, tokenEnv: 'CT_MISSING', timeZone: 'Nowhere/City', startDate: '2027-01-01' },
        { id: 0, tokn: 'x' },
        { id: 3, token: 'a', tokenEnv: 'B' },
      ],
      lookbackDays: -1,
      requestsPerSecond: 9,
    })
    const problem = problemOf(() => calltouchConfigFromEnv({}, { configFile: file, cwd: dir, now: NOW }))
    expect(problem.exitCode).toBe(2)
    expect(problem.message.split(' — fix and run again: ')[0]).toBe(`the Calltouch config file ${file} has 10 problems`)
    expect(problem.message.split(' — fix and run again: ')[1]?.split('; ').sort()).toEqual([
      'lookbackDays: Too small: expected number to be >=0',
      'requestsPerSecond: Too big: expected number to be <=5',
      'sites[1].id: site 1 is listed twice (also sites[0]): list each site once',
      'sites[1].startDate: 2027-01-01 is in the future (today is 2026-11-29 in Europe/Moscow)',
      'sites[1].timeZone: "Nowhere/City" is not an IANA time zone (e.g. Europe/Moscow, Asia/Yekaterinburg)',
      "sites[1].tokenEnv: the environment variable CT_MISSING is not set or empty: export it with the site's API token",
      'sites[2].id: Too small: expected number to be >=1',
      'sites[2]: Unrecognized key: "tokn"',
      'sites[2]: needs token or tokenEnv (the name of an environment variable holding the token)',
      'sites[3]: give either token or tokenEnv, not both',
    ])
  })

  it("reads each site's streams in the order deals, calls, requests; a site without them loads every stream", () => {
    const file = configFile('streams.json', {
      sites: [
        { id: 1, token: 'one/1', streams: ['requests', 'deals'] },
        { id: 2, token: 'two/2', streams: ['calls'] },
        { id: 3, token: 'three/3' },
      ],
    })
    const { sites } = calltouchConfigFromEnv({}, { configFile: file, cwd: dir, now: NOW })
    expect(sites).toEqual([
      { siteId: 1, token: 'one/1', timeZone: 'Europe/Moscow', startDate: '2026-08-31', streams: ['deals', 'requests'] },
      { siteId: 2, token: 'two/2', timeZone: 'Europe/Moscow', startDate: '2026-08-31', streams: ['calls'] },
      { siteId: 3, token: 'three/3', timeZone: 'Europe/Moscow', startDate: '2026-08-31' },
    ])
    expect(sites.map(siteStreams)).toEqual([['deals', 'requests'], ['calls'], ['deals', 'calls', 'requests']])
  })

  it('refuses streams that name an unknown stream, one twice, none, or are not a list, one problem per site', () => {
    const file = configFile('bad-streams.json', {
      sites: [
        { id: 1, token: 'one/1', streams: ['deals', 'leads', 2] },
        { id: 2, token: 'two/2', streams: ['calls', 'calls'] },
        { id: 3, token: 'three/3', streams: [] },
        { id: 4, token: 'four/4', streams: 'deals' },
        { id: 5, token: 'five/5', streams: null },
      ],
    })
    const rule = 'must list one or more of "deals", "calls", "requests", each once'
    expect(problemOf(() => calltouchConfigFromEnv({}, { configFile: file, cwd: dir, now: NOW }))).toEqual({
      exitCode: 2,
      message: `the Calltouch config file ${file} has 5 problems — fix and run again: sites[0].streams: ${rule}, got "leads", 2; sites[1].streams: ${rule}, got a stream twice; sites[2].streams: ${rule}, got none; sites[3].streams: ${rule}, got "deals"; sites[4].streams: ${rule}, got null`,
    })
  })

  it('refuses a file that is not JSON or not there, saying so', () => {
    const file = configFile('broken.json', '{ "sites": [ }')
    expect(problemOf(() => calltouchConfigFromEnv({}, { configFile: file, cwd: dir, now: NOW })).message).toMatch(
      new RegExp(`^the Calltouch config file ${file} is not valid JSON \\(.+\\): fix its syntax$`),
    )
    expect(
      problemOf(() => calltouchConfigFromEnv({}, { configFile: 'nope.json', cwd: dir, now: NOW })).message,
    ).toMatch(
      /^cannot read the Calltouch config file .*nope\.json: .*ENOENT.* — pass an existing JSON file to --config \(or CALLTOUCH_CONFIG\)$/,
    )
  })
})
