import { EtlError } from '../../core/errors.ts'
import {
  clientKeyOf,
  hashedContact,
  keyFingerprint,
  PII_KEY_FILE,
  type ContactMode,
  type ContactPolicy,
} from '../../core/pii.ts'
import type { WarehouseDb } from '../../warehouse/connection.ts'
import { runSqlFile } from '../../warehouse/sql-files.ts'
import { SET_ASIDE_MARK } from './load-statements.ts'

/** A contact of the staged records: a phone field (client.phones, orderSource.ani) or any other client value. */
export interface StagedContact {
  readonly kind: 'phone' | 'text'
  readonly value: string
}

/**
 * Applies the contact mode to a window's staged records before they are compared with the
 * warehouse or written anywhere: the keyed hashes are computed here (core/pii.ts, one place for
 * the normalization), for the window's distinct contacts at once, and substituted set-based in
 * SQL. Records set aside have their text scrubbed in modes hash and drop.
 *
 * Without a policy nothing changes and client_key stays null (loads that predate client keys,
 * and tests of the load alone).
 */
export async function protectStagedContacts(trx: WarehouseDb, policy: ContactPolicy | undefined): Promise<void> {
  if (policy === undefined) return
  const contacts = await selectStagedContacts(trx, { mode: policy.mode })
  if (contacts.length > 0) {
    await insertContactHashes(trx, {
      kinds: contacts.map((contact) => contact.kind),
      values: contacts.map((contact) => contact.value),
      hashed: contacts.map((contact) => hashedContact(policy.key, contact.kind, contact.value)),
      clientKeys: contacts.map((contact) => (contact.kind === 'phone' ? clientKeyOf(policy.key, contact.value) : null)),
    })
  }
  await protectStagedRecords(trx, { mode: policy.mode })
  if (policy.mode !== 'keep') await protectSetAsideContacts(trx)
}

/** The distinct contacts of the staged records that the mode needs keyed (sql/select_staged_contacts.sql). */
export async function selectStagedContacts(
  trx: WarehouseDb,
  params: { readonly mode: ContactMode },
): Promise<StagedContact[]> {
  return runSqlFile<StagedContact>(trx, 'select_staged_contacts', [params.mode, SET_ASIDE_MARK])
}

/** Stages the keyed hashes of the contacts, in one statement (sql/insert_contact_hashes.sql). */
export async function insertContactHashes(
  trx: WarehouseDb,
  params: {
    readonly kinds: readonly string[]
    readonly values: readonly string[]
    readonly hashed: readonly string[]
    readonly clientKeys: readonly (string | null)[]
  },
): Promise<void> {
  await runSqlFile(trx, 'insert_contact_hashes', [params.kinds, params.values, params.hashed, params.clientKeys])
}

/** Sets client_key and applies the mode to the staged payloads (sql/protect_staged_contacts.sql). */
export async function protectStagedRecords(trx: WarehouseDb, params: { readonly mode: ContactMode }): Promise<void> {
  await runSqlFile(trx, 'protect_staged_contacts', [params.mode, SET_ASIDE_MARK])
}

/** Cuts the contacts out of the text of the records set aside (sql/protect_set_aside_contacts.sql). */
export async function protectSetAsideContacts(trx: WarehouseDb): Promise<void> {
  await runSqlFile(trx, 'protect_set_aside_contacts', [SET_ASIDE_MARK])
}

/** The contact mode and key a warehouse's deals were loaded under (etl.contact_protection). */
interface RecordedProtection {
  readonly mode: ContactMode | null
  readonly key_fingerprint: string | null
  readonly has_deals: boolean
}

/**
 * Makes sure a run loads under the mode and key the warehouse's deals were loaded under, before any
 * window loads. The first run records them; a warehouse of deals loaded before client keys gets
 * them for every deal whose phone it holds (mode keep). Anything that would mix two modes or two
 * keys in one warehouse is refused with the fix (README, Personal data):
 * - another key: client_key values of one client would differ between old and new deals;
 * - another mode: stored deals keep what the old mode stored, new versions the new one's.
 *
 * @throws EtlError CONFIG (exit 2), before anything is written
 */
