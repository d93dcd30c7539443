import type { ContactPolicy } from '../../core/pii.ts'
import type { LedgerKey } from '../../warehouse/ledger.ts'

/*
 * The names and shapes every part of a leads load shares (load-leads.ts, lead-writes.ts,
 * lead-isolation.ts); load-leads.ts exports them to the rest of the product.
 */

export const LEAD_JOURNALS = ['calls', 'requests'] as const
export type LeadJournal = (typeof LEAD_JOURNALS)[number]

/** The ledger's (and etl.rejected_records') name of each journal. */
export const LEAD_SOURCES = { calls: 'calltouch-calls', requests: 'calltouch-requests' } as const satisfies Record<
  LeadJournal,
  string
>

/** The members of a journal's record that name its lead and its site-local day (LEADS-API.md §1.3, §2.3). */
export const LEAD_KEYS = {
  calls: { id: 'callId', day: 'date' },
  requests: { id: 'requestId', day: 'dateStr' },
} as const satisfies Record<LeadJournal, { id: string; day: string }>

/** How fresh last_seen_at is kept for unchanged leads (as for deals): a re-read right away rewrites no row. */
export const LEAD_LAST_SEEN_RESOLUTION = '1 hour'

/** The ledger rows of a site's calls or requests: the account is the site id, as text. */
export function leadsLedgerKey(journal: LeadJournal, siteId: number): LedgerKey {
  return { source: LEAD_SOURCES[journal], account: String(siteId) }
}

/** A response body: its text, or the UTF-8 bytes received. */
export type LeadsBodyText = string | Uint8Array

/** One complete read of a journal, as the loaders take it. */
export interface LeadsToLoad {
  readonly runId: string
  readonly siteId: number
  /** 'YYYY-MM-DD', site-local, inclusive; a requests read is one day (firstDay = lastDay). */
  readonly firstDay: string
  readonly lastDay: string
  /** Every body of the read, exactly as received; records of other days are left out, repeats keep the last read. */
  readonly bodies: readonly LeadsBodyText[]
  /** What may be stored of contacts, and the key of client_key (core/pii.ts); absent: contacts as received, no client_key. */
  readonly contacts?: ContactPolicy
}

/** What loading a read wrote. */
export interface LeadsLoadResult {
  /** Distinct leads of the read's days staged (rejected ones included). */
  readonly seen: number
  /** New raw versions. */
  readonly landed: number
  /** Normalized rows inserted or updated. */
  readonly changed: number
  /** Records sent to etl.rejected_records: ones the loader cannot judge loadable, and ones PostgreSQL refused. */
  readonly rejected: number
  /** Leads newly marked removed_from_source_at. */
  readonly removed: number
  /** Loadable leads per day (every day of the read, 0 included). */
  readonly recordsByDay: Readonly<Record<string, number>>
}
