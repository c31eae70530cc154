// The shareable alternatives measured beside ThreadMap in the workers suite,
// each behind the same two-method face ({ get(key), set(key, value) } over
// string keys and number values) so the one mix kernel drives them all:
//
//   lmdb       lmdb-js (npm 'lmdb'): a memory-mapped B+tree every thread
//              opens; get is a synchronous read transaction, set a synchronous
//              write transaction (putSync; noSync, so no fsync per write: the
//              fairest setting for an in-memory comparison)
//   sharedmap  npm 'sharedmap': a fixed-size hash map on SharedArrayBuffers
//              with Atomics locks; stores values as strings (read back with +)
//   message    no shared map at all: one owner thread holds a V8 Map, and each
//              client sends it every operation over a MessagePort and waits
//              for the reply (Atomics.wait on a flag the owner raises), the
//              way a program without a shared map has to do it
//
// Loading is lazy and failure is reported, not fatal: a peer that cannot be
// loaded is skipped with its reason.

import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { receiveMessageOnPort } from 'node:worker_threads'

const require = createRequire(import.meta.url)

export const PEERS = ['lmdb', 'sharedmap', 'message']

/** Why a peer cannot run here (with these key types), or null. */
export function peerUnavailable(name, keyType = 'string') {
  if (name === 'sharedmap' && keyType !== 'string') return 'sharedmap takes string keys only'
  try {
    if (name === 'lmdb') require('lmdb')
    else if (name === 'sharedmap') require('sharedmap')
    else if (name !== 'message') return `unknown peer ${name}`
    return null
  } catch (err) {
    return `cannot load npm '${name}': ${err.message.split('\n')[0]}`
  }
}

export function peerVersion(name) {
  if (name === 'message') return `node ${process.version}`
  try {
    // Walk up from the entry point: lmdb's "exports" hides its package.json.
    let dir = path.dirname(require.resolve(name))
    for (;;) {
      const file = path.join(dir, 'package.json')
      if (fs.existsSync(file)) {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
        if (pkg.name === name) return pkg.version
      }
      const up = path.dirname(dir)
      if (up === dir) return 'unknown'
      dir = up
    }
  } catch {
    return 'unknown'
  }
}

// --- main thread: create and fill a shared instance, describe it to workers --

export function createPeer(name, keys) {
  const n = keys.length
  if (name === 'lmdb') {
    const { open } = require('lmdb')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadmap-bench-lmdb-'))
    const db = open({ path: dir, noSync: true, noMetaSync: true, mapSize: 2 ** 31 })
    db.transactionSync(() => {
      for (let i = 0; i < n; i++) db.put(keys[i], i)
    })
    return {
      handle: { path: dir },
      size: () => db.getCount(),
      close: () => {
        db.close()
        fs.rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  if (name === 'sharedmap') {
    const SharedMap = require('sharedmap')
    // Capacity with headroom (it degrades near full); 16 UTF-16 units per key
    // ("user:" + 8 hex = 13) and per value (the number as a string).
    const m = new SharedMap(Math.ceil(n / 0.8) + 16, 16, 16)
    for (let i = 0; i < n; i++) m.set(keys[i], i)
    return { handle: m, size: () => m.length, close: () => {} }
  }
  throw new Error(`createPeer: ${name} is created by the workers suite`)
}

// --- worker side: the two-method face over a handle --------------------------

const openDbs = new Map()

export function attachPeer(name, handle, ctx) {
  if (name === 'lmdb') {
    let db = openDbs.get(handle.path)
    if (!db) {
      const { open } = require('lmdb')
      db = open({ path: handle.path, noSync: true, noMetaSync: true, mapSize: 2 ** 31 })
      openDbs.set(handle.path, db)
    }
    return { get: (k) => db.get(k), set: (k, v) => db.putSync(k, v), size: db.getCount() }
  }
  if (name === 'sharedmap') {
    const SharedMap = require('sharedmap')
    Object.setPrototypeOf(handle, SharedMap.prototype)
    return { get: (k) => +handle.get(k), set: (k, v) => handle.set(k, v), size: handle.length }
  }
  if (name === 'message') {
    // handle: { port, flag: SharedArrayBuffer, size }
    const { port, flag } = handle
    const f = new Int32Array(flag)
    const call = (msg) => {
      Atomics.store(f, 0, 0)
      port.postMessage(msg)
      Atomics.wait(f, 0, 0)
      let r
      while (!(r = receiveMessageOnPort(port))); // the reply is queued before the flag is raised
      return r.message
    }
    ctx?.onClose?.(() => port.close())
    return { get: (k) => call([k]), set: (k, v) => call([k, v]), size: handle.size }
  }
  throw new Error(`unknown peer ${name}`)
}
