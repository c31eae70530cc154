#!/usr/bin/env node
// Checks one prebuild on the machine that made it, by reading its symbol
// tables with LLVM's tools (Debian's llvm-14 package reads ELF, Mach-O and
// PE alike):
//   - it exports the Node-API module entry points (napi_register_module_v1,
//     node_api_module_get_api_version_v1, the global: names of
//     cmake/addon-exports.map) and nothing else: ELF's dynamic symbol table,
//     Mach-O's export trie and PE's export table are each compared with
//     that set (cmake/zig-link makes the Mach-O and PE links honour it);
//   - every symbol it imports is a Node-API function or comes from the
//     platform's C runtime: glibc (versioned, none newer than GLIBC_FLOOR),
//     musl's libc.so, macOS's libSystem, or Windows' system DLLs;
//   - it links no other shared library (no libstdc++, libgcc_s, libnuma);
//   - a musl binary uses no initial-exec TLS (musl's dlopen refuses it);
//   - a darwin-arm64 binary carries a code signature whose page hashes match.
// Throws with every problem found; returns a one-line summary.
//
//   node scripts/check-prebuild.mjs <file> <target id>   (ids: scripts/prebuild.js)

import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const GLIBC_FLOOR = '2.28'

const NODE_API = /^_?(napi|node_api)_[a-z0-9_]+$/

/** The entry points every prebuild exports, and nothing else: the version script's global: list. */
export function entryPoints() {
  const file = fileURLToPath(new URL('../cmake/addon-exports.map', import.meta.url))
  const map = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '')
  const global = /global:([^}]*?)local:/.exec(map)
  if (!global) throw new Error(`${file} has no global: list`)
  return global[1]
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort()
}

// Compares a binary's exports (Mach-O's with their leading underscore) with
// the entry points; a problem names what is missing and what is extra.
function checkExports(exported, problems, prefix = '') {
  const want = entryPoints().map((n) => prefix + n)
  const missing = want.filter((n) => !exported.includes(n))
  const extra = exported.filter((n) => !want.includes(n))
  if (missing.length) problems.push(`does not export ${missing.join(', ')}`)
  if (extra.length) {
    const shown = extra.slice(0, 8).join(', ') + (extra.length > 8 ? ', ...' : '')
    problems.push(`exports ${extra.length} symbols besides the entry points: ${shown}`)
  }
  return `exports the ${want.length} Node-API entry points only`
}
const ELF_GLIBC_LIBS = /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-(x86-64|aarch64)\.so\.[12])$/
const ELF_MUSL_LIBS = /^libc\.so$/
const MACHO_LIBS = /^\/usr\/lib\/libSystem\.B\.dylib$/
// Windows' own DLLs: the kernel, the C runtimes (msvcrt and the UCRT api sets).
const PE_SYSTEM_DLLS = /^(kernel32|ntdll|msvcrt|advapi32|bcrypt|api-ms-win-[a-z0-9-]+)\.dll$/i

function llvm(name) {
  for (const candidate of [name, `${name}-14`, `${name}-15`, `${name}-16`, `${name}-17`, `${name}-18`, `${name}-19`]) {
    const r = spawnSync(candidate, ['--version'], { encoding: 'utf8' })
    if (r.status === 0) return candidate
  }
  throw new Error(`${name} not found: install Debian's llvm-14 (apt-get install llvm-14)`)
}

