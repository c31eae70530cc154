// watch across threads: a watcher in a worker while other workers write
// (per-key order, no loss when it keeps up, compacted when it falls behind),
// and release by return(), worker.terminate() and process exit.
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'

import { describe, expect, test } from 'vitest'

import { ThreadMap, WatchCompactedError } from '../../lib/index'
import { exited, message, runWorker, startWorker, STRATEGIES } from './helpers'

interface ReaderResult {
  seen: number
  disorder: number
  error: { name: string; oldest: number } | null
  last: Record<string, number>
}

const WRITERS = 2
const COUNT = 3000

describe.each(STRATEGIES)('watch across workers on %s', (strategy) => {
  test('a watcher that keeps up sees every write, each key in revision order', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    const handle = map.handle()
    const reader = startWorker('watch-reader.mjs', { handle, total: WRITERS * COUNT, bufferBytes: 64 << 20 })
    const result = message<ReaderResult>(reader, 'result')
    const exit = exited(reader)
    await message(reader, 'ready')
    await Promise.all(Array.from({ length: WRITERS }, (_, id) => runWorker('watch-writer.mjs', { handle, id, count: COUNT })))
    const r = await Promise.race([result, exit.then((code) => Promise.reject(new Error(`reader exited with ${code} before its result`)))])
    expect(await exit).toBe(0)
    expect(r.error).toBeNull()
    expect(r.seen).toBe(WRITERS * COUNT)
    expect(r.disorder).toBe(0)
    // The newest event of each key is the entry's revision now.
    for (let k = 0; k < 16; k++) expect(r.last[`k${k}`]).toBe(map.revisionOf(`k${k}`))
    map.close()
  })

  test('a watcher that falls behind gets the compacted error, not a gap', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string', strategy })
    const handle = map.handle()
    const reader = startWorker('watch-reader.mjs', { handle, total: WRITERS * COUNT, bufferBytes: 4096, wait: true })
    const result = message<ReaderResult>(reader, 'result')
    await message(reader, 'ready')
    await Promise.all(Array.from({ length: WRITERS }, (_, id) => runWorker('watch-writer.mjs', { handle, id, count: COUNT })))
    const exit = exited(reader)
    reader.postMessage('go')
    const r = await Promise.race([result, exit.then((code) => Promise.reject(new Error(`reader exited with ${code} before its result`)))])
    expect(await exit).toBe(0)
    expect(r.error?.name).toBe('WatchCompactedError')
    expect(r.error?.oldest).toBeGreaterThan(1)
    expect(r.error?.oldest).toBeLessThanOrEqual(map.revision)
    expect(r.seen).toBe(0)
    map.close()
  })
})

// Whether a watch is open on the map: only then can a new watch start at a
// revision already written (the log keeps what it logged while watched).
function watched(map: ThreadMap<string, string>): boolean {
  map.set('probe', String(map.revision))
  try {
    map.watch({ fromRevision: map.revision }).close()
    return true
  } catch (e) {
    if (e instanceof WatchCompactedError) return false
    throw e
  }
}

describe('watch release', () => {
  test('worker.terminate() of a waiting watcher releases its watch', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    expect(watched(map)).toBe(false)
    const w = startWorker('watch-idle.mjs', { handle: map.handle(), ref: true })
    const exit = exited(w)
    await message(w, 'watching')
    expect(watched(map)).toBe(true)
    await w.terminate()
    expect(await exit).toBe(1)
    expect(watched(map)).toBe(false)
    map.close()
  })

  test('a worker waiting on an unreferenced watch exits by itself and releases it', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    const w = startWorker('watch-idle.mjs', { handle: map.handle(), ref: false })
    expect(await exited(w)).toBe(0)
    expect(watched(map)).toBe(false)
    map.close()
  })

  test('return() releases the watch', async () => {
    const map = new ThreadMap<string, string>(null, { keys: 'string', values: 'string' })
    const w = map.watch()
    expect(watched(map)).toBe(true)
    await w.return()
    expect(watched(map)).toBe(false)
    map.close()
  })

  test('a process whose only pending work is an unreferenced watch exits', () => {
    const entry = path.join(__dirname, '..', '..', 'dist', 'index.js')
    const script = `
      const { ThreadMap } = require(${JSON.stringify(entry)})
      const m = new ThreadMap(null, { keys: 'string', values: 'string' })
      const w = m.watch()
      w.next().then(() => process.exit(3))
      m.set('a', 'b')
      process.on('exit', () => { if (process.exitCode === undefined) process.exitCode = 0 })`
    const r = spawnSync(process.execPath, ['-e', script], { timeout: 30_000 })
    expect(r.signal).toBeNull() // not killed by the timeout: it did not hang
    // The set was delivered before exit (3) or the loop ended first (0): either way it exited.
    expect([0, 3]).toContain(r.status)
  })
})
