import type { AdAccountBase } from '../../core/ad-account.ts'

/** Yandex Direct's API host (shared/yandex-direct/API.md §1). */
export const YANDEX_DIRECT_BASE_URL = 'https://api.direct.yandex.com'

/** One Yandex Direct advertiser whose spend a sync reads. */
export interface YandexDirectAccount extends AdAccountBase {
  readonly type: 'yandex-direct'
  /** OAuth token; registered as a secret the moment it is read. */
  readonly token: string
  /** The advertiser's login: required with an agency's token (the Client-Login header), optional with the advertiser's own. */
  readonly clientLogin?: string | undefined
}
