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

# flotilla_add_subdirs(): add_subdirectory() for every folder here that has a
# CMakeLists.txt, in name order, except those named in EXCEPT.
function(flotilla_add_subdirs)
  cmake_parse_arguments(S "" "" "EXCEPT" ${ARGN})
  file(GLOB dirs LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} *)
  list(SORT dirs)
  foreach(d ${dirs})
    if(NOT d IN_LIST S_EXCEPT AND IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${d} AND
       EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${d}/CMakeLists.txt)
      add_subdirectory(${d})
    endif()
  endforeach()
endfunction()

# flotilla_device_library(<name> SOURCES ... [LIBS ...]): a portable library
# that builds for the host and freestanding for the device, with public
# include/ and private src/, and the picky warnings including -Wconversion.
function(flotilla_device_library name)
  cmake_parse_arguments(L "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${L_SOURCES})
  target_include_directories(${name} PUBLIC include)
  if(L_LIBS)
    target_link_libraries(${name} PUBLIC ${L_LIBS})
  endif()
  flotilla_target_warnings(${name} CONVERSION)
  if(CMAKE_CROSSCOMPILING)
    target_compile_options(${name} PRIVATE -ffreestanding)
  endif()
endfunction()
