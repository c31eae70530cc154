// The NUMA placement logic against simulated 2-, 4- and 8-node machines: each
// case generates a fake sysfs tree and runs workers/numa-child.mjs in its own
// process with THREADMAP_SYSFS_ROOT pointing at it (the topology is read once
// per process). The kernel can only bind to this machine's real nodes, so
// the checks are on what was decided for every stripe, that the real node 0
// is bound, and that simulated nodes are reported as skipped, with a reason.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { afterAll, describe, expect, test } from 'vitest'

import type { NumaStats, NumaTopology } from '../../lib/index'
import { workerPath } from './helpers'

interface ChildResult {
  topology: NumaTopology
  fixed: { node: number; numa: NumaStats }[]
  refused: { name: string; message: string } | null
  liveUnchanged: boolean
  interleave: NumaStats
  cpuWhenCreated?: number
  localCreated?: NumaStats
  growerCpus?: number[]
  localGrown?: NumaStats
}

const roots: string[] = []
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
})

/** A fake /sys; `files` maps paths under devices/system/node to contents. */
function fakeSysfs(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-numa-'))
  roots.push(root)
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(root, 'devices/system/node', rel)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
  }
  return root
}

// Node k holds CPUs (k+1) % n and that + n: the real CPU 0 is on the last
// node and CPU 1 on node 0, so placement must follow the cpulists.
function cpusOf(nodes: number, k: number): number[] {
  const a = (k + 1) % nodes
  return [a, a + nodes].sort((x, y) => x - y)
}

function machine(nodes: number): string {
  const files: Record<string, string> = { online: `0-${nodes - 1}\n` }
  for (let k = 0; k < nodes; k++) {
    files[`node${k}/cpulist`] = `${cpusOf(nodes, k).join(',')}\n`
    files[`node${k}/meminfo`] = `Node ${k} MemTotal:        1048576 kB\nNode ${k} MemFree:   1024 kB\n`
  }
  return fakeSysfs(files)
}

function runChild(root: string, stallMs = 0): ChildResult {
  const r = spawnSync(process.execPath, [workerPath('numa-child.mjs')], {
    env: { ...process.env, THREADMAP_SYSFS_ROOT: root, THREADMAP_TEST_NUMA_CHILD_STALL_MS: String(stallMs) },
    encoding: 'utf8',
    timeout: 60_000,
  })
  if (r.status !== 0) throw new Error(`numa-child exited with ${r.status}: ${r.stderr}`)
  return JSON.parse(r.stdout) as ChildResult
}

describe.each([2, 4, 8])('a simulated %i-node machine', (nodes) => {
  const ids = Array.from({ length: nodes }, (_, k) => k)
  let result: ChildResult
  const child = (): ChildResult => (result ??= runChild(machine(nodes)))

  test('topology() reports the simulated nodes, CPUs and memory', () => {
    const t = child().topology
    expect(t.simulated).toBe(true)
    expect(t.error).toBeUndefined()
    expect(t.nodes).toEqual(ids.map((k) => ({ id: k, cpus: cpusOf(nodes, k), memoryBytes: 2 ** 30 })))
  })

  test('{ node: k }: every stripe is assigned node k; node 0 is bound, the others skipped with a reason', () => {
    const { fixed } = child()
    expect(fixed.map((f) => f.node)).toEqual(ids)
    for (const { node, numa } of fixed) {
      expect(numa.simulated).toBe(true)
      expect(numa.tables.length).toBeGreaterThan(0)
      for (const t of numa.tables) {
        expect(t.assignedNode).toBe(node)
        expect(t.node).toBe(0) // read back: the only real node
        if (node === 0) {
          expect(t).toMatchObject({ placement: 'bound', kernelPolicy: 'bind', kernelNodes: [0] })
        } else {
          expect(t.placement).toBe('skipped')
          expect(t.reason).toMatch(/not one this process can allocate on \(a simulated topology/)
          expect(t.kernelPolicy).toBe('default')
        }
      }
    }
  })

  test('a node past the last is a RangeError naming the simulated nodes, and creates nothing', () => {
    const { refused, liveUnchanged } = child()
    expect(refused?.name).toBe('RangeError')
    expect(refused?.message).toBe(
      `threadmap: options.numa: node ${nodes} does not exist; the nodes are ${ids.join(', ')}`,
    )
    expect(liveUnchanged).toBe(true)
  })

  test('interleave: decided over all nodes, asked of the kernel for the real one only', () => {
    for (const t of child().interleave.tables) {
      expect(t).toMatchObject({ assignedNode: -1, placement: 'partial', kernelPolicy: 'interleave', kernelNodes: [0] })
      expect(t.reason).toMatch(/interleaved over the decided nodes/)
    }
  })

  test("local: the creating thread's node (pinned to CPU 1), then the growing worker's (pinned to CPU 0)", () => {
    const r = child()
    expect(r.cpuWhenCreated).toBe(1)
    const created = r.localCreated!.tables.filter((t) => t.placement !== 'empty')
    expect(created.length).toBe(r.localCreated!.tables.length)
    for (const t of created) expect(t.assignedNode).toBe(0) // CPU 1 is on node 0 here
    expect(new Set(r.growerCpus)).toEqual(new Set([0]))
    for (const t of r.localGrown!.tables) {
      expect(t.assignedNode).toBe(nodes - 1) // CPU 0 is on the last node
      expect(t.bytes).toBeGreaterThan(4096)
      expect(t.placement).toBe('skipped')
    }
  })
})

describe('a malformed sysfs tree', () => {
  test('is reported in topology().error, treated as one node, and maps still work', () => {
    const r = runChild(
      fakeSysfs({
        online: '0-1\n',
        'node0/cpulist': '0\n',
        'node1/cpulist': 'one\n',
      }),
    )
    expect(r.topology.error).toMatch(/node1\/cpulist: expected a CPU list like 0-3,8, got 'one'; using one node/)
    expect(r.topology.nodes.map((n) => n.id)).toEqual([0])
    expect(r.fixed[0].numa.tables.every((t) => t.placement === 'bound' && t.node === 0)).toBe(true)
    expect(r.refused?.message).toBe('threadmap: options.numa: node 1 does not exist; the nodes are 0')
  })

  test('a root without devices/system/node is reported the same way', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-numa-'))
    roots.push(root)
    const r = runChild(root)
    expect(r.topology.error).toMatch(/is not a directory; using one node/)
    expect(r.topology.nodes.length).toBe(1)
  })
})

test('the child collects the grower worker even when its message and exit arrive together', () => {
  // The main thread stalls until the worker has finished: Node then delivers
  // the worker's last message and its exit in one turn of the event loop, so
  // a listener for 'exit' added after the message is seen never fires.
  const r = runChild(machine(2), 1500)
  expect(r.growerCpus?.length).toBe(200)
  expect(r.localGrown?.tables.length).toBeGreaterThan(0)
})
