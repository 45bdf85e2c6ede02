// CPU time of a process (all its threads: JS, GC, libuv) read from /proc/<pid>/stat.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

function readClockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100
  } catch {
    return 100
  }
}

const MICROSECONDS_PER_TICK = 1_000_000 / readClockTicksPerSecond()

/** utime + stime of `pid`, in microseconds (resolution: one clock tick, usually 10 ms). */
export function cpuMicroseconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces; fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so utime (field 14) is fields[11] and stime (field 15) fields[12].
  return (Number(fields[11]) + Number(fields[12])) * MICROSECONDS_PER_TICK
}

/** CPU time the whole machine spent busy (steal included: time our VM wanted but did not get). */
function machineBusyMicroseconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return (user + nice + system + irq + softirq + steal) * MICROSECONDS_PER_TICK
}

export interface CpuWindow {
  /** CPU µs spent by `pid` since the window opened. */
  spentBy(pid: number): number
  /** Average number of cores used by processes other than `ownPids` while the window was open. */
  otherCores: number
}

/**
 * Opens a measurement window over `ownPids` (the client, the target, the upstream). What the rest of
 * the machine did meanwhile says how far other work skewed the figures.
 */
export function openCpuWindow(ownPids: number[]): () => CpuWindow {
  const pids = [...new Set(ownPids)]
  const startedAt = performance.now()
  const machineBefore = machineBusyMicroseconds()
  const before = new Map(pids.map((pid) => [pid, cpuMicroseconds(pid)]))
  return () => {
    const elapsedMicros = (performance.now() - startedAt) * 1000
    const spent = new Map(pids.map((pid) => [pid, cpuMicroseconds(pid) - (before.get(pid) ?? 0)]))
    const ours = [...spent.values()].reduce((a, b) => a + b, 0)
    const others = machineBusyMicroseconds() - machineBefore - ours
    return {
      spentBy: (pid) => spent.get(pid) ?? NaN,
      otherCores: elapsedMicros > 0 ? Math.max(0, others) / elapsedMicros : NaN,
    }
  }
}
