import type { AdAccountBase } from '../../core/ad-account.ts'

/** VK Ads' API host (shared/vk-ads/API.md §1). */
export const VK_ADS_BASE_URL = 'https://ads.vk.com'

/** One VK Ads account (API access of client credentials) whose spend a sync reads. */
export interface VkAdsAccount extends AdAccountBase {
  readonly type: 'vk-ads'
  readonly clientId: string
  /** Registered as a secret the moment it is read. */
  readonly clientSecret: string
}
