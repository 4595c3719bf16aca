# Picky warnings for every Flotilla target; -Werror when the CI environment
# variable is set (or FLOTILLA_WERROR is ON).
if(DEFINED ENV{CI} AND NOT "$ENV{CI}" STREQUAL "" AND NOT "$ENV{CI}" STREQUAL "false")
  set(_flotilla_werror_default ON)
else()
  set(_flotilla_werror_default OFF)
endif()
option(FLOTILLA_WERROR "Treat warnings as errors" ${_flotilla_werror_default})

set(FLOTILLA_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wpointer-arith -Wcast-align -Wwrite-strings -Wundef
  -Wvla -Wno-unused-parameter)
if(FLOTILLA_WERROR)
  list(APPEND FLOTILLA_WARNINGS -Werror)
endif()

# flotilla_target_warnings(<target> [CONVERSION])
# CONVERSION adds -Wconversion, for code that handles wire formats.
function(flotilla_target_warnings tgt)
  cmake_parse_arguments(W "CONVERSION" "" "" ${ARGN})
  target_compile_options(${tgt} PRIVATE $<$<COMPILE_LANGUAGE:C>:${FLOTILLA_WARNINGS}>)
  if(W_CONVERSION)
    target_compile_options(${tgt} PRIVATE $<$<COMPILE_LANGUAGE:C>:-Wconversion -Wsign-conversion>)
  endif()
endfunction()
