import type { AdAccountSettings } from '../../core/ad-account.ts'
import { messageOf } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import type { ProbeOutcome } from '../../core/probe.ts'
import { redact } from '../../core/secrets.ts'
import { VkAdsClient } from './api-client.ts'
import type { VkAdsAccount } from './config.ts'
import { createVkAdsLimiter } from './vk-ads-limiter.ts'

/**
 * One request for a VK Ads account (`check`): user.json, signed with the stored token — refreshed,
 * or minted only when the state directory holds none, exactly as a sync would, so checking never
 * spends one of VK's five token slots needlessly. Never throws.
 */
export async function probeVkAdsAccount(
  account: VkAdsAccount,
  options: { readonly settings: AdAccountSettings; readonly stateDir: string; readonly fetch?: typeof fetch },
): Promise<ProbeOutcome> {
  const limiter = createVkAdsLimiter()
  try {
    const client = new VkAdsClient({
      baseUrl: account.baseUrl,
      clientId: account.clientId,
      clientSecret: account.clientSecret,
      stateDir: options.stateDir,
      limiter,
      timeoutMs: options.settings.timeoutMs,
      maxRetries: 0,
      clock: () => new Date(),
      logger: silentLogger(),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    })
    const currency = await client.accountCurrency()
    return { ok: true, detail: `the token works and user.json answers (currency ${currency ?? 'not stated'})` }
  } catch (error) {
    return { ok: false, error: redact(messageOf(error)) }
  } finally {
    await limiter.stop()
  }
}
