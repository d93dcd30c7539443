import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { REPO_ROOT, runCli, type CliResult } from '../helpers/cli.ts'

/** CLI runs on a busy 2-core machine: PGlite starts in 2–5 s and each run starts tsx. */
const CLI_TEST_TIMEOUT_MS = 180_000
const SITE_ID = 5151
const TOKEN = 'module-loading-token'
const RECORDER = pathToFileURL(path.join(REPO_ROOT, 'test/helpers/record-resolved-modules.mjs')).href
const REPO_URL = pathToFileURL(REPO_ROOT).href
/** What bin/prebuilt-cli.js writes next to a bundle: the sources in each of its files. */
const SOURCES_FILE = 'sources.json'
/** A file of a prebuilt bundle: its folder's URL and its name. */
const BUNDLE_FILE = /^(.*\/node_modules\/\.cache\/calltouch-etl\/[0-9a-f]+\/)([^/]+\.mjs)$/

/** 'YYYY-MM-DD' of `date` in Moscow, the sites' default zone. */
function moscowDay(date: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Moscow' }).format(date)
}

describe('the modules a command loads', () => {
  let dir: string
  let sim: RunningSimulator

  /** Runs the command line and returns its result and the repository files it loaded, relative to the repository. */
  const runRecorded = async (
    args: string[],
    env: Record<string, string> = {},
  ): Promise<CliResult & { loaded: string[]; modulesFile: string }> => {
    const modulesFile = path.join(dir, `modules-${args.join('-').replace(/[^a-z]+/g, '-')}.txt`)
    const result = await runCli(
      args,
      { NODE_OPTIONS: `--import=${RECORDER}`, RECORD_RESOLVED_MODULES_TO: modulesFile, ...env },
      { timeoutMs: 120_000 },
    )
    const urls = readFileSync(modulesFile, 'utf8').split('\n')
    const loaded = [
      ...new Set(
        urls.flatMap((url) => {
          // A file of the command's prebuilt bundle (bin/prebuilt-cli.js) stands for the sources in it.
          const bundled = BUNDLE_FILE.exec(url)
          if (bundled) {
            const [, dir = '', file = ''] = bundled
            const sources = JSON.parse(readFileSync(new URL(`${dir}${SOURCES_FILE}`), 'utf8')) as Record<
              string,
              string[]
            >
            return sources[file] ?? []
          }
          return url.startsWith(REPO_URL) && !url.includes('/node_modules/') ? [url.slice(REPO_URL.length)] : []
        }),
      ),
    ].sort()
    return { ...result, loaded, modulesFile }
  }
  const testDoubles = (loaded: string[]): string[] =>
    loaded.filter((file) => file.startsWith('simulator/') || file.startsWith('demo/'))

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'module-loading-'))
    sim = await startSimulator({
      now: new Date().toISOString(),
      seed: 7,
      sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 3 }],
    })
  })
  afterAll(async () => {
    await sim?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it(
    'sees the modules the simulator command loads lazily, so that the checks below can fail',
    async () => {
      const result = await runRecorded(['simulator', '--help'])
      // Through the prebuilt bundle, as every run after its first (the build is in the run before).
      expect(readFileSync(result.modulesFile, 'utf8')).toContain('/node_modules/.cache/calltouch-etl/')
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toContain('--shift-pages')
      expect(result.loaded).toContain('pipelines/cli/commands/simulator.ts')
      expect(result.loaded).toContain('simulator/cli.ts')
      expect(result.loaded).toContain('simulator/start-simulator.ts')
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'loads nothing of simulator/ or demo/ for sync --help',
    async () => {
      const result = await runRecorded(['sync', '--help'])
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toMatch(/^Usage: calltouch-etl sync \[options\]/)
      expect(result.loaded).toContain('pipelines/cli/commands/sync.ts')
      expect(testDoubles(result.loaded)).toEqual([])
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'loads nothing of simulator/ or demo/ for a sync that reads a site into the warehouse',
    async () => {
      const result = await runRecorded(['sync'], {
        CALLTOUCH_ETL_DATA_DIR: path.join(dir, 'warehouse'),
        CALLTOUCH_BASE_URL: sim.url,
        CALLTOUCH_SITE_ID: String(SITE_ID),
        CALLTOUCH_API_TOKEN: TOKEN,
        CALLTOUCH_START_DATE: moscowDay(new Date(Date.now() - 6 * 86_400_000)),
      })
      expect(result.stderr).not.toContain('"level":"error"')
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toMatch(
        /^sync: 1 site\(s\), 7 day\(s\), [1-9]\d* request\(s\), 0 retries, [1-9]\d* record\(s\) seen, /,
      )
      expect(result.loaded).toContain('pipelines/warehouse/connection.ts')
      expect(testDoubles(result.loaded)).toEqual([])
    },
    CLI_TEST_TIMEOUT_MS,
  )
})
