// The JS bench's --numa and --pin (bench/js/lib/args.mjs, lib/placement.mjs):
// the forms they take, the errors for anything else, that a bad value stops
// `node bench/js/main.mjs` with exit code 2 before anything runs, and that a
// short run reports the placement the kernel read back and the CPU each
// pinned thread saw. The bench loads the compiled package (dist/), which
// `npm run test:js` builds first.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, test } from 'vitest'

import { numa } from '../../lib/index'

const root = path.resolve(__dirname, '..', '..')
const main = path.join(root, 'bench', 'js', 'main.mjs')

interface BenchOptions {
  numa: 'local' | 'interleave' | 'none' | { node: number }
  pin: boolean | number[]
  quick: boolean
  help?: boolean
}
type ParseArgs = (argv: string[], env: { strategies: readonly string[]; cores: number }) => BenchOptions

async function loadParseArgs(): Promise<ParseArgs> {
  const url = pathToFileURL(path.join(root, 'bench', 'js', 'lib', 'args.mjs')).href
  const mod = (await import(url)) as { parseArgs: ParseArgs }
  return mod.parseArgs
}

const env = { strategies: ['striped', 'lockfree'], cores: 2 }

function bench(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const topology = numa.topology()
const absentNode = Math.max(...topology.nodes.map((n) => n.id)) + 1
const offlineCpu = Math.max(...topology.nodes.flatMap((n) => n.cpus)) + 1

describe('parsing --numa and --pin', () => {
  test('defaults: numa none, not pinned', async () => {
    const parseArgs = await loadParseArgs()
    const o = parseArgs([], env)
    expect(o.numa).toBe('none')
    expect(o.pin).toBe(false)
  })

  test('--numa takes local, interleave, none and node:N, as --numa=V or --numa V', async () => {
    const parseArgs = await loadParseArgs()
    expect(parseArgs(['--numa=local'], env).numa).toBe('local')
    expect(parseArgs(['--numa', 'interleave'], env).numa).toBe('interleave')
    expect(parseArgs(['--numa=none'], env).numa).toBe('none')
    expect(parseArgs(['--numa', 'node:0'], env).numa).toEqual({ node: 0 })
    // Whether node 12 exists is the library's to say (main.mjs asks it).
    expect(parseArgs(['--numa=node:12'], env).numa).toEqual({ node: 12 })
  })

  test('anything else is refused naming the valid forms', async () => {
    const parseArgs = await loadParseArgs()
    for (const bad of ['bogus', 'Local', 'node:', 'node:-1', 'node:x', 'node:1:2', '']) {
      expect(() => parseArgs([`--numa=${bad}`], env)).toThrow(
        `--numa ${bad}: threadmap: numa.parsePolicy: '${bad}' is not a NUMA policy; use local, interleave, none or node:N (N a node id, e.g. node:0)`,
      )
    }
    expect(() => parseArgs(['--numa'], env)).toThrow('--numa needs a value')
  })

  test('--pin alone, with a CPU list as its next argument, or as --pin=LIST', async () => {
    const parseArgs = await loadParseArgs()
    expect(parseArgs(['--pin'], env).pin).toBe(true)
    const bare = parseArgs(['--pin', '--quick'], env)
    expect(bare.pin).toBe(true)
    expect(bare.quick).toBe(true)
    expect(parseArgs(['--pin', '1,0'], env).pin).toEqual([1, 0])
    expect(parseArgs(['--pin=0-3,1'], env).pin).toEqual([0, 1, 2, 3])
  })

  test('a malformed CPU list is refused', async () => {
    const parseArgs = await loadParseArgs()
    for (const bad of ['a', '0,,1', '0,', '1-', '0x1']) {
      expect(() => parseArgs([`--pin=${bad}`], env)).toThrow(`--pin ${bad}: not a CPU list`)
    }
    expect(() => parseArgs(['--pin=3-1'], env)).toThrow('--pin 3-1: range 3-1 runs backwards')
  })
})

describe('node bench/js/main.mjs', () => {
  test('a node that does not exist stops the bench before anything runs, with the library RangeError', () => {
    const r = bench([`--numa=node:${absentNode}`, '--quick'])
    expect(r.status).toBe(2)
    expect(r.stderr.trim()).toBe(
      `--numa node:${absentNode}: RangeError: threadmap: options.numa: node ${absentNode} does not exist; ` +
        `the nodes are ${topology.nodes.map((n) => n.id).join(', ')}`,
    )
    expect(r.stdout).toBe('')
  })

  test('a malformed --numa exits 2 naming the forms', () => {
    const r = bench(['--numa', 'fast'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain("--numa fast: threadmap: numa.parsePolicy: 'fast' is not a NUMA policy; use local, interleave, none or node:N")
    expect(r.stdout).toBe('')
  })

  test('an offline CPU in --pin exits 2 with pinThread\u2019s RangeError', () => {
    const r = bench(['--pin', String(offlineCpu)])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(
      `--pin ${offlineCpu}: RangeError: threadmap: numa.pinThread: CPU ${offlineCpu} does not exist or is offline`,
    )
    expect(r.stdout).toBe('')
  })

  test('--help documents both flags', () => {
    const r = bench(['--help'])
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('--numa=POLICY')
    expect(r.stdout).toContain('--pin[=CPUS]')
  })

  const tiny = ['--suites=single', '--sizes=1000', '--ops=get', '--samples=1', '--sample-ms=5', '--warmup-ms=5', '--no-charts']

  test('without the flags the report says numa none and threads not pinned', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-bench-'))
    try {
      const r = bench([...tiny, '--strategies=striped', `--out=${out}`])
      expect(r.status).toBe(0)
      expect(r.stdout).toContain('placement numa: none (kernel default), threads not pinned')
      expect(r.stdout).toMatch(/single striped +\d+ maps?, \d+ tables?: default x\d+; kernel policy default/)
      expect(r.stdout).toContain('Pinning: threads not pinned (the kernel chose their CPUs)')
    } finally {
      fs.rmSync(out, { recursive: true, force: true })
    }
  })

  test('--numa node:0 --pin: tables bound to node 0 as the kernel reads back, the main thread on its CPU', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-bench-'))
    const json = path.join(out, 'run.json')
    const node0 = topology.nodes[0].id
    try {
      // 20,000 keys: enough for every stripe's table to pass a page, the size
      // from which a table is mapped and bound (smaller ones stay on the heap).
      const sized = tiny.map((a) => (a === '--sizes=1000' ? '--sizes=20000' : a))
      const r = bench([...sized, '--strategies=striped,lockfree', `--numa=node:${node0}`, '--pin', `--out=${out}`, `--json=${json}`])
      expect(r.stderr).not.toContain('failed')
      expect(r.status).toBe(0)
      expect(r.stdout).toContain(`placement numa: node:${node0} on every ThreadMap`)
      const report = JSON.parse(fs.readFileSync(json, 'utf8')) as {
        placement: {
          numa: { label: string }
          pin: { cpus: number[] }
          maps: {
            suite: string
            strategy: string
            applied: boolean
            placements: Record<string, number>
            nodes: number[]
            kernelPolicies: string[]
          }[]
          threads: { thread: string; cpu: number; seen: number[]; checks: number }[]
        }
      }
      const p = report.placement
      expect(p.numa.label).toBe(`node:${node0}`)
      const striped = p.maps.find((m) => m.strategy === 'striped')
      const lockfree = p.maps.find((m) => m.strategy === 'lockfree')
      expect(striped?.applied).toBe(true)
      expect(striped?.placements.bound).toBeGreaterThan(0)
      expect(striped?.nodes).toEqual([node0])
      expect(striped?.kernelPolicies).toContain(`bind {${node0}}`)
      // Every strategy places its tables now; small ones come from the heap.
      expect(lockfree?.applied).toBe(true)
      expect(Object.keys(lockfree?.placements ?? { none: 1 }).every((k) => k === 'bound' || k === 'heap')).toBe(true)
      const mainThread = p.threads.find((t) => t.thread === 'main thread')
      expect(mainThread?.cpu).toBe(p.pin.cpus[0])
      expect(mainThread?.seen).toEqual([p.pin.cpus[0]])
      expect(mainThread?.checks).toBe(2) // when pinned, and after the single suite
      expect(r.stdout).toMatch(new RegExp(`main thread +pinned to CPU ${p.pin.cpus[0]}; numa.currentCpu\\(\\) said ${p.pin.cpus[0]} in 2 checks`))
    } finally {
      fs.rmSync(out, { recursive: true, force: true })
    }
  })

  test('--pin in the workers suite: worker i on the i-th CPU, as currentCpu() inside it says', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-bench-'))
    const json = path.join(out, 'run.json')
    try {
      const r = bench([
        '--suites=workers',
        '--sizes=1000',
        '--strategies=striped',
        '--peers=map',
        '--threads=1,2',
        '--reads=95',
        '--dists=uniform',
        '--duration=20',
        '--mt-rounds=1',
        '--mt-warmup-ms=5',
        '--retry-starved=0',
        '--no-charts',
        '--pin',
        `--out=${out}`,
        `--json=${json}`,
      ])
      expect(r.status).toBe(0)
      const p = (
        JSON.parse(fs.readFileSync(json, 'utf8')) as {
          placement: { pin: { cpus: number[] }; threads: { thread: string; cpu: number; seen: number[]; checks: number }[] }
        }
      ).placement
      for (const id of [0, 1]) {
        const w = p.threads.find((t) => t.thread === `worker ${id}`)
        const cpu = p.pin.cpus[id % p.pin.cpus.length]
        expect(w?.cpu).toBe(cpu)
        expect(w?.seen).toEqual([cpu])
        // At start, then after each run it took part in: Map and striped x1 and x2 for
        // worker 0, striped x2 for worker 1.
        expect(w?.checks).toBe(id === 0 ? 4 : 2)
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true })
    }
  })
})
