// The value transforms that belong in JavaScript: JSON text and v8.serialize.
// Primitive keys and values are encoded natively (native/addon/codec.cpp);
// these only turn the values native code cannot read into bytes or text.

import * as v8 from 'node:v8'

import type { ValueTypeName, Wire } from './native'

export interface ValueCodec {
  /** `index`: the value's place in a batch, for error messages. */
  encode(value: unknown, index?: number): Wire
  decode(wire: Wire): unknown
  /** Whether `undefined` is a storable value (and so not the same as "absent"). */
  readonly storesUndefined: boolean
}

/** "value", or "value at index 7" for an element of a batch. */
function valueName(index: number | undefined): string {
  return index === undefined ? 'value' : `value at index ${index}`
}

function serialize(value: unknown, index?: number): Uint8Array {
  try {
    return v8.serialize(value)
  } catch (err) {
    // v8 throws a DataCloneError (a plain Error) for functions, symbols and
    // the like; to the caller it is a value of the wrong type.
    const why = err instanceof Error ? err.message : String(err)
    throw new TypeError(`threadmap: ${valueName(index)} cannot be stored (v8.serialize: ${why})`, { cause: err })
  }
}

const json: ValueCodec = {
  encode(value, index) {
    let text: unknown
    try {
      text = JSON.stringify(value)
    } catch (err) {
      // Circular structures and bigints: V8's TypeError, with the batch index.
      if (!(err instanceof TypeError) || index === undefined) throw err
      throw new TypeError(`threadmap: ${valueName(index)} must be JSON-serializable: ${err.message}`, { cause: err })
    }
    if (typeof text !== 'string') {
      throw new TypeError(
        `threadmap: ${valueName(index)} must be JSON-serializable (this map's values are 'json'), got ${typeof value}`,
      )
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
  encode(value, index) {
    if ((typeof value === 'object' && value !== null) || typeof value === 'function') return serialize(value, index)
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
