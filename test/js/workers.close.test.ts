// close() in one thread makes every other thread's calls throw a clear Error.
import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { exited, message, runWorker, startWorker, STRATEGIES } from './helpers'

interface VictimReport {
  calls: number
  error: { name: string; message: string } | null
  later: string[]
}

describe.each(STRATEGIES)('workers: close() across threads (%s)', (strategy) => {
  test('main closes while a worker is busy: the worker gets an Error, not a crash', async () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    const w = startWorker('close.mjs', { handle: map.handle(), role: 'victim' })
    const report = message<VictimReport>(w, 'result')
    const exit = exited(w)
    await message(w, 'ready')
    map.close()
    const r = await report
    expect(r.error?.name).toBe('Error')
    expect(r.error?.message).toMatch(/closed/)
    expect(r.later).toHaveLength(4)
    for (const m of r.later) expect(m).toMatch(/closed/)
    expect(await exit).toBe(0)
  })

  test('a worker closes: the main thread gets an Error', async () => {
    const map = new ThreadMap<string, number>(null, { keys: 'string', values: 'number', strategy })
    map.set('a', 1)
    const r = await runWorker<{ closed: boolean }>('close.mjs', { handle: map.handle(), role: 'closer' })
    expect(r.closed).toBe(true)
    expect(map.closed).toBe(true)
    expect(() => map.get('a')).toThrow(/closed/)
    expect(() => map.set('a', 2)).toThrow(/closed/)
    expect(() => ThreadMap.attach({ threadmap: 1, id: map.id, keys: 'string', values: 'number', strategy })).toThrow(Error)
  })
})
