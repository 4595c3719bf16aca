# ag_image on Cortex-M4 (included by agent/image/CMakeLists.txt in the cross
# build): a QEMU mps2-an386 test of the device verifier, and a code-size probe.
find_program(FLOTILLA_QEMU_ARM qemu-system-arm)

set(_m4 ${CMAKE_CURRENT_SOURCE_DIR}/m4)
set(_m4_link -nostartfiles -T${_m4}/mps2_an386.ld)

# The verifier with test hooks (heap limit), for the QEMU check.
add_library(ag_image_stats STATIC src/image.c src/verify.c)
target_include_directories(ag_image_stats PUBLIC include PRIVATE src)
target_link_libraries(ag_image_stats PUBLIC ag_base flotilla_mbedcrypto)
ag_image_static_heap(ag_image_stats)
target_compile_definitions(ag_image_stats PRIVATE AG_IMAGE_HEAP_STATS)
flotilla_target_warnings(ag_image_stats CONVERSION)

add_executable(ag_image_m4_check ${_m4}/check.c ${_m4}/startup.c ${AG_IMAGE_TEST_KEY_C})
target_link_libraries(ag_image_m4_check PRIVATE ag_image_stats)
target_link_options(ag_image_m4_check PRIVATE ${_m4_link})
target_sources(ag_image_m4_check PRIVATE ${AG_IMAGE_TEST_IMAGE})
set_target_properties(ag_image_m4_check PROPERTIES SUFFIX .elf LINK_DEPENDS ${_m4}/mps2_an386.ld)
flotilla_target_warnings(ag_image_m4_check)

# Size probe: with and without a verify call; text difference = cost.
foreach(v base verify)
  add_executable(ag_image_m4_size_${v} ${_m4}/size.c ${_m4}/startup.c)
  target_link_libraries(ag_image_m4_size_${v} PRIVATE ag_image ag_image_key)
  target_link_options(ag_image_m4_size_${v} PRIVATE ${_m4_link})
  set_target_properties(ag_image_m4_size_${v} PROPERTIES SUFFIX .elf)
  flotilla_target_warnings(ag_image_m4_size_${v})
endforeach()
target_compile_definitions(ag_image_m4_size_verify PRIVATE AG_M4_WITH_VERIFY)

if(FLOTILLA_QEMU_ARM)
  add_test(NAME ag_image_m4_qemu
           COMMAND ${FLOTILLA_QEMU_ARM} -M mps2-an386 -nographic -monitor none
                   -semihosting-config enable=on,target=native
                   -kernel $<TARGET_FILE:ag_image_m4_check>
                   -device loader,file=${AG_IMAGE_TEST_IMAGE},addr=0x00200000)
  set_tests_properties(ag_image_m4_qemu PROPERTIES TIMEOUT 60 LABELS qemu
                       PASS_REGULAR_EXPRESSION "ag_image m4 check: ok")
else()
  message(WARNING "qemu-system-arm not found: ag_image_m4_qemu test not registered")
endif()
