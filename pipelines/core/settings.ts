/**
 * Every environment variable the program reads, with its default and meaning.
 * README's configuration table, `.env.example` and docker-compose.yml are
 * tested against this list, so add a variable here when code starts reading it.
 */
export interface EnvSetting {
  readonly name: string
  /** The default as people should read it; null when there is none (required or optional). */
  readonly defaultValue: string | null
  readonly description: string
  /** A secret: never logged; shown as a placeholder in examples. */
  readonly secret?: boolean
}

export const ENV_SETTINGS: readonly EnvSetting[] = [
  {
    name: 'DATABASE_URL',
    defaultValue: null,
    description: 'PostgreSQL warehouse (postgres://user:password@host:5432/db); unset = embedded PGlite warehouse',
    secret: true,
  },
  {
    name: 'CALLTOUCH_ETL_DATA_DIR',
    defaultValue: '.data/warehouse',
    description: 'Directory of the embedded warehouse when DATABASE_URL is unset',
  },
  {
    name: 'CALLTOUCH_ETL_LOG_FORMAT',
    defaultValue: 'pretty on a terminal, json otherwise',
    description: 'Log lines for people (pretty) or machines (json); --log-format overrides',
  },
  {
    name: 'CALLTOUCH_ETL_LOG_LEVEL',
    defaultValue: 'info',
    description: 'Least important log level shown; --log-level overrides',
  },
  {
    name: 'CALLTOUCH_SITE_ID',
    defaultValue: null,
    description: 'Calltouch site id of the one site to sync (a positive integer); not needed with CALLTOUCH_CONFIG',
  },
  {
    name: 'CALLTOUCH_API_TOKEN',
    defaultValue: null,
    description: "The site's API token (clientApiId); never logged or stored",
    secret: true,
  },
  {
    name: 'CALLTOUCH_TIMEZONE',
    defaultValue: 'Europe/Moscow',
    description: "IANA zone of the site's dates (the API's dates carry no zone)",
  },
  {
    name: 'CALLTOUCH_START_DATE',
    defaultValue: '90 days ago',
    description: 'First day (YYYY-MM-DD) the first sync reads',
  },
  {
    name: 'CALLTOUCH_BASE_URL',
    defaultValue: 'https://api.calltouch.ru',
    description:
      "The API; the default asks getnodeid for the site's node, falling back to itself; any other URL (e.g. the simulator's) is used as is",
  },
  {
    name: 'CALLTOUCH_CONFIG',
    defaultValue: null,
    description:
      'JSON file listing several sites and run settings (as --config); replaces CALLTOUCH_SITE_ID and CALLTOUCH_API_TOKEN',
  },
  {
    name: 'CALLTOUCH_ETL_STATE_DIR',
    defaultValue: '.data/state',
    description: 'Directory of state kept between runs (VK Ads tokens, mode 0600); back it up with the warehouse',
  },
  {
    name: 'YANDEX_DIRECT_TOKEN',
    defaultValue: null,
    description:
      "OAuth token of a Yandex Direct account whose spend sync reads for CALLTOUCH_SITE_ID; never logged or stored (env mode; the config file's adAccounts otherwise)",
    secret: true,
  },
  {
    name: 'YANDEX_DIRECT_CLIENT_LOGIN',
    defaultValue: null,
    description: "The advertiser's login, required with an agency's token (Client-Login)",
  },
  {
    name: 'YANDEX_DIRECT_BASE_URL',
    defaultValue: 'https://api.direct.yandex.com',
    description: 'The Direct API (the simulator or a proxy otherwise)',
  },
  {
    name: 'VK_ADS_CLIENT_ID',
    defaultValue: null,
    description: 'client_id of the VK Ads API access whose spend sync reads for CALLTOUCH_SITE_ID (env mode)',
  },
  {
    name: 'VK_ADS_CLIENT_SECRET',
    defaultValue: null,
    description: 'client_secret of that API access; never logged or stored',
    secret: true,
  },
  {
    name: 'VK_ADS_BASE_URL',
    defaultValue: 'https://ads.vk.com',
    description: 'The VK Ads API (the simulator or a proxy otherwise)',
  },
  {
    name: 'CALLTOUCH_ETL_SCHEDULE',
    defaultValue: '0 3 * * *',
    description:
      "When `schedule` runs sync then transform: a cron expression (5 fields, or 6 with seconds) in the site's zone; --cron overrides",
  },
]
