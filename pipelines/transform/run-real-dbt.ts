import { execFileSync, spawnSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ERROR_CODES, EXIT_CODES, EtlError, messageOf } from '../core/errors.ts'
import { dbtConnectionEnv } from './dbt-connection.ts'
import { DEFAULT_PROJECT_DIR } from './dbt-project.ts'

/**
 * `npm run dbt:build` (and dbt:test, dbt:docs, dbt:parse): real dbt on the
 * project, for people who want dbt itself; the product never needs it. The dbt
 * is DBT_BIN, else the pinned one dbt/install-dbt.sh installs on first use into
 * a cached virtual environment. The connection is DATABASE_URL turned into the
 * DBT_* variables of dbt/profiles.yml, unless DBT_HOST is set already.
 */

/** The script that installs the pinned dbt and prints its path. */
export const INSTALL_DBT_SCRIPT = path.join(DEFAULT_PROJECT_DIR, 'install-dbt.sh')

/** DBT_BIN when set, else the pinned dbt (installed now if the cache has none). */
export function resolveDbtBin(env: Readonly<Record<string, string | undefined>>): string {
  if (env.DBT_BIN) return env.DBT_BIN
  try {
    return execFileSync('bash', [INSTALL_DBT_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
  } catch (error) {
    throw new EtlError(
      'USAGE',
      `could not install the pinned dbt with ${INSTALL_DBT_SCRIPT} (${messageOf(error).split('\n')[0]}); install python3 with venv and pip, or set DBT_BIN to a dbt executable`,
      { cause: error },
    )
  }
}

/** The env dbt runs with: the caller's, plus the DBT_* connection derived from DATABASE_URL. */
export function realDbtEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  if (env.DBT_HOST) return { ...env }
  if (!env.DATABASE_URL)
    throw new EtlError(
      'USAGE',
      'real dbt needs a PostgreSQL warehouse: set DATABASE_URL (postgres://user:password@host:5432/database) or the DBT_HOST, DBT_PORT, DBT_USER, DBT_PASSWORD, DBT_DBNAME variables of dbt/profiles.yml',
    )
  return { ...env, ...dbtConnectionEnv(env.DATABASE_URL, env.DBT_SCHEMA) }
}

/** dbt's arguments for one command on the project: `build` → `build --project-dir dbt --profiles-dir dbt`. */
export function realDbtArguments(args: readonly string[], projectDir: string = DEFAULT_PROJECT_DIR): string[] {
  return [...args, '--project-dir', projectDir, '--profiles-dir', projectDir]
}

function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): number {
  try {
    const result = spawnSync(resolveDbtBin(env), realDbtArguments(argv), { stdio: 'inherit', env: realDbtEnv(env) })
    if (result.error) throw result.error
    return result.status ?? 1
  } catch (error) {
    process.stderr.write(`${messageOf(error).split('\n')[0]}\n`)
    return error instanceof EtlError ? ERROR_CODES[error.code] : EXIT_CODES.failed
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2), process.env)
}
