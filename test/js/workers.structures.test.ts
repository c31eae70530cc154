// Several workers attach one map and write objects of new shapes at the same
// moment, so their codecs race to extend the map's structure list; each then
// decodes every other's objects, and so does the main thread. Run many times.
import { isDeepStrictEqual } from 'node:util'

import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon } from '../../lib/native'
import { exited, message, runWorker, startWorker } from './helpers'
// @ts-expect-error: a plain .mjs module shared with the workers
import { objectOf } from './workers/structures-shapes.mjs'

const shapeOf = objectOf as (w: number, i: number) => object

const WORKERS = 4
const PER_WORKER = 24
const ROUNDS = 6

describe.each(['any', 'structured'] as const)('workers: shared structures (values %s)', (values) => {
  test(`${WORKERS} workers adding shapes at once decode each other's objects (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
      const handle = map.handle()
      const barrier = new SharedArrayBuffer(8)
      const results = await Promise.all(
        Array.from({ length: WORKERS }, (_, id) =>
          runWorker<{ wrongCount: number; wrong: string[] }>('structures.mjs', { handle, id, workers: WORKERS, perWorker: PER_WORKER, barrier }),
        ),
      )
      for (const r of results) expect(r.wrong).toEqual([])
      for (let w = 0; w < WORKERS; w++) {
        for (let i = 0; i < PER_WORKER; i++) {
          expect(isDeepStrictEqual(map.get(`w${w}:${i}`), shapeOf(w, i))).toBe(true)
        }
      }
      // Every append names new structures only: the list holds no repeats.
      const [, bytes] = addon.structuresRead(addon.attach(map.id))
      const lists = new TextDecoder()
        .decode(bytes)
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => JSON.parse(line) as string[][])
      expect(new Set(lists.map((l) => JSON.stringify(l))).size).toBe(lists.length)
      expect(lists.length).toBeGreaterThan(WORKERS)
      map.close()
    }
  })
})

describe('workers: close() while workers extend the structure list', () => {
  test('every worker gets the closed Error, none crashes (5 rounds)', async () => {
    for (let round = 0; round < 5; round++) {
      const map = new ThreadMap<string, unknown>(null, { keys: 'string', values: 'any' })
      const handle = map.handle()
      const workers = [0, 1].map((id) => startWorker('structures-close.mjs', { handle, id }))
      const ends = workers.map((w) => exited(w))
      const results = workers.map((w) => message<{ message: string | null; writes: number }>(w, 'result'))
      await Promise.all(workers.map((w) => message(w, 'ready')))
      await new Promise((resolve) => setTimeout(resolve, round * 5))
      map.close()
      for (const r of await Promise.all(results)) {
        expect(r.message).toMatch(/^Error: threadmap: map \d+ is closed$/)
        expect(r.writes).toBeGreaterThanOrEqual(20)
      }
      expect(await Promise.all(ends)).toEqual([0, 0])
    }
  })
})
