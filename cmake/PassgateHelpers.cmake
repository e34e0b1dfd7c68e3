# passgate_library / passgate_test / passgate_binary: every target reads the same way and
# gets the same warnings, include root and sanitizer flags.

function(passgate_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(PASSGATE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# passgate_library(NAME SRCS ... DEPS ...)
function(passgate_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  passgate_warnings(${name})
endfunction()

# passgate_binary(NAME SRCS ... DEPS ...)
function(passgate_binary name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  passgate_warnings(${name})
endfunction()

# passgate_fast_allocator(TARGET): link gperftools' tcmalloc (minimal) into a binary. gRPC,
# protobuf and Beast allocate and free on every call; with glibc malloc that was about 10 %
# of a ValidateSession's or a JWKS request's CPU, and tcmalloc's per-thread caches cut the
# CPU per call by 10-20 % (docs/benchmarks.md). No-op in sanitizer and fuzz builds, whose
# runtimes replace the allocator themselves.
function(passgate_fast_allocator target)
  if(TARGET PkgConfig::TCMALLOC)
    # Nothing calls tcmalloc by name: keep the linker from dropping it as unneeded.
    target_link_options(${target} PRIVATE "LINKER:--no-as-needed")
    target_link_libraries(${target} PRIVATE PkgConfig::TCMALLOC)
  endif()
endfunction()

# passgate_test(NAME SRCS ... DEPS ... [LABELS ...] [FIXTURES ...])
# Registers each GoogleTest case with ctest (discovered when ctest runs, not at build time).
# FIXTURES names CTest fixtures the cases need (e.g. test_servers: throwaway PostgreSQL and
# Redis, see tests/CMakeLists.txt); ctest starts them first, also under -R/-L filters.
function(passgate_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS;FIXTURES" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    PASSGATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PASSGATE_BINARY_DIR="${PROJECT_BINARY_DIR}")
  passgate_warnings(${name})
  set(labels unit)
  if(ARG_LABELS)
    set(labels ${ARG_LABELS})
  endif()
  set(fixture_properties)
  if(ARG_FIXTURES)
    set(fixture_properties FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${labels}" TIMEOUT 600 ${fixture_properties})
endfunction()

# passgate_fuzzer(NAME SRCS ... DEPS ...)
# A libFuzzer target (PASSGATE_FUZZ=ON, clang only) plus the ctest `fuzz_<name>_corpus`
# (label fuzz), which runs it once over tests/fuzz/corpus/<name>/ so every seed stays a
# regression test. The corpus is only read (-runs=0 executes each input and stops).
function(passgate_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_compile_definitions(${name} PRIVATE PASSGATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  passgate_warnings(${name})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  add_test(NAME fuzz_${name}_corpus COMMAND ${name} -runs=0 ${corpus})
  set_tests_properties(fuzz_${name}_corpus PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()
