// The io buffer (native/addon/io_protocol.hpp) detached from under the io path.
// Before Node 24, markAsUntransferable does not stop every API from
// detaching it (Node 22's ArrayBuffer.prototype.transfer() ignores it, and
// V8's own %ArrayBufferDetach on 20 and 22), and JS writes to a detached view
// are dropped silently. Whatever detaches it, a map call afterwards must either do what
// it says or throw a clear Error and change nothing: never act on another
// map, never drop a write, never touch memory the detach freed.
//
// Each case runs in a child process (the compiled package, as users load it)
// so that a crash fails the test with its signal, and with --expose-gc so the
// transferred buffer can be collected before the next calls.
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { describe, expect, test } from 'vitest'

import { IO_LAYOUT } from '../../lib/native'

const dist = path.join(__dirname, '..', '..', 'dist')

// The scenario, run in the child's main thread or in a worker of it. `how`
// names the detaching API; the result says whether the buffer ended up
// detached, what each call gave, and what each map holds afterwards as the
// argument path (iteration) sees it.
const child = String.raw`
'use strict'
const { Worker, isMainThread, parentPort, workerData, MessageChannel } = require('node:worker_threads')
const { ThreadMap } = require(process.env.TM_DIST + '/index.js')
const { io } = require(process.env.TM_DIST + '/native.js')

function detach(how, buf) {
  switch (how) {
    case 'none': return null
    // From Node 24 markAsUntransferable sets a detach key: both throw.
    case 'natives':
      try { %ArrayBufferDetach(buf) } catch {}
      return null
    case 'transfer':
      try { return typeof buf.transfer === 'function' ? buf.transfer() : null } catch { return null }
    case 'structuredClone':
      try { return structuredClone(buf, { transfer: [buf] }) } catch { return null }
    case 'postMessage': {
      const { port1, port2 } = new MessageChannel()
      try { port1.postMessage(buf, [buf]) } catch {}
      port1.close(); port2.close()
      return null
    }
  }
  throw new Error('unknown detach ' + how)
}

function attempt(fn) {
  try { return { ok: fn() } } catch (e) { return { error: e instanceof Error ? e.message : String(e) } }
}

function gcAndChurn() {
  const junk = []
  for (let r = 0; r < 4; r++) {
    gc()
    // Small buffers filled with a pattern, to take over freed memory.
    for (let i = 0; i < 2000; i++) junk.push(new Float64Array(3).fill(r * 2000 + i))
  }
  return junk.length
}

function scenario(how) {
  const a = new ThreadMap(null, { keys: 'number', values: 'number' })
  const b = new ThreadMap(null, { keys: 'number', values: 'number' })
  const s = new ThreadMap(null, { keys: 'string', values: 'number' })
  const j = new ThreadMap(null, { keys: 'number', values: 'json' })
  a.set(1, 10)
  s.set('x', 1)
  j.set(1, 'one')
  let held = detach(how, io.buffer)
  const detached = io.buffer.byteLength === 0
  // The buffer the detach made (transfer(), structuredClone) may share the
  // io memory; its holder using it as scratch space (small integers, the
  // first slot numbers) must not steer the calls below.
  const scratch = held instanceof ArrayBuffer ? new Float64Array(held) : null
  const poke = (fn) => () => {
    if (scratch && scratch.length === 3) scratch.set([0, 1, 2])
    return fn()
  }
  const calls = {
    bSet: attempt(poke(() => (b.set(7, 2), true))),
    aGet: attempt(poke(() => a.get(1))),
    bGet: attempt(poke(() => b.get(7))),
    aHas7: attempt(poke(() => a.has(7))),
    sSet: attempt(poke(() => (s.set('y', 3), true))),
    sGet: attempt(poke(() => s.get('x'))),
    jSet: attempt(poke(() => (j.set(2, 'two'), true))),
    jGet: attempt(poke(() => j.get(1))),
    aAdd: attempt(poke(() => a.add(1, 5))),
    bDel: attempt(poke(() => b.delete(7))),
  }
  held = null
  gcAndChurn()
  // More calls once whatever the detach freed may have been reused.
  let later = 0
  for (let i = 0; i < 1000; i++) {
    try { b.set(100 + i, i); if (b.get(100 + i) === i) later++ } catch {}
  }
  gcAndChurn()
  const entries = (m) => [...m.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).slice(0, 5)
  const out = { detached, calls, later, a: entries(a), b: entries(b), bSize: b.size, s: entries(s), j: entries(j) }
  for (const m of [a, b, s, j]) m.close()
  return out
}

if (isMainThread) {
  const mode = process.env.TM_MODE
  const how = process.env.TM_DETACH
  if (mode === 'main') {
    process.stdout.write(JSON.stringify({ main: scenario(how) }))
  } else if (mode === 'worker') {
    // The worker detaches its own io buffer while this thread keeps using its own.
    const w = new Worker(__filename, { workerData: how })
    const results = {}
    w.on('message', (m) => { results.worker = m })
    w.on('exit', (code) => {
      results.code = code
      results.main = scenario('none')
      process.stdout.write(JSON.stringify(results))
    })
  } else if (mode === 'handoff') {
    // The worker hands its (transferred) io buffer to this thread and exits;
    // the buffer must stay valid memory here.
    const w = new Worker(__filename, { workerData: 'handoff' })
    let got = null
    w.on('message', (m) => { got = m })
    w.on('exit', (code) => {
      const out = { code, received: got instanceof ArrayBuffer ? got.byteLength : null }
      if (got instanceof ArrayBuffer && got.byteLength > 0) {
        const v = new Float64Array(got)
        v.set(v.map((_, i) => i + 1.5))
        gcAndChurn()
        // Workers come and go, so the exited one's memory is reused.
        let spawned = 0
        const next = () => {
          if (spawned++ < 4) {
            const x = new Worker('require(' + JSON.stringify(process.env.TM_DIST + '/index.js') + ')', { eval: true })
            x.on('exit', next)
            return
          }
          gcAndChurn()
          out.values = [...v]
          process.stdout.write(JSON.stringify(out))
        }
        next()
      } else process.stdout.write(JSON.stringify(out))
    })
  }
} else if (workerData === 'handoff') {
  let t = null
  try { t = io.buffer.transfer() } catch {}
  if (t) parentPort.postMessage(t, [t])
  else parentPort.postMessage(null)
} else {
  parentPort.postMessage(scenario(workerData))
}
`

