/**
 * Yandex Direct (Reports, Clients.get, Campaigns.get, Changes) as
 * shared/yandex-direct/API.md describes it, served on the simulator's one port.
 * What it serves is a pure function of the seed, the clock, the corrections and
 * renames received, and (for offline reports) when each report was built.
 * See simulator/README.md, "Yandex Direct".
 */
import type http from 'node:http'
import { gzipSync } from 'node:zlib'
import { hash32 } from '../prng.ts'
import type { SimulatedApi, SimulatorClock } from '../simulated-api.ts'
import { dayKeyOf, dayNumberOf, type DayKey } from '../wall-clock.ts'
import { DirectAccount, type DirectCampaign } from './direct-account.ts'
import {
  handleDirectAdmin,
  type DirectAdminTarget,
  type DirectCorrection,
  type DirectExpectedRow,
  type DirectRename,
} from './direct-admin-routes.ts'
import { authorizeRequest, readBody } from './direct-request-auth.ts'
import { DirectError, errorBody, languageOf } from './direct-errors.ts'
import { DirectFaultInjector } from './direct-fault-injector.ts'
import { DirectStatsRecorder, type YandexDirectSimStats } from './direct-stats-recorder.ts'
import { answerJsonService } from './json-service-router.ts'
import { LoginLimits } from './login-limits.ts'
import { OfflineReportQueue, type OfflineReportInfo } from './offline-report-queue.ts'
import { answerReport, reportHeaders, type ReportAnswer } from './reports-endpoint.ts'
import { formatTsv } from './report-tsv.ts'
import {
  resolveDirectFaults,
  resolveDirectOptions,
  type ResolvedDirectFaults,
  type ResolvedDirectOptions,
  type YandexDirectFaults,
  type YandexDirectSimOptions,
} from './yandex-direct-options.ts'

export type { YandexDirectSimOptions, YandexDirectFaults } from './yandex-direct-options.ts'
export type { DirectCorrection, DirectExpectedRow, DirectRename } from './direct-admin-routes.ts'
export type { YandexDirectSimStats, DirectLoginStats } from './direct-stats-recorder.ts'

const REPORTS_PATH = /^\/json\/v5(01)?\/reports$/
const SERVICE_PATH = /^\/json\/v5\/(clients|campaigns|changes)$/

interface Answer {
  status: number
  body: string | Buffer
  headers: Record<string, string>
  errorCode?: number
}

export class SimulatedYandexDirect implements SimulatedApi, DirectAdminTarget {
  readonly resolved: ResolvedDirectOptions
  private readonly accounts: readonly DirectAccount[]
  private readonly byToken: ReadonlyMap<string, DirectAccount>
  private readonly byLogin: ReadonlyMap<string, DirectAccount>
  private readonly queue: OfflineReportQueue
  private readonly faults: DirectFaultInjector
  private readonly limits: LoginLimits
  private readonly recorder = new DirectStatsRecorder()
  private unitsSpent = new Map<string, number>()
  private requestNumber = 0
  private readonly sleepers = new Set<() => void>()

  constructor(
    readonly options: YandexDirectSimOptions,
    readonly clock: SimulatorClock,
    readonly seed: number,
  ) {
    this.resolved = resolveDirectOptions(options)
    this.accounts = this.resolved.accounts.map((config) => new DirectAccount(config, seed, clock.timeZone))
    this.byToken = new Map(this.accounts.map((a) => [a.config.token, a]))
    this.byLogin = new Map(this.accounts.map((a) => [a.login.toLowerCase(), a]))
    this.queue = new OfflineReportQueue(
      this.resolved.keepReadyMs,
      () => clock.nowMs(),
      (login) => this.recorder.built(login),
    )
    this.faults = new DirectFaultInjector(seed, this.resolved.faults)
    this.limits = new LoginLimits(this.resolved.requestsPer10s, this.resolved.maxConcurrent)
  }

