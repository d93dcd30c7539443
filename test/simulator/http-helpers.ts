import http from 'node:http'
import type { RunningSimulator } from '../../simulator/index.ts'

export const SITE = 12345
export const TOKEN = 'test-token'

export function exportUrl(sim: RunningSimulator, params: Record<string, string>, siteId = SITE): string {
  const query = new URLSearchParams({ clientApiId: TOKEN, ...params })
  return `${sim.url}/calls-service/RestAPI/${siteId}/orders-diary/orders?${query.toString()}`
}

/** A GET that reports status, headers, body text and how long it took, from a chosen local address. */
export function timedGet(
  url: string,
  localAddress = '127.0.0.1',
): Promise<{ status: number; retryAfter: string | undefined; text: string; ms: number }> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'],
          text,
          ms: performance.now() - started,
        }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, json: await res.json() }
}
