import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { EtlError, messageOf } from '../core/errors.ts'

/** What happened to a client, for the log. */
export type SqlServerEvent =
  | { readonly kind: 'connected'; readonly client: string }
  | { readonly kind: 'disconnected'; readonly client: string }
  | { readonly kind: 'refused'; readonly client: string }
  | { readonly kind: 'reset-failed'; readonly error: string }

export interface SqlServerConfig {
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
  /** Sessions start with default_transaction_read_only = off instead of on. */
  readonly write: boolean
  /**
   * The role every client session runs as (SET SESSION AUTHORIZATION), e.g. the read-only BI role
   * that reads the marts only; undefined: the warehouse's owner. Not a wall against a hostile
   * client (PGlite's only login is a superuser, so RESET SESSION AUTHORIZATION is open to it):
   * it keeps BI tools and analysts to what the role may read by default.
   */
  readonly role?: string | undefined
  readonly onEvent?: (event: SqlServerEvent) => void
}

export interface SqlServer {
  readonly host: string
  readonly port: number
  /** Refuses new clients, ends the open session, and stops; the engine stays open (the caller closes it). */
  close(): Promise<void>
}

/**
 * The message of a client refused while another is connected (SQLSTATE
 * 53300, too_many_connections, as a full server says it).
 */
export const ONE_CLIENT_AT_A_TIME =
  'the embedded warehouse serves one connection at a time and another client is connected: close that one and connect again (a PostgreSQL server, DATABASE_URL, serves many)'

/** How long a client waits for the connected one to leave (a pool reconnecting, psql run twice) before it is refused. */
const HANDOVER_WAIT_MS = 2_000

/** How long a client may take to send its startup message before it is cut off. */
const NEGOTIATION_TIMEOUT_MS = 10_000

/** How long to wait for pglite-socket to let go of a closed session before the next one starts. */
const DETACH_WAIT_MS = 2_000

/** Protocol codes a client can open with (PostgreSQL docs, "Message Formats"). */
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

/**
 * Serves an embedded (PGlite) warehouse over the PostgreSQL wire protocol, so
 * psql, DBeaver and Metabase can connect to it, with @electric-sql/pglite-socket
 * doing the protocol.
 *
 * PGlite is one backend: two clients would share one session (their
 * prepared statements, SET, transactions), and pglite-socket interleaves
 * their protocol messages, which the extended protocol of JDBC clients does
 * not survive. So one client is served at a time: a second one waits up to
 * {@link HANDOVER_WAIT_MS} for the first to leave (a pool reconnecting, psql
 * run twice), then gets the FATAL error {@link ONE_CLIENT_AT_A_TIME} rather
 * than waiting behind a client that may stay connected for hours. When a client leaves, its open
 * transaction is rolled back and its session reset (DISCARD ALL) before the
 * next one is let in.
 *
 * pglite-socket listens on a Unix socket in a private temporary directory;
 * the TCP port is a gate in front of it that lets one client through.
 */
