/**
 * What the end-to-end tests share: the real command line in a child process
 * (killable), a config file pointing at a simulator, every output kept for the
 * secret scan, and the scan itself.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { executeSql, type WarehouseDb } from '../../pipelines/warehouse/connection.ts'
import { CLI_PATH, cliChildEnv, REPO_ROOT, runCli, type CliResult } from './cli.ts'

/** The token every e2e test uses: `/`, `+` and `.` make its URL-encoded forms differ from it. */
export const E2E_TOKEN = 'a/b+c.d-SECRET-e/f'

/**
 * Every form in which the token could leak: as is, URL-encoded (upper and lower
 * case hex), form-encoded, JSON-escaped, and its middle alone (a partial leak).
 */
export const E2E_TOKEN_FORMS: readonly string[] = [
  E2E_TOKEN,
  encodeURIComponent(E2E_TOKEN),
  encodeURIComponent(E2E_TOKEN).toLowerCase(),
  new URLSearchParams({ t: E2E_TOKEN }).toString().slice(2),
  JSON.stringify(E2E_TOKEN).slice(1, -1).replace(/\//g, '\\/'),
  'd-SECRET-e',
]

/** Where the simulator's clock stands in the e2e tests: fixed, so the data never depends on the day the tests run. */
export const E2E_NOW = '2026-11-20T12:00:00+03:00'

/** A scratch directory of the test's own. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `calltouch-e2e-${prefix}-`))
}

/** Writes a Calltouch config file (sites read their token from CT_TOKEN unless they give one) and returns its path. */
export function writeConfigFile(
  dir: string,
  config: Record<string, unknown> | string,
  name = 'calltouch.json',
): string {
  const file = path.join(dir, name)
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2))
  return file
}

/** Outputs of every command a test file ran, for the secret scan at its end. */
export class OutputLog {
  readonly texts: string[] = []

  keep(result: CliResult): CliResult {
    this.texts.push(result.stdout, result.stderr)
    return result
  }

  /** Every kept text that contains a form of the token, with the form found (empty when none). */
  leaks(): string[] {
    return this.texts.flatMap((text) =>
      E2E_TOKEN_FORMS.filter((form) => text.includes(form)).map((form) => `${form} in: ${text.slice(0, 300)}`),
    )
  }
}

/** Runs the CLI (child process) with the token in CT_TOKEN, keeping its output in `log`. */
export async function runE2eCli(
  log: OutputLog,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliResult> {
  return log.keep(await runCli(args, { CT_TOKEN: E2E_TOKEN, ...env }, { timeoutMs }))
}

/** A CLI process that can be killed: its output so far, and how it ended. */
export interface SpawnedCli {
  readonly pid: number
  kill(signal: NodeJS.Signals): void
  /** What it wrote to stderr so far. */
  stderr(): string
  /** Resolves once its stderr so far satisfies `ready` (e.g. contains a log line), or when it has exited first. */
  waitForStderr(ready: (stderr: string) => boolean): Promise<void>
  /** Resolves when the process has exited: its exit code, or the signal that ended it. */
  readonly exited: Promise<CliResult & { readonly signal: NodeJS.Signals | null }>
}

/** Starts the CLI in a child process without waiting for it (to kill it midway). */
export function spawnCli(args: readonly string[], env: Record<string, string>): SpawnedCli {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: REPO_ROOT,
    env: cliChildEnv({ CT_TOKEN: E2E_TOKEN, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ exitCode: code ?? -1, signal, stdout, stderr }))
  })
  let ended = false
  void exited.then(() => (ended = true))
  return {
    pid: child.pid as number,
    kill: (signal) => child.kill(signal),
    stderr: () => stderr,
    async waitForStderr(ready) {
      while (!ended && !ready(stderr)) await new Promise((resolve) => setTimeout(resolve, 20))
    },
    exited,
  }
}

interface TableRow {
  table_schema: string
  table_name: string
}

/**
 * Rows of every table in every schema of the warehouse (the catalogs aside)
 * whose text, every column included, contains a form of the token: table and
 * count, empty when there are none.
 */
export async function tokenLeaksInWarehouse(db: WarehouseDb): Promise<string[]> {
  const tables = await executeSql<TableRow>(
    db,
    `
    select table_schema, table_name from information_schema.tables
    where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') and table_schema not like 'pg_temp%' and table_schema not like 'pg_toast%'
    order by 1, 2`,
  )
  const leaks: string[] = []
  for (const { table_schema, table_name } of tables) {
    const [row] = await executeSql<{ leaks: number }>(
      db,
      `
      select count(*)::integer as leaks from "${table_schema}"."${table_name}" t
      where exists (select 1 from unnest($1::text[]) f where strpos(t::text, f) > 0)`,
      [E2E_TOKEN_FORMS],
    )
    if ((row?.leaks ?? 0) > 0) leaks.push(`${table_schema}.${table_name}: ${row?.leaks} row(s)`)
  }
  return leaks
}

/** A seeded PRNG (mulberry32), so "random" kill moments are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
