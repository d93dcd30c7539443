import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { redact } from '../../pipelines/core/secrets.ts'
import {
  parseTokenGrant,
  readTokenState,
  tokenStatePath,
  VkAdsTokenStore,
  writeTokenState,
  type VkAdsTokenEndpoint,
  type VkAdsTokenGrant,
} from '../../pipelines/sources/vk-ads/token-store.ts'
import { VkAdsAccountError, VkAdsApiError } from '../../pipelines/sources/vk-ads/vk-ads-errors.ts'

const CLIENT_ID = 'vk-unit-client'
const NOW = new Date('2026-12-07T03:00:00Z')
const HOUR_MS = 3_600_000

let stateDir: string

beforeEach(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vk-ads-tokens-'))
})

afterEach(async () => {
  await fs.rm(stateDir, { recursive: true, force: true })
})

/** A token endpoint that hands out numbered tokens and counts its grants. */
function countingEndpoint(options: { refusal?: { mint?: VkAdsApiError; refresh?: VkAdsApiError } } = {}) {
  const calls = { mint: 0, refresh: [] as string[] }
  let issued = 0
  const grant = (refreshToken: string | undefined): VkAdsTokenGrant => ({
    accessToken: `access-token-${++issued}-secret`,
    refreshToken,
    expiresInSeconds: 86_400,
    scope: [],
  })
  const endpoint: VkAdsTokenEndpoint = {
    async mint() {
      calls.mint++
      if (options.refusal?.mint) throw options.refusal.mint
      return grant(`refresh-token-${issued + 1}-secret`)
    },
    async refresh(refreshToken) {
      calls.refresh.push(refreshToken)
      if (options.refusal?.refresh) throw options.refusal.refresh
      // VK keeps the refresh token unless rotation is enabled: the answer may leave it out.
      return grant(undefined)
    },
  }
  return { endpoint, calls }
}

function store(endpoint: VkAdsTokenEndpoint, now: Date = NOW): VkAdsTokenStore {
  return new VkAdsTokenStore({ stateDir, clientId: CLIENT_ID, endpoint, clock: () => now })
}

async function storeToken(accessToken: string, expiresAt: Date, refreshToken = 'stored-refresh-secret'): Promise<void> {
  await writeTokenState(tokenStatePath(stateDir, CLIENT_ID), {
    clientId: CLIENT_ID,
    accessToken,
    refreshToken,
    expiresAt,
    scope: [],
    obtainedAt: new Date(expiresAt.getTime() - 86_400_000),
  })
}

function tokenError(status: number, vkCode: string): VkAdsApiError {
  return new VkAdsApiError(`token endpoint: HTTP ${status} ${vkCode}`, 'status', {
    response: { status, headers: new Headers() },
    vkCode,
    retryable: false,
  })
}

