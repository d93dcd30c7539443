import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { VkAdsClient, type VkAdPlan } from '../../pipelines/sources/vk-ads/api-client.ts'
import { tokenStatePath, writeTokenState } from '../../pipelines/sources/vk-ads/token-store.ts'
import { VkAdsAccountError } from '../../pipelines/sources/vk-ads/vk-ads-errors.ts'
import { createVkAdsLimiter, type VkAdsLimiter } from '../../pipelines/sources/vk-ads/vk-ads-limiter.ts'

const CLIENT_ID = 'vk-client-unit'
const CLIENT_SECRET = 'vk-client-unit-secret'
const NOW = new Date('2026-12-07T03:00:00Z')

/** One request as the server saw it. */
interface Seen {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly authorization: string | undefined
  readonly form: URLSearchParams
}

/** How the server answers a request it has no script for: VK's usual answers from `plans`. */
type Answer = (seen: Seen, response: http.ServerResponse) => boolean

let server: http.Server | undefined
let limiter: VkAdsLimiter | undefined
let stateDir: string

beforeEach(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vk-ads-client-'))
})

afterEach(async () => {
  await limiter?.stop()
  server?.closeAllConnections()
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
  limiter = undefined
  await fs.rm(stateDir, { recursive: true, force: true })
})

const json = (response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))

/**
 * A small VK Ads: a token endpoint handing out `access-N`, user.json, ad_plans.json paging `plans`,
 * and statistics of 1 show, 1 click and "12.34" spent per plan and day. `script` answers first,
 * one entry per request, until an entry returns false.
 */
async function serveVk(plans: readonly VkAdPlan[], script: Answer[] = []): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = []
  let issued = 0
  server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://vk')
      const entry: Seen = {
        method: request.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        authorization: request.headers.authorization,
        form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      }
      seen.push(entry)
      const scripted = script[0]
      if (scripted?.(entry, response)) {
        script.shift()
        return
      }
      if (url.pathname === '/api/v2/oauth2/token.json') {
        issued++
        return json(response, 200, {
          access_token: `access-${issued}`,
          token_type: 'bearer',
          expires_in: '86400',
          refresh_token: 'refresh-1',
        })
      }
      if (url.pathname === '/api/v2/user.json') return json(response, 200, { id: 1, username: 'shop', currency: 'RUB' })
      if (url.pathname === '/api/v2/ad_plans.json') {
        const offset = Number(url.searchParams.get('offset'))
        const limit = Number(url.searchParams.get('limit'))
        return json(response, 200, { count: plans.length, offset, items: plans.slice(offset, offset + limit) })
      }
      if (url.pathname === '/api/v2/statistics/ad_plans/day.json') {
        const days: string[] = []
        for (let day = url.searchParams.get('date_from') ?? ''; day <= (url.searchParams.get('date_to') ?? '');) {
          days.push(day)
          day = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
        }
        const items = (url.searchParams.get('id') ?? '').split(',').map((id) => ({
          id: Number(id),
          rows: days.map((date) => ({ date, base: { shows: 1, clicks: 1, goals: 0, spent: '12.34', cpm: '0' } })),
        }))
        return json(response, 200, { items, total: {} })
      }
      json(response, 404, { error: { code: 'ERR_WRONG_RESOURCE', message: 'no such method' } })
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

function client(baseUrl: string): VkAdsClient {
  limiter = createVkAdsLimiter(50)
  return new VkAdsClient({
    baseUrl,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    stateDir,
    limiter,
    timeoutMs: 5000,
    maxRetries: 3,
    minRetryDelayMs: 10,
    clock: () => NOW,
  })
}

const plansNamed = (count: number): VkAdPlan[] =>
  Array.from({ length: count }, (_, index) => ({
    id: String(7_000_001 + index),
    name: `plan ${index + 1}`,
    status: 'active',
  }))

/** A scripted answer for the next request to `pathname`. */
const onPath =
  (pathname: string, answer: (response: http.ServerResponse, seen: Seen) => void): Answer =>
  (seen, response) => {
    if (seen.path !== pathname) return false
    answer(response, seen)
    return true
  }

