import { afterAll, beforeAll, expect, it } from 'vitest'
import { executeSql } from '../../pipelines/warehouse/connection.ts'
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
})
