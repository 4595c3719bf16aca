/**
 * @file flotilla_mbedtls_config.h
 * @brief mbedTLS 2.28 configuration for the device build of ag_image.
 *
 * Only what verifying a Flotilla image needs: SHA-256, ECDSA verify on
 * NIST P-256 (ECP, bignum, and the ASN.1 modules that ecdsa.c requires at
 * compile time; the linker drops them because we never call them).
 *
 * No general heap: MBEDTLS_PLATFORM_MEMORY without a default calloc means
 * mbedtls_calloc() returns NULL until ag_image's verifier points it at a
 * static buffer with mbedtls_memory_buffer_alloc_init() for the duration of
 * one signature check. Nothing links malloc.
 *
 * Selected with -DMBEDTLS_CONFIG_FILE="flotilla_mbedtls_config.h" by the
 * flotilla_mbedcrypto CMake target (cmake/FlotillaMbedTLS.cmake).
 */
#ifndef FLOTILLA_MBEDTLS_CONFIG_H
#define FLOTILLA_MBEDTLS_CONFIG_H

/* System support: bare metal, no time, no entropy, no files. */
#define MBEDTLS_HAVE_ASM /* bn_mul.h: UMAAL inner loops on Thumb-2 with DSP */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_DEPRECATED_REMOVED

/* Platform: calloc/free only through mbedtls_platform_set_calloc_free(). */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS /* no calloc/free/exit from libc */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* The buffer allocator calls exit() when it finds its own heap corrupted,
 * which only a bug can cause: ag_image hangs (the watchdog resets). */
#define MBEDTLS_PLATFORM_EXIT_MACRO flotilla_mbedtls_exit
void flotilla_mbedtls_exit(int status);

/* Modules. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NO_INTERNAL_RNG /* verify only: public data, no blinding needed */
#define MBEDTLS_ECP_NIST_OPTIM /* fast P-256 reduction: a few hundred bytes for ~3x speed */
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C /* required by ecdsa.c; unused, dropped at link */
#define MBEDTLS_ASN1_WRITE_C /* required by ecdsa.c; unused, dropped at link */
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER /* rolled loop: ~1.5 KiB less text */

/* Sizes: P-256 only, smallest windows (RAM over speed). */
#define MBEDTLS_MPI_WINDOW_SIZE 1
#define MBEDTLS_MPI_MAX_SIZE 32
#define MBEDTLS_ECP_MAX_BITS 256
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0

#include "mbedtls/check_config.h"

#endif /* FLOTILLA_MBEDTLS_CONFIG_H */
