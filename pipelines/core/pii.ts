/**
 * Client contacts (personal data under 152-FZ): what the warehouse keeps of them, and the keyed
 * hash that still lets analysts count clients.
 *
 * Glossary:
 * - contact: a client's phone, name or e-mail as a source sends it (a deal's `client` object and
 *   the caller's number `orderSource.ani`).
 * - contact mode: CALLTOUCH_ETL_PII — `keep` (stored clear, readable by the owner only), `hash`
 *   (replaced by their keyed hash everywhere, raw payloads included) or `drop` (not stored at all).
 * - PII key: the secret of the keyed hash, 32 bytes or more (CALLTOUCH_ETL_PII_KEY, or a key file
 *   generated once in the state directory).
 * - client_key: HMAC-SHA256 (hex) of the client's normalized phone, stored in every mode.
 */
import { createHmac, randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { EtlError, messageOf } from './errors.ts'

export const CONTACT_MODES = ['keep', 'hash', 'drop'] as const
export type ContactMode = (typeof CONTACT_MODES)[number]

export const DEFAULT_CONTACT_MODE: ContactMode = 'keep'

/** The key file's name in the state directory (CALLTOUCH_ETL_STATE_DIR). */
export const PII_KEY_FILE = 'pii.key'

/** The shortest key accepted: HMAC-SHA256's block of security (https://www.rfc-editor.org/rfc/rfc2104#section-3). */
export const MIN_PII_KEY_BYTES = 32

/** What the loader needs to protect contacts: the mode and the key of client_key. */
export interface ContactPolicy {
  readonly mode: ContactMode
  readonly key: Buffer
}

/** Reads CALLTOUCH_ETL_PII; unset or blank is the default `keep`. */
export function parseContactMode(text: string | undefined): ContactMode {
  const value = text?.trim() ?? ''
  if (value === '') return DEFAULT_CONTACT_MODE
  if ((CONTACT_MODES as readonly string[]).includes(value)) return value as ContactMode
  throw new EtlError(
    'CONFIG',
    `CALLTOUCH_ETL_PII is ${JSON.stringify(value)}; set it to keep, hash or drop (README, Personal data)`,
  )
}

/**
 * Reads a key given as text: 64 or more hex digits, or base64 of 32 or more bytes.
 * The value itself never appears in the message.
 */
export function parsePiiKey(text: string, where: string): Buffer {
  const value = text.trim()
  const hex = /^(?:[0-9a-fA-F]{2})+$/.test(value)
  const bytes = hex
    ? Buffer.from(value, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(value)
      ? Buffer.from(value, 'base64')
      : Buffer.alloc(0)
  if (bytes.length < MIN_PII_KEY_BYTES) {
    throw new EtlError(
      'CONFIG',
      `${where} is not a key of at least ${MIN_PII_KEY_BYTES} bytes in hex or base64; generate one with "openssl rand -hex 32", or unset it to use ${PII_KEY_FILE} in the state directory (README, Personal data)`,
    )
  }
  return bytes
}

/**
 * The PII key: CALLTOUCH_ETL_PII_KEY when set, else `<stateDir>/pii.key`, generated on first use
 * (32 random bytes as hex, mode 0600). The file is written whole under another name and linked
 * into place, which fails when it exists: two processes starting at once never make two keys,
 * and nobody reads half a key.
 */
export function resolvePiiKey(envKey: string | undefined, stateDir: string): Buffer {
  if (envKey !== undefined && envKey.trim() !== '') return parsePiiKey(envKey, 'CALLTOUCH_ETL_PII_KEY')
  const file = path.join(stateDir, PII_KEY_FILE)
  try {
    return parsePiiKey(fs.readFileSync(file, 'utf8'), file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw keyFileError(file, error)
  }
  try {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 })
    const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    try {
      fs.writeFileSync(draft, `${randomBytes(MIN_PII_KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
      try {
        fs.linkSync(draft, file)
      } catch (error) {
        // Another process made the key first: use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    } finally {
      fs.rmSync(draft, { force: true })
    }
    return parsePiiKey(fs.readFileSync(file, 'utf8'), file)
  } catch (error) {
    throw keyFileError(file, error)
  }
}

function keyFileError(file: string, error: unknown): EtlError {
  if (error instanceof EtlError) return error
  return new EtlError(
    'CONFIG',
    `cannot read or create the PII key file ${file} (${messageOf(error)}); make CALLTOUCH_ETL_STATE_DIR writable or set CALLTOUCH_ETL_PII_KEY`,
    { cause: error },
  )
}

/** The contact policy of a run, from the environment's two settings and the state directory. */
export function contactPolicyFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  stateDir: string,
): ContactPolicy {
  const mode = parseContactMode(env.CALLTOUCH_ETL_PII)
  return { mode, key: resolvePiiKey(env.CALLTOUCH_ETL_PII_KEY, stateDir) }
}

/**
 * A phone as digits in international form, so that one number written several ways is one client:
 * - every character but the digits goes (`+`, spaces, brackets, dashes, dots);
 * - a leading `00` (international call prefix) goes;
 * - 11 digits starting with 8 are a Russian number with the trunk prefix: 8 becomes 7;
 * - 10 digits are a Russian number without its country code: 7 is put in front;
 * - anything else stays as its digits; no digit at all gives '' (no phone).
 *
 * @example
 * normalizePhone('+7 (916) 123-45-67') // '79161234567'
 * normalizePhone('8 916 123 45 67')    // '79161234567'
 * normalizePhone('9161234567')         // '79161234567'
 */
export function normalizePhone(text: string): string {
  let digits = text.replace(/\D/g, '')
  if (digits.startsWith('00')) digits = digits.slice(2)
  if (digits.length === 11 && digits.startsWith('8')) return `7${digits.slice(1)}`
  if (digits.length === 10) return `7${digits}`
  return digits
}

/** The phones of a field that may list several, separated by commas or semicolons; normalized, empty ones left out. */
export function phonesOf(text: string): string[] {
  return text
    .split(/[,;]/)
    .map(normalizePhone)
    .filter((phone) => phone !== '')
}

/** A name or e-mail as compared: trimmed, inner whitespace single spaces, lower case. */
export function normalizeContactText(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase()
}

/** HMAC-SHA256 of a normalized value under the PII key, as 64 hex digits. */
export function keyedHash(key: Buffer, normalized: string): string {
  return createHmac('sha256', key).update(normalized, 'utf8').digest('hex')
}

/** The client_key of a phones field: the keyed hash of its first phone; null when it holds none. */
export function clientKeyOf(key: Buffer, phones: string): string | null {
  const first = phonesOf(phones)[0]
  return first === undefined ? null : keyedHash(key, first)
}

/**
 * What `hash` mode stores instead of a contact: a phone field becomes the keyed hashes of its
 * phones (comma-separated), any other text the keyed hash of its normalized text.
 */
export function hashedContact(key: Buffer, kind: 'phone' | 'text', value: string): string {
  if (kind === 'phone') {
    const phones = phonesOf(value)
    if (phones.length > 0) return phones.map((phone) => keyedHash(key, phone)).join(',')
  }
  return keyedHash(key, normalizeContactText(value))
}

/**
 * A fingerprint of the key, stored in the warehouse so that a load under another key is refused
 * (its client_key values would not match the stored ones). It reveals nothing of the key.
 */
export function keyFingerprint(key: Buffer): string {
  return keyedHash(key, 'calltouch-etl PII key fingerprint').slice(0, 16)
}
