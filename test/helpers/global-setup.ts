import fs from 'node:fs/promises'
import type { TestProject } from 'vitest/node'
import { PGlite } from '@electric-sql/pglite'
import { postgresProblem } from './postgres-server.ts'
import { PGLITE_TEMPLATE_DIR } from './pglite-template.ts'

/**
 * Before any test file: check the PostgreSQL server (a failure in CI, a loud
 * warning and skipped PostgreSQL tests locally), and build once the blank
 * PGlite data directory that test files copy instead of running initdb each.
 */
export default async function setup(project: TestProject): Promise<void> {
  const problem = await postgresProblem()
  if (problem) {
    if (process.env.CI === 'true') throw new Error(problem)
    process.stderr.write(`\nWARNING: ${problem}. PostgreSQL tests are skipped.\n\n`)
  }
  project.provide('postgresProblem', problem)
  try {
    await fs.access(`${PGLITE_TEMPLATE_DIR}/PG_VERSION`)
  } catch {
    const building = `${PGLITE_TEMPLATE_DIR}.building-${process.pid}`
    await fs.rm(building, { recursive: true, force: true })
    const db = await PGlite.create(building)
    await db.close()
    await fs.rm(PGLITE_TEMPLATE_DIR, { recursive: true, force: true })
    await fs.rename(building, PGLITE_TEMPLATE_DIR)
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresProblem: string | null
  }
}