  owns(path: string): boolean {
    return path.startsWith('/json/v5/') || path.startsWith('/json/v501/') || path.startsWith('/_sim/yandex-direct/')
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (url.pathname.startsWith('/_sim/yandex-direct/')) return handleDirectAdmin(this, req, res, url)
    const path = url.pathname.replace(/\/$/, '')
    const isReport = REPORTS_PATH.test(path)
    const service = SERVICE_PATH.exec(path)?.[1]
    const requestId = this.nextRequestId()
    const language = languageOf(req.headers['accept-language'])
    this.recorder.request()
    let login: string | undefined = undefined
    let units: Record<string, string> = {}
    const send = (answer: Answer): void => {
      this.recorder.answered(answer.status, login, answer.errorCode)
      res.writeHead(answer.status, {
        RequestId: requestId,
        ...units,
        ...answer.headers,
        'content-length': String(Buffer.byteLength(answer.body)),
      })
      res.end(answer.body)
    }
    const fail = (status: number, error: DirectError): void =>
      send({
        status,
        body: errorBody(requestId, error, language),
        headers: { 'content-type': 'application/json; charset=utf-8' },
        errorCode: error.code,
      })
    // JSON services answer errors with HTTP 200, as the real JSON API does; Reports with 4xx/5xx.
    const errorStatus = (normal: number): number => (isReport ? normal : 200)

    let bodyText: string
    try {
      bodyText = await readBody(req)
    } catch (error) {
      return fail(
        400,
        error instanceof DirectError ? error : new DirectError(8000, 'the request body could not be read'),
      )
    }
    if (!isReport && service === undefined)
      return fail(
        404,
        new DirectError(8000, `no service at ${path}; simulated: /json/v5/reports, clients, campaigns, changes`),
      )
    if (req.method !== 'POST') return fail(405, new DirectError(8000, 'every Direct API call is a POST'))
    const account = authorizeRequest(req, this.resolved, this.byToken, this.byLogin)
    if (account instanceof DirectError) return fail(errorStatus(this.resolved.authErrorStatus), account)
    login = account.login
    this.recorder.loginRequest(login, isReport, Date.now())
    const inFlight = this.limits.enter(login)
    if (inFlight === undefined)
      return fail(
        errorStatus(this.resolved.limitErrorStatus),
        new DirectError(506, `more than ${this.resolved.maxConcurrent} requests for ${login} at once; retry in 10 s`),
      )
    this.recorder.concurrent(login, inFlight)
    try {
      if (!isReport) {
        const spent = this.unitsSpent.get(login) ?? 0
        const outcome = answerJsonService(service ?? '', bodyText, account, this.clock.nowMs(), {
          remaining: this.resolved.unitsDailyLimit - spent,
        })
        this.unitsSpent.set(login, spent + outcome.units)
        units = {
          Units: `${outcome.units}/${this.resolved.unitsDailyLimit - spent - outcome.units}/${this.resolved.unitsDailyLimit}`,
          'Units-Used-Login': login,
        }
        if ('error' in outcome) return fail(200, outcome.error)
        return send({
          status: 200,
          body: JSON.stringify({ result: outcome.result }),
          headers: { 'content-type': 'application/json; charset=utf-8' },
        })
      }
      if (!this.limits.admitReport(login, Date.now()))
        return fail(
          this.resolved.limitErrorStatus,
          new DirectError(
            56,
            `more than ${this.resolved.requestsPer10s} Reports requests for ${login} in 10 s; retry in 10 s`,
          ),
        )
      await this.answerReportRequest(req, res, bodyText, account, { requestId, send, fail })
    } finally {
      this.limits.leave(login)
    }
  }

