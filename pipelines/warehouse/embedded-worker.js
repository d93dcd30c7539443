// The embedded (PGlite) warehouse's own thread: it opens the engine on the data directory it is
// given and runs the statements embedded-thread.ts posts to it, one at a time, in order.
//
// Plain JavaScript, not TypeScript: a worker thread starts a fresh module graph, and the test
// runner's processes (vitest) have no TypeScript loader for it. It imports nothing of ours.
//
// Messages in:  { id, sql, params } a statement; { id, close: true } close the engine and exit.
// Messages out: { ready: true } once open, or { openError }; { id, rows, affectedRows, fields }
// or { id, error } per statement (error: message, name and PostgreSQL's fields, never the
// parameters: they hold whole pages of deals); { id, closed: true }.
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite } from '@electric-sql/pglite'

/** Both engines return the same JavaScript values: see TYPE_OIDS in connection.ts. */
const TYPE_OIDS = { int8: 20, numeric: 1700, date: 1082, text: 25 }
const asText = (value) => value

/** A text parameter may come as the UTF-8 bytes of the text (page bodies are kept as received). */
function textParameter(value) {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
  throw new Error('Invalid input for string type')
}

/** The fields of PostgreSQL's error that callers read (code, position, hint …): strings and numbers only. */
function errorFields(error) {
  const fields = {}
  if (error !== null && typeof error === 'object') {
    for (const [key, value] of Object.entries(error)) {
      if (key === 'params' || key === 'query') continue
      if (typeof value === 'string' || typeof value === 'number') fields[key] = value
    }
  }
  return fields
}

function describeError(error) {
  return {
    message: error instanceof Error ? error.message : String(error),
    name: error instanceof Error ? error.name : 'Error',
    fields: errorFields(error),
  }
}

let engine
try {
  engine = await PGlite.create(workerData.dataDir, {
    parsers: { [TYPE_OIDS.int8]: asText, [TYPE_OIDS.numeric]: asText, [TYPE_OIDS.date]: asText },
    serializers: { [TYPE_OIDS.text]: textParameter },
  })
  for (const statement of workerData.sessionSettings) await engine.exec(statement)
  parentPort.postMessage({ ready: true })
} catch (error) {
  parentPort.postMessage({ openError: describeError(error) })
  process.exit(1)
}

// Statements arrive while one runs: PGlite runs them in turn, as they came.
parentPort.on('message', (message) => {
  if (message.close) {
    void engine.close().finally(() => {
      parentPort.postMessage({ id: message.id, closed: true })
      parentPort.close()
    })
    return
  }
  engine.query(message.sql, message.params).then(
    (result) =>
      parentPort.postMessage({
        id: message.id,
        rows: result.rows,
        affectedRows: result.affectedRows,
        fields: result.fields,
      }),
    (error) => parentPort.postMessage({ id: message.id, error: describeError(error) }),
  )
})
