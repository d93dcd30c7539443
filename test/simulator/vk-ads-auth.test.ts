import { afterEach, describe, expect, it } from 'vitest'
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.ts'

const running: RunningSimulator[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()))
})

async function start(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ rateLimit: false, ...options })
  running.push(sim)
  return sim
}

const CLIENT = { client_id: 'vk-test-client', client_secret: 'vk-test-secret' }

interface Answer {
  status: number
  headers: Headers
  text: string
}

async function postForm(sim: RunningSimulator, path: string, fields: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

interface TokenBody {
  access_token: string
  refresh_token: string
}

async function mint(sim: RunningSimulator): Promise<TokenBody> {
  const answer = await postForm(sim, '/api/v2/oauth2/token.json', { grant_type: 'client_credentials', ...CLIENT })
  expect(answer.status).toBe(200)
  return JSON.parse(answer.text) as TokenBody
}

async function refresh(sim: RunningSimulator, refreshToken: string): Promise<Answer> {
  return postForm(sim, '/api/v2/oauth2/token.json', {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    ...CLIENT,
  })
}

async function get(sim: RunningSimulator, path: string, accessToken: string): Promise<Answer> {
  const res = await fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${accessToken}` } })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

const USER = '/api/v2/user.json'

describe('VK Ads OAuth2 tokens', () => {
  it('mints a client-credentials token with the documented body, expires_in a string', async () => {
    const sim = await start()
    const answer = await postForm(sim, '/api/v2/oauth2/token.json', { grant_type: 'client_credentials', ...CLIENT })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(answer.text).toBe(
      '{"access_token":"4da867e589943c472c860deb0","token_type":"bearer","scope":"read_ads,read_payments,create_ads",' +
        '"expires_in":"86400","refresh_token":"151af559edcf3137579386951"}',
    )
  })

  it('answers the user with its id, username and currency to a valid token', async () => {
    const sim = await start()
    const { access_token } = await mint(sim)
    const answer = await get(sim, USER, access_token)
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.text)).toEqual({
      id: 1000001,
      username: 'shop@vk',
      status: 'active',
      types: ['user'],
      currency: 'RUB',
      account: { id: 501000001, type: 'advertiser' },
    })
  })

  it('refuses a sixth token of the same client and user with 403, and counts five minted and held', async () => {
    const sim = await start()
    for (let i = 0; i < 5; i++) await mint(sim)
    const sixth = await postForm(sim, '/api/v2/oauth2/token.json', { grant_type: 'client_credentials', ...CLIENT })
    expect(sixth.status).toBe(403)
    expect(JSON.parse(sixth.text)).toEqual({
      error: 'token_limit_exceeded',
      error_description:
        'Token limit exceeded: at most 5 tokens per client and user; refresh a stored token or delete them with /api/v2/oauth2/token/delete.json',
    })
    expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({
      tokenMints: 5,
      liveTokens: 5,
      maxLiveTokens: 5,
    })
  })

  it('writes token-endpoint errors in the VK form when asked', async () => {
    const sim = await start({ vkAds: { tokenErrorForm: 'vk', maxTokensPerUser: 1 } })
    await mint(sim)
    const second = await postForm(sim, '/api/v2/oauth2/token.json', { grant_type: 'client_credentials', ...CLIENT })
    expect(second.status).toBe(403)
    expect(JSON.parse(second.text)).toEqual({
      error: { code: 'token_limit_exceeded', message: expect.stringContaining('at most 1 tokens') },
    })
  })

  it('refresh gives a new access token, kills the old one at once and keeps the refresh token', async () => {
    const sim = await start()
    const first = await mint(sim)
    const answer = await refresh(sim, first.refresh_token)
    expect(answer.status).toBe(200)
    const second = JSON.parse(answer.text) as TokenBody & { expires_in: string }
    expect(second.access_token).not.toBe(first.access_token)
    expect(second.refresh_token).toBe(first.refresh_token)
    expect(second.expires_in).toBe('86400')
    expect((await get(sim, USER, second.access_token)).status).toBe(200)
    const old = await get(sim, USER, first.access_token)
    expect(old.status).toBe(401)
    expect(JSON.parse(old.text)).toEqual({ code: 'invalid_token', message: 'Unknown access token' })
    expect(old.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="invalid_token", error_description="Unknown access token"',
    )
    expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({
      tokenMints: 1,
      tokenRefreshes: 1,
      liveTokens: 1,
    })
  })

  it('rotates the refresh token too when the option is on', async () => {
    const sim = await start({ vkAds: { rotateRefreshToken: true } })
    const first = await mint(sim)
    const second = JSON.parse((await refresh(sim, first.refresh_token)).text) as TokenBody
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect((await refresh(sim, first.refresh_token)).status).toBe(400)
  })

  it('expires a token 86,400 seconds after issue on the simulator clock, and a refresh revives it', async () => {
    const sim = await start({ now: '2026-11-29T12:00:00+03:00' })
    const token = await mint(sim)
    sim.setClock('2026-11-30T11:59:59+03:00')
    expect((await get(sim, USER, token.access_token)).status).toBe(200)
    sim.setClock('2026-11-30T12:00:00+03:00')
    const expired = await get(sim, USER, token.access_token)
    expect(expired.status).toBe(401)
    expect(JSON.parse(expired.text)).toEqual({ code: 'expired_token', message: 'Access token is expired' })
    expect(expired.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="expired_token", error_description="Access token is expired"',
    )
    const renewed = JSON.parse((await refresh(sim, token.refresh_token)).text) as TokenBody
    expect((await get(sim, USER, renewed.access_token)).status).toBe(200)
  })

  it('forgets a token a month after its last use, which frees its slot', async () => {
    const sim = await start({ now: '2026-11-01T12:00:00+03:00' })
    const token = await mint(sim)
    sim.setClock('2026-12-01T12:00:00+03:00')
    expect(JSON.parse((await get(sim, USER, token.access_token)).text)).toEqual({
      code: 'invalid_token',
      message: 'Unknown access token',
    })
    expect((await refresh(sim, token.refresh_token)).status).toBe(400)
    expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({ liveTokens: 0, maxLiveTokens: 1 })
  })

  it('token/delete.json deletes every token of the user, so five new ones can be minted', async () => {
    const sim = await start()
    const tokens = [await mint(sim), await mint(sim), await mint(sim), await mint(sim), await mint(sim)]
    const deleted = await postForm(sim, '/api/v2/oauth2/token/delete.json', { ...CLIENT, username: 'shop@vk' })
    expect(deleted.status).toBe(204)
    expect((await get(sim, USER, tokens[0]!.access_token)).status).toBe(401)
    for (let i = 0; i < 5; i++) await mint(sim)
    expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({
      tokenMints: 10,
      liveTokens: 5,
      maxLiveTokens: 5,
    })
  })

  it('answers invalid_client with 401 to a wrong secret', async () => {
    const sim = await start()
    const answer = await postForm(sim, '/api/v2/oauth2/token.json', {
      grant_type: 'client_credentials',
      client_id: 'vk-test-client',
      client_secret: 'wrong',
    })
    expect(answer.status).toBe(401)
    expect(JSON.parse(answer.text)).toEqual({
      error: 'invalid_client',
      error_description: 'Invalid client id or secret provided',
    })
  })

  it('answers revoked_token after the user withdrew access, and invalid_user once blocked', async () => {
    const sim = await start()
    const token = await mint(sim)
    const revoke = await fetch(`${sim.url}/_sim/vk-ads/revoke`, {
      method: 'POST',
      body: JSON.stringify({ clientId: 'vk-test-client' }),
    })
    expect(await revoke.json()).toEqual({ revoked: 1 })
    const revoked = await get(sim, USER, token.access_token)
    expect(revoked.status).toBe(401)
    expect(revoked.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="revoked_token", error_description="Access token has been revoked"',
    )
    sim.vkAds.blockUser('vk-test-client')
    const fresh = await postForm(sim, '/api/v2/oauth2/token.json', { grant_type: 'client_credentials', ...CLIENT })
    expect(JSON.parse(fresh.text)).toEqual({ error: 'invalid_user', error_description: 'User is blocked' })
    sim.vkAds.blockUser('vk-test-client', false)
    const unblocked = await mint(sim)
    sim.vkAds.blockUser('vk-test-client')
    expect(JSON.parse((await get(sim, USER, unblocked.access_token)).text)).toEqual({
      code: 'invalid_user',
      message: 'User is blocked',
    })
  })

  it('answers 401 invalid_token to a request without a token', async () => {
    const sim = await start()
    const res = await fetch(`${sim.url}${USER}`)
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({
      code: 'invalid_token',
      message: 'Authorization: Bearer <access_token> header is missing',
    })
  })

  it('reset forgets every token', async () => {
    const sim = await start()
    const token = await mint(sim)
    sim.reset()
    expect((await get(sim, USER, token.access_token)).status).toBe(401)
    expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({ tokenMints: 0, liveTokens: 0 })
  })
})

describe('VK Ads rate limits', () => {
  it('sends the six X-RateLimit headers, counting down per user', async () => {
    const sim = await start({ vkAds: { rateLimits: { perSecond: 50, perHour: 500, perDay: 5000 } } })
    const { access_token } = await mint(sim)
    await get(sim, USER, access_token)
    const second = await get(sim, '/api/v2/ad_plans.json?limit=51', access_token)
    expect(second.status).toBe(400)
    expect(Object.fromEntries([...second.headers].filter(([name]) => name.startsWith('x-ratelimit-')))).toEqual({
      'x-ratelimit-rps-limit': '50',
      'x-ratelimit-hourly-limit': '500',
      'x-ratelimit-daily-limit': '5000',
      'x-ratelimit-rps-remaining': '48',
      'x-ratelimit-hourly-remaining': '498',
      'x-ratelimit-daily-remaining': '4998',
    })
  })

  it('answers 429 with Retry-After to the midnight once the daily limit is spent, and serves again the next day', async () => {
    const sim = await start({ vkAds: { rateLimits: { perDay: 3 }, retryAfter: true } })
    const { access_token } = await mint(sim)
    const remaining: (string | null)[] = []
    for (let i = 0; i < 3; i++)
      remaining.push((await get(sim, USER, access_token)).headers.get('x-ratelimit-daily-remaining'))
    expect(remaining).toEqual(['2', '1', '0'])
    const limited = await get(sim, USER, access_token)
    expect(limited.status).toBe(429)
    expect(JSON.parse(limited.text)).toEqual({
      error: { message: 'Rate limit exceeded (day window)', code: 'ERR_TOO_MANY_REQUESTS' },
    })
    expect(limited.headers.get('retry-after')).toBe('43200')
    expect(limited.headers.get('x-ratelimit-daily-remaining')).toBe('0')
    sim.setClock('2026-11-30T00:00:00+03:00')
    const refreshed = JSON.parse((await refresh(sim, (await mint(sim)).refresh_token)).text) as TokenBody
    expect((await get(sim, USER, refreshed.access_token)).status).toBe(200)
    expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({ rateLimited: 1 })
  })

  it('of three requests at once with two allowed a second serves two and answers one 429 without Retry-After', async () => {
    const sim = await start({ vkAds: { rateLimits: { perSecond: 2 } } })
    const { access_token } = await mint(sim)
    const answers = await Promise.all([1, 2, 3].map(() => get(sim, USER, access_token)))
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429])
    expect(answers.find((a) => a.status === 429)?.headers.get('retry-after')).toBeNull()
    expect(sim.vkAds.stats().accounts['vk-test-client']).toMatchObject({
      requests: 4,
      rateLimited: 1,
      maxRequestsInAnySecond: 4,
    })
  })

  it('throttling.json shows the limits and what remains by window length in seconds', async () => {
    const sim = await start()
    const { access_token } = await mint(sim)
    const answer = await get(sim, '/api/v2/throttling.json', access_token)
    const read = {
      READ: { remaining: { '1': 9, '3600': 1999, '86400': 19999 }, limits: { '1': 10, '3600': 2000, '86400': 20000 } },
    }
    expect(JSON.parse(answer.text)).toEqual({
      AD_PLANS: { v2: read, all: read },
      STATISTICS: { v2: read, all: read },
      USER: { v2: read, all: read },
      THROTTLING: { v2: read, all: read },
    })
  })
})

describe('VK Ads faults', () => {
  async function statuses(sim: RunningSimulator, token: string, n: number): Promise<(number | 'reset')[]> {
    const out: (number | 'reset')[] = []
    for (let i = 0; i < n; i++) {
      try {
        out.push((await get(sim, USER, token)).status)
      } catch {
        out.push('reset')
      }
    }
    return out
  }

  it('answers a seeded share 500 or 503 ERR_INTERNAL, the same on every run', async () => {
    const a = await start({ vkAds: { rateLimits: false, faults: { failureRate: 0.5 } } })
    const b = await start({ vkAds: { rateLimits: false, faults: { failureRate: 0.5 } } })
    const first = await statuses(a, (await mint(a)).access_token, 12)
    expect(await statuses(b, (await mint(b)).access_token, 12)).toEqual(first)
    expect(first).toEqual([200, 200, 503, 200, 200, 503, 200, 503, 200, 200, 503, 200])
    expect(a.vkAds.stats().faultsInjected.serverError).toBe(first.filter((s) => s !== 200).length)
    a.vkAds.setFaults({ failureRate: 1 })
    const failed = await get(a, '/api/v2/ad_plans.json', (await mint(a)).access_token)
    expect(failed.status).toBe(503)
    expect(JSON.parse(failed.text)).toEqual({
      error: { message: 'Service temporarily unavailable', code: 'ERR_INTERNAL' },
    })
  })

  it('answers bursts of consecutive 429s', async () => {
    const sim = await start({ vkAds: { rateLimits: false, faults: { burst429: { rate: 0.2, length: 3 } } } })
    const got = await statuses(sim, (await mint(sim)).access_token, 30)
    expect(got.join(',')).toMatch(/^(200,|429,429,429,)*(200|429)?(,429)*$/)
    expect(got).toContain(429)
    expect(got.filter((s) => s === 429).length).toBe(sim.vkAds.stats().faultsInjected.burst429)
  })

  it('cuts a 200 body off mid-JSON', async () => {
    const sim = await start()
    const { access_token } = await mint(sim)
    sim.vkAds.setFaults({ truncateRate: 1 })
    const answer = await get(sim, USER, access_token)
    expect(answer.status).toBe(200)
    expect(answer.text.startsWith('{"id":1000001')).toBe(true)
    expect(() => JSON.parse(answer.text) as unknown).toThrow()
    expect(sim.vkAds.stats().faultsInjected.truncated).toBe(1)
  })

  it('resets connections, and answers slower than a client timeout', async () => {
    const sim = await start()
    const { access_token } = await mint(sim)
    await fetch(`${sim.url}/_sim/vk-ads/faults`, { method: 'POST', body: JSON.stringify({ resetRate: 1 }) })
    await expect(get(sim, USER, access_token)).rejects.toThrow()
    sim.vkAds.setFaults({ slowRate: 1, slowMs: 1500 })
    await expect(
      fetch(`${sim.url}${USER}`, {
        headers: { authorization: `Bearer ${access_token}` },
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow()
    expect(sim.vkAds.stats().faultsInjected).toMatchObject({ reset: 1, slow: 1 })
  })

  it('expireTokensNow makes every held token answer expired_token until refreshed', async () => {
    const sim = await start()
    const token = await mint(sim)
    const set = await fetch(`${sim.url}/_sim/vk-ads/faults`, {
      method: 'POST',
      body: JSON.stringify({ expireTokensNow: true }),
    })
    expect(((await set.json()) as { expireTokensNow: boolean }).expireTokensNow).toBe(false)
    expect(JSON.parse((await get(sim, USER, token.access_token)).text)).toEqual({
      code: 'expired_token',
      message: 'Access token is expired',
    })
    const renewed = JSON.parse((await refresh(sim, token.refresh_token)).text) as TokenBody
    expect((await get(sim, USER, renewed.access_token)).status).toBe(200)
    expect(sim.vkAds.stats().faultsInjected.expiredTokens).toBe(1)
  })
})
