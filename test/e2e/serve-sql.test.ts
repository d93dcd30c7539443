import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_PATH, cliChildEnv, REPO_ROOT, runCli, type CliResult } from '../helpers/cli.ts'

/** The demo takes ~15 s alone; on a 2-core machine shared with other test files, far more. */
const DEMO_TIMEOUT_MS = 240_000
const TEST_TIMEOUT_MS = 120_000

/** Runs the real psql client and returns its exit code and output. */
function psql(port: number, args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-X', '-At', ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({ exitCode, stdout, stderr })
      },
    )
  })
}

/** Resolves with the text of `stream` once it holds a match of `pattern`. */
function waitForOutput(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(
      () => reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms; got: ${text}`)),
      timeoutMs,
    )
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      const match = text.match(pattern)
      if (match !== null) {
        clearTimeout(timer)
        resolve(match)
      }
    })
  })
}

describe('calltouch-etl serve-sql (pglite)', () => {
  let dir: string
  let env: Record<string, string>
  let dataDir: string
  let server: ChildProcessWithoutNullStreams | undefined
  let serverOutput = ''
  let port: number
  let martRows: string

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-serve-sql-'))
    dataDir = path.join(dir, 'warehouse')
    env = { CALLTOUCH_ETL_DATA_DIR: dataDir }
    const demo = await runCli(['demo'], env, { timeoutMs: DEMO_TIMEOUT_MS })
    expect(demo.exitCode).toBe(0)
    const counted = await runCli(['sql', '--csv', 'select count(*) from analytics.fct_marketing_daily'], env)
    expect(counted.exitCode).toBe(0)
    martRows = counted.stdout.split('\r\n')[1] ?? ''
    expect(Number(martRows)).toBeGreaterThan(0)

    server = spawn(process.execPath, [CLI_PATH, 'serve-sql', '--port', '0'], {
      cwd: REPO_ROOT,
      env: cliChildEnv(env),
    })
    server.stdout.on('data', (chunk: Buffer) => (serverOutput += chunk.toString('utf8')))
    // The last line of the announcement: the whole of it has arrived.
    const [, announced] = await waitForOutput(
      server.stdout,
      /jdbc:postgresql:\/\/127\.0\.0\.1:(\d+)\/postgres .*\n/,
      60_000,
    )
    port = Number(announced)
  }, DEMO_TIMEOUT_MS + 60_000)

  afterAll(async () => {
    if (server !== undefined && server.exitCode === null) server.kill('SIGKILL')
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('says where it serves and how to connect', () => {
    expect(serverOutput).toBe(
      [
        `Serving the embedded warehouse at ${dataDir} on 127.0.0.1:${port}, read-only, as calltouch_metabase (the marts only), one connection at a time; Ctrl+C stops it and frees the data directory. Connect with:`,
        `  psql -h 127.0.0.1 -p ${port} -U postgres`,
        `  jdbc:postgresql://127.0.0.1:${port}/postgres (DBeaver, Metabase: user postgres, any password)`,
        '',
      ].join('\n'),
    )
  })

  it(
    'answers psql with the exact count of analytics.fct_marketing_daily, and again on a new connection',
    async () => {
      const first = await psql(port, ['-c', 'select count(*) from analytics.fct_marketing_daily'])
      expect(first.stderr).toBe('')
      expect(first.stdout).toBe(`${martRows}\n`)
      expect(first.exitCode).toBe(0)
      const second = await psql(port, ['-c', 'select count(*) from analytics.fct_marketing_daily'])
      expect(second.stdout).toBe(`${martRows}\n`)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'serves the marts only, as the BI role: client contacts, staging views and the raw tables are refused, also after a client reset its session',
    async () => {
      const refused = await psql(port, ['-c', 'select count(*) from calltouch.orders'])
      expect([refused.exitCode, refused.stderr.split('\n')[0]]).toEqual([
        1,
        'ERROR:  permission denied for schema calltouch',
      ])
      const staging = await psql(port, ['-c', 'select count(*) from analytics_staging.stg_calltouch__orders'])
      expect([staging.exitCode, staging.stderr.split('\n')[0]]).toEqual([
        1,
        'ERROR:  permission denied for schema analytics_staging',
      ])
      const who = await psql(port, ['-c', 'discard all', '-c', 'select current_user'])
      expect(who.stdout).toBe('DISCARD ALL\ncalltouch_metabase\n')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    "serves read-only sessions, and a client's settings and open transaction do not reach the next client",
    async () => {
      const write = await psql(port, ['-c', 'create table public.not_allowed (x int)'])
      expect(write.exitCode).toBe(1)
      expect(write.stderr).toBe('ERROR:  cannot execute CREATE TABLE in a read-only transaction\n')
      const leaves = await psql(port, ['-c', "set time zone 'Asia/Tokyo'", '-c', 'begin', '-c', 'select 1'])
      expect(leaves.stdout).toBe('SET\nBEGIN\n1\n')
      const next = await psql(port, ['-c', 'show time zone', '-c', 'select pg_current_xact_id_if_assigned() is null'])
      expect(next.stdout).toBe('UTC\nt\n')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'serves the extended protocol (a named prepared statement with a parameter, as JDBC sends), and the next client may prepare the same name',
    async () => {
      for (const addend of [1, 2]) {
        const client = new pg.Client({
          host: '127.0.0.1',
          port,
          user: 'postgres',
          password: 'any',
          database: 'postgres',
        })
        await client.connect()
        try {
          const result = await client.query<{ total: string }>({
            name: 'S_1',
            text: 'select (count(*) + $1::int)::text as total from analytics.fct_marketing_daily',
            values: [addend],
          })
          expect(result.rows).toEqual([{ total: String(Number(martRows) + addend) }])
        } finally {
          await client.end()
        }
      }
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'refuses a second client while one stays connected (after waiting 2 s for it to leave) with a FATAL error naming the rule, and serves the next one after',
    async () => {
      const holder = spawn('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-X', '-At'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      })
      try {
        holder.stdin.write('select 41 + 1;\n')
        await waitForOutput(holder.stdout, /^42\n/, 30_000)
        const second = await psql(port, ['-c', 'select 1'])
        expect(second.exitCode).toBe(2)
        expect(second.stdout).toBe('')
        expect(second.stderr).toBe(
          `psql: error: connection to server at "127.0.0.1", port ${port} failed: FATAL:  the embedded warehouse serves one connection at a time and another client is connected: close that one and connect again (a PostgreSQL server, DATABASE_URL, serves many)\n`,
        )
      } finally {
        holder.stdin.end('\\q\n')
        await new Promise((resolve) => holder.once('exit', resolve))
      }
      const after = await psql(port, ['-c', 'select 7'])
      expect(after.stdout).toBe('7\n')
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'keeps the data directory locked: a second writer gets the "in use" line and exit 3',
    async () => {
      const migrate = await runCli(['migrate'], env)
      expect(migrate.exitCode).toBe(3)
      expect(migrate.stdout).toBe('')
      expect(migrate.stderr).toBe(
        `error: the embedded warehouse at ${dataDir} is in use by another calltouch-etl process; wait for it to finish (or set CALLTOUCH_ETL_DATA_DIR to another directory)\n`,
      )
      const sql = await runCli(['sql', 'select 1'], env)
      expect(sql.exitCode).toBe(3)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'stops on SIGTERM with exit 0 and frees the data directory for the next command',
    async () => {
      const running = server
      if (running === undefined) throw new Error('the server did not start')
      const exited = new Promise<number | null>((resolve) => running.once('exit', (code) => resolve(code)))
      running.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(serverOutput).toMatch(
        /\nStopped \(SIGTERM\); the embedded warehouse at .+ is free for other commands\.\n$/,
      )
      const migrate = await runCli(['migrate'], env)
      expect(migrate.stderr).toBe('')
      expect(migrate.exitCode).toBe(0)
    },
    TEST_TIMEOUT_MS,
  )
})

describe('calltouch-etl serve-sql, refusals', () => {
  it('refuses to serve with DATABASE_URL set, in one line with exit 2', async () => {
    const result = await runCli(['serve-sql'], { DATABASE_URL: 'postgres://etl:secret-pass@127.0.0.1:1/warehouse' })
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe(
      'error: serve-sql serves the embedded warehouse, and DATABASE_URL names a PostgreSQL server: connect psql, DBeaver or Metabase to that server directly (or unset DATABASE_URL)\n',
    )
  })

  it('refuses a port that is not one, in one line with exit 2', async () => {
    const result = await runCli(['serve-sql', '--port', '70000'])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toBe('error: --port must be a TCP port (0 to 65535), got "70000"\n')
  })
})
