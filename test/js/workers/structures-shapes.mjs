// The objects of workers/structures.mjs: worker `w`'s i-th object has a shape
// no other worker makes (its field names carry w), with a nested object of a
// second new shape and, every third time, a third.
export function objectOf(w, i) {
  const shape = i % 4
  const o = { [`w${w}_id`]: i, [`w${w}_s${shape}`]: `v${w}.${i}`, list: [i, `x${w}`], [`w${w}_n`]: { [`w${w}_a${shape}`]: i * 2, b: null } }
  if (i % 3 === 0) o[`w${w}_t`] = { [`w${w}_deep`]: [{ [`w${w}_leaf${shape}`]: true }] }
  return o
}
