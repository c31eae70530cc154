// Deterministic workloads: the same seed gives the same keys and orders in
// every thread, so workers rebuild them instead of receiving 1M strings.

// A 32-bit generator (splitmix-style increments, then an avalanche mix).
export function rng(seed) {
  let state = seed >>> 0
  return function next() {
    state = (state + 0x9e3779b9) >>> 0
    return mix32(state)
  }
}

// A bijection on uint32 (xor-shifts and odd multipliers are invertible), so
// distinct inputs give distinct outputs: keys made from it are unique.
export function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d)
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b)
  return (x ^ (x >>> 16)) >>> 0
}

// n unique keys such as "user:3f2a9c01", as flat (sequential) one-byte
// strings sliced from one buffer: no cons strings, so neither Map nor
// ThreadMap pays for flattening inside the timed loop. With type 'number':
// n unique integers below 2^32 (the same generator's values), stored as
// doubles, which is what number-keyed maps see.
export function makeKeys(n, seed, type = 'string') {
  if (type === 'number') {
    const keys = new Array(n)
    for (let i = 0; i < n; i++) keys[i] = mix32((i ^ Math.imul(seed, 0x5bd1e995)) >>> 0)
    return keys
  }
  if (type !== 'string') throw new Error(`unknown key type ${type}`)
  const prefix = 'user:'
  const width = prefix.length + 8
  const buf = Buffer.alloc(n * width)
  for (let i = 0; i < n; i++) {
    const hex = mix32((i ^ Math.imul(seed, 0x5bd1e995)) >>> 0)
      .toString(16)
      .padStart(8, '0')
    buf.write(prefix + hex, i * width, 'latin1')
  }
  const keys = new Array(n)
  for (let i = 0; i < n; i++) keys[i] = buf.toString('latin1', i * width, (i + 1) * width)
  return keys
}

// A random permutation of 0..n-1 (Fisher-Yates).
export function permutation(n, seed) {
  const next = rng(seed)
  const p = new Uint32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1)
    const t = p[i]
    p[i] = p[j]
    p[j] = t
  }
  return p
}

// The keys in a random order, with the value stored under each one (its
// index in insertion order), for lookups that hit every key equally. The
// probe strings are a second, separately allocated copy of the keys (equal
// content, other objects), as keys parsed from input would be: no
// implementation gets to match a lookup by pointer identity.
export function probeOrder(n, seed, orderSeed, type = 'string') {
  const copy = makeKeys(n, seed, type)
  const p = permutation(n, orderSeed)
  const probe = new Array(n)
  const values = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    probe[i] = copy[p[i]]
    values[i] = p[i]
  }
  return { probe, values }
}

// A pattern of operations: 1 = set, 0 = get, `percent` of them sets, spread
// at random; its length is a power of two so it can be indexed with a mask.
export function opPattern(percent, seed, length = 4096) {
  const pattern = new Uint8Array(length)
  const sets = Math.round((length * percent) / 100)
  const p = permutation(length, seed)
  for (let i = 0; i < sets; i++) pattern[p[i]] = 1
  return pattern
}

// Zipf(theta) popularity over n keys, rank 0 the hottest: the method of Gray
// et al. (SIGMOD 1994) that YCSB uses. Ranks are mapped to keys through a
// seeded permutation, so the hot keys are scattered over the key set.
export function zipfSampler(n, theta, seed) {
  let zetan = 0
  for (let i = 1; i <= n; i++) zetan += 1 / i ** theta
  const zeta2 = 1 + 1 / 2 ** theta
  const alpha = 1 / (1 - theta)
  const eta = (1 - (2 / n) ** (1 - theta)) / (1 - zeta2 / zetan)
  const halfPow = 1 + 0.5 ** theta
  const next = rng(seed)
  const perm = permutation(n, seed ^ 0x2545f491)
  return () => {
    const u = next() / 2 ** 32
    const uz = u * zetan
    let rank
    if (uz < 1) rank = 0
    else if (uz < halfPow) rank = 1
    else rank = Math.min(n - 1, Math.floor(n * (eta * u - eta + 1) ** alpha))
    return perm[rank]
  }
}

// Like probeOrder, with the keys drawn from a distribution instead of a
// permutation: 'uniform' (each key once per pass, random order) or 'zipf'
// (Zipf 0.99, `length` draws; hot keys repeat). values[i] is the value stored
// under probe[i] (its index in insertion order).
export function probeSequence(n, dist, seed, orderSeed, length = n, type = 'string') {
  if (dist === 'uniform') return probeOrder(n, seed, orderSeed, type)
  if (dist !== 'zipf') throw new Error(`unknown distribution ${dist}`)
  const copy = makeKeys(n, seed, type)
  const draw = zipfSampler(n, 0.99, orderSeed)
  const probe = new Array(length)
  const values = new Float64Array(length)
  for (let i = 0; i < length; i++) {
    const k = draw()
    probe[i] = copy[k]
    values[i] = k
  }
  return { probe, values }
}
