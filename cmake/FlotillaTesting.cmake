# Test helpers: cmocka unit tests and libFuzzer harnesses, all run by ctest.

option(FLOTILLA_FUZZ "Build libFuzzer harnesses (needs clang)" OFF)
set(FLOTILLA_FUZZ_RUNS 20000 CACHE STRING "Runs of each fuzzer's ctest smoke pass")

if(FLOTILLA_FUZZ AND NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "FLOTILLA_FUZZ needs clang (CMAKE_C_COMPILER=clang)")
endif()
if(FLOTILLA_FUZZ)
  # Coverage instrumentation everywhere, so the fuzzers see inside the libraries.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(NOT CMAKE_CROSSCOMPILING)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
endif()

# flotilla_add_unit_test(<name> SOURCES ... [LIBS ...] [TIMEOUT s] [LABELS ...])
function(flotilla_add_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  flotilla_target_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "unit;${T_LABELS}")
endfunction()

# flotilla_add_fuzzer(<name> SOURCES ... [LIBS ...] [CORPUS dir] [RUNS n])
# Builds a libFuzzer harness and registers a bounded smoke pass with ctest:
# the seed corpus, then a fixed number of mutated runs.
function(flotilla_add_fuzzer name)
  if(NOT FLOTILLA_FUZZ)
    return()
  endif()
  cmake_parse_arguments(F "" "CORPUS;RUNS" "SOURCES;LIBS" ${ARGN})
  if(NOT F_RUNS)
    set(F_RUNS ${FLOTILLA_FUZZ_RUNS})
  endif()
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  flotilla_target_warnings(${name})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
  set(args -runs=${F_RUNS} -seed=1 -max_len=4096 -timeout=10 ${work})
  if(F_CORPUS)
    list(APPEND args ${F_CORPUS})
  endif()
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   sh -c "mkdir -p '${work}' && exec \"$0\" \"$@\"" $<TARGET_FILE:${name}> ${args})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
endfunction()
