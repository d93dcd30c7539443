/**
 * The answers of the VK Ads simulator and their bodies: API errors
 * `{"error":{"message","code"}}` (shared/vk-ads/API.md §4.4), 401s with
 * `WWW-Authenticate` (§2.4), and token-endpoint errors in the chosen form.
 */
import type http from 'node:http'
import type { TokenRefusal } from './vk-ads-token-store.ts'

const JSON_TYPE = 'application/json; charset=utf-8'
const MAX_BODY_BYTES = 1024 * 1024

/** One answer before it is written: status, body text and extra headers. */
export class VkAdsAnswer {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {}

  static json(status: number, value: unknown, headers: Record<string, string> = {}): VkAdsAnswer {
    return new VkAdsAnswer(status, JSON.stringify(value), headers)
  }

  /** `{"error":{"message","code"}}`, the form of the statistics and base errors. */
  static apiError(status: number, code: string, message: string, headers: Record<string, string> = {}): VkAdsAnswer {
    return VkAdsAnswer.json(status, { error: { message, code } }, headers)
  }

  withHeaders(headers: Record<string, string>): VkAdsAnswer {
    return new VkAdsAnswer(this.status, this.body, { ...headers, ...this.headers })
  }

  /** Writes the answer; `truncate` cuts the body halfway (a 200 whose JSON does not parse). */
  write(res: http.ServerResponse, truncate = false): void {
    if (truncate) {
      const bytes = Buffer.from(this.body)
      res.writeHead(this.status, { 'content-type': JSON_TYPE, ...this.headers })
      res.end(bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))))
      return
    }
    if (this.status === 204) {
      res.writeHead(204, this.headers)
      res.end()
      return
    }
    res.writeHead(this.status, {
      'content-type': JSON_TYPE,
      'content-length': String(Buffer.byteLength(this.body)),
      ...this.headers,
    })
    res.end(this.body)
  }
}

/** The 401 `code`s of §2.4 and their documented messages. */
export type AuthErrorCode = TokenRefusal | 'invalid_client' | 'invalid_user'

export const AUTH_ERROR_MESSAGES: Readonly<Record<AuthErrorCode, string>> = Object.freeze({
  invalid_token: 'Unknown access token',
  expired_token: 'Access token is expired',
  invalid_client: 'Invalid client id or secret provided',
  invalid_user: 'User is blocked',
  revoked_token: 'Access token has been revoked',
})

/** 401 `{"code","message"}` with `WWW-Authenticate: Bearer realm="api", error=…, error_description=…`. */
export function unauthorized(code: AuthErrorCode, message = AUTH_ERROR_MESSAGES[code]): VkAdsAnswer {
  return VkAdsAnswer.json(
    401,
    { code, message },
    { 'www-authenticate': `Bearer realm="api", error="${code}", error_description="${message}"` },
  )
}

/** An error of the token endpoints, in the form the options chose (a GUESS: undocumented). */
export function tokenError(status: number, error: string, description: string, form: 'oauth' | 'vk'): VkAdsAnswer {
  return form === 'oauth'
    ? VkAdsAnswer.json(status, { error, error_description: description })
    : VkAdsAnswer.json(status, { error: { code: error, message: description } })
}

/** Reads a request body of at most 1 MiB as text. */
export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(new RangeError('body too large'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