export async function serveEmbedded(engine: PGlite, config: SqlServerConfig): Promise<SqlServer> {
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket')
  const onEvent = config.onEvent ?? (() => {})
  const socketDir = await fs.mkdtemp(path.join(os.tmpdir(), 'calltouch-etl-sql-'))
  const socketPath = path.join(socketDir, '.s.PGSQL')
  const sessionSettings = [
    `SET default_transaction_read_only = ${config.write ? 'off' : 'on'}`,
    'SET TIME ZONE UTC',
    ...(config.role === undefined ? [] : [`SET SESSION AUTHORIZATION "${config.role.replace(/"/g, '""')}"`]),
  ]
  const applySettings = async (): Promise<void> => {
    for (const statement of sessionSettings) await engine.exec(statement)
  }
  await applySettings()
  // Several at the socket: a closed session may linger there a moment after the gate let the next in.
  const inner = new PGLiteSocketServer({ db: engine, path: socketPath, maxConnections: 4 })
  await inner.start()

  let session: { client: net.Socket; upstream: net.Socket } | null = null
  /** A client holds the one slot: connected, or admitted and waiting for the previous one's reset. */
  let busy = false
  let closing = false
  let ready: Promise<void> = Promise.resolve()
  const clients = new Set<net.Socket>()

  /** After a client: wait for pglite-socket to detach it, roll back what it left open, reset the session. */
  const resetSession = async (): Promise<void> => {
    const deadline = Date.now() + DETACH_WAIT_MS
    while (inner.getStats().activeConnections > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5))
    try {
      if (engine.isInTransaction()) await engine.exec('ROLLBACK')
      // DISCARD ALL leaves the session's authorization as it is: back to the owner, then reset.
      await engine.exec('RESET SESSION AUTHORIZATION')
      await engine.exec('DISCARD ALL')
      await applySettings()
    } catch (error) {
      onEvent({ kind: 'reset-failed', error: messageOf(error) })
    }
  }

  /** Clients waiting for the connected one to leave, first come first served. */
  const waiting: ((admitted: boolean) => void)[] = []
  /** Resolves true once this client holds the one slot, false if it stayed taken for HANDOVER_WAIT_MS. */
  const claimSlot = (): Promise<boolean> => {
    if (!busy) {
      busy = true
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      const admit = (admitted: boolean): void => {
        clearTimeout(timer)
        resolve(admitted)
      }
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(admit), 1)
        resolve(false)
      }, HANDOVER_WAIT_MS)
      waiting.push(admit)
    })
  }
  const releaseSlot = (): void => {
    const next = waiting.shift()
    if (next === undefined) busy = false
    else next(true)
  }

  const serveClient = async (client: net.Socket, name: string): Promise<void> => {
    const startup = await negotiate(client)
    if (startup === null) {
      client.destroy()
      return
    }
    if (!(await claimSlot())) {
      onEvent({ kind: 'refused', client: name })
      client.end(errorResponse('53300', ONE_CLIENT_AT_A_TIME))
      return
    }
    // The previous client's session is reset before this one's startup message reaches PGlite.
    await ready
    if (client.destroyed || closing) {
      client.destroy()
      releaseSlot()
      return
    }
    const upstream = net.connect(socketPath)
    session = { client, upstream }
    onEvent({ kind: 'connected', client: name })
    let open = 2
    const closed = (): void => {
      client.destroy()
      upstream.destroy()
      open -= 1
      if (open > 0) return
      session = null
      onEvent({ kind: 'disconnected', client: name })
      ready = resetSession()
      releaseSlot()
    }
    client.on('close', closed)
    upstream.on('close', closed)
    upstream.on('error', () => upstream.destroy())
    upstream.write(startup)
    client.pipe(upstream)
    upstream.pipe(client)
  }

  const gate = net.createServer((client) => {
    const name = `${client.remoteAddress ?? '?'}:${client.remotePort ?? '?'}`
    clients.add(client)
    client.on('close', () => clients.delete(client))
    client.on('error', () => client.destroy())
    void serveClient(client, name)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      gate.once('error', reject)
      gate.listen(config.port, config.host, () => {
        gate.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    await inner.stop().catch(() => {})
    await fs.rm(socketDir, { recursive: true, force: true })
    const code = (error as { code?: string }).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new EtlError(
        'USAGE',
        `cannot listen on ${config.host}:${config.port}: ${messageOf(error)} — pick another --port (or --host)`,
        { cause: error },
      )
    throw error
  }
  const address = gate.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.port

  return {
    host: config.host,
    port,
    async close() {
      closing = true
      for (const admit of waiting.splice(0)) admit(false)
      const stopped = new Promise<void>((resolve) => gate.close(() => resolve()))
      for (const client of clients) client.destroy()
      session?.upstream.destroy()
      await stopped
      await ready
      await inner.stop()
      await fs.rm(socketDir, { recursive: true, force: true })
    },
  }
}

/**
 * Reads a client's opening: answers no to SSL and GSS encryption (pglite-socket
 * knows neither and would wait forever, while psql and JDBC ask by default),
 * and resolves with the bytes of its startup message, paused for whoever goes
 * on; null for a cancel request (psql's Ctrl+C on the served session: PGlite
 * cannot stop a statement midway) or a client that left or kept silent.
 */
function negotiate(client: net.Socket): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0)
    const finish = (startup: Buffer | null): void => {
      clearTimeout(timer)
      client.off('data', onData)
      client.off('close', onClose)
      client.pause()
      resolve(startup)
    }
    const onClose = (): void => finish(null)
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 8) {
        const code = buffered.readInt32BE(4)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          client.write('N')
          buffered = buffered.subarray(8)
          continue
        }
        if (code === CANCEL_REQUEST) return finish(null)
        if (buffered.length >= buffered.readInt32BE(0)) finish(buffered)
        return
      }
    }
    const timer = setTimeout(() => finish(null), NEGOTIATION_TIMEOUT_MS)
    client.on('data', onData)
    client.on('close', onClose)
  })
}

/** A FATAL ErrorResponse message ('E'): severity, SQLSTATE and message fields. */
function errorResponse(sqlState: string, message: string): Buffer {
  const fields = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', sqlState),
    field('M', message),
    Buffer.from([0]),
  ])
  const header = Buffer.alloc(5)
  header.write('E', 0)
  header.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([header, fields])
}

function field(type: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(type), Buffer.from(value, 'utf8'), Buffer.from([0])])
}
