// Talking to a suite's worker threads.

/** The next message of `type` from worker `w` (rejects on the worker's error). */
export function message(w, type) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      if (m.type === type) {
        w.off('message', on)
        resolve(m)
      }
    }
    w.on('message', on)
    w.once('error', reject)
  })
}
