import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_AD_ACCOUNT_SETTINGS } from '../../pipelines/core/ad-account.ts'
import { EtlError } from '../../pipelines/core/errors.ts'
import { clearSecretsForTests, redact } from '../../pipelines/core/secrets.ts'
import { runConfigFromEnv } from '../../pipelines/jobs/run-config.ts'

const NOW = new Date('2026-11-29T12:00:00+03:00')
const dir = mkdtempSync(path.join(os.tmpdir(), 'run-config-'))

function configFile(name: string, content: unknown): string {
  const file = path.join(dir, name)
  writeFileSync(file, JSON.stringify(content))
  return file
}

function problemsOf(run: () => unknown): { head: string; problems: string[]; exitCode: number } {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(EtlError)
    const [head = '', tail = ''] = (error as EtlError).message.split(' — fix and run again: ')
    return { head, problems: tail.split('; ').sort(), exitCode: (error as EtlError).exitCode }
  }
  throw new Error('expected a configuration error')
}

const SITES = [{ id: 12345, tokenEnv: 'CT_TOKEN', startDate: '2026-01-01' }]

describe('ad accounts in the configuration', () => {
  afterEach(() => clearSecretsForTests())

  it('reads both account types of the config file with their credentials, defaults and the site they advertise', () => {
    const file = configFile('accounts.json', {
      sites: SITES,
      adAccounts: [
        {
          type: 'yandex-direct',
          site: 12345,
          tokenEnv: 'DIRECT_TOKEN',
          clientLogin: 'shop-client',
          startDate: '2026-03-01',
          utm: { source: 'yandex', medium: 'cpc', campaign: 'id' },
        },
        {
          type: 'vk-ads',
          site: 12345,
          clientIdEnv: 'VK_ID',
          clientSecret: 'inline-vk-secret',
          baseUrl: 'http://127.0.0.1:9/',
          utm: { source: 'vk', medium: 'social', campaign: 'name' },
        },
      ],
      adLookbackDays: 14,
    })
    const config = runConfigFromEnv(
      { CT_TOKEN: 'ct-token', DIRECT_TOKEN: 'direct-secret-token', VK_ID: 'vk-app-1' },
      { configFile: file, cwd: dir, now: NOW },
    )
    expect(config.calltouch.sites.map((site) => site.siteId)).toEqual([12345])
    expect(config.adAccounts).toEqual([
      {
        type: 'yandex-direct',
        siteId: 12345,
        startDate: '2026-03-01',
        timeZone: 'Europe/Moscow',
        utm: { source: 'yandex', medium: 'cpc', campaign: 'id' },
        baseUrl: 'https://api.direct.yandex.com',
        currency: undefined,
        where: 'adAccounts[0]',
        token: 'direct-secret-token',
        clientLogin: 'shop-client',
      },
      {
        type: 'vk-ads',
        siteId: 12345,
        startDate: '2026-01-01',
        timeZone: 'Europe/Moscow',
        utm: { source: 'vk', medium: 'social', campaign: 'name' },
        baseUrl: 'http://127.0.0.1:9',
        currency: undefined,
        where: 'adAccounts[1]',
        clientId: 'vk-app-1',
        clientSecret: 'inline-vk-secret',
      },
    ])
    expect(config.adSettings).toEqual({ ...DEFAULT_AD_ACCOUNT_SETTINGS, lookbackDays: 14 })
    expect(redact('direct-secret-token inline-vk-secret')).toBe('[REDACTED] [REDACTED]')
  })

  it('names every problem of the sites and the accounts in one message, exit 2, echoing no secret', () => {
    const file = configFile('bad-accounts.json', {
      sites: [{ id: 12345, token: 'ct' }, { id: 0 }],
      adAccounts: [
        { type: 'yandex-direct', site: 999, token: 'direct-inline', tokenEnv: 'ALSO' },
        { type: 'google-ads', site: 12345 },
        { type: 'vk-ads', site: 12345, clientId: 'a', clientSecretEnv: 'VK_SECRET_MISSING', utm: { campaign: 'slug' } },
        { type: 'yandex-direct', site: 12345, tokenEnv: 'DIRECT_TOKEN', clientLogin: 'bad login!', extra: 1 },
        'not an object',
      ],
      adRefreshAfterDays: 0,
    })
    const { head, problems, exitCode } = problemsOf(() =>
      runConfigFromEnv({ DIRECT_TOKEN: 'direct-env' }, { configFile: file, cwd: dir, now: NOW }),
    )
    expect(exitCode).toBe(2)
    expect(head).toBe(`the Calltouch config file ${file} has 11 problems`)
    expect(problems).toEqual([
      'adAccounts[0].site: 999 is not a configured site (sites: 12345): use one of them',
      'adAccounts[0]: give either token or tokenEnv, not both',
      'adAccounts[1].type: must be "yandex-direct" or "vk-ads", got "google-ads"',
      "adAccounts[2].clientSecretEnv: the environment variable VK_SECRET_MISSING is not set or empty: export it with the VK Ads app's client_secret",
      'adAccounts[2].utm.campaign: must be "id" (utm_campaign carries the campaign id) or "name" (its name), got "slug"',
      'adAccounts[3].clientLogin: must be the advertiser\'s Yandex login (letters, digits, dots, dashes), got "bad login!"',
      'adAccounts[3]: unknown key "extra" (known: type, site, token, tokenEnv, clientLogin, startDate, utm, baseUrl, currency)',
      'adAccounts[4]: must be an object with a type (yandex-direct or vk-ads)',
      'adRefreshAfterDays: must be a whole number of days from 1 to 3660, got 0',
      'sites[1].id: Too small: expected number to be >=1',
      'sites[1]: needs token or tokenEnv (the name of an environment variable holding the token)',
    ])
  })

  it('refuses the same account listed twice', () => {
    const file = configFile('twice.json', {
      sites: SITES,
      adAccounts: [
        { type: 'vk-ads', site: 12345, clientId: 'app', clientSecret: 's1' },
        { type: 'vk-ads', site: 12345, clientId: 'app', clientSecret: 's2' },
      ],
    })
    expect(
      problemsOf(() => runConfigFromEnv({ CT_TOKEN: 't' }, { configFile: file, cwd: dir, now: NOW })).problems,
    ).toEqual(['adAccounts[1]: the same vk-ads account as adAccounts[0]: list each account once'])
  })

  it('adds one account of each type for CALLTOUCH_SITE_ID from the environment', () => {
    const config = runConfigFromEnv(
      {
        CALLTOUCH_SITE_ID: '777',
        CALLTOUCH_API_TOKEN: 'ct',
        YANDEX_DIRECT_TOKEN: 'y-token',
        YANDEX_DIRECT_CLIENT_LOGIN: 'agency-client',
        YANDEX_DIRECT_BASE_URL: 'http://127.0.0.1:1',
        VK_ADS_CLIENT_ID: 'vk-id',
        VK_ADS_CLIENT_SECRET: 'vk-secret',
      },
      { cwd: dir, now: NOW },
    )
    expect(
      config.adAccounts.map((account) => [
        account.type,
        account.siteId,
        account.baseUrl,
        account.where,
        account.startDate,
      ]),
    ).toEqual([
      ['yandex-direct', 777, 'http://127.0.0.1:1', 'environment (YANDEX_DIRECT_TOKEN)', '2026-08-31'],
      ['vk-ads', 777, 'https://ads.vk.com', 'environment (VK_ADS_CLIENT_ID)', '2026-08-31'],
    ])
    expect(
      runConfigFromEnv({ CALLTOUCH_SITE_ID: '777', CALLTOUCH_API_TOKEN: 'ct' }, { cwd: dir, now: NOW }).adAccounts,
    ).toEqual([])
  })

  it('refuses half an account in the environment, together with the site problems', () => {
    const { head, problems } = problemsOf(() =>
      runConfigFromEnv(
        {
          CALLTOUCH_SITE_ID: '777',
          CALLTOUCH_API_TOKEN: 'ct',
          VK_ADS_CLIENT_ID: 'vk-id',
          YANDEX_DIRECT_CLIENT_LOGIN: 'x',
        },
        { cwd: dir, now: NOW },
      ),
    )
    expect(head).toBe('the Calltouch configuration in the environment has 2 problems')
    expect(problems).toEqual([
      "VK_ADS_CLIENT_SECRET is not set while VK_ADS_CLIENT_ID is: set both from the cabinet's Settings → API access",
      'YANDEX_DIRECT_TOKEN is not set while YANDEX_DIRECT_CLIENT_LOGIN or YANDEX_DIRECT_BASE_URL is: set it to the OAuth token of the Direct account',
    ])
  })
})
