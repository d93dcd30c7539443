import net from 'node:net'
import cron from 'node-cron'
import { warehouseConfigFromEnv } from './config.ts'
import { messageOf } from './errors.ts'
import { LOG_FORMATS, LOG_LEVELS } from './logger.ts'

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
  /**
   * For a program-wide variable with a format: why a set (non-blank) value is wrong, as one
   * sentence naming the variable and the fix, or undefined when it is right. Every command
   * checks these first. The variables of a source (CALLTOUCH_SITE_ID, …_BASE_URL) are checked by
   * that source's config, which names every problem of it at once, when a command reads it.
   */
  readonly problem?: (value: string) => string | undefined
}

const oneOf = (name: string, choices: readonly string[]) => (value: string) =>
  choices.includes(value) ? undefined : `${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`

export const ENV_SETTINGS: readonly EnvSetting[] = [
  {
    name: 'DATABASE_URL',
    defaultValue: null,
    description: 'PostgreSQL warehouse (postgres://user:password@host:5432/db); unset = embedded PGlite warehouse',
    secret: true,
    problem: (value) => {
      try {
        warehouseConfigFromEnv({ DATABASE_URL: value })
        return undefined
      } catch (error) {
        return messageOf(error)
      }
    },
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
    problem: oneOf('CALLTOUCH_ETL_LOG_FORMAT', LOG_FORMATS),
  },
  {
    name: 'CALLTOUCH_ETL_LOG_LEVEL',
    defaultValue: 'info',
    description: 'Least important log level shown; --log-level overrides',
    problem: oneOf('CALLTOUCH_ETL_LOG_LEVEL', LOG_LEVELS),
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
    name: 'CALLTOUCH_STREAMS',
    defaultValue: 'deals,calls,requests',
    description: 'What the site loads, comma-separated: the deals export, the calls journal, the requests journal',
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
    name: 'CALLTOUCH_ETL_PII',
    defaultValue: 'keep',
    description:
      'What the warehouse stores of client contacts (phones, names): keep (clear, readable by the owner only), hash (their keyed hash) or drop (nothing), raw payloads included; fixed per warehouse (README, Personal data)',
  },
  {
    name: 'CALLTOUCH_ETL_PII_KEY',
    defaultValue: 'pii.key in CALLTOUCH_ETL_STATE_DIR, generated once',
    description:
      "Key of client_key, the HMAC-SHA256 of a client's phone: 32 or more bytes as hex or base64; back it up, another key changes every client_key",
    secret: true,
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
    problem: (value) =>
      cron.validate(value)
        ? undefined
        : `CALLTOUCH_ETL_SCHEDULE ${JSON.stringify(value)} is not a cron expression: give 5 fields (minute hour day month weekday), or 6 with seconds first, e.g. '0 3 * * *'`,
  },
  {
    name: 'CALLTOUCH_ETL_EGRESS_ADDRESS',
    defaultValue: null,
    description:
      "An IPv4 or IPv6 address of this machine that every API connection of sync, backfill, schedule and check binds to; unset = the default route's",
    problem: (value) =>
      net.isIP(value) === 0
        ? `CALLTOUCH_ETL_EGRESS_ADDRESS must be an IPv4 or IPv6 address of this machine such as 10.0.0.2, got ${JSON.stringify(value)}`
        : undefined,
  },
  {
    name: 'CALLTOUCH_ETL_REDIS_URL',
    defaultValue: null,
    description:
      "Redis (redis://host:6379) where every process sending from one egress address counts Calltouch's 5 requests a second together; unset = each process counts its own",
    secret: true,
    problem: (value) => {
      let protocol: string | undefined
      try {
        protocol = new URL(value).protocol
      } catch {
        protocol = undefined
      }
      return protocol === 'redis:' || protocol === 'rediss:'
        ? undefined
        : 'CALLTOUCH_ETL_REDIS_URL must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379'
    },
  },
]

/**
 * Every problem of the variables with a format that `env` sets (blank counts as unset),
 * in ENV_SETTINGS order: one sentence each.
 *
 * @example envProblems({ CALLTOUCH_ETL_LOG_LEVEL: 'verbose' }) // ['CALLTOUCH_ETL_LOG_LEVEL must be fatal, error, …, got "verbose"']
 */
export function envProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  return ENV_SETTINGS.flatMap((setting) => {
    const value = env[setting.name]?.trim() ?? ''
    const problem = value === '' ? undefined : setting.problem?.(value)
    return problem === undefined ? [] : [problem]
  })
}
