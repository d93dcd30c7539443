import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { CLI_PATH, REPO_ROOT } from '../helpers/cli.ts'

describe('calltouch-etl simulator', () => {
  it('serves the export with the vendor rate limit by default, tells how to point the pipeline at it, and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [CLI_PATH, 'simulator', '--port', '0'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '' },
    })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    while (!stdout.includes('Stop: Ctrl+C')) await once(child.stdout, 'data')
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1]
    expect(stdout).toContain(
      `CALLTOUCH_BASE_URL=${url} CALLTOUCH_SITE_ID=12345 CALLTOUCH_API_TOKEN=test-token npx calltouch-etl ...`,
    )

    const answers = await Promise.all(
      Array.from({ length: 11 }, () =>
        fetch(
          `${url}/calls-service/RestAPI/12345/orders-diary/orders?clientApiId=test-token&dateFrom=01/11/2026&dateTo=02/11/2026&page=1&limit=1`,
        ).then((response) => response.status),
      ),
    )
    expect(answers.sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 429])

    child.kill('SIGINT')
    const [exitCode] = await once(child, 'exit')
    expect(exitCode).toBe(0)
    expect(stdout.endsWith('Calltouch simulator stopped.\n')).toBe(true)
  })
})
