/**
 * Lets idle workers of a pool sleep until something changes (a read ends, a probe tells its
 * density): `wait()` resolves at the next `notify()`, for every waiter at once.
 *
 * @example
 * const changed = createWakeUp()
 * while (next() === 'wait') await changed.wait() // elsewhere: changed.notify()
 */
export function createWakeUp(): { wait(): Promise<void>; notify(): void } {
  let wake: (() => void) | undefined
  let waiting: Promise<void> | undefined
  return {
    wait() {
      waiting ??= new Promise<void>((resolve) => {
        wake = resolve
      })
      return waiting
    },
    notify() {
      const resolve = wake
      wake = undefined
      waiting = undefined
      resolve?.()
    },
  }
}