function out(tool, args) {
  const r = spawnSync(llvm(tool), args, { encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

const versionCmp = (a, b) => {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0)
  }
  return 0
}

function checkElf(file, libc, problems) {
  const exported = out('llvm-nm', ['-D', '--defined-only', '--extern-only', file])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.trim().split(/\s+/).pop())
  const exportSummary = checkExports(exported, problems)
  const dynamic = out('llvm-readelf', ['-d', file])
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1])
  // Initial-exec TLS in a dlopen()ed library: glibc serves it from its static
  // TLS surplus; musl refuses to load it ("initial-exec TLS resolves to
  // dynamic definition"), so node on Alpine could not require the addon.
  if (libc === 'musl' && /\(FLAGS\).*\bSTATIC_TLS\b/.test(dynamic)) {
    problems.push('uses initial-exec TLS (DF_STATIC_TLS), which musl cannot dlopen')
  }
  const allowedLibs = libc === 'glibc' ? ELF_GLIBC_LIBS : ELF_MUSL_LIBS
  for (const lib of needed) if (!allowedLibs.test(lib)) problems.push(`links ${lib}`)
  let newest = '0'
  let imports = 0
  for (const line of out('llvm-nm', ['-D', '--undefined-only', file]).split('\n').filter(Boolean)) {
    const [kind, sym] = line.trim().split(/\s+/)
    const [name, version] = sym.split('@')
    if (NODE_API.test(name)) continue
    imports++
    if (libc === 'glibc') {
      const m = /^GLIBC_([0-9.]+)$/.exec(version ?? '')
      if (m) {
        if (versionCmp(m[1], newest) > 0) newest = m[1]
        if (versionCmp(m[1], GLIBC_FLOOR) > 0) problems.push(`${sym} is newer than glibc ${GLIBC_FLOOR}`)
      } else if (kind !== 'w' && kind !== 'v') {
        problems.push(`imports ${sym}, neither Node-API nor a versioned glibc symbol`)
      }
    } else if (version) {
      problems.push(`imports versioned ${sym}: musl has no symbol versions`)
    }
  }
  const floor = libc === 'glibc' ? `, newest glibc symbol GLIBC_${newest} (floor ${GLIBC_FLOOR})` : ''
  return `ELF, ${exportSummary}, links ${needed.join(' ')}; ${imports} libc imports${floor}`
}

// macOS on arm64 loads no code without a valid signature; ld64.lld signs
// its arm64 output ad hoc. Checks that signature's code directory: one
// SHA-256 per page of everything before the signature, each matching.
// Returns what was checked, or null when the binary carries no signature.
function checkCodeSignature(file, problems) {
  const bytes = fs.readFileSync(file)
  const ncmds = bytes.readUInt32LE(16)
  let at = 32
  let signature = null
  for (let i = 0; i < ncmds; i++) {
    const cmd = bytes.readUInt32LE(at)
    if (cmd === 0x1d /* LC_CODE_SIGNATURE */) signature = [bytes.readUInt32LE(at + 8), bytes.readUInt32LE(at + 12)]
    at += bytes.readUInt32LE(at + 4)
  }
  if (!signature) return null
  const [offset, size] = signature
  const blob = bytes.subarray(offset, offset + size)
  if (blob.readUInt32BE(0) !== 0xfade0cc0) {
    problems.push('its code signature is not a SuperBlob')
    return null
  }
  for (let i = 0; i < blob.readUInt32BE(8); i++) {
    const at = blob.readUInt32BE(12 + 8 * i + 4)
    if (blob.readUInt32BE(at) !== 0xfade0c02 /* CodeDirectory */) continue
    const hashOffset = blob.readUInt32BE(at + 16)
    const codeSlots = blob.readUInt32BE(at + 28)
    const codeLimit = blob.readUInt32BE(at + 32)
    const [hashSize, hashType, , pageShift] = blob.subarray(at + 36, at + 40)
    if (hashType !== 2 /* SHA-256 */) {
      problems.push(`its code directory uses hash type ${hashType}`)
      return null
    }
    if (codeLimit !== offset) problems.push(`its signature covers ${codeLimit} bytes, not the ${offset} before it`)
    let bad = 0
    for (let slot = 0; slot < codeSlots; slot++) {
      const page = bytes.subarray(slot << pageShift, Math.min((slot + 1) << pageShift, codeLimit))
      const want = blob.subarray(at + hashOffset + slot * hashSize, at + hashOffset + (slot + 1) * hashSize)
      if (!crypto.createHash('sha256').update(page).digest().subarray(0, hashSize).equals(want)) bad++
    }
    if (bad) problems.push(`${bad} of its ${codeSlots} signed pages do not match their hashes`)
    return `signed ad hoc (${codeSlots} pages, each hash matching)`
  }
  problems.push('its code signature has no code directory')
  return null
}

