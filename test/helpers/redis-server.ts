/**
 * The Redis the tests of shared request limits use (TEST_REDIS_URL, default the one `.ci/run`
 * starts on 127.0.0.1:6379), and private Redis servers a test may kill.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { describe } from 'vitest'

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL?.trim() || 'redis://127.0.0.1:6379'

/** Why Redis at `url` cannot be used (one line), or null when it answers PING. */
export async function redisProblem(url: string = TEST_REDIS_URL): Promise<string | null> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) })
    const done = (problem: string | null): void => {
      socket.destroy()
      resolve(problem)
    }
    socket.setTimeout(2000, () => done(`Redis at ${url} did not answer PING within 2 s`))
    socket.once('error', (error) => done(`Redis at ${url} is unreachable (${error.message})`))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) =>
      done(data.toString().startsWith('+PONG') ? null : `Redis at ${url} answered ${JSON.stringify(data.toString())}`),
    )
  })
}

const problem = await redisProblem()

/**
 * `describe` for tests that need the test Redis: skipped with a note locally when it does not
 * answer (start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no),
 * a failure with `CI=true`.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (problem !== null && process.env.CI === 'true') throw new Error(`${problem}: CI starts it in .ci/run`)
  if (problem !== null) console.warn(`skipping "${name}": ${problem}`)
  ;(problem === null ? describe : describe.skip)(name, body)
}

/** A port nothing listens on (free when asked). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A Redis server of the test's own, on a free port, with nothing kept on disk. */
export interface PrivateRedis {
  readonly url: string
  /** SIGKILL: the connections drop at once, as when the host dies. */
  kill(): Promise<void>
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `redis://127.0.0.1:${port}`
  for (let tries = 0; (await redisProblem(url)) !== null; tries++) {
    if (tries > 100) throw new Error(`redis-server did not start on ${url}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    async kill() {
      child.kill('SIGKILL')
      await exited
    },
  }
}
