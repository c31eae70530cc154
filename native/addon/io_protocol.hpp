// io_protocol.hpp — the io buffer: the one definition of its layout, of what
// travels through it, and of the rules that keep it safe. Every other comment
// about the io path points here; lib/native.ts mirrors the layout (IO_LAYOUT),
// and test/js/io-protocol.test.ts fails when the mirror and the addon's
// `ioLayout` export (made from the constants below) disagree.
//
// Why: reading a number argument through Node-API, or creating a number
// result, is a large part of a short call (bench/js/boundary.mjs, the floor
// rows). So each thread has a buffer of `slots` doubles shared by its JS and
// native code (the lmdb-js technique), and get, has, set, delete and add pass
// numbers through it:
//
//   slot        written by   holds
//   ref_slot    JS           the map's reference (env_state.hpp, map_slot);
//                            native code reads it once per call and leaves
//                            no_ref
//   key_slot    JS           a number key, when the key is a number and the
//                            map's keys are a type number_keys() admits
//   value_slot  JS / native  on a map whose values number_values() admits:
//                            the value set stores (ioSet without a value
//                            argument), and the value get found (ioGet then
//                            returns undefined, or `missing` when absent)
//   revision_slot JS / native the read cache's get (ioGetCached): JS writes
//                            the revision of the copy it holds (0: none);
//                            native writes the entry's revision when it
//                            answers with the value (Read cache, below)
//   version_index_slot, version_low_slot, version_high_slot
//               native       the read cache's get: where its read lies
//                            (Write versions, below)
//   value_offset_slot JS     ioSetWritten: where the value's bytes begin in
//                            its ArrayBuffer argument; value_slot holds how
//                            many there are (Objects in, below)
//
// The io functions come in two forms: ioGet, ioHas, ioSet, ioDelete, ioAdd
// read the key from key_slot; ioGetK ... take it as their first argument
// (strings, bigints and the like: a JS copy loop costs what V8's own string
// read does). Their other arguments are the operation's. No user code runs
// between JS writing the slots and the call that reads them, and nothing in
// the buffer outlives a call.
//
// JS can detach the buffer: markAsUntransferable makes postMessage and
// structuredClone copy it, but before Node 24 made the mark a detach key not
// every API honoured it (Node 22's ArrayBuffer.prototype.transfer() does not,
// nor does V8's %ArrayBufferDetach on 20 and 22), and a write through a
// detached view is dropped without an error. Three rules keep the io path
// safe whatever detaches it:
// - The memory is the addon's (an external ArrayBuffer over a block of our
//   own, module.cpp make_io), so a detach never frees what native code reads.
//   Where external buffers are forbidden (napi_no_external_buffers_allowed),
//   the memory is the ArrayBuffer's and leaves with a detach, so every io
//   call first asks whether it is still attached (io_kind::js).
// - Each io call reads ref_slot once and leaves no_ref: a reference JS failed
//   to write then names no map, and the call throws, never acting on the map
//   of the call before. It is the first thing an io call reads, so a dropped
//   key or value is never used either.
// - Once a call finds the buffer detached, the environment remembers it
//   (io_kind::detached) and no io call reads the memory again: the buffer
//   the detach made still reaches it, and its holder's writes must not drive
//   our calls. Before that first failing call, what such a holder writes is
//   taken for JS's only if it is a live reference, which a stray write is
//   not (see map_slot).
// A detached io buffer stays detached: every later io call in that thread
// throws "the io buffer was detached" and changes nothing (the calls that
// take their arguments as arguments, size, clear, the batches, iteration,
// keep working).
//
// Objects out. A get of an object under 'any' or 'structured' would make a new
// ArrayBuffer for its bytes, which costs as much as the rest of the get. So
// each thread also has an object buffer (objectOut(), object_out_bytes long,
// never replaced), and maps with a value codec get through
// ioGetObject/ioGetObjectK, which take a second marker after `missing`: when
// the entry is an object msgpackr wrote (its first byte is not v8's version
// tag), fits, and the buffer is attached, the bytes are copied to the buffer's
// start, their length goes to value_slot, and the call returns the marker. JS
// decodes them before anything else can run (no user code runs during a
// msgpackr decode of a record tree) and keeps nothing that points into them.
// v8.serialize's bytes never travel this way: v8.deserialize gives typed arrays
// that are views of its input. The memory is the ArrayBuffer's, not the
// addon's, and each call asks whether it is still attached before writing: a
// detached buffer is never written, and the get then returns a fresh Uint8Array
// as without the marker. One size, never grown, because every copy of the
// TypeScript layer in a thread holds a view of the same buffer, and a replaced
// buffer would leave the other views reading stale bytes.
//
// Objects in. A set of an object under 'any' or 'structured' would hand the
// addon a new Uint8Array of the record writer's bytes (lib/records.ts), made
// only to be read once. So set passes the writer's ArrayBuffer itself, which
// the writer keeps (a chunk, replaced when full, never detached by us), and
// where the bytes lie in value_offset_slot and value_slot:
// ioSetWritten(buffer) and ioSetWrittenK(key, buffer) store
// buffer[offset, offset + length) as a Uint8Array of those bytes would be
// stored. Nothing is registered with the addon, so a chunk replaced, a
// second copy of the TypeScript layer in the thread, or a worker need
// nothing of it; the buffer is an argument, so it stays alive for the call.
// The call checks that the range is whole numbers inside the buffer (a
// detached one has length 0) and that the map's values are 'any' or
// 'structured'; the bytes are copied before anything else runs. The
// TypeScript layer writes the slots right before the call, after the encode,
// so a value a getter stored during the encode (which the writer does not
// take: it goes through v8.serialize) never moves them.
//
// Read cache. Maps with readCache get through ioGetCached/ioGetCachedK,
// which take `missing`, the objects-out marker and an `unchanged` marker:
// when the entry's revision equals revision_slot, the call copies nothing and
// returns `unchanged` (JS then returns its cached value); otherwise it answers
// as ioGetObject does and leaves the entry's revision in revision_slot.
// Revisions travel as doubles: exact up to 2^53.
//
// Write versions (read-cache hits without a call). On maps that keep write
// versions (threadmap/detail/striped.hpp, "Write versions": striped, mutex
// and rwlock maps with readCache that neither evict nor expire), each
// ThreadMap asks once for readVersions(ref), an ArrayBuffer over the words
// (undefined: no words, a big-endian host, or no external buffers), and
// views it as an Int32Array. Every ioGetCached answer also leaves in
// version_index_slot the Int32 index of the low half of the key's word, and
// in version_low_slot and version_high_slot the halves (as signed 32-bit
// numbers, what Atomics.load gives) of the even version that word held
// around the read; when the read has no such version (no words, or a write
// of the stripe ran meanwhile) index 0 and the halves of a version no word
// reaches (low 1, high -1: 2^64 - 2^32 + 1, after that many writes to one
// stripe; no_version_low and no_version_high), which match nothing.
// lib/read-cache.ts keeps the three with the value it decodes from that
// read, and a later get whose two loads give the same halves returns it
// with no call at all. Nothing native reads these slots, so a stray write
// to them can only cost a hit its correctness for the writer's own thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

