/**
 * The demo's simulated world, fixed so that `calltouch-etl demo` prints the
 * same numbers on every machine and `demo/demo-spend.csv` (generated from the
 * same settings by demo/generate-demo-spend.ts) matches its channels.
 */
export const DEMO_SITE_ID = 20261
/** Not a secret: the simulator accepts it and nothing else does. */
export const DEMO_TOKEN = 'demo-token'
export const DEMO_SEED = 2026
export const DEMO_TIME_ZONE = 'Europe/Moscow'
export const DEMO_DEALS_PER_DAY = 40
/** The simulator's clock: the deals' statuses and amounts are as of this moment. */
export const DEMO_NOW = '2026-11-29T09:00:00+03:00'
/** 90 days of history, up to the day before the clock. */
export const DEMO_FIRST_DAY = '2026-08-31'
export const DEMO_LAST_DAY = '2026-11-28'
/**
 * What the demo reads: from the first day of the report's month to the day before the clock (59
 * days). The requests journal costs a request a day at 5 a second, so reading all 90 days of
 * history cost the demo 6 s more for days its report does not show.
 */
export const DEMO_READ_FROM = '2026-10-01'
/** The last full month before the clock: what the demo's table shows. */
export const DEMO_REPORT_FROM = '2026-10-01'
export const DEMO_REPORT_TO = '2026-10-31'
export const DEMO_SPEND_FILE = new URL('./demo-spend.csv', import.meta.url)

/** The demo's Yandex Direct advertiser (the simulator's default campaigns, named like the deals' utm_campaign). */
export const DEMO_YANDEX_DIRECT = {
  accounts: [{ login: 'demo-shop', token: 'demo-direct-token', historyStart: DEMO_FIRST_DAY, dailyCostRub: 18000 }],
}
/** The demo's VK Ads account (the simulator's default ad plans, named like the deals' utm_campaign). */
export const DEMO_VK_ADS = {
  accounts: [
    {
      clientId: 'demo-vk-client',
      clientSecret: 'demo-vk-secret',
      userId: 3000001,
      username: 'demo@vk',
      historyStart: DEMO_FIRST_DAY,
    },
  ],
}

/**
 * The demo's config file: its site and the two ad accounts, all on the simulator at `url`. The
 * simulated deals carry campaign names in utm_campaign, so the accounts match by name; VK's ads
 * bring deals under vk / social.
 */
export function demoConfig(url: string): Record<string, unknown> {
  return {
    baseUrl: url,
    sites: [{ id: DEMO_SITE_ID, token: DEMO_TOKEN, timeZone: DEMO_TIME_ZONE, startDate: DEMO_FIRST_DAY }],
    adAccounts: [
      {
        type: 'yandex-direct',
        site: DEMO_SITE_ID,
        token: DEMO_YANDEX_DIRECT.accounts[0]?.token,
        baseUrl: url,
        utm: { source: 'yandex', medium: 'cpc', campaign: 'name' },
      },
      {
        type: 'vk-ads',
        site: DEMO_SITE_ID,
        clientId: DEMO_VK_ADS.accounts[0]?.clientId,
        clientSecret: DEMO_VK_ADS.accounts[0]?.clientSecret,
        baseUrl: url,
        utm: { source: 'vk', medium: 'social', campaign: 'name' },
      },
    ],
  }
}
