// The value transforms that belong in JavaScript: JSON text and v8.serialize.
// Primitive keys and values are encoded natively (native/addon/codec.cpp);
// these only turn the values native code cannot read into bytes or text.

import * as v8 from 'node:v8'

import type { ValueTypeName, Wire } from './native'

export interface ValueCodec {
  encode(value: unknown): Wire
  decode(wire: Wire): unknown
  /** Whether `undefined` is a storable value (and so not the same as "absent"). */
  readonly storesUndefined: boolean
}

function serialize(value: unknown): Uint8Array {
  try {
    return v8.serialize(value)
  } catch (err) {
    // v8 throws a DataCloneError (a plain Error) for functions, symbols and
    // the like; to the caller it is a value of the wrong type.
    const why = err instanceof Error ? err.message : String(err)
    throw new TypeError(`threadmap: value cannot be stored (v8.serialize: ${why})`, { cause: err })
  }
}

const json: ValueCodec = {
  encode(value) {
    const text: unknown = JSON.stringify(value)
    if (typeof text !== 'string') {
      throw new TypeError(`threadmap: value must be JSON-serializable (this map's values are 'json'), got ${typeof value}`)
    }
    return text
  },
  decode(wire) {
    return JSON.parse(wire as string) as unknown
  },
  storesUndefined: false,
}

const structured: ValueCodec = {
  encode: serialize,
  decode(wire) {
    return v8.deserialize(wire as Uint8Array) as unknown
  },
  storesUndefined: true,
}

// `any`: primitives cross as themselves (tagged natively); anything else is
// v8-serialized here, and native code hands it back as a Uint8Array, which is
// therefore always a serialized object (a user's Uint8Array is serialized too).
const any: ValueCodec = {
  encode(value) {
    if ((typeof value === 'object' && value !== null) || typeof value === 'function') return serialize(value)
    return value as Wire
  },
  decode(wire) {
    return wire instanceof Uint8Array ? (v8.deserialize(wire) as unknown) : wire
  },
  storesUndefined: true,
}

/** The JS-side codec for a value type, or null when values cross as themselves. */
export function valueCodec(type: ValueTypeName): ValueCodec | null {
  switch (type) {
    case 'json':
      return json
    case 'structured':
      return structured
    case 'any':
      return any
    default:
      return null
  }
}
