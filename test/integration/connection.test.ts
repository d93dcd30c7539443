import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql, openWarehouse } from '../../pipelines/warehouse/connection.ts'
import { createTestWarehouse, describeEachEngine, type TestWarehouse } from '../helpers/warehouse.ts'

describeEachEngine('a warehouse connection', (engine) => {
  let tw: TestWarehouse
  beforeAll(async () => {
    tw = await createTestWarehouse(engine, { migrate: false })
  })
  afterAll(async () => {
    await tw?.destroy()
  })

  it('takes a text parameter as a string or as its UTF-8 bytes, with the same result', async () => {
    const text = '{"fio":"Артём Фёдоров","tag":"🚀"}'
    const sql = `select $1::text as text, length($1::text) as characters, ($1::text)::jsonb ->> 'fio' as fio`
    const expected = [{ text, characters: 33, fio: 'Артём Фёдоров' }]
    expect(await executeSql(tw.warehouse.db, sql, [text])).toEqual(expected)
    expect(await executeSql(tw.warehouse.db, sql, [Buffer.from(text, 'utf8')])).toEqual(expected)
    expect(await executeSql(tw.warehouse.db, sql, [new TextEncoder().encode(text)])).toEqual(expected)
  })

  it('tells an onQuery observer of each statement it ran, with its duration', async () => {
    const seen: { sql: string; milliseconds: number }[] = []
    await tw.release()
    const warehouse = await openWarehouse(tw.config, {
      onQuery: (sql, milliseconds) => seen.push({ sql, milliseconds }),
    })
    try {
      expect(await executeSql(warehouse.db, 'select $1::integer + 1 as answer', [41])).toEqual([{ answer: 42 }])
    } finally {
      await warehouse.close()
      await tw.reopen()
    }
    expect(seen.map(({ sql }) => sql)).toEqual(['select $1::integer + 1 as answer'])
    expect(seen[0]?.milliseconds).toBeGreaterThanOrEqual(0)
  })
})
