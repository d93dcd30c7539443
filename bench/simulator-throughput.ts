/**
 * How many export pages of 1,000 deals the simulator serves a second over real
 * HTTP, with the rate limit and faults off (issue 3 asks for at least 100).
 *
 * The server runs in a child process so the clients do not share its thread;
 * it reports its own CPU time (process.cpuUsage) and memory over IPC, so the
 * figure means something on a shared, loaded machine: CPU ms per page is what
 * the simulator itself costs, whatever else runs.
 *
 * Two phases per concurrency:
 * - first read: every client pages two-day windows of days nobody read before
 *   (each page generated, rendered and serialized for the first time — the
 *   honest case for an extractor reading a long history once);
 * - re-read: the clients page windows over a few days already served (cached text).
 *
 * Run: npx tsx bench/simulator-throughput.ts [--seconds-per-run 5] [--deals-per-day 2500] [--concurrency 1,2,4]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const SITE_ID = 12345
const TOKEN = 'bench-token'
const PAGE_LIMIT = 1000
const REREAD_WINDOWS = 3

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    'deals-per-day': { type: 'string', default: '2500' },
    'seconds-per-run': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,2,4' },
  },
})
const dealsPerDay = Number(args['deals-per-day'])

interface ServerUsage {
  cpuMs: number
  rssMb: number
  heapMb: number
  externalMb: number
}

async function serve(): Promise<void> {
  const { startSimulator } = await import('../simulator/index.ts')
  const sim = await startSimulator({
    rateLimit: false,
    sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay, historyStart: '2000-01-01' }],
  })
  process.on('message', () => {
    const cpu = process.cpuUsage()
    const memory = process.memoryUsage()
    process.send?.({
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMb: memory.rss / 1e6,
      heapMb: memory.heapUsed / 1e6,
      externalMb: (memory.external + memory.arrayBuffers) / 1e6,
    } satisfies ServerUsage)
  })
  process.send?.({ url: sim.url })
  process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)))
}

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--serve', '--deals-per-day', String(dealsPerDay)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, url: (message as { url: string }).url }))
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code}`)))
  })
}

/** The server's CPU time so far and its memory, asked over IPC. */
function serverUsage(child: ChildProcess): Promise<ServerUsage> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as ServerUsage))
    child.send('usage')
  })
}

const pad2 = (n: number): string => String(n).padStart(2, '0')
function ddmmyyyy(dayNumber: number): string {
  const d = new Date(dayNumber * 86_400_000)
  return `${pad2(d.getUTCDate())}/${pad2(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`
}

/** First days of two-day windows handed out to first-read clients, newest first, never a day twice. */
let nextWindow = Math.floor(Date.parse('2026-11-26T00:00:00Z') / 86_400_000)
const firstReadWindow = (): number => {
  const day = nextWindow
  nextWindow -= 2
  return day
}

interface Tally {
  pages: number
  records: number
  bytes: number
}

/** Keep-alive connections, one per client at most (as fetch would keep them). */
const agent = new http.Agent({ keepAlive: true })

/** One GET: the status, the body's length, its first 120 bytes (the envelope) and last two bytes; the rest is dropped as it arrives. */
function getPage(url: string): Promise<{ status: number; length: number; head: string; end: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let length = 0
        let head = ''
        let end = ''
        res.on('data', (chunk: Buffer) => {
          if (head.length < 120) head += chunk.toString('latin1', 0, Math.min(chunk.length, 120 - head.length))
          end = (end + chunk.toString('latin1', Math.max(0, chunk.length - 2))).slice(-2)
          length += chunk.length
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length, head, end }))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

/**
 * Pages through windows until the deadline. The body is counted as it arrives
 * and dropped (the client neither decodes nor concatenates 0.8 MB per page: on
 * two cores that CPU would be taken from the server being measured); the
 * number of records comes from the envelope.
 */
