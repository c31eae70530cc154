// What the figures were measured on, for the report header and the JSON.

import fs from 'node:fs'
import os from 'node:os'

function cpuModel() {
  const fromOs = os.cpus()[0]?.model
  if (fromOs && fromOs !== 'unknown') return fromOs.replace(/\s+/g, ' ').trim()
  try {
    const m = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) return m[1].trim()
  } catch {
    // not Linux
  }
  return 'unknown CPU'
}

function virtualization() {
  try {
    const flags = /flags\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    if (flags && /\bhypervisor\b/.test(flags[1])) return 'virtual machine'
  } catch {
    // not Linux
  }
  return null
}

export function describeMachine() {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  return {
    cpu: cpuModel(),
    cores,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    virtualization: virtualization(),
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
  }
}
