// numa_wrap.hpp — the `numa` functions of the addon (topology, currentCpu,
// currentNode, pinThread) and the two pieces NativeMap borrows: parsing the
// `numa` map option and turning per-stripe placement into stats.
//
// Bad input is checked here, once, before anything changes: a shape that is
// not one of the choices is a TypeError naming them; a node or CPU that does
// not exist is a RangeError naming the ones that do.
#pragma once

#include "common.hpp"  // first: it configures napi.h

#include <vector>

#include "threadmap/topology.hpp"

namespace threadmap::addon {

/// exports.numa = { topology, currentCpu, currentNode, pinThread }.
void export_numa(Napi::Env env, Napi::Object exports);

/// options.numa: undefined, 'local', 'interleave', 'none' or { node: n }.
numa::policy parse_numa_option(Napi::Env env, Napi::Value v);

/// stats().numa: the policy, and per table where it is (`tables` from
/// concurrent_map::placement(); empty for strategies that do not place).
Napi::Object numa_stats(Napi::Env env, const numa::policy& p, strategy_kind strategy,
                        const std::vector<numa::table_report>& tables);

}  // namespace threadmap::addon