#include "codec.hpp"

namespace threadmap::addon::io {

inline constexpr std::size_t ref_slot = 0;
inline constexpr std::size_t key_slot = 1;
inline constexpr std::size_t value_slot = 2;
inline constexpr std::size_t revision_slot = 3;
inline constexpr std::size_t version_index_slot = 4;
inline constexpr std::size_t version_low_slot = 5;
inline constexpr std::size_t version_high_slot = 6;
inline constexpr std::size_t value_offset_slot = 7;
inline constexpr std::size_t slots = 8;
// What ref_slot holds between calls: no map has it.
inline constexpr double no_ref = -1;

// version_low_slot and version_high_slot after a read with no version.
inline constexpr std::int32_t no_version_low = 1;
inline constexpr std::int32_t no_version_high = -1;

// The slots by the names JavaScript gives them: the one list the addon's
// ioLayout export is made from (lib/native.ts, IO_LAYOUT, mirrors it).
struct slot_name {
  const char* name;
  std::size_t slot;
};
inline constexpr slot_name slot_names[] = {
    {"ref", ref_slot},
    {"key", key_slot},
    {"value", value_slot},
    {"revision", revision_slot},
    {"versionIndex", version_index_slot},
    {"versionLow", version_low_slot},
    {"versionHigh", version_high_slot},
    {"valueOffset", value_offset_slot},
};
static_assert(std::size(slot_names) == slots, "slot_names must name every slot");
// The object buffer's size; a longer object arrives as a Uint8Array.
inline constexpr std::size_t object_out_bytes = std::size_t{1} << 16;

// Which maps pass number keys (values) through the buffer: the one place this
// is decided. The TypeScript layer reads it from `ioLayout` (numberKeys,
// numberValues: the type names these admit).
constexpr bool number_keys(codec keys) noexcept {
  return keys == codec::number || keys == codec::any;
}
constexpr bool number_values(codec values) noexcept {
  return values == codec::number;
}

}  // namespace threadmap::addon::io

namespace threadmap::addon {

struct io_buffer {
  double ref = io::no_ref;
  double key = 0;
  double value = 0;
  double revision = 0;
  double version_index = 0;
  double version_low = 0;
  double version_high = 0;
  double value_offset = 0;
};
static_assert(offsetof(io_buffer, ref) == io::ref_slot * sizeof(double));
static_assert(offsetof(io_buffer, key) == io::key_slot * sizeof(double));
static_assert(offsetof(io_buffer, value) == io::value_slot * sizeof(double));
static_assert(offsetof(io_buffer, revision) == io::revision_slot * sizeof(double));
static_assert(offsetof(io_buffer, version_index) == io::version_index_slot * sizeof(double));
static_assert(offsetof(io_buffer, version_low) == io::version_low_slot * sizeof(double));
static_assert(offsetof(io_buffer, version_high) == io::version_high_slot * sizeof(double));
static_assert(offsetof(io_buffer, value_offset) == io::value_offset_slot * sizeof(double));
static_assert(sizeof(io_buffer) == io::slots * sizeof(double));

enum class io_kind : std::uint8_t {
  owned,     // the addon's memory, not known to be detached
  js,        // the ArrayBuffer's memory: check before every use
  detached,  // found detached: never read again
};

}  // namespace threadmap::addon