export async function recordContactProtection(db: WarehouseDb, policy: ContactPolicy): Promise<void> {
  const fingerprint = keyFingerprint(policy.key)
  let recorded = await selectContactProtection(db)
  if (recorded.mode === null) {
    if (recorded.has_deals && policy.mode !== 'keep') {
      throw new EtlError(
        'CONFIG',
        `CALLTOUCH_ETL_PII=${policy.mode}, but this warehouse holds deals loaded before contact modes existed, with their contacts in clear; load with CALLTOUCH_ETL_PII=keep, or start a new warehouse and backfill it under ${policy.mode} (README, Personal data)`,
      )
    }
    if (recorded.has_deals) await keyUnkeyedDeals(db, policy.key)
    await insertContactProtection(db, { mode: policy.mode, keyFingerprint: fingerprint })
    recorded = await selectContactProtection(db)
  }
  if (recorded.key_fingerprint !== fingerprint) {
    throw new EtlError(
      'CONFIG',
      `this warehouse's client keys were made with another PII key (fingerprint ${recorded.key_fingerprint ?? '?'}, this run's ${fingerprint}); restore the key from your backup of ${PII_KEY_FILE} in the state directory or of CALLTOUCH_ETL_PII_KEY (README, Personal data)`,
    )
  }
  if (recorded.mode !== policy.mode) {
    throw new EtlError(
      'CONFIG',
      `this warehouse's deals were loaded with CALLTOUCH_ETL_PII=${recorded.mode ?? '?'}, and this run asks for ${policy.mode}: a mode applies to a whole warehouse; set CALLTOUCH_ETL_PII=${recorded.mode ?? '?'} again, or start a new warehouse and backfill it under ${policy.mode} (README, Personal data)`,
    )
  }
}

/** Gives every deal whose phone the warehouse holds, and that has no client_key yet, its key. */
async function keyUnkeyedDeals(db: WarehouseDb, key: Buffer): Promise<number> {
  const phones = (await selectUnkeyedClientPhones(db)).map((row) => row.phones)
  if (phones.length === 0) return 0
  return updateOrderClientKeys(db, { phones, clientKeys: phones.map((field) => clientKeyOf(key, field)) })
}

/** The recorded mode and key fingerprint, and whether there are deals (sql/select_contact_protection.sql). */
export async function selectContactProtection(db: WarehouseDb): Promise<RecordedProtection> {
  const [row] = await runSqlFile<RecordedProtection>(db, 'select_contact_protection')
  return row ?? { mode: null, key_fingerprint: null, has_deals: false }
}

/** Records the mode and key fingerprint unless another process did first (sql/insert_contact_protection.sql). */
export async function insertContactProtection(
  db: WarehouseDb,
  params: { readonly mode: ContactMode; readonly keyFingerprint: string },
): Promise<void> {
  await runSqlFile(db, 'insert_contact_protection', [params.mode, params.keyFingerprint])
}

/** Phone fields of deals without a client_key (sql/select_unkeyed_client_phones.sql). */
export async function selectUnkeyedClientPhones(db: WarehouseDb): Promise<{ phones: string }[]> {
  return runSqlFile<{ phones: string }>(db, 'select_unkeyed_client_phones')
}

/** Sets the client_key of deals without one, by phone field; returns how many (sql/update_order_client_keys.sql). */
export async function updateOrderClientKeys(
  db: WarehouseDb,
  params: { readonly phones: readonly string[]; readonly clientKeys: readonly (string | null)[] },
): Promise<number> {
  const [row] = await runSqlFile<{ keyed: number }>(db, 'update_order_client_keys', [params.phones, params.clientKeys])
  return row?.keyed ?? 0
}
