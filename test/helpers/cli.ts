import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const CLI_PATH = fileURLToPath(new URL('../../bin/calltouch-etl.js', import.meta.url))
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface CliResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * The environment of a CLI child process: only `env` plus PATH and HOME (so a
 * developer's own DATABASE_URL or tokens cannot leak into a test), with JSON
 * log lines that tests can read.
 */
export function cliChildEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CALLTOUCH_ETL_LOG_FORMAT: 'json', ...env }
}

/** Runs the real command line in a child process, as a user would with `npx calltouch-etl`. */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      {
        cwd: options.cwd ?? REPO_ROOT,
        env: cliChildEnv(env),
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({ exitCode, stdout, stderr })
      },
    )
  })
}
