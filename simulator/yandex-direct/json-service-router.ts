/**
 * Routes a JSON service call (`/json/v5/clients|campaigns|changes`, envelope
 * `{"method", "params"}`) to its method and prices it in points.
 */
import type { DirectAccount } from './direct-account.ts'
import { DirectError } from './direct-errors.ts'
import {
  campaignsGet,
  changesCheck,
  changesCheckCampaigns,
  changesCheckDictionaries,
  clientsGet,
  parseEnvelope,
  UNIT_COST,
} from './json-services.ts'

export type JsonServiceOutcome =
  | { readonly units: number; readonly result: Record<string, unknown> }
  | { readonly units: number; readonly error: DirectError }

/** Answers one call; errors are outcomes (the JSON API answers them with HTTP 200). */
export function answerJsonService(
  service: string,
  bodyText: string,
  account: DirectAccount,
  nowMs: number,
  budget: { remaining: number },
): JsonServiceOutcome {
  try {
    const { method, params } = parseEnvelope(bodyText)
    const price = UNIT_COST[method as keyof typeof UNIT_COST] ?? 0
    if (price > budget.remaining)
      return {
        units: 0,
        error: new DirectError(
          152,
          `${account.login} has ${budget.remaining} points left today; ${method} costs ${price}`,
        ),
      }
    const route = `${service}.${method}`
    switch (route) {
      case 'clients.get':
        return { units: price, result: clientsGet(params, account) }
      case 'campaigns.get':
        return { units: price, result: campaignsGet(params, account, nowMs) }
      case 'changes.checkDictionaries':
        return { units: price, result: changesCheckDictionaries(params, nowMs) }
      case 'changes.check':
        return { units: price, result: changesCheck(params, account, nowMs) }
      case 'changes.checkCampaigns':
        return { units: price, result: changesCheckCampaigns(params, account, nowMs) }
      default:
        return {
          units: 0,
          error: new DirectError(55, `the ${service} service has no method ${method} in the simulator`),
        }
    }
  } catch (error) {
    if (error instanceof DirectError) return { units: 0, error }
    throw error
  }
}
