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
  { name: 'DATABASE_URL', defaultValue: null, description: 'PostgreSQL warehouse (postgres://user:password@host:5432/db); unset = embedded PGlite warehouse', secret: true },
  { name: 'CALLTOUCH_ETL_DATA_DIR', defaultValue: '.data/warehouse', description: 'Directory of the embedded warehouse when DATABASE_URL is unset' },
  { name: 'CALLTOUCH_ETL_LOG_FORMAT', defaultValue: 'pretty on a terminal, json otherwise', description: 'Log lines for people (pretty) or machines (json); --log-format overrides' },
  { name: 'CALLTOUCH_ETL_LOG_LEVEL', defaultValue: 'info', description: 'Least important log level shown; --log-level overrides' },
  { name: 'CALLTOUCH_ETL_SCHEDULE', defaultValue: '0 3 * * *', description: "When `schedule` runs sync then transform: a cron expression (5 fields, or 6 with seconds) in the site's zone; --cron overrides" },
]
