// Timing. Figures that will be compared are measured interleaved: every
// contender is warmed up, then the timed samples go round-robin (A B C,
// B C A, C A B, ...), so a change in machine load or clock speed during the
// run lands on all of them rather than on whichever ran last. A sample is
// the sum of the kernel's own run times (set-up and clean-up between kernel
// calls are not timed); the median sample is the figure, min and max show
// the spread.

const now = process.hrtime.bigint

// Every kernel result lands here and is printed at the end of the run, so the
// compiler cannot prove a lookup loop useless and drop it.
export const sink = { value: 0 }

export function consume(x) {
  sink.value = (sink.value + (typeof x === 'number' ? x : 1)) % 1e15
}

// A fresh copy of a self-contained function (no captured variables): its own
// type feedback and optimised code, so measuring Map does not make the
// ThreadMap kernel polymorphic (or the other way round).
export function fresh(fn) {
  return new Function(`return (${fn.toString()})`)()
}

/**
 * A contender: `step` makes one timed kernel call and says how many
 * operations it did; `after` cleans up its result, untimed.
 * @typedef {{step: () => {ops: number, result: unknown}, after?: (r: unknown) => void}} Contender
 */

function warmUp(c, ms) {
  const end = now() + BigInt(Math.round(ms * 1e6))
  do {
    const r = c.step()
    consume(r.result)
    c.after?.(r.result)
  } while (now() < end)
}

// At least one kernel call, then more until `ms` of kernel time has passed.
function sample(c, ms) {
  const budget = BigInt(Math.round(ms * 1e6))
  let elapsed = 0n
  let ops = 0
  do {
    const t0 = now()
    const r = c.step()
    elapsed += now() - t0
    ops += r.ops
    consume(r.result)
    c.after?.(r.result)
  } while (elapsed < budget)
  return Number(elapsed) / ops
}

/**
 * @param {Contender[]} contenders
 * @param {{warmupMs: number, sampleMs: number, samples: number}} o
 * @returns one summary per contender, in the same order
 */
export function measureInterleaved(contenders, o) {
  for (const c of contenders) warmUp(c, o.warmupMs)
  const perContender = contenders.map(() => [])
  for (let s = 0; s < o.samples; s++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (s + k) % contenders.length
      perContender[i].push(sample(contenders[i], o.sampleMs))
    }
  }
  return perContender.map(summarize)
}

export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { nsPerOp: median, min: sorted[0], max: sorted[sorted.length - 1], samples: values }
}

export function median(values) {
  return summarize(values).nsPerOp
}

/** The median with the range, for figures that are not ns per op. */
export function spread(values) {
  const { nsPerOp, min, max } = summarize(values)
  return { median: nsPerOp, min, max }
}

// Memory figures of the child processes (suites/churn-child.mjs and
// memory-child.mjs, run with --expose-gc): two full collections, so what is
// left is live, then V8's used heap and the process's RSS.
export function collectGarbage() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc')
  globalThis.gc()
  globalThis.gc()
}

export function memorySample() {
  const m = process.memoryUsage()
  return { heap: m.heapUsed, rss: m.rss }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
