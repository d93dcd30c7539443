import type { Command } from 'commander'
import { warehouseConfigFromEnv } from '../../core/config.ts'
import { EXIT_CODES, type ExitCode } from '../../core/errors.ts'
import { openWarehouse, type Warehouse } from '../../warehouse/connection.ts'
import { serveEmbedded, type SqlServerEvent } from '../../warehouse/serve-embedded.ts'
import { say, usageError, type Action, type CliContext } from '../context.ts'

/** The port psql users expect next to a PostgreSQL server on 5432. */
export const DEFAULT_SQL_PORT = 5433
export const DEFAULT_SQL_HOST = '127.0.0.1'

interface ServeSqlOptions {
  readonly port: number
  readonly host: string
  readonly write?: boolean
  readonly owner?: boolean
}

export function registerServeSqlCommand(program: Command, action: Action): void {
  program
    .command('serve-sql')
    .description(
      'serve the embedded warehouse over the PostgreSQL protocol (psql, DBeaver, Metabase), one connection at a time, holding its lock until Ctrl+C/SIGTERM',
    )
    .option(
      '--port <port>',
      `TCP port (0: any free one; default ${DEFAULT_SQL_PORT})`,
      parsePortOption,
      DEFAULT_SQL_PORT,
    )
    .option(
      '--host <address>',
      `address to listen on (default ${DEFAULT_SQL_HOST}); no password is checked, so keep it on a trusted network`,
      DEFAULT_SQL_HOST,
    )
    .option('--write', 'let clients change the warehouse, as its owner (default: sessions are read-only)')
    .option(
      '--owner',
      `serve every schema as the warehouse's owner, client contacts included (default: sessions run as the read-only BI role ${BI_ROLE}, which reads the marts only)`,
    )
    .action(action(async (ctx: CliContext, command: Command) => serveSql(ctx, command.opts<ServeSqlOptions>())))
}

/** `--port N`: 0 to 65535. */
export function parsePortOption(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535)
    throw usageError(`--port must be a TCP port (0 to 65535), got ${JSON.stringify(text)}`)
  return Number(text)
}

async function serveSql(ctx: CliContext, options: ServeSqlOptions): Promise<ExitCode> {
  const config = warehouseConfigFromEnv(ctx.env, ctx.cwd)
  if (config.engine === 'postgres')
    throw usageError(
      'serve-sql serves the embedded warehouse, and DATABASE_URL names a PostgreSQL server: connect psql, DBeaver or Metabase to that server directly (or unset DATABASE_URL)',
    )
  // Opening takes the data directory's lock (a second process gets exit 3) and keeps it while serving.
  const warehouse = await openWarehouse(config, { embeddedEngine: 'in-process' })
  try {
    const engine = warehouse.embedded
    if (engine === undefined) throw new Error('the embedded warehouse came without its engine')
    const asOwner = options.owner === true || options.write === true
    if (!asOwner) await requireBiRole(engine)
    const server = await serveEmbedded(engine, {
      host: options.host,
      port: options.port,
      write: options.write === true,
      role: asOwner ? undefined : BI_ROLE,
      onEvent: (event) => logEvent(ctx, event),
    })
    const stop = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    say(
      ctx,
      `Serving the ${warehouse.description} on ${server.host}:${server.port}, ${options.write === true ? 'read-write' : 'read-only'}, ${asOwner ? "as the warehouse's owner (every schema)" : `as ${BI_ROLE} (the marts only)`}, one connection at a time; Ctrl+C stops it and frees the data directory. Connect with:`,
    )
    say(ctx, `  psql -h ${server.host} -p ${server.port} -U postgres`)
    say(
      ctx,
      `  jdbc:postgresql://${server.host}:${server.port}/postgres (DBeaver, Metabase: user postgres, any password)`,
    )
    if (!isLoopback(server.host))
      ctx.logger.warn(
        { host: server.host, port: server.port },
        'serve-sql checks no password: anyone who reaches this address can read the warehouse',
      )
    const signal = await stop
    await server.close()
    say(ctx, `Stopped (${signal}); the ${warehouse.description} is free for other commands.`)
    return EXIT_CODES.ok
  } finally {
    await warehouse.close()
  }
}

/** The read-only role of BI tools (migration 20261129095500; the marts only since 20261207180000). */
export const BI_ROLE = 'calltouch_metabase'

/** The BI role exists once the warehouse is migrated; without it, say how to get it. */
async function requireBiRole(engine: NonNullable<Warehouse['embedded']>): Promise<void> {
  const { rows } = await engine.query<{ found: boolean }>(
    `select exists (select 1 from pg_roles where rolname = $1) as found`,
    [BI_ROLE],
  )
  if (rows[0]?.found !== true)
    throw usageError(
      `the embedded warehouse has no role ${BI_ROLE} to serve the marts as: run calltouch-etl migrate first, or pass --owner to serve every schema`,
    )
}

function logEvent(ctx: CliContext, event: SqlServerEvent): void {
  if (event.kind === 'connected') ctx.logger.info({ client: event.client }, `client ${event.client} connected`)
  else if (event.kind === 'disconnected')
    ctx.logger.info({ client: event.client }, `client ${event.client} disconnected`)
  else if (event.kind === 'refused')
    ctx.logger.warn(
      { client: event.client },
      `refused client ${event.client}: another client is connected (one connection at a time)`,
    )
  else ctx.logger.error({ error: event.error }, `could not reset the session after a client left: ${event.error}`)
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}
