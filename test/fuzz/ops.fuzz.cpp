// libFuzzer target: random operation sequences against every strategy,
// compared step by step with std::unordered_map (plus the counter model).
//
// Input: byte 0 picks the strategy; then 4 bytes per operation:
//   [opcode] [key selector] [value selector] [argument]
// Keys and values come from small pools mixing empty, short (inline) and long
// (out-of-line) byte strings, so inline <-> out-of-line transitions, growth,
// tombstones and clear are all reached quickly.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "../support/lincheck.hpp"
#include "threadmap/factory.hpp"
#include "threadmap/map.hpp"

using namespace threadmap;

namespace {

std::string pool_string(std::uint8_t sel) {
  switch (sel % 6) {
    case 0:
      return std::string();
    case 1:
      return std::string(1, char(sel));
    case 2:
      return "k" + std::to_string(sel);
    case 3:
      return std::string(8, char(sel));  // counter-sized
    case 4:
      return std::string(21 + sel % 4, char('a' + sel % 26));  // around the inline limit
    default:
      return std::string(100 + sel, char(sel));  // out of line
  }
}

[[noreturn]] void mismatch(const char* what) {
  std::fprintf(stderr, "mismatch with the model: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  options o;
  o.strategy = all_strategies[data[0] % std::size(all_strategies)];
  o.stripes = 1u << (data[0] >> 4 & 3);
  auto m = make_map(o);
  std::unordered_map<std::string, std::string> model;
  std::string out;
  for (std::size_t i = 1; i + 4 <= size; i += 4) {
    const std::uint8_t opcode = data[i], ks = data[i + 1], vs = data[i + 2], arg = data[i + 3];
    const std::string k = pool_string(ks), v = pool_string(vs);
    auto it = model.find(k);
    const bool present = it != model.end();
    lincheck::operation op;
    op.key = k;
    op.value = v;
    switch (opcode % 8) {
      case 0:
        op.kind = lincheck::op_kind::get;
        break;
      case 1:
        op.kind = lincheck::op_kind::put;
        break;
      case 2:
        op.kind = lincheck::op_kind::put_if_absent;
        break;
      case 3:
        op.kind = lincheck::op_kind::compare_and_set;
        if (arg & 1) op.expected = present && (arg & 2) ? it->second : pool_string(arg >> 2);
        if (arg & 4) op.value.reset();
        break;
      case 4:
        op.kind = lincheck::op_kind::erase;
        break;
      case 5:
        op.kind = lincheck::op_kind::add;
        op.delta = static_cast<std::int8_t>(arg);
        if (arg == 0x7F) op.delta = INT64_MAX;
        break;
      case 6:
        m->clear();
        model.clear();
        continue;
      default: {
        // Scan everything and compare with the model.
        std::unordered_map<std::string, std::string> seen;
        for (std::size_t u = 0; u < m->scan_units(); ++u) {
          std::string buf;
          m->scan(u, buf);
          scan_reader r(buf);
          scan_record rec;
          std::string last;
          while (r.next(rec)) {
            // An ordered map scans in key order (bytes, the default order).
            if (m->ordered() && !seen.empty() && !(last < rec.key)) mismatch("scan out of order");
            last = rec.key;
            if (!seen.emplace(std::string(rec.key), std::string(rec.value)).second)
              mismatch("scan saw a key twice");
          }
        }
        if (seen != model) mismatch("scan differs");
        continue;
      }
    }
    // The sequential model of lincheck is the reference for results.
    lincheck::execute(*m, op);
    lincheck::key_state s;
    if (present) s = it->second;
    if (!lincheck::apply(op, s)) mismatch("operation result");
    if (s)
      model[k] = *s;
    else
      model.erase(k);
    if (m->size() != model.size()) mismatch("size");
  }
  return 0;
}