describe('VkAdsClient', () => {
  it('mints a token with client credentials and signs every call with it as a Bearer token', async () => {
    const { url, seen } = await serveVk(plansNamed(2))
    const vk = client(url)
    expect(await vk.accountCurrency()).toBe('RUB')
    await vk.listAdPlans()
    expect(seen.map((request) => `${request.method} ${request.path} ${request.authorization ?? '-'}`)).toEqual([
      'POST /api/v2/oauth2/token.json -',
      'GET /api/v2/user.json Bearer access-1',
      'GET /api/v2/ad_plans.json Bearer access-1',
    ])
    expect(Object.fromEntries(seen[0]!.form)).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    })
  })

  it('pages the ad plans 50 at a time, active, blocked and deleted, until the offset reaches the count', async () => {
    const { url, seen } = await serveVk(plansNamed(120))
    const plans = await client(url).listAdPlans()
    expect(plans).toHaveLength(120)
    expect(plans[119]).toEqual({ id: '7000120', name: 'plan 120', status: 'active' })
    const pages = seen.filter((request) => request.path === '/api/v2/ad_plans.json')
    expect(pages.map((request) => Object.fromEntries(request.query))).toEqual(
      [0, 50, 100].map((offset) => ({
        fields: 'id,name,status',
        _status__in: 'active,blocked,deleted',
        limit: '50',
        offset: String(offset),
      })),
    )
  })

  it('reads statistics 50 plans a request and turns spent into micros with each plan name', async () => {
    const { url, seen } = await serveVk([])
    const rows = await client(url).adPlanDays(plansNamed(120), '2026-12-01', '2026-12-02')
    const calls = seen.filter((request) => request.path === '/api/v2/statistics/ad_plans/day.json')
    expect(calls.map((request) => request.query.get('id')?.split(',').length)).toEqual([50, 50, 20])
    expect(Object.fromEntries(calls[2]!.query)).toEqual({
      id: plansNamed(120)
        .slice(100)
        .map((plan) => plan.id)
        .join(','),
      date_from: '2026-12-01',
      date_to: '2026-12-02',
      metrics: 'base',
    })
    expect(rows).toHaveLength(240)
    expect(rows[0]).toEqual({
      day: '2026-12-01',
      campaignId: '7000001',
      campaignName: 'plan 1',
      impressions: 1,
      clicks: 1,
      costMicros: 12_340_000n,
    })
  })

  it('refreshes an expired token once and replays the call with the new one', async () => {
    await writeTokenState(tokenStatePath(stateDir, CLIENT_ID), {
      clientId: CLIENT_ID,
      accessToken: 'stored-access',
      refreshToken: 'stored-refresh',
      expiresAt: new Date(NOW.getTime() + 10 * 3_600_000),
      scope: [],
      obtainedAt: NOW,
    })
    const { url, seen } = await serveVk(plansNamed(1), [
      onPath('/api/v2/ad_plans.json', (response) =>
        json(
          response,
          401,
          { code: 'expired_token', message: 'Access token is expired' },
          { 'www-authenticate': 'Bearer realm="api", error="expired_token"' },
        ),
      ),
    ])
    expect(await client(url).listAdPlans()).toHaveLength(1)
    expect(seen.map((request) => `${request.path} ${request.authorization ?? request.form.get('grant_type')}`)).toEqual(
      [
        '/api/v2/ad_plans.json Bearer stored-access',
        '/api/v2/oauth2/token.json refresh_token',
        '/api/v2/ad_plans.json Bearer access-1',
      ],
    )
    expect(seen[1]!.form.get('refresh_token')).toBe('stored-refresh')
  })

  it('stops the account with the fix when VK says the client secret is wrong', async () => {
    const { url } = await serveVk(
      [],
      [
        onPath('/api/v2/oauth2/token.json', (response) =>
          json(response, 401, { error: 'invalid_client', error_description: 'Invalid client id or secret provided' }),
        ),
      ],
    )
    const error = await client(url)
      .listAdPlans()
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(VkAdsAccountError)
    expect((error as Error).message).toBe(
      `VK Ads refused client ${CLIENT_ID} (invalid_client): the client id or secret is wrong, or API access was blocked — ` +
        `check clientId and clientSecret in the config (VK Ads cabinet: Settings → API access), or ask VK support`,
    )
  })

  it('waits for the next second after a 429 whose per-second limit is used up, then reads on', async () => {
    const { url, seen } = await serveVk(plansNamed(3), [
      onPath('/api/v2/ad_plans.json', (response) =>
        json(
          response,
          429,
          { error: { code: 'ERR_LIMIT', message: 'too many' } },
          { 'x-ratelimit-rps-remaining': '0', 'x-ratelimit-hourly-remaining': '100' },
        ),
      ),
    ])
    const vk = client(url)
    expect(await vk.listAdPlans()).toHaveLength(3)
    expect(seen.filter((request) => request.path === '/api/v2/ad_plans.json')).toHaveLength(2)
    expect(limiter?.counters).toEqual({ requests: 3, retries: 1 })
  })

  it('stops the account without retrying when the hourly limit is used up and VK names no Retry-After', async () => {
    const { url, seen } = await serveVk(plansNamed(3), [
      onPath('/api/v2/ad_plans.json', (response) =>
        json(
          response,
          429,
          { error: { code: 'ERR_LIMIT', message: 'too many' } },
          { 'x-ratelimit-hourly-remaining': '0', 'x-ratelimit-hourly-limit': '2000' },
        ),
      ),
    ])
    const vk = client(url)
    await expect(vk.listAdPlans()).rejects.toThrow(
      `VK Ads client ${CLIENT_ID} has used up its hourly request limit of 2000; the remaining days stay due and the next run reads them (run again after the hour turns)`,
    )
    await expect(vk.adPlanDays(plansNamed(1), '2026-12-01', '2026-12-01')).rejects.toBeInstanceOf(VkAdsAccountError)
    expect(seen.filter((request) => request.path !== '/api/v2/oauth2/token.json')).toHaveLength(1)
  })

  it('retries a GET after a 500 and honours Retry-After on a 429', async () => {
    const { url, seen } = await serveVk(plansNamed(1), [
      onPath('/api/v2/ad_plans.json', (response) =>
        json(response, 500, { error: { code: 'ERR_INTERNAL', message: 'oops' } }),
      ),
      onPath('/api/v2/ad_plans.json', (response) =>
        json(response, 429, { error: { code: 'ERR_LIMIT', message: 'slow down' } }, { 'retry-after': '1' }),
      ),
    ])
    const started = performance.now()
    expect(await client(url).listAdPlans()).toHaveLength(1)
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000)
    expect(seen.filter((request) => request.path === '/api/v2/ad_plans.json')).toHaveLength(3)
  })

  it('never repeats a mint whose answer was a 500, as it may have taken a token', async () => {
    const { url, seen } = await serveVk(
      [],
      [
        onPath('/api/v2/oauth2/token.json', (response) =>
          json(response, 500, { error: { code: 'ERR_INTERNAL', message: 'oops' } }),
        ),
      ],
    )
    await expect(client(url).listAdPlans()).rejects.toThrow(
      `a new token (client_credentials) for VK Ads client ${CLIENT_ID}: VK Ads answered HTTP 500: ERR_INTERNAL: oops`,
    )
    expect(seen).toHaveLength(1)
  })

  it('slows to the per-second limit VK names in X-RateLimit-RPS-Limit', async () => {
    const { url } = await serveVk(
      [],
      [
        onPath('/api/v2/user.json', (response) =>
          json(response, 200, { account: { currency: 'kzt' } }, { 'x-ratelimit-rps-limit': '2' }),
        ),
      ],
    )
    const vk = client(url)
    expect(await vk.accountCurrency()).toBe('KZT')
    expect(limiter?.requestsPerSecond).toBe(2)
  })
})
