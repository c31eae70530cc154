// Workers each set objects into one shared map through set's in-place path
// (native/addon/io_protocol.hpp, "Objects in"): every thread has its own
// record writer and chunks, and reads nothing of another's.
import { isDeepStrictEqual } from 'node:util'

import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { runWorker } from './helpers'
// @ts-expect-error: a plain .mjs module shared with the workers
import { sizedObject } from './workers/objects-in-values.mjs'

const objectOf = sizedObject as (w: number, i: number) => object

const WORKERS = 3
const COUNT = 300 // about 600 KB of output per worker: several chunks

describe.each(['any', 'structured'] as const)('workers: set of objects into one map (values %s)', (values) => {
  test(`${WORKERS} workers, ${COUNT} objects each, across their writers' chunks`, async () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const handle = map.handle()
    const results = await Promise.all(
      Array.from({ length: WORKERS }, (_, id) =>
        runWorker<{ wrongCount: number; wrong: string[] }>('objects-in.mjs', { handle, id, count: COUNT }),
      ),
    )
    for (const r of results) expect(r.wrong).toEqual([])
    expect(map.size).toBe(WORKERS * COUNT)
    const wrong: string[] = []
    for (let w = 0; w < WORKERS; w++) {
      for (let i = 0; i < COUNT; i++) if (!isDeepStrictEqual(map.get(`w${w}:${i}`), objectOf(w, i))) wrong.push(`w${w}:${i}`)
    }
    expect(wrong).toEqual([])
    map.close()
  })
})