// What dyld can bind to is the export trie, not the symbol table.
function checkMachO(file, arch, problems) {
  const trie = out('llvm-objdump', ['--macho', '--exports-trie', file])
  const exported = [...trie.matchAll(/^0x[0-9A-Fa-f]+\s+(\S+)/gm)].map((m) => m[1])
  const exportSummary = checkExports(exported, problems, '_')
  const id = out('llvm-objdump', ['--macho', '--dylib-id', file]).split('\n')[1]?.trim()
  const dylibs = out('llvm-objdump', ['--macho', '--dylibs-used', file])
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(' (')[0])
    .filter((l) => l && l !== id)
  for (const lib of dylibs) if (!MACHO_LIBS.test(lib)) problems.push(`links ${lib}`)
  let imports = 0
  for (const line of out('llvm-nm', ['-m', '--undefined-only', file]).split('\n').filter(Boolean)) {
    const m = /external (\S+)(?: \((from [^)]+|dynamically looked up)\))?/.exec(line)
    if (!m) continue
    if (NODE_API.test(m[1])) continue
    imports++
    if (m[2] !== 'from libSystem') problems.push(`imports ${m[1]} ${m[2] ?? 'from nowhere'}, not from libSystem`)
  }
  const minos = /minos (\S+)/.exec(out('llvm-objdump', ['--macho', '--private-headers', file]))
  const signed = checkCodeSignature(file, problems)
  if (arch === 'arm64' && !signed) problems.push('carries no code signature, which macOS on arm64 requires')
  return `Mach-O, ${exportSummary}, links ${dylibs.join(' ')}; ${imports} libSystem imports; macOS >= ${minos ? minos[1] : '?'}${signed ? `; ${signed}` : ''}`
}

function checkPe(file, problems) {
  const exported = [...out('llvm-readobj', ['--coff-exports', file]).matchAll(/Name: (\S+)/g)].map((m) => m[1])
  const exportSummary = checkExports(exported, problems)
  const text = out('llvm-readobj', ['--coff-imports', file])
  const dlls = []
  let imports = 0
  for (const block of text.split(/Import \{/).slice(1)) {
    const dll = /Name: (\S+)/.exec(block)[1]
    const syms = [...block.matchAll(/Symbol: (\S+)/g)].map((m) => m[1])
    dlls.push(dll)
    if (/^node\.exe$/i.test(dll)) {
      for (const s of syms) if (!NODE_API.test(s)) problems.push(`imports ${s} from node.exe`)
    } else if (PE_SYSTEM_DLLS.test(dll)) {
      imports += syms.length
    } else {
      problems.push(`imports from ${dll}`)
    }
  }
  return `PE, ${exportSummary}, imports from ${dlls.join(' ')} (${imports} system symbols)`
}

export function checkPrebuild(file, id) {
  const problems = []
  let summary
  if (id.startsWith('linux-')) summary = checkElf(file, id.endsWith('-musl') ? 'musl' : 'glibc', problems)
  else if (id.startsWith('darwin-')) summary = checkMachO(file, id.slice('darwin-'.length), problems)
  else if (id.startsWith('win32-')) summary = checkPe(file, problems)
  else throw new Error(`no check for target ${id}`)
  if (problems.length) throw new Error(`${path.basename(path.dirname(file))}/${path.basename(file)} (${id}):\n  - ${problems.join('\n  - ')}`)
  return summary
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, id] = process.argv.slice(2)
  if (!file || !id) {
    console.error('usage: check-prebuild.mjs <file> <target id>')
    process.exit(2)
  }
  try {
    console.log(checkPrebuild(file, id))
  } catch (err) {
    console.error(`check-prebuild: ${err.message}`)
    process.exit(1)
  }
}
