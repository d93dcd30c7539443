/**
 * What a bench needs to run the product as users do: `calltouch-etl` in a process of its own (node
 * with the bin's shebang flags, as `npx calltouch-etl` runs it), with an environment holding none of
 * the caller's product settings, and a PostgreSQL database of its own to load into and drop after.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BIN = path.join(ROOT, 'bin', 'calltouch-etl.js')

/** The server benches create their databases on. */
export const BENCH_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** This process's environment without the product's settings (CALLTOUCH_*, YANDEX_DIRECT_*, VK_ADS_*, DATABASE_URL), plus `settings`. */
export function cliEnv(settings: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env))
    if (value !== undefined && !/^(CALLTOUCH_|YANDEX_DIRECT_|VK_ADS_|DATABASE_URL$)/.test(name)) env[name] = value
  return { ...env, ...settings }
}

/** A `calltouch-etl` process: its output so far, and its end. */
export interface CliProcess {
  readonly pid: number
  readonly startedAt: number
  stdout(): string
  stderr(): string
  kill(signal: NodeJS.Signals): void
  /** Resolves once `ready(stderr)` holds, or the process has ended. */
  waitForStderr(ready: (stderr: string) => boolean): Promise<void>
  readonly exited: Promise<CliExit>
}

export interface CliExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Epoch ms. */
  readonly endedAt: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Starts `calltouch-etl <args>` as `npx calltouch-etl` would: node with the bin's shebang flags.
 *
 * @example
 * const run = spawnCli(['backfill', '--from', '2026-11-01', '--to', '2026-11-28', '--json'], cliEnv({ DATABASE_URL }), dir)
 * const { code, stdout } = await run.exited
 */
export function spawnCli(
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
  nodeArgs: readonly string[] = [],
): CliProcess {
  const shebang = readFileSync(BIN, 'utf8').split('\n')[0] ?? ''
  const nodeFlags = shebang.split(/\s+/).filter((word) => word.startsWith('--'))
  const startedAt = Date.now()
  const child = spawn(process.execPath, [...nodeFlags, ...nodeArgs, BIN, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let ended = false
  const exited = new Promise<CliExit>((resolve) =>
    child.once('close', (code, signal) => {
      ended = true
      resolve({ code, signal, endedAt: Date.now(), stdout, stderr })
    }),
  )
  return {
    pid: child.pid ?? -1,
    startedAt,
    stdout: () => stdout,
    stderr: () => stderr,
    kill: (signal) => void child.kill(signal),
    async waitForStderr(ready) {
      while (!ended && !ready(stderr)) await new Promise((resolve) => setTimeout(resolve, 50))
    },
    exited,
  }
}

/** A new database on {@link BENCH_SERVER_URL}, named `<prefix>_<random>`, and how to drop it. */
export async function createBenchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: BENCH_SERVER_URL })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(BENCH_SERVER_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: BENCH_SERVER_URL })
      await client.connect()
      try {
        await client.query(`drop database if exists ${name} with (force)`)
      } finally {
        await client.end()
      }
    },
  }
}

/**
 * A module for `node --import` that stamps each request of a `calltouch-etl` process as its
 * headers leave (the channel the product's limiter counts by) and measures its event loop's
 * delay, written as JSON to `<dir>/<pid>.json` when the process exits: the client's view of a
 * run, to set beside what the server counted.
 */
const SEND_PROBE = `
import diagnosticsChannel from 'node:diagnostics_channel'
import fs from 'node:fs'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
const sends = []
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
diagnosticsChannel.subscribe('undici:client:sendHeaders', () => sends.push(Date.now()))
process.on('exit', () => fs.writeFileSync(path.join(process.env.BENCH_SEND_PROBE_DIR, process.pid + '.json'),
  JSON.stringify({ sends, loopDelayMaxMs: delay.max / 1e6, loopDelayP99Ms: delay.percentile(99) / 1e6 })))
`

/** What a probed process saw of itself. */
export interface ProbedSends {
  /** Epoch ms of each request's headers leaving. */
  readonly sends: readonly number[]
  readonly loopDelayMaxMs: number
  readonly loopDelayP99Ms: number
}

/**
 * Writes the probe into `dir`; returns the node arguments and environment that load it, and how
 * to read what a process (by pid) recorded once it has exited.
 */
export async function sendProbe(dir: string): Promise<{
  nodeArgs: string[]
  env: Record<string, string>
  read(pid: number): Promise<ProbedSends | undefined>
}> {
  const file = path.join(dir, 'send-probe.mjs')
  await fs.writeFile(file, SEND_PROBE)
  return {
    nodeArgs: ['--import', pathToFileURL(file).href],
    env: { BENCH_SEND_PROBE_DIR: dir },
    read: (pid) =>
      fs
        .readFile(path.join(dir, `${pid}.json`), 'utf8')
        .then((text) => JSON.parse(text) as ProbedSends)
        .catch(() => undefined),
  }
}

/** The most of `times` (sorted epoch ms) in any window (t − ms, t]. */
export function mostInAnyWindow(times: readonly number[], ms: number): number {
  let most = 0
  for (let end = 0, start = 0; end < times.length; end++) {
    while ((times[start] ?? 0) <= (times[end] ?? 0) - ms) start++
    most = Math.max(most, end - start + 1)
  }
  return most
}
