// "Objects out" (native/addon/io_protocol.hpp): a get of an object msgpackr
// wrote leaves its bytes in the thread's one object buffer, which the next
// get overwrites, so nothing a get returns may point into it; v8.serialize's
// bytes (typed arrays, Buffers) still arrive in a Uint8Array of their own.
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import * as v8 from 'node:v8'

import { describe, expect, test } from 'vitest'

import { ThreadMap } from '../../lib/index'
import { addon, io, IO_LAYOUT, type Wire } from '../../lib/native'

const OBJECT_TYPES = ['any', 'structured'] as const
const clone = (x: unknown): unknown => v8.deserialize(v8.serialize(x))

// ioGetObjectK through a second native object over the map, with a marker of the
// test's own: what the protocol answers, and the bytes it left.
function ioGetOut(map: ThreadMap<string, unknown>, key: string): { answer: unknown; bytes: Uint8Array } {
  const ref = addon.info(addon.attach(map.id)).ref
  const mark = Symbol('out')
  io[IO_LAYOUT.ref] = ref
  const answer: unknown = addon.ioGetObjectK(key, undefined, mark)
  const n = io[IO_LAYOUT.value] as number
  const bytes = answer === mark ? new Uint8Array(addon.objectOut(), 0, n).slice() : (answer as Uint8Array)
  return { answer: answer === mark ? 'out' : answer, bytes }
}

function stored(map: ThreadMap<string, unknown>, key: string): Uint8Array {
  const wire: Wire = addon.get(addon.info(addon.attach(map.id)).ref, key)
  return wire as Uint8Array
}

describe.each(OBJECT_TYPES)("objects out, values '%s'", (values) => {
  test('plain data comes through the object buffer, byte for byte; v8 bytes, big ones and primitives do not', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    map.set('plain', { a: 1, s: 'x'.repeat(100), list: [1, 'two', null], when: new Date(5) })
    map.set('typed', { bytes: new Uint8Array([1, 2, 3]) })
    map.set('big', { s: 'y'.repeat(70_000) })
    const plain = ioGetOut(map, 'plain')
    expect(plain.answer).toBe('out')
    expect(plain.bytes).toEqual(stored(map, 'plain'))
    expect(ioGetOut(map, 'typed').answer).toBeInstanceOf(Uint8Array)
    expect(ioGetOut(map, 'big').answer).toBeInstanceOf(Uint8Array)
    if (values === 'any') {
      map.set('n', 7)
      expect(ioGetOut(map, 'n').answer).toBe(7)
    }
    map.close()
  })

  test('values from consecutive gets never share memory with each other or the buffer', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    const a = { name: 'a', n: [1, 2, 3], deep: { s: 'é€😀', b: 10n } }
    const b = { name: 'b', n: [4], deep: { s: 'other', b: -1n } }
    const ta = { u8: new Uint8Array([1, 2, 3, 4]), f64: new Float64Array([1.5, 2.5]), buf: Buffer.from('abc') }
    const tb = { u8: new Uint8Array([9, 9, 9, 9]), f64: new Float64Array([7, 8]), buf: Buffer.from('xyz') }
    map.set('a', a).set('b', b).set('ta', ta).set('tb', tb)
    const gotA = map.get('a')
    const gotB = map.get('b')
    expect(gotA).toEqual(a)
    expect(gotB).toEqual(b)
    const gotTa = map.get('ta') as typeof ta
    const gotTb = map.get('tb') as typeof tb
    map.get('a')
    expect(gotTa).toEqual(clone(ta))
    expect(gotTb).toEqual(clone(tb))
    // Node's pool may hold both (v8.deserialize copies unaligned arrays into
    // it), so: never the same bytes.
    const overlap = (x: ArrayBufferView, y: ArrayBufferView): boolean =>
      x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength
    for (const k of ['u8', 'f64', 'buf'] as const) expect(overlap(gotTa[k], gotTb[k])).toBe(false)
    gotTa.u8[0] = 100
    expect((map.get('ta') as typeof ta).u8[0]).toBe(1)
    expect(gotTb.u8[0]).toBe(9)
    map.close()
  })

  test('objects of every size around the buffer size decode exactly', () => {
    const map = new ThreadMap<string, unknown>(null, { keys: 'string', values })
    for (const len of [0, 1, 65_000, 65_520, 65_530, 65_536, 65_600, 200_000]) {
      const v = { s: 'z'.repeat(len), len }
      map.set(`k${len}`, v)
      expect(map.get(`k${len}`)).toEqual(v)
    }
    expect(map.get('missing')).toBeUndefined()
    map.close()
  })
})

// The buffer detached (V8's %ArrayBufferDetach ignores markAsUntransferable
// on Node 20 and 22): the addon must never write to it again, and gets keep
// returning the stored objects (as Uint8Arrays under the hood). From Node 24
// markAsUntransferable sets a detach key, so the detach throws and the
// buffer stays attached: each line is held to what it does. In a child
// process, the compiled package, so that a crash fails with its signal.
test('a detached object buffer is never written, and get still returns the stored objects', () => {
  const script = String.raw`
    const { ThreadMap } = require(process.env.TM_DIST + '/index.js')
    const { addon } = require(process.env.TM_DIST + '/native.js')
    const out = []
    for (const values of ['any', 'structured']) {
      const map = new ThreadMap(null, { keys: 'string', values })
      map.set('a', { n: 1, s: 'first' }).set('b', { n: 2, s: 'second' })
      out.push(map.get('a').s)
      const buf = addon.objectOut()
      if (process.env.TM_DETACH === '1') {
        try { %ArrayBufferDetach(buf) } catch (e) { if (!String(e).includes('ArrayBufferDetachKey')) throw e }
      }
      out.push(buf.byteLength, map.get('b').s, map.get('a').s)
      map.close()
    }
    process.stdout.write(JSON.stringify(out))
  `
  for (const detach of ['0', '1']) {
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], {
      env: { ...process.env, TM_DIST: path.join(__dirname, '..', '..', 'dist'), TM_DETACH: detach },
      encoding: 'utf8',
    })
    expect(r.signal).toBeNull()
    expect(r.stderr).toBe('')
    const detachable = Number(process.versions.node.split('.')[0]) < 24
    const size = detach === '1' && detachable ? 0 : 65536
    expect(JSON.parse(r.stdout)).toEqual(['first', size, 'second', 'first', 'first', size, 'second', 'first'])
  }
})
