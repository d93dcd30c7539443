/**
 * What the simulator's one HTTP server asks of every vendor API it serves
 * besides Calltouch (Yandex Direct, VK Ads): the paths it owns, and the
 * handling of a request to them. One port serves them all, so a user points
 * every `baseUrl` at the same simulator.
 */
import type http from 'node:http'

/** The simulator's clock, shared by every API it serves: it only moves through `/_sim/clock`. */
export interface SimulatorClock {
  /** Now, as epoch milliseconds. */
  nowMs(): number
  /** IANA zone of the simulated accounts' days. */
  readonly timeZone: string
}

export interface SimulatedApi {
  /** Whether a request to `path` is this API's (its vendor paths and its own `/_sim/<name>/…` admin paths). */
  owns(path: string): boolean
  /** Answers one request to a path it owns. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL, ip: string): Promise<void>
  /** Back to the start state (tokens, queues, corrections, faults, stats). */
  reset(): void
  /** Drops pending timers when the server closes. */
  close(): void
}