describe('VkAdsTokenStore', () => {
  it('mints a token when there is no state file and keeps it in a 0600 file of a 0700 directory', async () => {
    const { endpoint, calls } = countingEndpoint()
    const token = await store(endpoint).accessToken()
    expect(token).toBe('access-token-1-secret')
    expect(calls).toEqual({ mint: 1, refresh: [] })
    const file = tokenStatePath(stateDir, CLIENT_ID)
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
    expect((await fs.stat(path.dirname(file))).mode & 0o777).toBe(0o700)
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({
      version: 1,
      clientId: CLIENT_ID,
      accessToken: 'access-token-1-secret',
      refreshToken: 'refresh-token-1-secret',
      expiresAt: '2026-12-08T03:00:00.000Z',
      scope: [],
      obtainedAt: '2026-12-07T03:00:00.000Z',
    })
  })

  it('names the state file by a hash that shows neither the client id nor a token', async () => {
    const { endpoint } = countingEndpoint()
    await store(endpoint).accessToken()
    const names = await fs.readdir(path.join(stateDir, 'vk-ads'), { recursive: true })
    expect(names).toHaveLength(1)
    expect(names[0]).toMatch(/^token-[0-9a-f]{32}\.json$/)
    expect(names[0]).not.toContain(CLIENT_ID)
    expect(names[0]).not.toContain('secret')
  })

  it('uses a stored token with more than an hour left without asking VK', async () => {
    await storeToken('stored-access-secret', new Date(NOW.getTime() + HOUR_MS + 1000))
    const { endpoint, calls } = countingEndpoint()
    expect(await store(endpoint).accessToken()).toBe('stored-access-secret')
    expect(calls).toEqual({ mint: 0, refresh: [] })
  })

  it('refreshes a stored token with less than an hour left, stores the new one at once and keeps the refresh token', async () => {
    await storeToken('stored-access-secret', new Date(NOW.getTime() + HOUR_MS - 1000))
    const { endpoint, calls } = countingEndpoint()
    expect(await store(endpoint).accessToken()).toBe('access-token-1-secret')
    expect(calls).toEqual({ mint: 0, refresh: ['stored-refresh-secret'] })
    const stored = await readTokenState(tokenStatePath(stateDir, CLIENT_ID), CLIENT_ID)
    expect(stored).toMatchObject({ accessToken: 'access-token-1-secret', refreshToken: 'stored-refresh-secret' })
    expect(stored?.expiresAt.toISOString()).toBe('2026-12-08T03:00:00.000Z')
  })

  it('refreshes an expired token rather than minting one', async () => {
    await storeToken('stored-access-secret', new Date(NOW.getTime() - 5 * 86_400_000))
    const { endpoint, calls } = countingEndpoint()
    await store(endpoint).accessToken()
    expect(calls).toEqual({ mint: 0, refresh: ['stored-refresh-secret'] })
  })

  it('mints a token when VK says the refresh token is no longer valid', async () => {
    await storeToken('stored-access-secret', new Date(NOW.getTime() - 1000))
    const { endpoint, calls } = countingEndpoint({ refusal: { refresh: tokenError(400, 'invalid_grant') } })
    expect(await store(endpoint).accessToken()).toBe('access-token-1-secret')
    expect(calls).toEqual({ mint: 1, refresh: ['stored-refresh-secret'] })
  })

  it('does not mint when a refresh fails for another reason', async () => {
    await storeToken('stored-access-secret', new Date(NOW.getTime() - 1000))
    const failure = tokenError(500, 'ERR_INTERNAL')
    const { endpoint, calls } = countingEndpoint({ refusal: { refresh: failure } })
    await expect(store(endpoint).accessToken()).rejects.toBe(failure)
    expect(calls.mint).toBe(0)
  })

  it('turns a refused mint into one line naming the client, the fix and the state file', async () => {
    const { endpoint } = countingEndpoint({ refusal: { mint: tokenError(403, 'token_limit') } })
    const error = await store(endpoint)
      .accessToken()
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(VkAdsAccountError)
    expect((error as Error).message).toBe(
      `VK Ads refused a new token for client ${CLIENT_ID}: the app already holds 5 live tokens for this account; ` +
        `delete them (POST /api/v2/oauth2/token/delete.json with client_id and client_secret, see README) ` +
        `or restore the state file ${tokenStatePath(stateDir, CLIENT_ID)}, then run again`,
    )
  })

  it('takes the token another process stored after a call was refused, without refreshing', async () => {
    await storeToken('replaced-by-another-process-secret', new Date(NOW.getTime() + 20 * HOUR_MS))
    const { endpoint, calls } = countingEndpoint()
    expect(await store(endpoint).replaceRejected('refused-access-secret')).toBe('replaced-by-another-process-secret')
    expect(calls).toEqual({ mint: 0, refresh: [] })
  })

  it('refreshes once when the refused token is still the stored one', async () => {
    await storeToken('refused-access-secret', new Date(NOW.getTime() + 20 * HOUR_MS))
    const { endpoint, calls } = countingEndpoint()
    expect(await store(endpoint).replaceRejected('refused-access-secret')).toBe('access-token-1-secret')
    expect(calls).toEqual({ mint: 0, refresh: ['stored-refresh-secret'] })
  })

  it('refreshes once for many callers of one process that find the token expiring', async () => {
    await storeToken('stored-access-secret', new Date(NOW.getTime() + 60_000))
    const { endpoint, calls } = countingEndpoint()
    const tokens = await Promise.all(
      [store(endpoint), store(endpoint), store(endpoint)].map((each) => each.accessToken()),
    )
    expect(tokens).toEqual(['access-token-1-secret', 'access-token-1-secret', 'access-token-1-secret'])
    expect(calls.refresh).toHaveLength(1)
  })

  it('refreshes once for several processes that find the token expiring at the same moment', async () => {
    await storeToken('stored-access-secret', new Date(NOW.getTime() + 60_000))
    const log = path.join(stateDir, 'refreshes.log')
    const child = `
      import fs from 'node:fs/promises'
      import { VkAdsTokenStore } from ${JSON.stringify(path.resolve('pipelines/sources/vk-ads/token-store.ts'))}
      const endpoint = {
        mint: async () => { throw new Error('no mint expected') },
        async refresh() {
          await fs.appendFile(${JSON.stringify(log)}, process.pid + '\\n')
          await new Promise((resolve) => setTimeout(resolve, 300))
          return { accessToken: 'refreshed-by-' + process.pid, refreshToken: undefined, expiresInSeconds: 86400, scope: [] }
        },
      }
      const store = new VkAdsTokenStore({ stateDir: ${JSON.stringify(stateDir)}, clientId: ${JSON.stringify(CLIENT_ID)}, endpoint, clock: () => new Date(${NOW.getTime()}) })
      process.stdout.write(await store.accessToken())
    `
    const run = promisify(execFile)
    const outputs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child])),
    )
    const refreshes = (await fs.readFile(log, 'utf8')).trim().split('\n')
    expect(refreshes).toHaveLength(1)
    expect(new Set(outputs.map(({ stdout }) => stdout))).toEqual(new Set([`refreshed-by-${refreshes[0]}`]))
  })

  it('stops the account with the fix when the state file is damaged, rather than minting', async () => {
    const file = tokenStatePath(stateDir, CLIENT_ID)
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, '{"version":1,"clientId":"vk-unit-cl')
    const { endpoint, calls } = countingEndpoint()
    await expect(store(endpoint).accessToken()).rejects.toThrow(
      `the VK Ads token state ${file} is damaged (not JSON): restore it from a backup, or delete it to mint a new token`,
    )
    expect(calls.mint).toBe(0)
  })
})

