/**
 * CPU time of the PostgreSQL backends serving a bench's warehouse, read from Linux /proc, so a
 * bench can report the server's share of the work beside its own process.cpuUsage().
 */
import fs from 'node:fs/promises'
import { executeSql, type Warehouse } from '../pipelines/warehouse/connection.ts'

/** Clock ticks a second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const USER_HZ = 100

/** CPU seconds used so far by each backend of the warehouse's database, by pid (empty for PGlite). */
export async function backendCpu(warehouse: Warehouse): Promise<Map<number, number>> {
  const cpu = new Map<number, number>()
  if (warehouse.engine !== 'postgres') return cpu
  const backends = await executeSql<{ pid: number }>(
    warehouse.db,
    `select pid from pg_stat_activity where datname = current_database()`,
  )
  for (const { pid } of backends) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    // Fields after the command name: state is the 3rd, utime the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (fields.length > 13) cpu.set(pid, (Number(fields[11]) + Number(fields[12])) / USER_HZ)
  }
  return cpu
}

/** CPU seconds the backends used between two readings of {@link backendCpu}. */
export function backendCpuSince(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let seconds = 0
  for (const [pid, cpu] of after) seconds += cpu - (before.get(pid) ?? 0)
  return seconds
}

/**
 * CPU seconds the whole machine has been busy (every process and the kernel: user, nice, system,
 * irq, softirq), from /proc/stat. Unlike the figures above it includes PostgreSQL's background
 * processes (WAL writer, checkpointer, autovacuum), so on a quiet machine the difference of two
 * readings is everything a pass cost.
 */
export async function machineBusySeconds(): Promise<number> {
  const stat = await fs.readFile('/proc/stat', 'utf8').catch(() => '')
  const [user, nice, system, , , irq, softirq] = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  return [user, nice, system, irq, softirq].reduce<number>((sum, ticks) => sum + (ticks ?? 0), 0) / USER_HZ
}
