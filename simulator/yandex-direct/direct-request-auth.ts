/**
 * Reading a Direct API request: its body, and whose account it acts on
 * (`Authorization: Bearer <token>`, `Client-Login`; API.md §2).
 */
import type http from 'node:http'
import type { DirectAccount } from './direct-account.ts'
import { DirectError } from './direct-errors.ts'
import type { ResolvedDirectOptions } from './yandex-direct-options.ts'

const MAX_BODY_BYTES = 1024 * 1024

export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(new DirectError(8000, 'the request body is larger than 1 MiB'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/**
 * The account a request acts on, or error 53 (no or unknown token) / 54 (Client-Login
 * missing for an agency token, or naming no client of the token). An advertiser's own
 * token needs no Client-Login; logins compare case-insensitively.
 */
export function authorizeRequest(
  req: http.IncomingMessage,
  options: ResolvedDirectOptions,
  byToken: ReadonlyMap<string, DirectAccount>,
  byLogin: ReadonlyMap<string, DirectAccount>,
): DirectAccount | DirectError {
  const match = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '')
  if (match === null)
    return new DirectError(53, 'send the OAuth token as Authorization: Bearer <token> (the word Bearer is required)')
  const token = match[1] as string
  const header = req.headers['client-login']
  const clientLogin = typeof header === 'string' && header.trim() !== '' ? header.trim().toLowerCase() : undefined
  if (options.agencyToken !== undefined && token === options.agencyToken) {
    if (clientLogin === undefined)
      return new DirectError(54, 'an agency token needs a Client-Login header naming one of its clients')
    const account = byLogin.get(clientLogin)
    if (account === undefined || !options.agencyClients.has(clientLogin))
      return new DirectError(54, `${clientLogin} is not a client of this agency; check Client-Login`)
    return account
  }
  const account = byToken.get(token)
  if (account === undefined)
    return new DirectError(53, 'the OAuth token is invalid, revoked or expired; get a new token at oauth.yandex.ru')
  if (clientLogin !== undefined && clientLogin !== account.login.toLowerCase())
    return new DirectError(54, `this token belongs to ${account.login}, not to Client-Login ${clientLogin}`)
  return account
}
