/**
 * Yandex Direct (Reports service, and Changes/Clients if used) as shared/yandex-direct/API.md
 * describes it. STUB: to be filled in.
 */
import type http from 'node:http'
import type { SimulatedApi, SimulatorClock } from '../simulated-api.ts'

/** Options of the simulated Direct cabinet(s). */
export interface YandexDirectSimOptions {
  readonly placeholder?: never
}

export interface YandexDirectSimStats {
  readonly requests: number
}

export class SimulatedYandexDirect implements SimulatedApi {
  constructor(
    readonly options: YandexDirectSimOptions,
    readonly clock: SimulatorClock,
    readonly seed: number,
  ) {}

  owns(path: string): boolean {
    return path.startsWith('/json/v5/') || path.startsWith('/json/v501/') || path.startsWith('/_sim/yandex-direct/')
  }

  handle(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.writeHead(501, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { error_code: 1000, error_string: 'not simulated yet' } }))
    return Promise.resolve()
  }

  stats(): YandexDirectSimStats {
    return { requests: 0 }
  }

  reset(): void {}

  close(): void {}
}
