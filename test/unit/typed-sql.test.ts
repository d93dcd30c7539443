import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { sqlFileNames } from '../../pipelines/warehouse/sql-files.ts'

/**
 * Every statement of sql/ has one typed function, and only it runs the file: that function owns
 * the order of the file's positional parameters, so a new statement without one, or a second
 * caller passing its own order, fails here. Read from the source with the TypeScript parser,
 * so no module needs to be loaded or a database opened.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RUNNER = 'pipelines/warehouse/sql-files.ts'

interface Reference {
  readonly file: string
  readonly line: number
  /** The statement's name when the call names it with a string literal, else the argument's text. */
  readonly statement: string
  readonly literal: boolean
}

function productFiles(): string[] {
  return readdirSync(`${ROOT}pipelines`, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `pipelines/${file.split('\\').join('/')}`)
    .sort()
}

/** Every call of `callee` in product code, and every other use of the identifiers in `watched`. */
function scan(callee: string, watched: readonly string[]): { calls: Reference[]; otherUses: string[] } {
  const calls: Reference[] = []
  const otherUses: string[] = []
  for (const file of productFiles()) {
    if (file === RUNNER) continue
    const source = ts.createSourceFile(file, readFileSync(`${ROOT}${file}`, 'utf8'), ts.ScriptTarget.Latest, true)
    const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === callee) {
        const name = node.arguments[1]
        const literal = name !== undefined && ts.isStringLiteralLike(name)
        calls.push({
          file,
          line: lineOf(node),
          statement: name === undefined ? '' : literal ? name.text : name.getText(source),
          literal,
        })
      } else if (ts.isIdentifier(node) && watched.includes(node.text) && !ts.isImportSpecifier(node.parent)) {
        otherUses.push(`${file}:${lineOf(node)} ${node.text}`)
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return { calls, otherUses }
}

describe('typed SQL', () => {
  const { calls, otherUses } = scan('runSqlFile', ['sqlText'])

  it('names the statement of every runSqlFile call with a string literal', () => {
    expect(calls.filter((call) => !call.literal).map((call) => `${call.file}:${call.line} ${call.statement}`)).toEqual(
      [],
    )
  })

  it('runs each statement of sql/ from exactly one place, and no statement that sql/ lacks', () => {
    const placesOf = new Map<string, string[]>()
    for (const call of calls)
      placesOf.set(call.statement, [...(placesOf.get(call.statement) ?? []), `${call.file}:${call.line}`])
    expect([...placesOf.keys()].sort()).toEqual(sqlFileNames().sort())
    expect([...placesOf].filter(([, places]) => places.length > 1)).toEqual([])
  })

  it('leaves the text of sql/ files to the runner: product code never executes it another way', () => {
    expect(otherUses).toEqual([])
  })
})
