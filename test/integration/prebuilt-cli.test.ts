import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliChildEnv, REPO_ROOT, type CliResult } from '../helpers/cli.ts'

/** Each run starts node and may build the bundle (esbuild) on a busy 2-core machine. */
const TEST_TIMEOUT_MS = 120_000
const DESCRIPTION = 'Calltouch deals into a PostgreSQL warehouse (or an embedded one)'

describe('the prebuilt command (bin/prebuilt-cli.js)', () => {
  /** A copy of the program with node_modules of its own (links to the repository's packages), so its bundles are its own. */
  let root: string
  const bundleDir = (): string => path.join(root, 'node_modules', '.cache', 'calltouch-etl')
  const bundles = (): string[] =>
    readdirSync(bundleDir(), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && /^[0-9a-f]+$/.test(entry.name))
      .map((entry) => entry.name)
      .sort()
  const run = (args: readonly string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [path.join(root, 'bin', 'calltouch-etl.js'), ...args],
        { cwd: root, env: cliChildEnv({}), timeout: TEST_TIMEOUT_MS },
        (error, stdout, stderr) =>
          resolve({ exitCode: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      )
    })
  const editSource = (file: string, from: string, to: string): void => {
    const full = path.join(root, file)
    const text = readFileSync(full, 'utf8')
    expect(text).toContain(from)
    writeFileSync(full, text.replace(from, to))
  }

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'prebuilt-cli-'))
    for (const entry of ['bin', 'pipelines', 'migrations', 'sql', 'simulator', 'demo', 'tsconfig.json', 'package.json'])
      cpSync(path.join(REPO_ROOT, entry), path.join(root, entry), { recursive: true })
    mkdirSync(path.join(root, 'node_modules'))
    for (const entry of readdirSync(path.join(REPO_ROOT, 'node_modules')))
      if (entry !== '.cache')
        symlinkSync(path.join(REPO_ROOT, 'node_modules', entry), path.join(root, 'node_modules', entry))
  })
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it(
    'builds a bundle on the first run, runs it, and runs it again while no source changes',
    async () => {
      const first = await run(['--help'])
      expect(first.exitCode).toBe(0)
      expect(first.stdout).toContain(DESCRIPTION)
      const built = bundles()
      expect(built).toHaveLength(1)
      const second = await run(['--help'])
      expect(second.stdout).toBe(first.stdout)
      expect(bundles()).toEqual(built)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'never runs a source as it was before an edit: the next run builds the edited one',
    async () => {
      const before = bundles()
      editSource('pipelines/cli/main.ts', DESCRIPTION, 'Edited since the last bundle')
      const edited = await run(['--help'])
      expect(edited.exitCode).toBe(0)
      expect(edited.stdout).toContain('Edited since the last bundle')
      expect(edited.stdout).not.toContain(DESCRIPTION)
      expect(bundles()).toHaveLength(before.length + 1)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'runs the sources through tsx when they cannot be bundled, so the error is the source’s own',
    async () => {
      editSource('pipelines/core/errors.ts', 'export', 'export const = ;\nexport')
      const broken = await run(['--help'])
      expect(broken.exitCode).not.toBe(0)
      expect(broken.stderr).toContain('pipelines/core/errors.ts')
    },
    TEST_TIMEOUT_MS,
  )
})
