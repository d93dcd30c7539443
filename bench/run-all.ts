/**
 * Runs every benchmark of bench/ one after another, each in a process of its own with its
 * default sizes, and says at the end which ones failed. Each benchmark prints its own table
 * and the command that reproduces it; `npm run bench:<name>` runs one (arguments after `--`
 * are passed on, e.g. `npm run bench:backfill-end-to-end -- --deals 1000000`).
 *
 *   npm run bench            (npx tsx bench/run-all.ts [--only name,name])
 */
import { spawn } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

/** In the order issue 7 lists its figures; the simulator's own throughput first. */
export const BENCHMARKS = [
  'simulator-throughput',
  'request-efficiency',
  'load-throughput',
  'backfill-end-to-end',
  'transform',
  'spend-import',
  'ad-spend-requests',
  'leads-requests',
  // Needs Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379).
  'shared-limit-stall',
] as const

const { values: args } = parseArgs({ options: { only: { type: 'string' } } })
const selected = args.only === undefined ? [...BENCHMARKS] : args.only.split(',').map((name) => name.trim())
const unknown = selected.filter((name) => !(BENCHMARKS as readonly string[]).includes(name))
if (unknown.length > 0) {
  process.stderr.write(`--only: unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHMARKS.join(', ')}\n`)
  process.exit(2)
}

const benchDir = path.dirname(fileURLToPath(import.meta.url))
const outcomes: { name: string; code: number | null; seconds: number }[] = []
for (const name of selected) {
  process.stdout.write(
    `\n=== ${name} (load average ${os
      .loadavg()
      .map((load) => load.toFixed(1))
      .join(', ')}) ===\n`,
  )
  const started = performance.now()
  const child = spawn(process.execPath, [...process.execArgv, path.join(benchDir, `${name}.ts`)], { stdio: 'inherit' })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  outcomes.push({ name, code, seconds: (performance.now() - started) / 1000 })
}

process.stdout.write('\n| benchmark | exit code | wall s |\n|---|--:|--:|\n')
for (const outcome of outcomes)
  process.stdout.write(`| ${outcome.name} | ${outcome.code ?? 'killed'} | ${outcome.seconds.toFixed(0)} |\n`)
process.exit(outcomes.every((outcome) => outcome.code === 0) ? 0 : 1)
