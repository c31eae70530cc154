// numa.parsePolicy: the text forms of a NUMA policy ("local", "node:3", ...)
// read by the core's one parser, which the benchmarks' --numa flags use too.
import { describe, expect, test } from 'vitest'

import { numa, ThreadMap } from '../../lib/index'

const FORMS = 'local, interleave, none or node:N (N a node id, e.g. node:0)'

describe('numa.parsePolicy', () => {
  test('reads the named policies as themselves and node:N as { node: N }', () => {
    expect(numa.parsePolicy('local')).toBe('local')
    expect(numa.parsePolicy('interleave')).toBe('interleave')
    expect(numa.parsePolicy('none')).toBe('none')
    expect(numa.parsePolicy('node:0')).toEqual({ node: 0 })
    expect(numa.parsePolicy('node:123456789')).toEqual({ node: 123456789 })
  })

  test('what it returns is a `numa` option a map takes', () => {
    const node0 = numa.topology().nodes[0]!.id
    for (const text of ['local', 'interleave', 'none', `node:${node0}`]) {
      const m = new ThreadMap(null, { numa: numa.parsePolicy(text) })
      expect(m.stats().numa.policy).toBe(text.startsWith('node:') ? 'node' : text)
      m.close()
    }
  })

  test('anything else is a TypeError naming the forms', () => {
    for (const bad of ['', 'Local', 'node', 'node:', 'node:-1', 'node:x', 'node:1:2', 'node:1234567890', ' local']) {
      expect(() => numa.parsePolicy(bad)).toThrow(TypeError)
      expect(() => numa.parsePolicy(bad)).toThrow(`threadmap: numa.parsePolicy: '${bad}' is not a NUMA policy; use ${FORMS}`)
    }
    for (const bad of [undefined, null, 3, { node: 0 }]) {
      expect(() => numa.parsePolicy(bad as unknown as string)).toThrow(
        `threadmap: numa.parsePolicy: the argument is not a NUMA policy; use ${FORMS}`,
      )
    }
  })

  test("the map's own option refuses the text form of a node", () => {
    expect(() => new ThreadMap(null, { numa: 'node:0' as never })).toThrow(TypeError)
  })
})
