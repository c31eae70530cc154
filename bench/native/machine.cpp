// bench/native/machine.cpp — what the figures were measured on (CPU, kernel,
// compiler, load average, perf_event_paranoid), and the JSON helpers.

#include <sys/utsname.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>

#include "experiments.hpp"

namespace tmbench {

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

std::string json_num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string loadavg_now() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

machine_info describe_machine() {
  machine_info m;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      m.cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ifstream flags("/proc/cpuinfo");
  while (std::getline(flags, line)) {
    if (line.rfind("flags", 0) == 0) {
      if (line.find(" hypervisor") != std::string::npos) m.cpu += " (virtual machine)";
      break;
    }
  }
  utsname u;
  if (uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  m.compiler = "g++/clang " __VERSION__;
  m.hw_threads = std::thread::hardware_concurrency();
  std::ifstream p("/proc/sys/kernel/perf_event_paranoid");
  if (!(p >> m.paranoid)) m.paranoid = 99;
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) == 3) {
    m.load1 = l[0];
    m.load5 = l[1];
    m.load15 = l[2];
  }
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  m.date = buf;
  return m;
}

std::string machine_info::json() const {
  return "{\"cpu\":" + json_str(cpu) + ",\"kernel\":" + json_str(kernel) +
         ",\"compiler\":" + json_str(compiler) + ",\"hwThreads\":" + std::to_string(hw_threads) +
         ",\"perfEventParanoid\":" + std::to_string(paranoid) + ",\"date\":" + json_str(date) +
         ",\"loadavgAtStart\":[" + json_num(load1) + "," + json_num(load5) + "," +
         json_num(load15) + "]}";
}

}  // namespace tmbench