let written: string | undefined
const scenarioFile = (): string => {
  if (written === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-io-detach-'))
    written = path.join(dir, 'scenario.cjs')
    fs.writeFileSync(written, child)
  }
  return written
}

interface Attempt {
  ok?: unknown
  error?: string
}
interface Scenario {
  detached: boolean
  calls: Record<string, Attempt>
  later: number
  a: unknown[]
  b: unknown[]
  bSize: number
  s: unknown[]
  j: unknown[]
}

function run(mode: string, how: string, extraEnv: Record<string, string> = {}): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--expose-gc', '--allow-natives-syntax', scenarioFile()], {
    env: { ...process.env, ...extraEnv, TM_DIST: dist, TM_MODE: mode, TM_DETACH: how },
    encoding: 'utf8',
    timeout: 60_000,
  })
  // A crash (a use-after-free that faults, an abort) fails here with its signal.
  expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' })
  return JSON.parse(r.stdout) as Record<string, unknown>
}

const DETACHED = /io buffer was detached/

// What a scenario must show: if the buffer stayed attached, every call did
// its work on its own map; if it was detached, every io call threw the
// detached Error and no map changed. Never a mix, never another map's data.
function expectConsistent(r: Scenario): void {
  if (!r.detached) {
    expect(r.calls).toEqual({
      bSet: { ok: true },
      aGet: { ok: 10 },
      bGet: { ok: 2 },
      aHas7: { ok: false },
      sSet: { ok: true },
      sGet: { ok: 1 },
      jSet: { ok: true },
      jGet: { ok: 'one' },
      aAdd: { ok: 15 },
      bDel: { ok: true },
    })
    expect(r.later).toBe(1000)
    expect(r.a).toEqual([[1, 15]])
    expect(r.bSize).toBe(1000)
    expect(r.s).toEqual([
      ['x', 1],
      ['y', 3],
    ])
    expect(r.j).toEqual([
      [1, 'one'],
      [2, 'two'],
    ])
    return
  }
  for (const [name, result] of Object.entries(r.calls)) {
    expect({ name, ok: result.ok, error: result.error ?? '' }).toEqual({
      name,
      ok: undefined,
      error: expect.stringMatching(DETACHED),
    })
  }
  expect(r.later).toBe(0)
  expect(r.a).toEqual([[1, 10]])
  expect(r.b).toEqual([])
  expect(r.bSize).toBe(0)
  expect(r.s).toEqual([['x', 1]])
  expect(r.j).toEqual([[1, 'one']])
}

// Which APIs detach the marked buffer, by Node major as measured (20.20.2,
// 22.23.5, 24.22.3, 26.12.1): structuredClone and postMessage copy it (20)
// or throw (22+); transfer() exists from 22 and ignores the mark there;
// from 24 the mark is a detach key that stops every API. The test says so
// where it is known, so that it cannot pass without reaching the path.
const major = Number(process.versions.node.split('.')[0])
const measured: Record<number, Record<string, boolean>> = {
  20: { natives: true, transfer: false, structuredClone: false, postMessage: false },
  22: { natives: true, transfer: true, structuredClone: false, postMessage: false },
  24: { natives: false, transfer: false, structuredClone: false, postMessage: false },
  26: { natives: false, transfer: false, structuredClone: false, postMessage: false },
}
const detaches: Record<string, boolean | undefined> = measured[major] ?? {
  natives: undefined,
  transfer: undefined,
  structuredClone: undefined,
  postMessage: undefined,
}

describe.each([
  ['external (the memory the addon owns)', {}],
  ['fallback (memory the ArrayBuffer owns)', { THREADMAP_TEST_IO_FALLBACK: '1' }],
])('the io buffer detached: %s', (_, env) => {
  test.each(Object.keys(detaches))('by %s: calls go to the right maps or throw and change nothing', (how) => {
    const r = run('main', how, env).main as Scenario
    if (detaches[how] !== undefined) expect(r.detached).toBe(detaches[how])
    expectConsistent(r)
  })

  test.each(['natives', 'transfer'])('by %s in a worker: the worker is consistent, the main thread unaffected', (how) => {
    const r = run('worker', how, env) as { code: number; worker: Scenario; main: Scenario }
    expect(r.code).toBe(0)
    if (detaches[how] !== undefined) expect(r.worker.detached).toBe(detaches[how])
    expectConsistent(r.worker)
    expect(r.main.detached).toBe(false)
    expectConsistent(r.main)
  })
})

test.runIf(detaches.transfer === true)('a worker io buffer transferred to the main thread stays valid after the worker exits', () => {
  const r = run('handoff', 'none') as { code: number; received: number | null; values?: number[] }
  expect(r.code).toBe(0)
  // The whole buffer crossed: every slot of the io layout, 8 bytes each.
  expect(r.received).toBe(IO_LAYOUT.slots * Float64Array.BYTES_PER_ELEMENT)
  expect(r.values).toEqual(Array.from({ length: IO_LAYOUT.slots }, (_, i) => i + 1.5))
})
