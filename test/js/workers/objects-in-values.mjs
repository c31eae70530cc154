// Worker w's i-th object for workers/objects-in.mjs: a few fields around a
// string of 0 to about 4,000 characters (some of them not ASCII), so that
// consecutive values land at every offset of the writer's chunks.
export function sizedObject(w, i) {
  const n = (i * 7919 + w * 104729) % 4099
  const unit = i % 5 === 0 ? 'é' : i % 7 === 0 ? '😀' : 'a'
  return { w, i, s: unit.repeat(n >> (unit.length === 2 ? 1 : 0)), tail: [i, `w${w}`], nested: { n } }
}
