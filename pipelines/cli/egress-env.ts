import type { Env } from '../core/config.ts'
import { registerSecret } from '../core/secrets.ts'
import { openEgress, type Egress, type EgressConfig } from '../http/egress.ts'

/** What a command line may set instead of the environment (the coming `worker --egress-address`). */
export interface EgressOverrides {
  /** Replaces CALLTOUCH_ETL_EGRESS_ADDRESS; named in messages as `setting`. */
  readonly address?: { readonly value: string; readonly setting: string }
}

/**
 * The egress CALLTOUCH_ETL_EGRESS_ADDRESS and CALLTOUCH_ETL_REDIS_URL describe (blank = unset);
 * their formats were checked with every other variable (core/settings.ts). A password in the
 * Redis URL is registered as a secret.
 *
 * @example egressConfigFromEnv({ CALLTOUCH_ETL_EGRESS_ADDRESS: '127.0.0.2', CALLTOUCH_ETL_REDIS_URL: 'redis://127.0.0.1:6379' })
 */
export function egressConfigFromEnv(env: Env, overrides: EgressOverrides = {}): EgressConfig {
  const address = overrides.address?.value.trim() || env.CALLTOUCH_ETL_EGRESS_ADDRESS?.trim() || undefined
  const redisUrl = env.CALLTOUCH_ETL_REDIS_URL?.trim() || undefined
  if (redisUrl !== undefined) {
    const password = URL.canParse(redisUrl) ? new URL(redisUrl).password : ''
    if (password !== '') registerSecret(decodeURIComponent(password))
  }
  return {
    address,
    redisUrl,
    settingNames: {
      address: overrides.address?.setting ?? 'CALLTOUCH_ETL_EGRESS_ADDRESS',
      redisUrl: 'CALLTOUCH_ETL_REDIS_URL',
    },
  }
}

/**
 * Opens the environment's egress (an address this machine lacks: one line, exit 2; a Redis that
 * does not answer: one line, exit 1), runs `work` with it and closes it whatever happens.
 *
 * @example const result = await withEgress(ctx.env, (egress) => withWarehouse(ctx, (warehouse) => syncJob(warehouse, request, { egress })))
 */
export async function withEgress<T>(
  env: Env,
  work: (egress: Egress) => Promise<T>,
  overrides: EgressOverrides = {},
): Promise<T> {
  const egress = await openEgress(egressConfigFromEnv(env, overrides))
  try {
    return await work(egress)
  } finally {
    await egress.close()
  }
}
