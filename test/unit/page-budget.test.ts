import { describe, expect, it } from 'vitest'
import {
  createPageBudget,
  type PageLease,
  type PageTake,
} from '../../pipelines/sources/calltouch-deals/extract-window.ts'

/** Takes pages and records, in `granted`, when the take was granted. */
function taker(granted: string[]) {
  return (lease: PageLease, pages: number, kind: PageTake, name: string): Promise<void> =>
    lease.take(pages, kind).then(() => void granted.push(name))
}

/** Lets every settled promise's callbacks run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('the page budget shared by the windows of a run', () => {
  it('lets pages be taken while they fit and makes the next take wait until a window releases its pages', async () => {
    const budget = createPageBudget(10)
    const granted: string[] = []
    const take = taker(granted)
    const a = budget.lease()
    const b = budget.lease()
    await take(a, 1, 'first page', 'a first')
    await take(a, 7, 'later pages', 'a rest')
    await take(b, 1, 'first page', 'b first')
    const bRest = take(b, 5, 'later pages', 'b rest')
    await settle()
    expect(granted).toEqual(['a first', 'a rest', 'b first'])
    expect(budget.held).toBe(9)
    a.release()
    await bRest
    expect(granted).toEqual(['a first', 'a rest', 'b first', 'b rest'])
    expect({ held: budget.held, peakHeld: budget.peakHeld, a: a.pages, b: b.pages }).toEqual({
      held: 6,
      peakHeld: 9,
      a: 0,
      b: 6,
    })
  })

  it('serves the later pages of a window under way before the first page of a new one', async () => {
    const budget = createPageBudget(4)
    const granted: string[] = []
    const take = taker(granted)
    const [a, b, c] = [budget.lease(), budget.lease(), budget.lease()]
    await take(a, 3, 'later pages', 'a')
    await take(b, 1, 'first page', 'b first')
    const waits = [take(c, 1, 'first page', 'c first'), take(b, 2, 'later pages', 'b rest')]
    await settle()
    expect(granted).toEqual(['a', 'b first'])
    a.release()
    await Promise.all(waits)
    expect(granted).toEqual(['a', 'b first', 'b rest', 'c first'])
    expect(budget.held).toBe(4)
  })

  it('grants a take over the limit when every page held belongs to windows waiting for more, so the run cannot stall', async () => {
    const budget = createPageBudget(3)
    const granted: string[] = []
    const take = taker(granted)
    const [a, b] = [budget.lease(), budget.lease()]
    await take(a, 1, 'first page', 'a first')
    await take(b, 1, 'first page', 'b first')
    const aRest = take(a, 5, 'later pages', 'a rest: a window bigger than the budget')
    await settle()
    // b holds a page and is not waiting: it may still give it back.
    expect(granted).toEqual(['a first', 'b first'])
    const bRest = take(b, 2, 'later pages', 'b rest')
    await aRest
    await settle()
    expect(granted).toEqual(['a first', 'b first', 'a rest: a window bigger than the budget'])
    expect(budget.held).toBe(7)
    a.release()
    await bRest
    expect({ held: budget.held, peakHeld: budget.peakHeld }).toEqual({ held: 3, peakHeld: 7 })
  })

  it('gives every page back once, whatever the number of releases', async () => {
    const budget = createPageBudget(2)
    const lease = budget.lease()
    await lease.take(2, 'later pages')
    lease.release()
    lease.release()
    expect({ held: budget.held, pages: lease.pages }).toEqual({ held: 0, pages: 0 })
    expect(() => createPageBudget(0)).toThrow('the page budget must be at least 1 page, got 0')
  })
})
