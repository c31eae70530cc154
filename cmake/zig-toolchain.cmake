# Cross-compiles the addon with Zig's clang (scripts/prebuild.js chooses the
# target). Zig ships the libc headers and start files of every target below
# and builds libc++/libc++abi/libunwind for the target on demand, so one
# toolchain from the npm registry covers seven platforms; no sysroot is needed.
#
# Inputs, from the environment (the environment reaches the try_compile
# projects CMake configures, which cache variables do not):
#   THREADMAP_ZIG         the zig executable
#   THREADMAP_ZIG_TARGET  a Zig target triple: x86_64-linux-gnu.2.28,
#                         aarch64-linux-musl, aarch64-macos, x86_64-windows-gnu ...
set(_zig "$ENV{THREADMAP_ZIG}")
set(_target "$ENV{THREADMAP_ZIG_TARGET}")
if(NOT _zig OR NOT _target)
  message(FATAL_ERROR "zig-toolchain.cmake needs THREADMAP_ZIG and THREADMAP_ZIG_TARGET in the environment")
endif()

string(REGEX MATCH "^[^-]+" _arch "${_target}")
if(_target MATCHES "-linux-")
  set(CMAKE_SYSTEM_NAME Linux)
elseif(_target MATCHES "-macos")
  set(CMAKE_SYSTEM_NAME Darwin)
elseif(_target MATCHES "-windows-")
  set(CMAKE_SYSTEM_NAME Windows)
else()
  message(FATAL_ERROR "zig-toolchain.cmake: unknown target ${_target}")
endif()
set(CMAKE_SYSTEM_PROCESSOR "${_arch}")

# -O3 on every call: Zig builds the target's libc++ (and libc pieces) in the
# optimisation mode of the link that needs them.
set(CMAKE_C_COMPILER "${_zig}" cc -target "${_target}" -O3)
set(CMAKE_CXX_COMPILER "${_zig}" c++ -target "${_target}" -O3)
# No link before the addon's own. A link is what makes Zig build a target's
# C and C++ runtimes, and CMake's checks would link executables, whose
# runtimes (not position-independent; for musl, all of its static libc) are
# not the ones a shared library needs: a second set, most of a cold build's
# time. With a compiler target set, CMake identifies the compiler with `-c`
# first; try_compile (the ABI check, find_package(Threads)) then makes static
# libraries, which link nothing.
set(CMAKE_C_COMPILER_TARGET "${_target}")
set(CMAKE_CXX_COMPILER_TARGET "${_target}")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# Threads need no library flag on any Zig target (Zig links glibc's
# libpthread stub with the others; musl and libSystem hold them; MinGW's
# libc++ uses Windows' threads). FindThreads' checks, which no longer link,
# could not tell: they would find a "-lpthreads" that does not exist.
set(CMAKE_HAVE_LIBC_PTHREAD TRUE CACHE INTERNAL "")
# CMAKE_AR and CMAKE_RANLIB take one program, no arguments: small wrappers.
set(CMAKE_AR "${CMAKE_CURRENT_LIST_DIR}/zig-ar" CACHE FILEPATH "" FORCE)
set(CMAKE_RANLIB "${CMAKE_CURRENT_LIST_DIR}/zig-ranlib" CACHE FILEPATH "" FORCE)

# Nothing from the build machine may leak in.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# Mach-O and PE: Zig's link leaves more than the entry points exported (its
# Mach-O linker takes no export list; MinGW's libunwind marks its functions
# dllexport), so cmake/zig-link redoes that link with an export list
# (ld64.lld from Debian's lld-16 for Mach-O, Zig's own lld-link for PE).
if(NOT CMAKE_SYSTEM_NAME STREQUAL Linux)
  set(CMAKE_CXX_LINKER_LAUNCHER "${CMAKE_CURRENT_LIST_DIR}/zig-link")
endif()

# CMakeLists.txt leaves out the GNU runtime link flags under Zig.
set(THREADMAP_ZIG ON)
