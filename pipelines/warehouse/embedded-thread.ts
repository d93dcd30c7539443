import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import { EtlError } from '../core/errors.ts'

/**
 * The embedded (PGlite) engine in a worker thread of its own (embedded-worker.js).
 *
 * PGlite is PostgreSQL compiled to WebAssembly: a statement runs synchronously on the thread
 * that calls it. On the main thread a window's load held the event loop for its whole length,
 * and the extraction (requests leaving at their times, responses read) waited for it; in its
 * own thread the engine loads on the second core while the main thread goes on reading.
 */
export interface EmbeddedThread {
  /** Runs one statement with positional parameters; PostgreSQL's error keeps its fields (code, position, hint …). */
  query<Row>(sql: string, parameters: readonly unknown[]): Promise<EmbeddedResult<Row>>
  /** Closes the engine (a checkpoint, as PGlite's close does) and ends the thread. */
  close(): Promise<void>
  /** Ends the thread at once, as a crash would: what was not committed is lost, what was is kept. */
  terminate(): Promise<void>
}

export interface EmbeddedResult<Row> {
  readonly rows: Row[]
  readonly affectedRows?: number
  readonly fields: readonly { readonly name: string; readonly dataTypeID: number }[]
}

/** The worker's answers; see embedded-worker.js. */
type WorkerAnswer =
  | { readonly ready: true }
  | { readonly openError: WorkerError }
  | { readonly id: number; readonly closed: true }
  | { readonly id: number; readonly error: WorkerError }
  | ({ readonly id: number } & EmbeddedResult<unknown>)

interface WorkerError {
  readonly message: string
  readonly name: string
  readonly fields: Readonly<Record<string, string | number>>
}

interface Pending {
  resolve(answer: WorkerAnswer): void
  reject(error: Error): void
}

const WORKER_FILE = 'embedded-worker.js'

/**
 * The worker's file: beside this module when it runs from the sources; when the command runs
 * from a bundle of them (built elsewhere, which holds no copy of a worker file), the one in
 * pipelines/warehouse/ of the nearest folder above the bundle that has it.
 */
function workerFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const beside = path.join(here, WORKER_FILE)
  if (existsSync(beside)) return beside
  for (let folder = here; ; folder = path.dirname(folder)) {
    const candidate = path.join(folder, 'pipelines', 'warehouse', WORKER_FILE)
    if (existsSync(candidate)) return candidate
    if (path.dirname(folder) === folder) return beside
  }
}

/**
 * Starts the thread and opens the engine on `dataDir`, running `sessionSettings` first. Rejects
 * with PostgreSQL's (or PGlite's) error when the engine cannot open the directory.
 *
 * While no statement is in flight the thread does not keep the process alive, as a timer that
 * is unref'd: a command that ends without closing the warehouse still exits.
 */
