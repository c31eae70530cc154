// Worker w's i-th object for workers/terminate-objects.mjs, and the key it
// goes under (KEYS keys per worker, each written again every KEYS sets).
// Field lists shared by every worker (11) and two of each worker's own, so
// every round's workers append to the map's structure list at once until
// its 32 places are full (then they write msgpack maps); values from a few
// bytes (inline in a slot) to several KB (a blob). The value holds w and
// i, so a reader can tell which write it is and rebuild it.
export const KEYS = 48

export function objectKey(w, i) {
  return `o:${w}:${i % KEYS}`
}

export function objectValue(w, i) {
  const n = i % 13 === 0 ? 1500 + ((i * 7919) % 3000) : (i * 31) % 40
  const unit = i % 5 === 0 ? 'é' : i % 7 === 0 ? '😀' : 'a'
  const s = unit.repeat(n)
  switch (i % 8) {
    case 0:
      return { w, i }
    case 1:
      return { i, w, s }
    case 2:
      return { w, i, s, nested: { list: [w, i, `x${i}`], when: new Date(i), none: null } }
    case 3:
      return { w, i, [`own${w}`]: s }
    case 4:
      return { w, i, [`own${w}`]: i, [`more${w}`]: [s, { deep: { i } }] }
    case 5:
      return { w, i, big: BigInt(i) * 10n ** 20n, yes: true, nothing: undefined, s }
    case 6:
      return { [`k${i % 2}`]: s, w, i }
    default:
      return { w, i, neg: -i - 0.5, s }
  }
}
