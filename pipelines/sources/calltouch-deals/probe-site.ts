import { addDays, todayIn } from '../../core/day.ts'
import type { ProbeOutcome } from '../../core/probe.ts'
import { probeCalltouch } from '../../http/calltouch-api.ts'
import { CalltouchClient } from './api-client.ts'
import type { RunSettings, SiteConfig } from './config.ts'

/**
 * One request for `site` (`check`): yesterday's first page of deals, one try, so a wrong token,
 * site or host shows in seconds. Never throws.
 */
export function probeCalltouchSite(
  site: SiteConfig,
  options: {
    readonly baseUrl: string
    readonly settings: RunSettings
    readonly now: Date
    readonly fetch?: typeof fetch
  },
): Promise<ProbeOutcome> {
  return probeCalltouch(options.settings, async (limiter) => {
    const client = new CalltouchClient({
      baseUrl: options.baseUrl,
      siteId: site.siteId,
      token: site.token,
      limiter,
      timeoutMs: options.settings.timeoutMs,
      maxRetries: 0,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    })
    const yesterday = addDays(todayIn(site.timeZone, options.now), -1)
    const page = await client.fetchOrdersPage({ dateFrom: yesterday, dateTo: todayIn(site.timeZone, options.now) }, 1)
    return `the deals export answers (${page.recordsTotal} deal(s) from ${yesterday})`
  })
}
