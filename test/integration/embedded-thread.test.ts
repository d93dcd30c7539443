import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EtlError } from '../../pipelines/core/errors.ts'
import { loadWindow, type WindowToLoad } from '../../pipelines/sources/calltouch-deals/load-window.ts'
import { executeSql, openWarehouse } from '../../pipelines/warehouse/connection.ts'
import {
  EmbeddedThreadDialect,
  startEmbeddedThread,
  type EmbeddedThread,
} from '../../pipelines/warehouse/embedded-thread.ts'
import { startRun } from '../../pipelines/warehouse/run-ledger.ts'
import type { WarehouseSchema } from '../../pipelines/warehouse/schema.ts'
import { sqlText } from '../../pipelines/warehouse/sql-files.ts'
import { createTestWarehouse, type TestWarehouse } from '../helpers/warehouse.ts'

const SITE = 4242
const ZONE = 'Europe/Moscow'
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

function page(records: readonly string[]): string {
  return `{"page":1,"pageTotal":1,"pageSize":1000,"recordsTotal":${records.length},"records":[${records.join(',')}]}`
}

function deal(orderNumber: string, day: string): string {
  return `{"orderNumber":"${orderNumber}","orderDate":"${day} 12:00:00","createdDate":"${day}","orderStatus":"start","isDeleted":false,"tags":["t"],"custom":{"f":1}}`
}

function dataDirOf(tw: TestWarehouse): string {
  if (tw.config.engine !== 'pglite') throw new Error('an embedded test warehouse was expected')
  return tw.config.dataDir
}

/**
 * The engine's thread, ended as a crash would end it when `crashAt` is about to run: the
 * statement is sent and the thread is gone before it answers.
 */
function crashingAt(thread: EmbeddedThread, crashAt: string): EmbeddedThread {
  return {
    query(sql, parameters) {
      if (sql === crashAt) void thread.terminate()
      return thread.query(sql, parameters)
    },
    close: () => thread.close(),
    terminate: () => thread.terminate(),
  }
}

describe('the embedded warehouse in its own thread', () => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse('pglite')
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it("hands PostgreSQL's errors across the thread with their code, position and one-line message", async () => {
    const db = tw.warehouse.db
    const division = await executeSql(db, 'select 1 / $1::integer as ratio', [0]).catch((error: unknown) => error)
    expect(division).toBeInstanceOf(Error)
    expect(division).toMatchObject({ message: 'division by zero', code: '22012', severity: 'ERROR' })
    const syntax = await executeSql(db, 'select 1 from from').catch((error: unknown) => error)
    expect(syntax).toMatchObject({ message: 'syntax error at or near "from"', code: '42601', position: '15' })
    const duplicate = await db
      .transaction()
      .execute(async (trx) => {
        await executeSql(trx, 'create temporary table pairs (key integer primary key)')
        await executeSql(trx, 'insert into pairs values (1), (1)')
      })
      .catch((error: unknown) => error)
    expect(duplicate).toMatchObject({
      code: '23505',
      constraint: 'pairs_pkey',
      detail: 'Key (key)=(1) already exists.',
    })
    // The failed transaction was rolled back on the thread: the session takes statements again.
    expect(await executeSql(db, "select 'still open' as answer")).toEqual([{ answer: 'still open' }])
  })

  it('returns the same values as PostgreSQL: numeric and bigint as exact text, dates as text, page bytes as text', async () => {
    const [row] = await executeSql(
      tw.warehouse.db,
      'select $1::numeric as big, 9007199254740993::bigint as id, $2::date as day, $3::text as body',
      ['99999999999999999999999999999999999999', '2026-02-28', Buffer.from('{"a":"ё"}', 'utf8')],
    )
    expect(row).toEqual({
      big: '99999999999999999999999999999999999999',
      id: '9007199254740993',
      day: '2026-02-28',
      body: '{"a":"ё"}',
    })
  })

  it('keeps the data directory locked while open: a second opener gets exit code 3', async () => {
    const refusal = await openWarehouse(tw.config).catch((error: unknown) => error)
    expect(refusal).toBeInstanceOf(EtlError)
    expect((refusal as EtlError).exitCode).toBe(3)
    expect((refusal as EtlError).message).toMatch(
      /^the embedded warehouse .* is in use by another calltouch-etl process/,
    )
  })

  it('fails a load cleanly when the thread dies in the middle: one line, nothing of the window kept, committed data intact', async () => {
    const db = tw.warehouse.db
    const runId = await startRun(db, 'backfill')
    const window = (firstDay: string, pages: string[]): WindowToLoad => ({
      runId,
      siteId: SITE,
      timeZone: ZONE,
      firstDay,
      lastDay: firstDay,
      pages,
    })
    await loadWindow(db, window('2026-02-27', [page([deal('KEPT-1', '27/02/2026'), deal('KEPT-2', '27/02/2026')])]))
    await tw.release()

    const thread = await startEmbeddedThread(dataDirOf(tw), ['SET TIME ZONE UTC'], 'test warehouse')
    const crashing = new Kysely<WarehouseSchema>({
      dialect: new EmbeddedThreadDialect(crashingAt(thread, sqlText('insert_raw_versions'))),
    })
    const failure = await loadWindow(
      crashing,
      window('2026-02-28', [page([deal('LOST-1', '28/02/2026'), deal('LOST-2', '28/02/2026')])]),
    ).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(EtlError)
    expect((failure as EtlError).code).toBe('WAREHOUSE')
    expect((failure as EtlError).message).toBe(
      'the test warehouse stopped: its thread exited (code 1) — what it committed is kept; run the command again',
    )
    // Every later statement is refused the same way, at once.
    await expect(executeSql(crashing, 'select 1')).rejects.toThrow(/^the test warehouse stopped: its thread exited/)
    await crashing.destroy()

    const reopened = await tw.reopen()
    expect(
      await executeSql(
        reopened.db,
        'select order_number from raw.calltouch_orders where site_id = $1 order by order_number',
        [SITE],
      ),
    ).toEqual([{ order_number: 'KEPT-1' }, { order_number: 'KEPT-2' }])
    expect(
      await executeSql(reopened.db, 'select day, status from etl.ledger where account = $1 order by day', [
        String(SITE),
      ]),
    ).toEqual([{ day: '2026-02-27', status: 'ok' }])
  })

  it('lets the process exit when a command ends without closing it, and runs what follows a close', async () => {
    await tw.release()
    const script = `
      import { openWarehouse, executeSql } from './pipelines/warehouse/connection.ts'
      const warehouse = await openWarehouse({ engine: 'pglite', dataDir: process.argv[1] })
      const [row] = await executeSql(warehouse.db, 'select count(*)::integer as runs from etl.runs')
      if (process.argv[2] === 'close') await warehouse.close()
      // After close: what follows it runs (the thread holds the process until it has exited).
      console.log(JSON.stringify(row))
    `
    for (const ending of ['close', 'leave open']) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script, dataDirOf(tw), ending],
        { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
      )
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
      expect({ ending, code, output: output.trim() }).toEqual({ ending, code: 0, output: '{"runs":1}' })
    }
    await tw.reopen()
  })
})