export async function startEmbeddedThread(
  dataDir: string,
  sessionSettings: readonly string[],
  description: string,
): Promise<EmbeddedThread> {
  // No flags of the main thread: the worker is plain JavaScript and needs no loader (tsx's, or
  // --input-type of a script given with -e, which a worker refuses).
  const worker = new Worker(workerFile(), { workerData: { dataDir, sessionSettings }, execArgv: [] })
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  const pending = new Map<number, Pending>()
  let nextId = 1
  let stopped: Error | undefined
  /** Set by close and terminate: from then on the thread keeps the process alive until it has exited. */
  let ending = false
  const stop = (reason: Error): void => {
    stopped ??= reason
    for (const request of pending.values()) request.reject(stopped)
    pending.clear()
  }
  await new Promise<void>((resolve, reject) => {
    const onOpenExit = (code: number): void => reject(new Error(`its thread exited with code ${code} while opening`))
    worker.once('error', reject)
    worker.once('exit', onOpenExit)
    worker.once('message', (answer: WorkerAnswer) => {
      worker.off('error', reject)
      worker.off('exit', onOpenExit)
      if ('openError' in answer) reject(fromWorkerError(answer.openError))
      else resolve()
    })
  })
  worker.unref()
  worker.on('message', (answer: WorkerAnswer) => {
    if (!('id' in answer)) return
    const request = pending.get(answer.id)
    if (request === undefined) return
    pending.delete(answer.id)
    if (pending.size === 0 && !ending) worker.unref()
    if ('error' in answer) request.reject(fromWorkerError(answer.error))
    else request.resolve(answer)
  })
  worker.on('error', (error) => stop(threadStopped(description, error.message, error)))
  worker.on('exit', (code) => stop(threadStopped(description, `its thread exited (code ${code})`)))

  const send = (message: object): Promise<WorkerAnswer> => {
    if (stopped !== undefined) return Promise.reject(stopped)
    const id = nextId++
    return new Promise<WorkerAnswer>((resolve, reject) => {
      pending.set(id, { resolve, reject })
      worker.ref()
      worker.postMessage({ ...message, id })
    })
  }
  return {
    async query<Row>(sql: string, parameters: readonly unknown[]): Promise<EmbeddedResult<Row>> {
      const answer = await send({ sql, params: parameters })
      return answer as EmbeddedResult<Row>
    },
    async close() {
      // Held until the thread has exited: the code after `close` runs, whatever else the process awaits.
      ending = true
      worker.ref()
      if (stopped === undefined) {
        await send({ close: true }).catch(() => {})
        stop(new EtlError('WAREHOUSE', `the ${description} is closed`))
      }
      await exited
    },
    async terminate() {
      ending = true
      worker.ref()
      await worker.terminate()
      await exited
    },
  }
}

/** PostgreSQL's error as the engine threw it, its fields (code, position, hint …) on it again. */
function fromWorkerError(error: WorkerError): Error {
  const rebuilt = new Error(error.message)
  rebuilt.name = error.name
  return Object.assign(rebuilt, error.fields)
}

function threadStopped(description: string, why: string, cause?: unknown): EtlError {
  return new EtlError(
    'WAREHOUSE',
    `the ${description} stopped: ${why.replace(/\s*\n\s*/g, ' ')} — what it committed is kept; run the command again`,
    cause === undefined ? {} : { cause },
  )
}

/**
 * Kysely over an {@link EmbeddedThread}: one connection, handed to one user at a time (a
 * transaction holds it from begin to commit or rollback), as PGlite is one session.
 */
export class EmbeddedThreadDialect implements Dialect {
  readonly #thread: EmbeddedThread

  constructor(thread: EmbeddedThread) {
    this.#thread = thread
  }

  createAdapter() {
    return new PostgresAdapter()
  }

  createDriver(): Driver {
    return new EmbeddedThreadDriver(this.#thread)
  }

  createQueryCompiler() {
    return new PostgresQueryCompiler()
  }

  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db)
  }
}

class EmbeddedThreadDriver implements Driver {
  readonly #connection: DatabaseConnection
  readonly #thread: EmbeddedThread
  #held = false
  readonly #waiting: (() => void)[] = []

  constructor(thread: EmbeddedThread) {
    this.#thread = thread
    this.#connection = {
      async executeQuery<Row>(query: CompiledQuery): Promise<QueryResult<Row>> {
        const result = await thread.query<Row>(query.sql, query.parameters)
        return result.affectedRows
          ? { rows: result.rows, numAffectedRows: BigInt(result.affectedRows) }
          : { rows: result.rows }
      },
      streamQuery() {
        throw new Error('the embedded warehouse does not stream results')
      },
    }
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#held) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    this.#held = true
    return this.#connection
  }

  releaseConnection(): Promise<void> {
    const next = this.#waiting.shift()
    if (next === undefined) this.#held = false
    else next()
    return Promise.resolve()
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const begin =
      settings.isolationLevel === undefined ? 'begin' : `start transaction isolation level ${settings.isolationLevel}`
    await connection.executeQuery(CompiledQuery.raw(begin))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async destroy(): Promise<void> {
    await this.#thread.close()
  }
}
