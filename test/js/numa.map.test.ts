// The `numa` map option on this machine's real nodes, over every strategy:
// binding to node 0 is confirmed per table by the kernel (get_mempolicy, as
// stats().numa reports it), and bad options are TypeErrors naming the choices
// or RangeErrors naming the nodes, with nothing created.
import { describe, expect, test } from 'vitest'

import { liveMaps, numa, ThreadMap, type NumaOption, type NumaStats } from '../../lib/index'
import { STRATEGIES } from './helpers'

const nodes = numa.topology().nodes.map((n) => n.id)

// Every strategy places its table arrays. What the table indices stand for
// (the strategies' headers say it): the flat-table strategies report one
// table per stripe; lockfree its head table, plus the target while a
// migration runs; readmostly table 0 = the read table (no array before the
// first promotion: 'empty') and table 1 = the dirty table, while one exists.
function expectedTables(strategy: string, stripes: number): number {
  if (strategy === 'lockfree') return 1
  if (strategy === 'readmostly') return 2
  return stripes
}

// The tables that have an array (the others report placement 'empty').
function arrays(s: NumaStats): NumaStats['tables'] {
  return s.tables.filter((t) => t.placement !== 'empty')
}

// 'ordered' has no table arrays (nodes placed by first touch): it reports
// none, and says so, under every policy.
test('ordered: no tables to place, applied false with the reason, under every policy', () => {
  for (const policy of [{ node: 0 }, 'local', 'interleave', 'none'] as NumaOption[]) {
    const m = new ThreadMap<string, number>(null, { strategy: 'ordered', numa: policy })
    for (let i = 0; i < 1000; i++) m.set(`k${i}`, i)
    const s = m.stats().numa
    expect(s.applied).toBe(false)
    expect(s.reason).toMatch(/'ordered' strategy does not place its memory/)
    expect(s.tables).toEqual([])
    expect(m.get('k999')).toBe(999)
    m.close()
  }
})

describe.each(STRATEGIES.filter((s) => s !== 'ordered'))('%s', (strategy) => {
  test('{ node: 0 }: every table bound to node 0, and the kernel confirms it', () => {
    const m = new ThreadMap<string, number>(null, { strategy, numa: { node: 0 }, capacity: 100_000 })
    for (let i = 0; i < 1000; i++) m.set(`k${i}`, i)
    const stats = m.stats()
    expect(stats.numa.policy).toBe('node')
    expect(stats.numa.node).toBe(0)
    expect(stats.numa.applied).toBe(true)
    expect(stats.numa.reason).toBeUndefined()
    expect(stats.numa.tables.length).toBe(expectedTables(strategy, stats.stripes))
    stats.numa.tables.forEach((t, i) => expect(t.table).toBe(i))
    if (strategy === 'readmostly') {
      // 1000 new keys are all in the dirty table; the read table has no array yet.
      expect(stats.numa.tables[0]).toMatchObject({ table: 0, bytes: 0, placement: 'empty' })
    }
    const placed = arrays(stats.numa)
    expect(placed.length).toBe(strategy === 'readmostly' ? 1 : stats.numa.tables.length)
    for (const t of placed) {
      expect(t).toMatchObject({
        node: 0,
        assignedNode: 0,
        placement: 'bound',
        kernelPolicy: 'bind',
        kernelNodes: [0],
      })
      expect(t.bytes).toBeGreaterThan(4096)
      expect(t.reason).toBeUndefined()
    }
    expect(m.get('k999')).toBe(999)
    m.close()
  })

  test("'local' and 'interleave' are accepted and reported; 'none' is the default", () => {
    const local = new ThreadMap(null, { strategy, numa: 'local', capacity: 50_000 })
    local.set('a', 1) // readmostly makes its first (dirty) table on the first key
    const here = local.stats().numa
    expect(here.policy).toBe('local')
    expect(here.applied).toBe(true)
    expect(arrays(here).length).toBeGreaterThan(0)
    for (const t of arrays(here)) {
      expect(nodes).toContain(t.assignedNode)
      expect(t.placement).toBe('bound')
      expect(t.kernelPolicy).toBe('preferred')
      expect(t.kernelNodes).toEqual([t.assignedNode])
    }
    local.close()
    const spread = new ThreadMap(null, { strategy, numa: 'interleave', capacity: 50_000 })
    spread.set('a', 1)
    const spreadStats = spread.stats().numa
    expect(arrays(spreadStats).length).toBeGreaterThan(0)
    for (const t of arrays(spreadStats)) {
      expect(t).toMatchObject({ assignedNode: -1, placement: 'bound', kernelPolicy: 'interleave' })
    }
    spread.close()
    for (const options of [{ strategy }, { strategy, numa: 'none' as const }]) {
      const plain = new ThreadMap(null, options)
      plain.set('a', 1)
      const s = plain.stats().numa
      expect(s.policy).toBe('none')
      expect(s.applied).toBe(true)
      expect(arrays(s).length).toBeGreaterThan(0)
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
