# The image signing key of a build.
#
#   FLOTILLA_SIGNING_KEY   PEM file of the P-256 key whose public part device
#                          builds trust (a private key or only the public key).
#                          Empty (the default): a development key generated
#                          once into <build>/signing/flotilla-dev-key.pem.
#
# flotilla_signing_key() (called by agent/image) compiles ag_image_keytool for
# the build machine at configure time -- the cross build has no host `flotilla`
# CLI -- and uses it to create the development key if needed and to write
# <build>/signing/ag_image_builtin_key.c, which defines
# `const struct ag_image_pubkey ag_image_builtin_key` (agent/image_key.h) for
# the target ag_image_key. It sets, for the rest of the build:
#   FLOTILLA_SIGNING_KEY_FILE  the key file in use
#   FLOTILLA_IMAGE_KEYTOOL     the keytool, to sign test images:
#     ${FLOTILLA_IMAGE_KEYTOOL} sign KEY VERSION HW_ID LOAD_ADDR SECCNT IN OUT
# A release build passes -DFLOTILLA_SIGNING_KEY=/path/release-key.pub.pem and
# signs offline with `flotilla image sign --key release-key.pem ...`.

set(FLOTILLA_SIGNING_KEY "" CACHE FILEPATH
    "P-256 PEM key (private or public) trusted by device builds; empty: a generated development key")

function(flotilla_signing_key)
  cmake_parse_arguments(K "" "SOURCE_DIR" "SOURCES" ${ARGN})
  set(dir "${CMAKE_BINARY_DIR}/signing")
  file(MAKE_DIRECTORY "${dir}")

  find_program(FLOTILLA_HOST_CC NAMES cc gcc clang DOC "C compiler for build-machine tools")
  if(NOT FLOTILLA_HOST_CC)
    message(FATAL_ERROR "No host C compiler (cc) for ag_image_keytool")
  endif()
  find_path(FLOTILLA_HOST_MBEDTLS_INCLUDE_DIR mbedtls/ecdsa.h
            PATHS /usr/include NO_CMAKE_FIND_ROOT_PATH)
  find_library(FLOTILLA_HOST_MBEDCRYPTO_LIBRARY mbedcrypto
               PATHS /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib
               NO_CMAKE_FIND_ROOT_PATH)
  if(NOT FLOTILLA_HOST_MBEDTLS_INCLUDE_DIR OR NOT FLOTILLA_HOST_MBEDCRYPTO_LIBRARY)
    message(FATAL_ERROR "ag_image_keytool needs the host's libmbedtls-dev (deploy/install-deps.sh)")
  endif()

  set(tool "${dir}/ag_image_keytool")
  set(srcs)
  foreach(s ${K_SOURCES})
    list(APPEND srcs "${K_SOURCE_DIR}/${s}")
  endforeach()
  # Re-run configure (and so rebuild the tool) when its sources change.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${srcs})
  execute_process(
    COMMAND "${FLOTILLA_HOST_CC}" -std=gnu11 -O1 -w
            "-I${K_SOURCE_DIR}/include" "-I${K_SOURCE_DIR}/src"
            "-I${PROJECT_SOURCE_DIR}/agent/base/include"
            "-I${FLOTILLA_HOST_MBEDTLS_INCLUDE_DIR}"
            ${srcs} "${PROJECT_SOURCE_DIR}/agent/base/src/err.c"
            "${FLOTILLA_HOST_MBEDCRYPTO_LIBRARY}" -o "${tool}.new"
    RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cannot build ag_image_keytool with ${FLOTILLA_HOST_CC}:\n${err}")
  endif()
  # Replace the tool only when it changed: build steps that use it (test keys,
  # signed test images) re-run only then.
  configure_file("${tool}.new" "${tool}" COPYONLY)

  if(FLOTILLA_SIGNING_KEY)
    get_filename_component(key "${FLOTILLA_SIGNING_KEY}" ABSOLUTE)
    if(NOT EXISTS "${key}")
      message(FATAL_ERROR "FLOTILLA_SIGNING_KEY: no such file: ${key}")
    endif()
  else()
    set(key "${dir}/flotilla-dev-key.pem")
    if(NOT EXISTS "${key}")
      execute_process(COMMAND "${tool}" gen "${key}" RESULT_VARIABLE rc ERROR_VARIABLE err)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR "cannot generate the development signing key:\n${err}")
      endif()
    endif()
    message(STATUS "Image signing: development key ${key} "
                   "(set FLOTILLA_SIGNING_KEY for release builds)")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${key}")

  execute_process(COMMAND "${tool}" csrc "${key}" ag_image_builtin_key "${dir}/key.c.new"
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "FLOTILLA_SIGNING_KEY ${key} is not a usable P-256 key:\n${err}")
  endif()
  # Only a changed key touches the source, so reconfiguring rebuilds nothing.
  configure_file("${dir}/key.c.new" "${dir}/ag_image_builtin_key.c" COPYONLY)

  set(FLOTILLA_SIGNING_KEY_FILE "${key}" PARENT_SCOPE)
  set(FLOTILLA_SIGNING_KEY_FILE "${key}" CACHE INTERNAL "signing key in use")
  set(FLOTILLA_IMAGE_KEYTOOL "${tool}" CACHE INTERNAL "ag_image_keytool for this build")
  set(FLOTILLA_BUILTIN_KEY_SOURCE "${dir}/ag_image_builtin_key.c" PARENT_SCOPE)
endfunction()
