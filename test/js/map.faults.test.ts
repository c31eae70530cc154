// Allocation failure from JavaScript, through maxMemory: every strategy is
// driven to its limit with keys and values long enough to go out of line,
// through every writing operation (set, setMany, add, update, compareAndSet,
// swap, setIfAbsent, getOrSet, delete and take then reinsert, clear), growth,
// and readmostly's promotion (reads that miss after deletes) and dirty-table
// building. After each operation a RangeError must have changed nothing and
// the map must equal a JS Map model; after clear() the accounting must be a
// fresh map's. Each run is a child process (workers/faults-child.mjs), so a
// crash fails its test with the signal instead of ending the runner. The
// native suite (test/native/faults.test.cpp) makes every allocation fail in
// turn; this one reaches the same paths the way users do.
import { spawnSync } from 'node:child_process'

import { describe, expect, test } from 'vitest'

import { STRATEGIES, workerPath } from './helpers'

/** maxMemory values: the limit then falls at different points of each operation. */
const LIMITS = [12_000, 20_000, 33_333, 50_000]
const PHASES = ['ops', 'promotion'] as const

/**
 * KNOWN_FAILURES: runs that fail on the code as committed, each a bug in a
 * file owned elsewhere, keyed by "<strategy> <phase>". They still run; the
 * test prints how each ended and fails once none of them fails any more (then
 * remove the entry).
 */
// None today: readmostly's crash when its table copy failed part-way (issue 12)
// was fixed, and its promotion runs are checked like every other.
const KNOWN_FAILURES: Readonly<Record<string, string>> = {}

interface Outcome {
  limit: number
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function run(strategy: string, limit: number, phase: string): Outcome {
  const r = spawnSync(process.execPath, [workerPath('faults-child.mjs'), strategy, String(limit), phase], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  return { limit, status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

function ended(o: Outcome): string {
  if (o.signal !== null) return `maxMemory ${o.limit}: killed by ${o.signal}`
  if (o.status !== 0) return `maxMemory ${o.limit}: exit ${o.status}: ${o.stderr.trim().split('\n').slice(0, 8).join(' | ')}`
  return `maxMemory ${o.limit}: ok`
}

describe.each(STRATEGIES)('allocation failure through maxMemory (%s)', (strategy) => {
  test.each(PHASES)('%s: RangeError changes nothing, the map stays consistent, nothing crashes', (phase) => {
    const outcomes = LIMITS.map((limit) => run(strategy, limit, phase))
    const known = KNOWN_FAILURES[`${strategy} ${phase}`]
    if (known !== undefined) {
      const failed = outcomes.filter((o) => o.signal !== null || o.status !== 0)
      for (const o of outcomes) console.log(`KNOWN FAILURE [${strategy} ${phase}] ${ended(o)}: ${known}`)
      expect(failed.length, `KNOWN_FAILURES['${strategy} ${phase}'] no longer fails: remove it`).toBeGreaterThan(0)
      return
    }
    for (const o of outcomes) {
      expect(ended(o)).toBe(`maxMemory ${o.limit}: ok`)
      const summary = JSON.parse(o.stdout) as { ops: number; refused: number }
      // The limit was reached (the checks ran on refused writes, not only on successes).
      expect(summary.refused).toBeGreaterThan(0)
      expect(summary.ops).toBeGreaterThan(summary.refused)
    }
  })
})