  private async answerReportRequest(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    bodyText: string,
    account: DirectAccount,
    out: { requestId: string; send: (answer: Answer) => void; fail: (status: number, error: DirectError) => void },
  ): Promise<void> {
    const fault = this.faults.next()
    if (fault.reset) {
      this.recorder.fault('reset')
      req.socket.destroy()
      return
    }
    if (fault.serverError !== undefined) {
      this.recorder.fault('serverError')
      return fault.serverError === 500
        ? out.fail(500, new DirectError(1000, 'simulated server error; retry later'))
        : out.fail(502, new DirectError(1002, 'the report took longer than the time limit; ask for a shorter period'))
    }
    if (fault.htmlBadGateway) {
      this.recorder.fault('htmlBadGateway')
      return out.send({
        status: 502,
        body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
        headers: { 'content-type': 'text/html' },
        errorCode: 1002,
      })
    }
    if (fault.slowMs > 0) {
      this.recorder.fault('slow')
      await this.sleep(fault.slowMs)
      if (res.destroyed) return
    }
    let answer: ReportAnswer
    let headers: ReturnType<typeof reportHeaders>
    try {
      headers = reportHeaders(req)
      answer = answerReport(
        {
          account,
          queue: this.queue,
          options: this.resolved,
          faults: this.faults.current,
          clockMs: this.clock.nowMs(),
          onQueued: (pending) => this.recorder.queued(account.login, pending),
        },
        headers,
        bodyText,
      )
    } catch (error) {
      if (error instanceof DirectError) return out.fail(400, error)
      throw error
    }
    if (answer.kind !== 'tsv')
      return out.send({
        status: answer.kind === 'accepted' ? 201 : 202,
        body: '',
        headers: { retryIn: String(answer.retryInSeconds), reportsInQueue: String(answer.reportsInQueue) },
      })
    let text = formatTsv(answer.snapshot, headers)
    if (fault.truncate) {
      this.recorder.fault('truncated')
      text = text.slice(0, Math.floor(text.length / 2))
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
    const tsvHeaders: Record<string, string> = { 'content-type': 'text/tab-separated-values; charset=utf-8' }
    if (gzip) tsvHeaders['content-encoding'] = 'gzip'
    const body = gzip ? gzipSync(text) : Buffer.from(text)
    if (!fault.truncate) return out.send({ status: 200, body, headers: tsvHeaders })
    // A truncated body ends cleanly without content-length: only the missing summary line tells.
    this.recorder.answered(200, account.login)
    res.writeHead(200, { RequestId: out.requestId, ...tsvHeaders })
    res.end(body)
  }

  private nextRequestId(): string {
    const n = this.requestNumber++
    return `${hash32(this.seed, 97, n) % 1_000_000_000}`.padStart(9, '1') + String(n).padStart(10, '0')
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.sleepers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.sleepers.add(done)
    })
  }

  /** An account by login (case-insensitive); the first account when login is undefined. */
  account(login?: string): DirectAccount {
    const account = login === undefined ? this.accounts[0] : this.byLogin.get(login.toLowerCase())
    if (account === undefined)
      throw new RangeError(
        `No Yandex Direct account ${String(login)}; the simulator has ${this.accounts.map((a) => a.login).join(', ')}`,
      )
    return account
  }

  /** Counters since start or reset (same as `GET /_sim/yandex-direct/stats`). */
  stats(): YandexDirectSimStats {
    return this.recorder.snapshot()
  }

  /** The current faults and switches. */
  currentFaults(): ResolvedDirectFaults {
    return this.faults.current
  }

  /** Replaces every fault and switch (same as `POST /_sim/yandex-direct/faults`); the fault sequence restarts. */
  setFaults(faults: YandexDirectFaults): void {
    this.faults.replace(resolveDirectFaults(faults))
  }

  /** The campaigns of a login with their current names. */
  campaigns(login?: string): DirectCampaign[] {
    return this.account(login).campaigns(this.clock.nowMs())
  }

  /**
   * Rows a fresh report (IncludeVAT NO, by Date and CampaignId) would hold now for
   * days fromDay..toDay inclusive, corrections and renames included, by day then campaign id.
   */
  expectedRows(login: string, fromDay: DayKey, toDay: DayKey): DirectExpectedRow[] {
    const account = this.account(login)
    const from = dayNumberOf(fromDay)
    const to = dayNumberOf(toDay)
    if (from === undefined || to === undefined)
      throw new RangeError(`days must be 'YYYY-MM-DD', got ${JSON.stringify(fromDay)} and ${JSON.stringify(toDay)}`)
    const now = this.clock.nowMs()
    return account.rows(from, to, now).map((row) => ({
      day: dayKeyOf(row.day),
      campaignId: String(row.campaignId),
      campaignName: account.nameAt(row.campaignId, now),
      impressions: row.impressions,
      clicks: row.clicks,
      costMicros: BigInt(row.costMicros),
    }))
  }

  /** Applies a late correction stamped at the clock: Changes.check reports it; reports built from now on show it. */
  correct(correction: DirectCorrection): void {
    const day = dayNumberOf(correction.day)
    if (day === undefined) throw new RangeError(`correction day must be 'YYYY-MM-DD', got ${correction.day}`)
    const cost = correction.costMicros
    if (typeof cost === 'string' && !/^\d+$/.test(cost))
      throw new RangeError(`costMicros must be an integer, got ${JSON.stringify(cost)}`)
    this.account(correction.login).correct(
      Number(correction.campaignId),
      day,
      {
        ...(correction.impressions === undefined ? {} : { impressions: correction.impressions }),
        ...(correction.clicks === undefined ? {} : { clicks: correction.clicks }),
        ...(cost === undefined ? {} : { costMicros: Number(cost) }),
      },
      this.clock.nowMs(),
    )
  }

  /** Renames a campaign from `at` (default: the clock) on; reports show the name current at build time. */
  rename(rename: DirectRename): void {
    const atMs = rename.at === undefined ? this.clock.nowMs() : Date.parse(rename.at)
    if (Number.isNaN(atMs)) throw new RangeError(`rename.at must be ISO 8601, got ${String(rename.at)}`)
    this.account(rename.login).rename(Number(rename.campaignId), rename.name, atMs)
  }

  /** The offline reports a login has now (queued, building, ready), oldest first. */
  reports(login?: string): OfflineReportInfo[] {
    return this.queue.list(this.account(login).login)
  }

  reset(): void {
    this.queue.clear()
    this.wakeSleepers()
    this.limits.clear()
    this.recorder.reset()
    this.faults.replace(this.resolved.faults)
    for (const account of this.accounts) account.reset()
    this.unitsSpent = new Map()
    this.requestNumber = 0
  }

  close(): void {
    this.queue.clear()
    this.wakeSleepers()
  }

  private wakeSleepers(): void {
    for (const wake of [...this.sleepers]) wake()
  }
}
