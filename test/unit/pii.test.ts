import { createHmac } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  clientKeyOf,
  hashedContact,
  normalizePhone,
  parseContactMode,
  parsePiiKey,
  phonesOf,
  resolvePiiKey,
} from '../../pipelines/core/pii.ts'

const KEY = Buffer.alloc(32, 0x5a)
const hmac = (text: string): string => createHmac('sha256', KEY).update(text, 'utf8').digest('hex')

/** A Russian national number: 10 digits, the first not 0. */
const nationalNumber = fc
  .tuple(fc.integer({ min: 1, max: 9 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 9, maxLength: 9 }))
  .map(([first, rest]) => `${first}${rest.join('')}`)

/** Ways people write one number: +7 with brackets and dashes, 8 with spaces, bare 7, no country code, 00 7. */
const writings = (n: string): string[] => [
  `+7 (${n.slice(0, 3)}) ${n.slice(3, 6)}-${n.slice(6, 8)}-${n.slice(8)}`,
  `8 ${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6, 8)} ${n.slice(8)}`,
  `7${n}`,
  n,
  `00 7 ${n}`,
  ` +7.${n.slice(0, 3)}.${n.slice(3)} `,
]

describe('normalizePhone', () => {
  it('gives every way of writing a Russian number the same 11 digits starting with 7', () => {
    fc.assert(
      fc.property(nationalNumber, (n) => {
        expect(writings(n).map(normalizePhone)).toEqual(writings(n).map(() => `7${n}`))
      }),
      { numRuns: 500 },
    )
  })

  it('returns digits only, and the same digits when applied again', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const once = normalizePhone(text)
        expect(once).toMatch(/^\d*$/)
        expect(normalizePhone(once)).toBe(once)
      }),
      { numRuns: 1000 },
    )
  })

  it('keeps the digits of other numbers as they are, and gives no digits for no phone', () => {
    expect(['+44 20 7946 0958', '+1 (212) 555-0100', '1234', '', 'скрыт'].map(normalizePhone)).toEqual([
      '442079460958',
      '12125550100',
      '1234',
      '',
      '',
    ])
  })
})

describe('client keys and hashed contacts', () => {
  it('keys a client by the HMAC-SHA256 of the first normalized phone of the field, whatever its writing', () => {
    fc.assert(
      fc.property(nationalNumber, nationalNumber, (first, second) => {
        for (const writing of writings(first)) {
          expect(clientKeyOf(KEY, `${writing}, ${second}`)).toBe(hmac(`7${first}`))
        }
      }),
      { numRuns: 200 },
    )
    expect(clientKeyOf(KEY, 'нет')).toBeNull()
    expect(phonesOf('8 916 123-45-67; +7 495 308 01 00')).toEqual(['79161234567', '74953080100'])
  })

  it('hashes each phone of a field, and names by their trimmed lower-case text', () => {
    expect(hashedContact(KEY, 'phone', '8 916 123-45-67; 74953080100')).toBe(
      `${hmac('79161234567')},${hmac('74953080100')}`,
    )
    expect(hashedContact(KEY, 'text', '  Иван   Петрович ')).toBe(hmac('иван петрович'))
    expect(hashedContact(KEY, 'phone', 'скрыт')).toBe(hmac('скрыт'))
  })
})

describe('settings', () => {
  it('reads the contact mode, keep by default, and refuses anything else in one line', () => {
    expect([undefined, '', ' hash ', 'drop', 'keep'].map(parseContactMode)).toEqual([
      'keep',
      'keep',
      'hash',
      'drop',
      'keep',
    ])
    expect(() => parseContactMode('HASH')).toThrow(
      'CALLTOUCH_ETL_PII is "HASH"; set it to keep, hash or drop (README, Personal data)',
    )
  })

  it('reads a key as hex or base64 of 32 bytes or more, and refuses a shorter one without showing it', () => {
    expect(parsePiiKey('ab'.repeat(32), 'K')).toEqual(Buffer.alloc(32, 0xab))
    expect(parsePiiKey(Buffer.alloc(40, 1).toString('base64'), 'K')).toEqual(Buffer.alloc(40, 1))
    for (const bad of ['ab'.repeat(31), 'short secret', Buffer.alloc(31, 1).toString('base64')]) {
      let message = ''
      try {
        parsePiiKey(bad, 'CALLTOUCH_ETL_PII_KEY')
      } catch (error) {
        message = (error as Error).message
        expect((error as { code?: unknown }).code).toBe('CONFIG')
      }
      expect(message).toBe(
        'CALLTOUCH_ETL_PII_KEY is not a key of at least 32 bytes in hex or base64; generate one with "openssl rand -hex 32", or unset it to use pii.key in the state directory (README, Personal data)',
      )
      expect(message).not.toContain(bad)
    }
  })
})

describe('the key file', () => {
  it('is generated once, mode 0600, and every later call (or one with the same directory) reads the same key', () => {
    const stateDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pii-key-')), 'state')
    try {
      const keys = Array.from({ length: 5 }, () => resolvePiiKey(undefined, stateDir).toString('hex'))
      expect(new Set(keys).size).toBe(1)
      expect(keys[0]).toMatch(/^[0-9a-f]{64}$/)
      expect(fs.statSync(path.join(stateDir, 'pii.key')).mode & 0o777).toBe(0o600)
      expect(fs.readdirSync(stateDir)).toEqual(['pii.key'])
      expect(resolvePiiKey('cd'.repeat(32), stateDir)).toEqual(Buffer.alloc(32, 0xcd))
    } finally {
      fs.rmSync(path.dirname(stateDir), { recursive: true, force: true })
    }
  })

  it('is made by one of several processes starting at once, and all of them use it', async () => {
    const stateDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pii-key-')), 'state')
    const { spawn } = await import('node:child_process')
    const script = `import { resolvePiiKey } from ${JSON.stringify(path.resolve('pipelines/core/pii.ts'))}; process.stdout.write(resolvePiiKey(undefined, ${JSON.stringify(stateDir)}).toString('hex'))`
    try {
      const outputs = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<string>((resolve, reject) => {
              const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script])
              let out = ''
              child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
              child.on('error', reject)
              child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))))
            }),
        ),
      )
      expect(new Set(outputs).size).toBe(1)
      expect(outputs[0]).toBe(fs.readFileSync(path.join(stateDir, 'pii.key'), 'utf8').trim())
      expect(fs.readdirSync(stateDir)).toEqual(['pii.key'])
    } finally {
      fs.rmSync(path.dirname(stateDir), { recursive: true, force: true })
    }
  })
})
