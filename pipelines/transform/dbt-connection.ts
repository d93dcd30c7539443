import { EtlError } from '../core/errors.ts'

/** The variables dbt/profiles.yml reads with env_var(). */
export interface DbtConnectionEnv {
  readonly DBT_HOST: string
  readonly DBT_PORT: string
  readonly DBT_USER: string
  readonly DBT_PASSWORD: string
  readonly DBT_DBNAME: string
  readonly DBT_SCHEMA: string
}

export const DEFAULT_DBT_PORT = '5432'
/** libpq's default user is the OS login; the warehouse's compose file and docs use postgres. */
export const DEFAULT_DBT_USER = 'postgres'

function refused(problem: string): EtlError {
  return new EtlError(
    'USAGE',
    `DATABASE_URL ${problem}; write it as postgres://user:password@host:5432/database (percent-encode '/', '@', '%' in the password) or postgres:///database?host=/var/run/postgresql`,
  )
}

function decoded(text: string, what: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw refused(`has a ${what} that is not valid percent-encoding`)
  }
}

/**
 * The DBT_* variables of dbt/profiles.yml from a PostgreSQL URL, read with the
 * WHATWG URL parser (never a regular expression): percent-encoded user,
 * password and database decoded, an IPv6 host without its brackets, and
 * libpq's query parameters `host` (a socket directory too), `port`, `user`,
 * `password` over the URL's parts. The password never appears in a message.
 *
 * @example
 * dbtConnectionEnv('postgres://etl:p%2Fss@[::1]:5433/warehouse')
 * // { DBT_HOST: '::1', DBT_PORT: '5433', DBT_USER: 'etl', DBT_PASSWORD: 'p/ss', DBT_DBNAME: 'warehouse', DBT_SCHEMA: 'analytics' }
 */
export function dbtConnectionEnv(databaseUrl: string, schema = 'analytics'): DbtConnectionEnv {
  let url: URL
  try {
    url = new URL(databaseUrl)
  } catch {
    throw refused('is not a URL')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw refused(`has the scheme '${url.protocol.replace(/:$/, '')}', not postgres`)
  const query = url.searchParams
  const host = query.get('host') ?? url.hostname.replace(/^\[(.*)\]$/, '$1')
  const dbname = decoded(url.pathname.replace(/^\//, ''), 'database name')
  if (!host) throw refused('names no host (nor ?host=/socket/directory)')
  if (!dbname) throw refused('names no database')
  const port = query.get('port') ?? (url.port || DEFAULT_DBT_PORT)
  if (!/^\d+$/.test(port)) throw refused(`has the port '${port}', not a number`)
  return {
    DBT_HOST: host,
    DBT_PORT: port,
    DBT_USER: query.get('user') ?? (url.username ? decoded(url.username, 'user') : DEFAULT_DBT_USER),
    DBT_PASSWORD: query.get('password') ?? decoded(url.password, 'password'),
    DBT_DBNAME: dbname,
    DBT_SCHEMA: schema,
  }
}
