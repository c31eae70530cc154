// Shared by the vitest suites: the strategies every suite runs over, and
// small worker_threads helpers. Worker scripts live in ./workers and load the
// compiled package (dist/ through esm/index.mjs), as users do.
import * as path from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { Worker, type WorkerOptions } from 'node:worker_threads'

import { STRATEGIES as BUILT, ThreadMap, type ThreadMapOptions } from '../../lib/index'
import { addon } from '../../lib/native'

/** Every suite runs over every strategy the addon was built with. */
export const STRATEGIES = BUILT

/**
 * The strategies whose units are flat tables (the core's supports_eviction,
 * supports_expiry and supports_skipping_revisions; tmtest::flat_table_strategy
 * in the native tests): eviction, expiry, lazy snapshots and revisions: false.
 */
export const FLAT_TABLE_STRATEGIES = ['mutex', 'rwlock', 'striped'] as const

/** A map made with `options` (a `ttl`) on its stopped test clock, which moves only when advance() is called. */
export function timed<K, V>(options: ThreadMapOptions): { map: ThreadMap<K, V>; advance: (ms: number) => void } {
  const map = new ThreadMap<K, V>(null, options)
  const id = map.handle().id
  addon.testAdvanceClock(id, 0)
  return { map, advance: (ms) => addon.testAdvanceClock(id, ms) }
}

export function workerPath(name: string): string {
  return path.join(__dirname, 'workers', name)
}

export function startWorker(name: string, workerData?: unknown, options: WorkerOptions = {}): Worker {
  return new Worker(workerPath(name), { ...options, workerData })
}

/** Resolves with the worker's exit code; rejects on an uncaught error in it. */
export function exited(w: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    w.once('error', reject)
    w.once('exit', resolve)
  })
}

/** The next message the worker posts whose `type` is `type`. */
export function message<T = Record<string, unknown>>(w: Worker, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type?: string }): void => {
      if (m && m.type === type) {
        w.off('message', onMessage)
        w.off('error', reject)
        resolve(m as T)
      }
    }
    w.on('message', onMessage)
    w.once('error', reject)
  })
}

/** Runs a worker to completion and returns what it reported with {type: 'result'}. */
export async function runWorker<T = Record<string, unknown>>(name: string, workerData?: unknown): Promise<T> {
  const w = startWorker(name, workerData)
  const result = message<T>(w, 'result')
  const code = await exited(w)
  if (code !== 0) throw new Error(`worker ${name} exited with code ${code}`)
  return result
}

const gc = (globalThis as { gc?: () => void }).gc

/** Collects garbage and lets Node run the finalizers it queued. */
export async function collect(rounds = 3): Promise<void> {
  if (!gc) throw new Error('run vitest with --expose-gc (see vitest.config.ts)')
  for (let i = 0; i < rounds; i++) {
    gc()
    await tick()
  }
}

/**
 * Collects until `done()` holds, a bounded number of times (no timing: the
 * bound is a count, and finalizers are queued by the collections above).
 */
export async function collectUntil(done: () => boolean, attempts = 50): Promise<boolean> {
  for (let i = 0; i < attempts && !done(); i++) await collect(2)
  return done()
}
