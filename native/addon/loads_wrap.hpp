// loads_wrap.hpp — fetch's loads in flight (threadmap::load_table, loads.hpp)
// as module functions over a NativeMap, and the per-environment waker that
// delivers a claim's end to a fetch waiting in another thread:
//
//   loadClaim(map, key, timeoutMs, onEnd) -> [role, id, msLeft]
//     role 0: this thread owns the load; id is the claim's token, to settle.
//     role 1: it waits; id names the wait (loadCancel), msLeft is the
//             claim's time to its deadline.
//     onEnd(kind, payload) is called once, on this thread's event loop, when
//     the claim ends (a waiter), or when the map is closed (an owner);
//     kind is a load_outcome, payload the value (decoded by the map's value
//     codec) or the error's bytes (a Uint8Array).
//   loadSettle(map, token, kind, payload) -> boolean
//     The owner ends its claim: kind value (payload: the value, as set takes
//     it), none, error (payload: a Uint8Array), released or timed_out. False
//     when the claim had already ended (it timed out and was taken over, or
//     the map was closed).
//   loadCancel(waitId) -> boolean
//     A waiter whose own timeout passed withdraws; false when it was no
//     longer waiting.
//
// Waking another thread: each environment has one napi_threadsafe_function,
// made on its first wait, referenced (keeping the event loop alive) only
// while something in that environment waits, so a fetch keeps its process
// alive as pending I/O does and nothing does once every wait has ended.
// Other threads, and the cleanup hook of a dying one, post to it through a
// `waker` that outlives it: the threadsafe function's finalizer marks the
// waker dead under its mutex, so no thread calls a function Node has freed.
// (Atomics.waitAsync on shared memory was the other way: it needs a
// SharedArrayBuffer every thread holds, which Node-API cannot make, and a
// thread being torn down cannot run the JavaScript that would notify.)
//
// Abandonment: each environment's cleanup hook abandons the claims its
// thread owns (waiters then claim again, and one of them loads) and
// withdraws its waits, so `worker.terminate()` mid-load leaves no waiter
// behind.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include "threadmap/loads.hpp"

namespace threadmap::addon {

void export_loads(Napi::Env env, Napi::Object exports);

// stats().loads.
Napi::Object load_stats_object(Napi::Env env, const load_stats& s);

}  // namespace threadmap::addon
