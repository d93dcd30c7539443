import { Writable } from 'node:stream'
import { main } from '../../pipelines/cli/main.ts'
import type { CliResult } from './cli.ts'
import { REPO_ROOT } from './cli.ts'

/** Collects what a stream receives, as text. */
export class TextSink extends Writable {
  text = ''
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString()
    callback()
  }
}

/**
 * Runs the command line in this process: the same `main` as the real command,
 * without the second or two a child process needs to start tsx. The command
 * sees only `env` (plus JSON logs), like runCli's child.
 */
export async function runMain(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const stdout = new TextSink()
  const stderr = new TextSink()
  const exitCode = await main(['node', 'calltouch-etl', ...args], {
    env: { CALLTOUCH_ETL_LOG_FORMAT: 'json', ...env },
    cwd: REPO_ROOT,
    stdout,
    stderr,
  })
  return { exitCode, stdout: stdout.text, stderr: stderr.text }
}
