import fs from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Migrator, NO_MIGRATIONS, type Migration, type MigrationProvider, type MigrationResult } from 'kysely'
import { EtlError, messageOf } from '../core/errors.ts'
import type { WarehouseDb } from './connection.ts'

const MIGRATION_FOLDER = fileURLToPath(new URL('../../migrations/', import.meta.url))

/** The migrator keeps its own tables (kysely_migration, kysely_migration_lock) in `etl`. */
const MIGRATION_TABLE_SCHEMA = 'etl'

const MIGRATION_FILE = /^\d{14}_[a-z0-9_]+\.ts$/

/** The names of the migrations in `migrations/`, in order, without loading them. */
export async function migrationNames(): Promise<string[]> {
  return (await fs.readdir(MIGRATION_FOLDER))
    .filter((file) => MIGRATION_FILE.test(file))
    .sort()
    .map((file) => file.replace(/\.ts$/, ''))
}

/**
 * Reads `migrations/*.ts`. Kysely's FileMigrationProvider imports from inside
 * node_modules, where neither tsx nor vitest turns TypeScript into JavaScript;
 * importing from here works under both. A migration is imported only when it is
 * run: every command that writes asks the migrator, and importing all of them each
 * time was start-up spent for nothing once they are applied.
 */
class TypeScriptMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {}
    for (const name of await migrationNames()) {
      const file = pathToFileURL(`${MIGRATION_FOLDER}${name}.ts`).href
      migrations[name] = {
        up: async (db) => (await importMigration(file)).up(db),
        // Kysely reverts a migration without `down` by forgetting it, as this does.
        down: async (db) => (await importMigration(file)).down?.(db),
      }
    }
    return migrations
  }
}

/**
 * A migration's module. The command runs from a bundle of its sources (bin/prebuilt-cli.js),
 * where nothing turns TypeScript into JavaScript for a plain import(): tsx loads the file then.
 */
async function importMigration(file: string): Promise<Migration> {
  try {
    return (await import(file)) as Migration
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error
    const { tsImport } = await import('tsx/esm/api')
    return (await tsImport(file, import.meta.url)) as Migration
  }
}

function createMigrator(db: WarehouseDb): Migrator {
  return new Migrator({
    db,
    provider: new TypeScriptMigrationProvider(),
    migrationTableSchema: MIGRATION_TABLE_SCHEMA,
  })
}

export interface MigrationOutcome {
  /** Names of the migrations this call applied (or reverted), in order. */
  readonly applied: readonly string[]
}

/**
 * Brings the warehouse to the latest schema. Safe to run twice (nothing to do
 * the second time) and from two processes at once: Kysely's migrator holds a
 * lock while it works, so the second waits and then finds nothing to do.
 */
export async function migrateToLatest(db: WarehouseDb): Promise<MigrationOutcome> {
  return runMigrator(() => createMigrator(db).migrateToLatest(), 'migrate')
}

/**
 * Brings the warehouse to the schema of one migration, applying or reverting the ones after it;
 * for tests of a warehouse that an earlier release made.
 *
 * @example
 * await migrateTo(db, '20261207090000_key_long_tags_and_fields_by_md5') // the schema before the ledger had sources
 */
export async function migrateTo(db: WarehouseDb, migrationName: string): Promise<MigrationOutcome> {
  return runMigrator(() => createMigrator(db).migrateTo(migrationName), 'migrate')
}

/** Reverts every migration; for tests of the down path. */
export async function migrateToNothing(db: WarehouseDb): Promise<MigrationOutcome> {
  return runMigrator(() => createMigrator(db).migrateTo(NO_MIGRATIONS), 'revert')
}

/** Names of the migrations in `migrations/` and whether each has been applied. */
export async function migrationStatus(db: WarehouseDb): Promise<{ name: string; executedAt: Date | undefined }[]> {
  const migrations = await createMigrator(db).getMigrations()
  return migrations.map((migration) => ({ name: migration.name, executedAt: migration.executedAt }))
}

async function runMigrator(
  run: () => Promise<{ error?: unknown; results?: MigrationResult[] }>,
  verb: string,
): Promise<MigrationOutcome> {
  const { error, results = [] } = await run()
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')
    const which = failed ? ` at ${failed.migrationName}` : ''
    throw new EtlError('WAREHOUSE', `could not ${verb} the warehouse${which}: ${messageOf(error)}`, { cause: error })
  }
  return { applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName) }
}
