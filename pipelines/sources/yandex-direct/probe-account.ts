import type { AdAccountSettings } from '../../core/ad-account.ts'
import type { ProbeOutcome } from '../../core/probe.ts'
import { messageOf } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { redact, registerSecret } from '../../core/secrets.ts'
import type { YandexDirectAccount } from './config.ts'
import { directBudgetFor } from './direct-limits.ts'
import { DEFAULT_REPORT_TIMEOUT_MS, YandexDirectClient } from './reports-client.ts'

/**
 * One request for a Direct account (`check`): Clients.get, which proves the token, the login and
 * the API access, and names the account's login and currency. One try; never throws.
 */
export async function probeYandexDirectAccount(
  account: YandexDirectAccount,
  options: { readonly settings: AdAccountSettings; readonly fetch?: typeof fetch },
): Promise<ProbeOutcome> {
  registerSecret(account.token)
  try {
    const client = new YandexDirectClient({
      baseUrl: account.baseUrl,
      token: account.token,
      clientLogin: account.clientLogin,
      where: account.where,
      budget: directBudgetFor(account.token),
      timeoutMs: options.settings.timeoutMs,
      maxRetries: 0,
      timing: { retryInScaleMs: 1000, reportTimeoutMs: DEFAULT_REPORT_TIMEOUT_MS },
      logger: silentLogger(),
      signal: undefined,
      fetch: options.fetch,
    })
    const info = await client.getClientInfo()
    return { ok: true, detail: `Clients.get answers: login ${info.login}, currency ${info.currency}` }
  } catch (error) {
    return { ok: false, error: redact(messageOf(error)) }
  }
}
