/**
 * Why the limit shared per egress address is a send-time window of our own in Redis
 * (pipelines/http/shared-send-windows.ts) and not bottleneck's Redis clustering: two processes on
 * one address each send 25 requests to a local server through a limit shared in Redis, once with
 * bottleneck (datastore ioredis, one `id`, minTime 212 ms: 5 starts per 1,060 ms cluster-wide, the
 * margin the per-process window keeps), once with the shared send windows (5 per 1,060 ms counted
 * from when the headers leave). Each runs with steady event loops, then with a 400 ms stall of the
 * event loop in every third request between being let through and sending, as a synchronous
 * PGlite statement does. The server counts the most arrivals in any second (Calltouch allows 5).
 * rate-limiter-flexible's Redis limiters count fixed windows at consume time, which lets 10 through
 * across a window's edge before any stall.
 *
 *   npm run bench:shared-limit-stall      (npx tsx bench/shared-limit-stall.ts [--redis redis://127.0.0.1:6379])
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import Bottleneck from 'bottleneck'
import { createRequestLimiters, REQUEST_PRIORITIES } from '../pipelines/http/request-limiter.ts'
import { connectSharedSendWindows } from '../pipelines/http/shared-send-windows.ts'

const REQUESTS_PER_PROCESS = 25
const STALL_MS = 400
const MODES = ['bottleneck', 'shared-send-windows'] as const
type Mode = (typeof MODES)[number]

const { values: args } = parseArgs({
  options: {
    redis: { type: 'string', default: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    child: { type: 'string' },
    url: { type: 'string' },
    stall: { type: 'string', default: '0' },
    key: { type: 'string' },
  },
})

/** Blocks the event loop, as a synchronous statement would. */
function block(ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end);
}

/** One process's share: 25 requests through the mode's shared limit, every `stallEvery`-th stalled before it is sent. */
async function child(mode: Mode, url: string, stallEvery: number, key: string): Promise<void> {
  let sent = 0
  const send = async (target: string): Promise<string> => {
    sent += 1
    if (stallEvery > 0 && sent % stallEvery === 0) {
      // After a turn of the event loop, as a statement of another task would run.
      await Promise.resolve()
      block(STALL_MS)
    }
    return (await fetch(target)).text()
  }
  const targets = Array.from(
    { length: REQUESTS_PER_PROCESS },
    (_, index) => `${url}?request=${index}&pid=${process.pid}`,
  )
  if (mode === 'bottleneck') {
    const { hostname, port } = new URL(args.redis)
    const limiter = new Bottleneck({
      id: key,
      datastore: 'ioredis',
      clientOptions: { host: hostname, port: Number(port || 6379) },
      minTime: 212,
      maxConcurrent: 10,
    })
    await Promise.all(targets.map((target) => limiter.schedule(() => send(target))))
    await limiter.disconnect()
  } else {
    const shared = await connectSharedSendWindows({ redisUrl: args.redis, egressKey: key })
    const limiters = createRequestLimiters({ calltouch: { requestsPerSecond: 5 } }, shared)
    await Promise.all(
      targets.map((target) =>
        limiters.limiterFor('calltouch').schedule(REQUEST_PRIORITIES.firstPage, target, () => send(target)),
      ),
    )
    await limiters.stop()
    await shared.close()
  }
}

/** The most arrivals within any one second. */
function mostInAnySecond(arrivals: readonly number[]): number {
  const sorted = [...arrivals].sort((a, b) => a - b)
  let most = 0
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= 1000) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

async function measure(mode: Mode, stallEvery: number): Promise<{ requests: number; most: number; seconds: number }> {
  const arrivals: number[] = []
  const server = http.createServer((_, response) => {
    arrivals.push(performance.now())
    setTimeout(() => response.end('ok'), 50 + Math.random() * 100)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/export`
  const key = `bench-${mode}-${process.pid}-${Date.now()}`
  const started = performance.now()
  const self = fileURLToPath(import.meta.url)
  await Promise.all(
    [1, 2].map(
      () =>
        new Promise<void>((resolve, reject) => {
          const process_ = spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              self,
              '--child',
              mode,
              '--url',
              url,
              '--stall',
              String(stallEvery),
              '--key',
              key,
              '--redis',
              args.redis,
            ],
            { stdio: ['ignore', 'inherit', 'inherit'] },
          )
          process_.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${mode} child exited ${code}`))))
        }),
    ),
  )
  server.close()
  return { requests: arrivals.length, most: mostInAnySecond(arrivals), seconds: (performance.now() - started) / 1000 }
}

if (args.child !== undefined) {
  await child(args.child as Mode, args.url as string, Number(args.stall), args.key as string)
} else {
  console.log(
    `two processes, ${REQUESTS_PER_PROCESS} requests each, one limit of 5 a second shared in Redis (${args.redis})`,
  )
  console.log('| limit | event loops | requests | most in any second | seconds |')
  console.log('|---|---|--:|--:|--:|')
  for (const mode of MODES)
    for (const stallEvery of [0, 3]) {
      const { requests, most, seconds } = await measure(mode, stallEvery)
      const loops = stallEvery === 0 ? 'steady' : `${STALL_MS} ms stall every ${stallEvery} requests`
      console.log(`| ${mode} | ${loops} | ${requests} | ${most} | ${seconds.toFixed(1)} |`)
    }
}