describe('writeTokenState', () => {
  it('replaces the file atomically: a reader never sees half a file, and no temp file is left', async () => {
    const file = tokenStatePath(stateDir, CLIENT_ID)
    await storeToken('first-access-secret', NOW)
    const writes = Array.from({ length: 40 }, (_, index) =>
      storeToken(`access-${index}-secret-${'x'.repeat(2000)}`, new Date(NOW.getTime() + index)),
    )
    const reads = Array.from({ length: 200 }, () => readTokenState(file, CLIENT_ID))
    const read = await Promise.all(reads)
    await Promise.all(writes)
    const whole = /^(first-access-secret|access-\d+-secret-x{2000})$/
    expect(read.filter((token) => !whole.test(token?.accessToken ?? ''))).toEqual([])
    expect(await fs.readdir(path.dirname(file))).toEqual([path.basename(file)])
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
  })

  it('registers the tokens it reads as secrets', async () => {
    await storeToken('read-back-access-secret', NOW, 'read-back-refresh-secret')
    await readTokenState(tokenStatePath(stateDir, CLIENT_ID), CLIENT_ID)
    expect(redact('a read-back-access-secret and read-back-refresh-secret')).toBe('a [REDACTED] and [REDACTED]')
  })
})

describe('parseTokenGrant', () => {
  it('reads expires_in as a string or a number, and scope as a string or an array', () => {
    expect(
      parseTokenGrant({
        access_token: 'grant-a-secret',
        refresh_token: 'grant-r-secret',
        expires_in: '86400',
        scope: 'read_ads read_payments',
      }),
    ).toEqual({
      accessToken: 'grant-a-secret',
      refreshToken: 'grant-r-secret',
      expiresInSeconds: 86_400,
      scope: ['read_ads', 'read_payments'],
    })
    expect(parseTokenGrant({ access_token: 'grant-b-secret', expires_in: 3600, scope: ['read_ads'] })).toEqual({
      accessToken: 'grant-b-secret',
      refreshToken: undefined,
      expiresInSeconds: 3600,
      scope: ['read_ads'],
    })
  })

  it('registers both tokens as secrets the moment they are read', () => {
    parseTokenGrant({ access_token: 'grant-c-access-secret', refresh_token: 'grant-c-refresh-secret', expires_in: '1' })
    expect(redact('grant-c-access-secret grant-c-refresh-secret')).toBe('[REDACTED] [REDACTED]')
  })

  it('says what is wrong with an answer that is not a grant', () => {
    expect(parseTokenGrant({ token_type: 'bearer' })).toBe('the answer has no access_token')
    expect(parseTokenGrant({ access_token: 'grant-d-secret', expires_in: 'soon' })).toBe(
      `the answer's expires_in is not a positive number of seconds`,
    )
  })
})
