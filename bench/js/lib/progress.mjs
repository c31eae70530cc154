// Progress bars on stderr for anything that runs longer than a few seconds.
// On a terminal: one bar per suite, redrawn in place, with the step being run
// and an estimate of the time left (from the time per step so far). Not on a
// terminal (CI logs): a plain line at each 25% of a suite, so a log shows
// where a run is without being flooded.

const WIDTH = 28

function fmtTime(s) {
  if (!Number.isFinite(s)) return '?'
  if (s < 60) return `${Math.round(s)}s`
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
}

export function createProgress(stream = process.stderr) {
  const tty = !!stream.isTTY
  return {
    /** A bar for `total` steps of suite `name`; tick(label) after each step. */
    bar(name, total) {
      const started = Date.now()
      let done = 0
      let lastQuarter = -1
      let last = ''
      const draw = (label = last) => {
        last = label
        const frac = total > 0 ? Math.min(1, done / total) : 1
        const elapsed = (Date.now() - started) / 1000
        const eta = done > 0 ? (elapsed / done) * (total - done) : NaN
        if (tty) {
          const fill = Math.round(frac * WIDTH)
          const line = `${name.padEnd(8)} [${'#'.repeat(fill)}${'.'.repeat(WIDTH - fill)}] ${String(Math.round(frac * 100)).padStart(3)}%  ${fmtTime(elapsed)} elapsed, ~${fmtTime(eta)} left  ${label}`
          stream.write(`\r\x1b[K${line.slice(0, (stream.columns || 120) - 1)}`)
        } else {
          const quarter = Math.floor(frac * 4)
          if (quarter !== lastQuarter) {
            lastQuarter = quarter
            stream.write(`  ${name}: ${Math.round(frac * 100)}% (${fmtTime(elapsed)}) ${label}\n`)
          }
        }
      }
      draw('starting')
      return {
        tick(label) {
          done++
          draw(label)
        },
        label(label) {
          draw(label)
        },
        end() {
          done = total
          if (tty) stream.write('\r\x1b[K')
          else draw('done')
        },
      }
    },
  }
}
