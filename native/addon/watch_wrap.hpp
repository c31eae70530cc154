// watch_wrap.hpp — map.watch() and map.snapshot() as module functions over a
// NativeMap (the protocols are threadmap/watch.hpp's and snapshot.hpp's):
//
//   watchOpen(map, mode, filter, fromRevision, bufferBytes, onReady)
//       -> [id, revision] | [-1, oldest]
//     mode 0 every key, 1 the keys of the array `filter`, 2 the keys that
//     start with `filter` (a string or Uint8Array; string and bytes maps).
//     [-1, oldest]: fromRevision is no longer in the log (compacted).
//     onReady() is called on this thread's event loop after a read that
//     found nothing, once events (or the map's close) arrive.
//   watchRead(id, max) -> [kind, key, value, revision, ...] (flat; value
//       undefined unless set) | number (compacted: the oldest revision
//       available) | null (the map was closed, or the watch)
//     An empty array arms onReady.
//   watchRef(id, ref): whether the open watch keeps the event loop alive
//       (default: it does not). For the whole time it is open, not only
//       while a read waits: a page of events is handed to JavaScript in
//       microtasks, and an event loop left with nothing referenced between
//       two pages would end the thread mid-iteration.
//   watchClose(id)
//   snapshotOpen(map, bufferBytes) -> id
//   snapshotGet(id, key, missing), snapshotHas(id, key), snapshotSize(id),
//   snapshotRevision(id), snapshotRefresh(id) -> boolean (false: the map is
//   closed), snapshotStats(id), snapshotClose(id)
//   snapshotChunk(id, mode, position, max) -> [next, generation, ...]
//       a page of entries from bucket `position`, flat as iterate's chunks;
//       next is -1 at the end.
//
// Each environment keeps its watches and snapshots in one table (ids, not
// pointers, cross into JavaScript); its cleanup hook closes all of them, so
// worker.terminate() releases the subscriptions and thus the map's log.
// Waking: one threadsafe function per watch, unreferenced unless watchRef
// asked; the writer's thread posts to it through a
// `notifier` whose flag the function's finalizer and watchClose clear under
// its mutex, so no thread calls a function Node has freed.
#pragma once

#include "common.hpp"  // first: it configures napi.h
#include "threadmap/registry.hpp"

namespace threadmap::addon {

void export_watch(Napi::Env env, Napi::Object exports);

/// map.stats().watch: the map's change log as change_log::stats() reads it
/// (all zeros for a map never watched). NativeMap::Stats calls it.
Napi::Object watch_stats_object(Napi::Env env, const shared_map& m);

}  // namespace threadmap::addon
