# mbedTLS for Flotilla.
#
# Host builds use Debian's libmbedtls-dev: flotilla_host_mbedcrypto() defines
# the imported target flotilla::mbedcrypto (libmbedcrypto, Debian's config).
#
# Device builds compile mbedTLS from Debian's source package, which
# deploy/install-deps.sh fetches into ${FLOTILLA_DEPS_DIR}/mbedtls, with a
# configuration header of ours and only the modules we need:
#
#   flotilla_add_mbedcrypto(<name> CONFIG <path/to/config.h>
#                           SOURCES <library/*.c basenames...>
#                           [DEFINES ...] [EXCLUDE_FROM_ALL] [OPTIONAL])
#
# It fails the configure step with a clear message when the source tree is
# missing, unless OPTIONAL is given (then it sets <name>_FOUND to OFF).

if(DEFINED ENV{FLOTILLA_DEPS_DIR} AND NOT "$ENV{FLOTILLA_DEPS_DIR}" STREQUAL "")
  set(_flotilla_deps_default "$ENV{FLOTILLA_DEPS_DIR}")
else()
  set(_flotilla_deps_default "${PROJECT_SOURCE_DIR}/.deps")
endif()
set(FLOTILLA_DEPS_DIR "${_flotilla_deps_default}" CACHE PATH
    "Where deploy/install-deps.sh put third-party sources (mbedtls/)")
set(FLOTILLA_MBEDTLS_SOURCE_DIR "${FLOTILLA_DEPS_DIR}/mbedtls" CACHE PATH
    "mbedTLS source tree (Debian source package) for device builds")

function(flotilla_host_mbedcrypto)
  if(TARGET flotilla::mbedcrypto)
    return()
  endif()
  find_path(FLOTILLA_HOST_MBEDTLS_INCLUDE_DIR mbedtls/ecdsa.h)
  find_library(FLOTILLA_HOST_MBEDCRYPTO_LIBRARY mbedcrypto)
  if(NOT FLOTILLA_HOST_MBEDTLS_INCLUDE_DIR OR NOT FLOTILLA_HOST_MBEDCRYPTO_LIBRARY)
    message(FATAL_ERROR "libmbedcrypto not found: install libmbedtls-dev "
                        "(deploy/install-deps.sh)")
  endif()
  add_library(flotilla::mbedcrypto UNKNOWN IMPORTED GLOBAL)
  set_target_properties(flotilla::mbedcrypto PROPERTIES
    IMPORTED_LOCATION "${FLOTILLA_HOST_MBEDCRYPTO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${FLOTILLA_HOST_MBEDTLS_INCLUDE_DIR}")
endfunction()

function(flotilla_add_mbedcrypto name)
  cmake_parse_arguments(M "EXCLUDE_FROM_ALL;OPTIONAL" "CONFIG" "SOURCES;DEFINES" ${ARGN})
  set(src "${FLOTILLA_MBEDTLS_SOURCE_DIR}")
  if(NOT EXISTS "${src}/include/mbedtls/version.h" OR NOT EXISTS "${src}/library/ecdsa.c")
    if(M_OPTIONAL)
      set(${name}_FOUND OFF PARENT_SCOPE)
      return()
    endif()
    message(FATAL_ERROR
      "mbedTLS source not found in '${src}'.\n"
      "The device build compiles mbedTLS from Debian's source package. Fetch it with\n"
      "  ./deploy/install-deps.sh\n"
      "(or point FLOTILLA_DEPS_DIR / -DFLOTILLA_MBEDTLS_SOURCE_DIR=... at a tree that has "
      "include/mbedtls/version.h and library/ecdsa.c).")
  endif()
  if(NOT M_CONFIG OR NOT EXISTS "${M_CONFIG}")
    message(FATAL_ERROR "flotilla_add_mbedcrypto(${name}): CONFIG file '${M_CONFIG}' missing")
  endif()
  set(files)
  foreach(f ${M_SOURCES})
    list(APPEND files "${src}/library/${f}")
  endforeach()
  set(excl)
  if(M_EXCLUDE_FROM_ALL)
    set(excl EXCLUDE_FROM_ALL)
  endif()
  add_library(${name} STATIC ${excl} ${files})
  get_filename_component(cfg_dir "${M_CONFIG}" DIRECTORY)
  get_filename_component(cfg_name "${M_CONFIG}" NAME)
  # SYSTEM: third-party headers do not trip our picky warnings.
  target_include_directories(${name} SYSTEM PUBLIC "${src}/include" "${cfg_dir}")
  target_include_directories(${name} PRIVATE "${src}/library")
  target_compile_definitions(${name} PUBLIC "MBEDTLS_CONFIG_FILE=\"${cfg_name}\"" ${M_DEFINES})
  # Third-party code: its own warnings are not ours to fix.
  target_compile_options(${name} PRIVATE -w)
  set(${name}_FOUND ON PARENT_SCOPE)
endfunction()
