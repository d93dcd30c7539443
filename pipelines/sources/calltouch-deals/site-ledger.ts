import type { WarehouseDb } from '../../warehouse/connection.ts'
import { readLedger, type LedgerDay, type LedgerKey } from '../../warehouse/ledger.ts'

/** The ledger's name for Calltouch deals: etl.ledger.source of every day a sync or backfill reads. */
export const CALLTOUCH_DEALS_SOURCE = 'calltouch-deals'

/** The ledger rows of a Calltouch site's deals: the account is the site id, as text. */
export function siteLedgerKey(siteId: number): LedgerKey {
  return { source: CALLTOUCH_DEALS_SOURCE, account: String(siteId) }
}

/** The deals ledger of one site, oldest day first. */
export async function readSiteLedger(db: WarehouseDb, siteId: number): Promise<LedgerDay[]> {
  return readLedger(db, siteLedgerKey(siteId))
}
