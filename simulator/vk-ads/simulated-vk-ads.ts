/**
 * VK Ads (OAuth2 tokens, ad_plans, statistics v2) as shared/vk-ads/API.md
 * describes it. STUB: to be filled in.
 */
import type http from 'node:http'
import type { SimulatedApi, SimulatorClock } from '../simulated-api.ts'

/** Options of the simulated VK Ads cabinet(s). */
export interface VkAdsSimOptions {
  readonly placeholder?: never
}

export interface VkAdsSimStats {
  readonly requests: number
}

export class SimulatedVkAds implements SimulatedApi {
  constructor(
    readonly options: VkAdsSimOptions,
    readonly clock: SimulatorClock,
    readonly seed: number,
  ) {}

  owns(path: string): boolean {
    return path.startsWith('/api/v2/') || path.startsWith('/api/v3/') || path.startsWith('/_sim/vk-ads/')
  }

  handle(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.writeHead(501, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { code: 'ERR_INTERNAL', message: 'not simulated yet' } }))
    return Promise.resolve()
  }

  stats(): VkAdsSimStats {
    return { requests: 0 }
  }

  reset(): void {}

  close(): void {}
}
