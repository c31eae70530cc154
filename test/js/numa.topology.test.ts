// numa.topology(), currentCpu(), currentNode() and pinThread() on this
// machine's real topology; pinning is checked inside worker threads (pinning
// pins only the calling thread), never on the test runner's own thread.
import { describe, expect, test } from 'vitest'

import { numa } from '../../lib/index'
import { runWorker } from './helpers'

interface PinResult {
  before: number[]
  cpus: number[]
  node: number
  badError: { name: string; message: string } | null
  afterBad: number[] | null
}

const topology = numa.topology()
const allCpus = topology.nodes.flatMap((n) => n.cpus)
const nodeOf = (cpu: number): number => topology.nodes.find((n) => n.cpus.includes(cpu))?.id ?? -1

describe('topology', () => {
  test('nodes with ascending ids, their CPUs and memory; every CPU on one node', () => {
    expect(topology.simulated).toBe(false)
    expect(topology.error).toBeUndefined()
    expect(topology.source).toBe('/sys/devices/system/node')
    expect(topology.nodes.length).toBeGreaterThanOrEqual(1)
    const ids = topology.nodes.map((n) => n.id)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    for (const n of topology.nodes) {
      expect(Number.isInteger(n.id)).toBe(true)
      for (const c of n.cpus) expect(Number.isInteger(c) && c >= 0).toBe(true)
      expect(n.memoryBytes).toBeGreaterThanOrEqual(0)
    }
    expect(new Set(allCpus).size).toBe(allCpus.length)
    expect(topology.nodes.some((n) => n.memoryBytes > 0)).toBe(true)
  })

  test('currentCpu() is one of the CPUs, and currentNode() its node', () => {
    const cpu = numa.currentCpu()
    expect(allCpus).toContain(cpu)
    // The thread may migrate between the two calls; a node is still a node.
    expect(topology.nodes.map((n) => n.id)).toContain(numa.currentNode())
  })

  test('the numa object is frozen', () => {
    expect(Object.isFrozen(numa)).toBe(true)
  })
})

describe('pinThread', () => {
  test.each([0, 1])('a worker pinned to CPU %i runs there: currentCpu() inside it says so', async (cpu) => {
    if (!allCpus.includes(cpu)) return // not on this machine
    const r = await runWorker<PinResult>('numa-pin.mjs', { cpu })
    expect(r.cpus.length).toBe(200)
    expect(new Set(r.cpus)).toEqual(new Set([cpu]))
    expect(r.node).toBe(nodeOf(cpu))
    expect(r.before.length).toBeGreaterThanOrEqual(1)
  })

  test('wrong shapes are TypeErrors naming the choice', () => {
    for (const bad of ['1', [], ['1'], {}, undefined, null, [0, '1'], true]) {
      expect(() => numa.pinThread(bad as unknown as number)).toThrow(TypeError)
      expect(() => numa.pinThread(bad as unknown as number)).toThrow(
        /cpus must be a CPU number or a non-empty array of CPU numbers/,
      )
    }
  })

  test('CPUs that do not exist are RangeErrors naming the online CPUs, and change nothing', async () => {
    const past = Math.max(...allCpus) + 1
    for (const bad of [past, [0, past], -1, 1.5, [4096]]) {
      expect(() => numa.pinThread(bad)).toThrow(RangeError)
      expect(() => numa.pinThread(bad)).toThrow(/does not exist or is offline; the online CPUs are [0-9, -]+; nothing changed/)
    }
    // In a worker pinned to CPU 0, a bad set leaves it pinned to CPU 0.
    const r = await runWorker<PinResult>('numa-pin.mjs', { cpu: 0, bad: [0, past] })
    expect(r.badError?.name).toBe('RangeError')
    expect(r.afterBad).toEqual([0])
    expect(new Set(r.cpus)).toEqual(new Set([0]))
  })
})
