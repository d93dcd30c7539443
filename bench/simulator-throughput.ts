/**
 * How many export pages of 1,000 deals the simulator serves a second over real
 * HTTP, with the rate limit and faults off (issue 3 asks for at least 100).
 *
 * The server runs in a child process so the clients do not share its thread.
 * Every client pages through its own days, so each page is generated and
 * serialized for the first time (a cold cache: the honest case for an extractor
 * reading a long history once).
 *
 * Run: npx tsx bench/simulator-throughput.ts [--seconds-per-run 5] [--deals-per-day 5000]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const SITE_ID = 12345
const TOKEN = 'bench-token'
const PAGE_LIMIT = 1000

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    'deals-per-day': { type: 'string', default: '5000' },
    'seconds-per-run': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,2,4' },
  },
})
const dealsPerDay = Number(args['deals-per-day'])

async function serve(): Promise<void> {
  const { startSimulator } = await import('../simulator/index.ts')
  const sim = await startSimulator({ rateLimit: false, sites: [{ siteId: SITE_ID, token: TOKEN, dealsPerDay, historyStart: '2015-01-01' }] })
  process.stdout.write(JSON.stringify({ url: sim.url }) + '\n')
  process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)))
}

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve', '--deals-per-day', String(dealsPerDay)], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let buffered = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const line = buffered.split('\n')[0]
      if (buffered.includes('\n') && line !== undefined) resolve({ child, url: (JSON.parse(line) as { url: string }).url })
    })
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code}`)))
  })
}

/**
 * CPU seconds the server child has used (Linux /proc; utime + stime at 100 Hz).
 * Reported beside wall-clock figures because a shared machine's load makes
 * pages/s noisy, while CPU per page is what the simulator itself costs.
 */
function childCpuSeconds(child: ChildProcess): number | undefined {
  try {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

const pad2 = (n: number): string => String(n).padStart(2, '0')
function ddmmyyyy(dayNumber: number): string {
  const d = new Date(dayNumber * 86_400_000)
  return `${pad2(d.getUTCDate())}/${pad2(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`
}

/** Days handed out to clients, newest first, never the same day twice in a process. */
let nextDay = Math.floor(Date.parse('2026-11-27T00:00:00Z') / 86_400_000)

async function client(url: string, deadline: number): Promise<{ pages: number; records: number; bytes: number }> {
  let pages = 0
  let records = 0
  let bytes = 0
  while (performance.now() < deadline) {
    const day = nextDay--
    // A window of two days (dateTo is inclusive by default), paged by 1,000.
    for (let page = 1; performance.now() < deadline; page++) {
      const query = new URLSearchParams({ clientApiId: TOKEN, dateFrom: ddmmyyyy(day), dateTo: ddmmyyyy(day + 1), page: String(page), limit: String(PAGE_LIMIT), withOrdersTags: 'true', withAllOrderOrigins: 'true' })
      const res = await fetch(`${url}/calls-service/RestAPI/${SITE_ID}/orders-diary/orders?${query.toString()}`)
      const text = await res.text()
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`)
      const count = (text.match(/"orderNumber":/g) ?? []).length
      if (count === 0) break
      bytes += Buffer.byteLength(text)
      records += count
      if (count === PAGE_LIMIT) pages++
      if (count < PAGE_LIMIT) break
    }
  }
  return { pages, records, bytes }
}

async function main(): Promise<void> {
  if (args.serve) return serve()
  const secondsPerRun = Number(args['seconds-per-run'])
  const concurrencies = String(args.concurrency).split(',').map(Number)
  const { child, url } = await startServer()
  try {
    await client(url, performance.now() + 1000) // warm-up: JIT and connections
    const rows: { clients: number; pagesPerSecond: number; dealsPerSecond: number; mbPerSecond: number; cpuMsPerPage: number | undefined }[] = []
    for (const clients of concurrencies) {
      const cpuBefore = childCpuSeconds(child)
      const started = performance.now()
      const deadline = started + secondsPerRun * 1000
      const results = await Promise.all(Array.from({ length: clients }, () => client(url, deadline)))
      const seconds = (performance.now() - started) / 1000
      const sum = (key: 'pages' | 'records' | 'bytes'): number => results.reduce((a, r) => a + r[key], 0)
      const cpuAfter = childCpuSeconds(child)
      const cpuMsPerPage = cpuBefore === undefined || cpuAfter === undefined ? undefined : ((cpuAfter - cpuBefore) * 1000) / (sum('records') / PAGE_LIMIT)
      rows.push({ clients, pagesPerSecond: sum('pages') / seconds, dealsPerSecond: sum('records') / seconds, mbPerSecond: sum('bytes') / seconds / 1e6, cpuMsPerPage })
    }
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
    console.log(`Simulator throughput: full pages of ${PAGE_LIMIT} deals per second, cold days (${dealsPerDay} deals/day), rate limit and faults off`)
    console.log(`Machine: ${os.cpus().length} × ${cpu}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)}, ${new Date().toISOString().slice(0, 10)}`)
    console.log('')
    console.log('| clients | pages/s | deals/s | MB/s | server CPU ms/page | pages/s per server core |')
    console.log('|--------:|--------:|--------:|-----:|-------------------:|------------------------:|')
    for (const row of rows) {
      const cpuMs = row.cpuMsPerPage === undefined ? 'n/a' : row.cpuMsPerPage.toFixed(1)
      const perCore = row.cpuMsPerPage === undefined ? 'n/a' : (1000 / row.cpuMsPerPage).toFixed(0)
      console.log(`| ${row.clients} | ${row.pagesPerSecond.toFixed(0)} | ${row.dealsPerSecond.toFixed(0)} | ${row.mbPerSecond.toFixed(1)} | ${cpuMs} | ${perCore} |`)
    }
    console.log('')
    console.log(`Reproduce: npx tsx bench/simulator-throughput.ts --seconds-per-run ${secondsPerRun} --deals-per-day ${dealsPerDay} --concurrency ${concurrencies.join(',')}`)
  } finally {
    child.kill('SIGTERM')
  }
}

await main()
