/**
 * Account ids (a Calltouch site id, an ad cabinet's id) land in the warehouse's
 * `integer` columns, so an id is a positive integer up to PostgreSQL's integer maximum.
 */
export const MAX_ACCOUNT_ID = 2_147_483_647

/** `text` (trimmed) as an account id, or undefined when it is not a positive integer that fits. */
export function parseAccountId(text: string): number | undefined {
  const digits = text.trim()
  if (!/^\d{1,10}$/.test(digits)) return undefined
  const id = Number(digits)
  return id >= 1 && id <= MAX_ACCOUNT_ID ? id : undefined
}