async function client(url: string, deadline: number, nextDay: () => number): Promise<Tally> {
  const tally: Tally = { pages: 0, records: 0, bytes: 0 }
  while (performance.now() < deadline) {
    const day = nextDay()
    // A window of two days (dateTo is inclusive by default), paged by 1,000.
    for (let page = 1; performance.now() < deadline; page++) {
      const query = new URLSearchParams({
        clientApiId: TOKEN,
        dateFrom: ddmmyyyy(day),
        dateTo: ddmmyyyy(day + 1),
        page: String(page),
        limit: String(PAGE_LIMIT),
        withOrdersTags: 'true',
        withAllOrderOrigins: 'true',
      })
      const res = await getPage(`${url}/calls-service/RestAPI/${SITE_ID}/orders-diary/orders?${query.toString()}`)
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.head}`)
      if (res.end !== ']}') throw new Error('a page does not end with "]}"')
      const total = Number(/"recordsTotal":(\d+)/.exec(res.head)?.[1])
      const count = Math.max(0, Math.min(PAGE_LIMIT, total - (page - 1) * PAGE_LIMIT))
      if (count === 0) break
      tally.bytes += res.length
      tally.records += count
      if (count === PAGE_LIMIT) tally.pages++
      if (count < PAGE_LIMIT) break
    }
  }
  return tally
}

interface Row {
  phase: string
  clients: number
  pagesPerSecond: number
  dealsPerSecond: number
  mbPerSecond: number
  cpuMsPerPage: number
  clientCpuMsPerPage: number
  load: number
}

async function run(
  child: ChildProcess,
  url: string,
  phase: string,
  clients: number,
  seconds: number,
  nextDay: () => number,
): Promise<Row> {
  const before = await serverUsage(child)
  const clientBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + seconds * 1000
  const results = await Promise.all(Array.from({ length: clients }, () => client(url, deadline, nextDay)))
  const elapsed = (performance.now() - started) / 1000
  const clientCpu = process.cpuUsage(clientBefore)
  const after = await serverUsage(child)
  const sum = (key: keyof Tally): number => results.reduce((a, r) => a + r[key], 0)
  return {
    phase,
    clients,
    pagesPerSecond: sum('pages') / elapsed,
    dealsPerSecond: sum('records') / elapsed,
    mbPerSecond: sum('bytes') / elapsed / 1e6,
    // Per 1,000 records served (a partial last page costs its share).
    cpuMsPerPage: (after.cpuMs - before.cpuMs) / (sum('records') / PAGE_LIMIT),
    clientCpuMsPerPage: (clientCpu.user + clientCpu.system) / 1000 / (sum('records') / PAGE_LIMIT),
    load: os.loadavg()[0] ?? 0,
  }
}

async function main(): Promise<void> {
  if (args.serve) return serve()
  const secondsPerRun = Number(args['seconds-per-run'])
  const concurrencies = String(args.concurrency).split(',').map(Number)
  const loadAtStart = os.loadavg()[0] ?? 0
  const { child, url } = await startServer()
  try {
    await client(url, performance.now() + 3000, firstReadWindow) // warm-up: JIT and connections
    const rows: Row[] = []
    for (const clients of concurrencies) {
      rows.push(await run(child, url, 'first read', clients, secondsPerRun, firstReadWindow))
      // Re-read: a few windows just served, round robin (all in the server's cache).
      const windows = Array.from({ length: REREAD_WINDOWS }, (_, i) => nextWindow + 2 * (i + 1))
      let turn = 0
      rows.push(
        await run(child, url, 're-read', clients, secondsPerRun, () => windows[turn++ % windows.length] as number),
      )
    }
    const usage = await serverUsage(child)
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
    console.log(
      `Simulator throughput: pages of ${PAGE_LIMIT} deals per second over HTTP, ${dealsPerDay} deals/day, two-day windows, rate limit and faults off`,
    )
    console.log(
      `Machine: ${os.cpus().length} × ${cpu}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; load average ${loadAtStart.toFixed(1)} at start`,
    )
    console.log('')
    console.log(
      '| phase | clients | pages/s | deals/s | MB/s | server CPU ms/page | pages/s per server core | client CPU ms/page | load average |',
    )
    console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|')
    for (const row of rows) {
      console.log(
        `| ${row.phase} | ${row.clients} | ${row.pagesPerSecond.toFixed(0)} | ${row.dealsPerSecond.toFixed(0)} | ${row.mbPerSecond.toFixed(1)} | ${row.cpuMsPerPage.toFixed(2)} | ${(1000 / row.cpuMsPerPage).toFixed(0)} | ${row.clientCpuMsPerPage.toFixed(2)} | ${row.load.toFixed(1)} |`,
      )
    }
    console.log('')
    console.log(
      `Server memory at the end: RSS ${usage.rssMb.toFixed(0)} MB, JS heap ${usage.heapMb.toFixed(0)} MB, buffers ${usage.externalMb.toFixed(0)} MB.`,
    )
    console.log(
      `Reproduce: npx tsx bench/simulator-throughput.ts --seconds-per-run ${secondsPerRun} --deals-per-day ${dealsPerDay} --concurrency ${concurrencies.join(',')}`,
    )
  } finally {
    child.kill('SIGTERM')
  }
}

await main()
