import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const PGLITE_VERSION = (
  JSON.parse(
    readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
  ) as { version: string }
).version

/** A blank, initialized PGlite data directory (per PGlite version) that tests copy. */
export const PGLITE_TEMPLATE_DIR = path.join(os.tmpdir(), `calltouch-etl-pglite-template-${PGLITE_VERSION}`)
