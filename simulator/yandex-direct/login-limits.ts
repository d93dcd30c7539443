/**
 * The vendor's per-advertiser limits (API.md §7): at most `perWindow` Reports
 * requests in any sliding 10 s (polls included; refused requests do not count)
 * and at most `maxConcurrent` requests in progress at once, all services.
 */
const WINDOW_MS = 10_000

export class LoginLimits {
  private admitted = new Map<string, number[]>()
  private inFlight = new Map<string, number>()

  constructor(
    private readonly perWindow: number,
    private readonly maxConcurrent: number,
  ) {}

  /** Whether a Reports request arriving at wall time `wallMs` is within the limit; books it when it is. */
  admitReport(login: string, wallMs: number): boolean {
    let list = this.admitted.get(login)
    if (list === undefined) {
      list = []
      this.admitted.set(login, list)
    }
    let drop = 0
    while (drop < list.length && (list[drop] as number) <= wallMs - WINDOW_MS) drop++
    if (drop > 0) list.splice(0, drop)
    if (list.length >= this.perWindow) return false
    list.push(wallMs)
    return true
  }

  /** Starts a request; undefined when `maxConcurrent` are already in progress, else how many are now. */
  enter(login: string): number | undefined {
    const now = this.inFlight.get(login) ?? 0
    if (now >= this.maxConcurrent) return undefined
    this.inFlight.set(login, now + 1)
    return now + 1
  }

  leave(login: string): void {
    const now = this.inFlight.get(login) ?? 0
    if (now <= 1) this.inFlight.delete(login)
    else this.inFlight.set(login, now - 1)
  }

  clear(): void {
    this.admitted = new Map()
    this.inFlight = new Map()
  }
}
