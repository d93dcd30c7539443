import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DateTime } from 'luxon'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator } from '../../simulator/index.ts'
import { CLI_PATH, cliChildEnv, REPO_ROOT } from '../helpers/cli.ts'

const SITE_ID = 4321
const TOKEN = 'progress-terminal-token'
const CLI_TEST_TIMEOUT_MS = 120_000

/**
 * The screen a terminal shows after `output`: the lines as a person reads them. Knows what the
 * bar and readline write: CR, LF, erase in line (ESC[K, ESC[0K, ESC[2K), cursor to column (ESC[nG);
 * other escape sequences (cursor shown or hidden, colours) change no character.
 */
function screenOf(output: string): string[] {
  const lines: string[][] = [[]]
  let row = 0
  let col = 0
  const line = (): string[] => (lines[row] ??= [])
  for (let i = 0; i < output.length; i++) {
    const char = output[i] as string
    if (char === '\x1b') {
      // eslint-disable-next-line no-control-regex -- a terminal's escape sequences begin with a control character
      const csi = /^\x1b\[([?0-9;]*)([A-Za-z])/.exec(output.slice(i))
      if (csi === null) {
        i += 1 // ESC 7, ESC 8: save and restore the cursor, no character changes
        continue
      }
      const [whole, params = '', command] = csi
      if (command === 'K') {
        if (params === '2') lines[row] = []
        else if (params === '' || params === '0') lines[row] = line().slice(0, col)
        else for (let c = 0; c <= col; c++) line()[c] = ' '
      } else if (command === 'G') col = Math.max(0, Number(params || '1') - 1)
      i += whole.length - 1
    } else if (char === '\r') col = 0
    else if (char === '\n') {
      row += 1
      col = 0
      line()
    } else {
      const current = line()
      while (current.length < col) current.push(' ')
      current[col] = char
      col += 1
    }
  }
  return lines.map((chars) => chars.join('').trimEnd())
}

/** Runs `shellCommand` under `script`, in a pseudo-terminal, and returns what the terminal received. */
function inTerminal(shellCommand: string, env: Record<string, string>): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      'script',
      ['--quiet', '--return', '--command', shellCommand, '/dev/null'],
      {
        cwd: REPO_ROOT,
        env: { ...cliChildEnv(env), SHELL: '/bin/sh' },
        timeout: CLI_TEST_TIMEOUT_MS,
        maxBuffer: 64 << 20,
      },
      (error, stdout) => {
        resolve({ exitCode: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout })
      },
    )
  })
}

describe('sync in a terminal', () => {
  let sim: RunningSimulator
  let dir: string
  let env: Record<string, string>
  let run = 0

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'progress-terminal-'))
    // Slow answers, so the bar is drawn between log lines.
    sim = await startSimulator({
      now: new Date().toISOString(),
      seed: 11,
      latencyMs: 100,
      sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay: 2 }],
    })
  })
  afterAll(async () => {
    await sim?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  /** A new embedded warehouse each time, so every run reads all its days. */
  function freshEnv(): Record<string, string> {
    run += 1
    env = {
      CALLTOUCH_ETL_DATA_DIR: path.join(dir, `warehouse-${run}`),
      CALLTOUCH_BASE_URL: sim.url,
      CALLTOUCH_SITE_ID: String(SITE_ID),
      CALLTOUCH_API_TOKEN: TOKEN,
      CALLTOUCH_START_DATE: DateTime.now().setZone('Europe/Moscow').minus({ days: 6 }).toISODate() as string,
      CALLTOUCH_ETL_LOG_FORMAT: 'json',
    }
    return env
  }

  it(
    'draws the bar on stderr, never on stdout, which holds the summary alone',
    async () => {
      const out = path.join(dir, 'stdout.txt')
      const result = await inTerminal(`'${process.execPath}' '${CLI_PATH}' sync > '${out}'`, freshEnv())
      expect(result.exitCode).toBe(0)
      // The deals' line and the calls' and requests' line, nothing else.
      expect(readFileSync(out, 'utf8')).toMatch(
        /^sync: 1 site\(s\), 7 day\(s\), [^\n]+\nsync leads: 2 stream\(s\), 14 day\(s\), [^\n]+\n$/,
      )
      // One bar for the run: the deals' 7 days and the journals' 14.
      expect(result.output).toMatch(/days [█░]+ \d+\/21 \(0 failed\)/)
    },
    CLI_TEST_TIMEOUT_MS,
  )

  it(
    'shows every log line whole, and the summary, with the bar gone at the end',
    async () => {
      const result = await inTerminal(`'${process.execPath}' '${CLI_PATH}' sync`, freshEnv())
      expect(result.exitCode).toBe(0)
      // The bar was drawn, between log lines ...
      expect(result.output).toMatch(/days [█░]+ \d+\/21 \(0 failed\)/)
      const screen = screenOf(result.output).filter((line) => line !== '')
      // ... and yet the screen holds only whole log lines, then the summary's two lines.
      const summary = screen.splice(-2)
      expect(summary).toEqual([
        expect.stringMatching(/^sync: 1 site\(s\), 7 day\(s\), /),
        expect.stringMatching(/^sync leads: 2 stream\(s\), 14 day\(s\), /),
      ])
      expect(screen.length).toBeGreaterThan(2)
      for (const line of screen) expect(() => JSON.parse(line) as unknown, line).not.toThrow()
    },
    CLI_TEST_TIMEOUT_MS,
  )
})
