import Table from 'cli-table3'

export type ColumnAlign = 'left' | 'right'

export interface TextColumn {
  readonly title: string
  readonly align?: ColumnAlign
}

/**
 * A table for people at a terminal. No colours, so the text is the same on a
 * terminal, in a pipe and in tests.
 */
export function renderTable(columns: readonly TextColumn[], rows: readonly (readonly (string | number)[])[]): string {
  const table = new Table({
    head: columns.map((column) => column.title),
    colAligns: columns.map((column) => column.align ?? 'left'),
    style: { head: [], border: [] },
  })
  for (const row of rows) table.push(row.map(String))
  return table.toString()
}
