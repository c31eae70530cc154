// The `numa` map option on this machine's real nodes, over every strategy:
// binding to node 0 is confirmed per stripe by the kernel (get_mempolicy, as
// stats().numa reports it), and bad options are TypeErrors naming the choices
// or RangeErrors naming the nodes, with nothing created.
import { describe, expect, test } from 'vitest'

import { liveMaps, numa, ThreadMap, type NumaOption } from '../../lib/index'
import { STRATEGIES } from './helpers'

// The strategies built on flat tables place each stripe's memory; the others
// say that they do not.
const PLACED: readonly string[] = ['striped', 'mutex', 'rwlock']
const nodes = numa.topology().nodes.map((n) => n.id)

describe.each(STRATEGIES)('%s', (strategy) => {
  const placed = PLACED.includes(strategy)

  test('{ node: 0 }: every stripe bound to node 0, and the kernel confirms it', () => {
    const m = new ThreadMap<string, number>(null, { strategy, numa: { node: 0 }, capacity: 100_000 })
    for (let i = 0; i < 1000; i++) m.set(`k${i}`, i)
    const stats = m.stats()
    expect(stats.numa.policy).toBe('node')
    expect(stats.numa.node).toBe(0)
    expect(stats.numa.applied).toBe(placed)
    if (placed) {
      expect(stats.numa.tables.length).toBe(stats.stripes)
      stats.numa.tables.forEach((t, i) => {
        expect(t).toMatchObject({
          table: i,
          node: 0,
          assignedNode: 0,
          placement: 'bound',
          kernelPolicy: 'bind',
          kernelNodes: [0],
        })
        expect(t.bytes).toBeGreaterThan(4096)
        expect(t.reason).toBeUndefined()
      })
    } else {
      expect(stats.numa.tables).toEqual([])
      expect(stats.numa.reason).toContain(`'${strategy}' strategy does not place its memory`)
    }
    expect(m.get('k999')).toBe(999)
    m.close()
  })

  test("'local' and 'interleave' are accepted and reported; 'none' is the default", () => {
    const local = new ThreadMap(null, { strategy, numa: 'local', capacity: 50_000 })
    const here = local.stats().numa
    expect(here.policy).toBe('local')
    if (placed) {
      for (const t of here.tables) {
        expect(nodes).toContain(t.assignedNode)
        expect(t.placement).toBe('bound')
        expect(t.kernelPolicy).toBe('preferred')
        expect(t.kernelNodes).toEqual([t.assignedNode])
      }
    }
    local.close()
    const spread = new ThreadMap(null, { strategy, numa: 'interleave', capacity: 50_000 })
    if (placed) {
      for (const t of spread.stats().numa.tables) {
        expect(t).toMatchObject({ assignedNode: -1, placement: 'bound', kernelPolicy: 'interleave' })
      }
    }
    spread.close()
    for (const options of [{ strategy }, { strategy, numa: 'none' as const }]) {
      const plain = new ThreadMap(null, options)
      plain.set('a', 1)
      const s = plain.stats().numa
      expect(s.policy).toBe('none')
      for (const t of s.tables) {
        expect(['empty', 'default']).toContain(t.placement)
        if (t.placement === 'default') expect(nodes).toContain(t.node) // first touch, read back
      }
      plain.close()
    }
  })

  test('bad numa options change nothing: TypeError naming the choices, RangeError naming the nodes', () => {
    const before = liveMaps()
    const choices = "'local', 'interleave', 'none' or { node: <node id> }"
    for (const bad of ['fast', 'LOCAL', 1, null, [], true, { node: '0' }, {}, () => 0]) {
      const make = (): unknown => new ThreadMap(null, { strategy, numa: bad as unknown as NumaOption })
      expect(make).toThrow(TypeError)
      expect(make).toThrow(choices)
    }
    const past = Math.max(...nodes) + 1
    for (const node of [past, 1023, 4096, -1, 0.5, Number.NaN, Infinity]) {
      const make = (): unknown => new ThreadMap(null, { strategy, numa: { node } })
      expect(make).toThrow(RangeError)
      expect(make).toThrow(`does not exist; the nodes are ${nodes.join(', ')}`)
    }
    expect(liveMaps()).toBe(before)
  })
})
