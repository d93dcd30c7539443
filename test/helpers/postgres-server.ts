import pg from 'pg'

/**
 * The PostgreSQL server tests run against: TEST_DATABASE_URL, default the
 * local server on these machines. Each test file creates its own database on it.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

const START_HINT =
  'start it (on these machines: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or point TEST_DATABASE_URL at another server'

/** null when the server answers, otherwise why not. */
export async function postgresProblem(): Promise<string | null> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 })
  try {
    await client.connect()
    await client.query('select 1')
    return null
  } catch (error) {
    return `PostgreSQL for tests is unreachable at ${new URL(TEST_DATABASE_URL).host} (${(error as Error).message}): ${START_HINT}`
  } finally {
    await client.end().catch(() => {})
  }
}

/** A URL for `database` on the test server. */
export function testDatabaseUrl(database: string): string {
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${database}`
  return url.toString()
}

export async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
