import { addDays, todayIn } from '../../core/day.ts'
import type { ProbeOutcome } from '../../core/probe.ts'
import { probeCalltouch } from '../../http/calltouch-api.ts'
import { LeadsClient } from './leads-client.ts'
import type { LeadJournal } from './load-leads.ts'

/**
 * One request for a site's calls or requests journal (`check`): yesterday's first page of calls,
 * or yesterday's requests, one try, so a token without access to the journal shows in seconds.
 * Never throws.
 */
export function probeLeadsJournal(
  site: { readonly siteId: number; readonly token: string; readonly timeZone: string },
  journal: LeadJournal,
  options: {
    readonly baseUrl: string
    readonly settings: { readonly requestsPerSecond: number; readonly timeoutMs: number }
    readonly now: Date
    readonly fetch?: typeof fetch
  },
): Promise<ProbeOutcome> {
  return probeCalltouch(options.settings, async (limiter) => {
    const client = new LeadsClient({
      baseUrl: options.baseUrl,
      siteId: site.siteId,
      token: site.token,
      limiter,
      timeoutMs: options.settings.timeoutMs,
      maxRetries: 0,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    })
    const yesterday = addDays(todayIn(site.timeZone, options.now), -1)
    if (journal === 'calls') {
      const page = await client.fetchCallsPage({ dateFrom: yesterday, dateTo: yesterday }, 1)
      return `the calls journal answers (${page.recordsTotal} call(s) on ${yesterday})`
    }
    const day = await client.fetchRequestsDay(yesterday)
    return `the requests journal answers (${day.records} request(s) on ${yesterday})`
  })
}
