/**
 * The local API simulator: Calltouch (deals export, calls and requests journals, node discovery, deal writes,
 * the vendor's rate limit and errors), Yandex Direct and VK Ads on the same port,
 * a settable clock, and faults on demand.
 * Product code never imports this; tests, the demo and benchmarks do.
 * See simulator/README.md.
 */
export {
  startSimulator,
  expectedDeals,
  collectDeals,
  type RunningSimulator,
  type ExpectedDealsOptions,
} from './start-simulator.ts'
export {
  DEFAULT_NOW,
  DEFAULT_SEED,
  DEFAULT_SITE,
  DEFAULT_TIME_ZONE,
  DEFAULT_HISTORY_START,
  DEFAULT_DEALS_PER_DAY,
  DEFAULT_CALLS_PER_DEAL,
  DEFAULT_REQUESTS_PER_DEAL,
  DEFAULT_RATE_LIMIT,
  MAX_PAGE_LIMIT,
  type SimulatorOptions,
  type SimulatedSiteConfig,
  type RateLimitConfig,
  type FaultConfig,
} from './simulator-options.ts'
export { SimulatedSite } from './simulated-site.ts'
export {
  serializeDealRecord,
  type DealRecord,
  type CallOrderSource,
  type RequestOrderSource,
  type DealVisit,
} from './deal-record.ts'
export { EXPORT_ERROR_CODES } from './export-query.ts'
export { LEADS_ERROR_CODES } from './lead-query.ts'
export type { ExpectedCallsOptions, ExpectedRequestsOptions } from './lead-journals.ts'
export type { CallRecord, CallOrder, LeadTag } from './calls-journal.ts'
export type { RequestRecord, RequestOrder, RequestSession, RequestClient } from './requests-journal.ts'
export type { DirectIds } from './lead-generator.ts'
export { WRITE_ERROR_CODES, parseLosslessJson } from './order-writes.ts'
export type { SimulatorStats } from './simulator-stats.ts'
export {
  SimulatedYandexDirect,
  type YandexDirectSimOptions,
  type YandexDirectFaults,
  type DirectCorrection,
  type DirectExpectedRow,
  type DirectRename,
  type YandexDirectSimStats,
  type DirectLoginStats,
} from './yandex-direct/simulated-yandex-direct.ts'
export {
  SimulatedVkAds,
  type VkAdsSimOptions,
  type VkAdsAccountConfig,
  type VkAdsFaultConfig,
  type AdPlanConfig,
  type VkAdsSimStats,
  type VkAdsAccountStats,
  type VkAdsCorrection,
  type VkAdsExpectedRow,
  type AdPlanSummary,
} from './vk-ads/simulated-vk-ads.ts'
export type { SimulatedApi, SimulatorClock } from './simulated-api.ts'
