/**
 * @file crc.h
 * @brief CRC-32C (Castagnoli), table of 16 entries: small enough for a device.
 */
#ifndef AGENT_CRC_H
#define AGENT_CRC_H

#include <stddef.h>
#include <stdint.h>

/**
 * @brief Extends a CRC-32C over @p len bytes.
 *
 * Start with @p crc = 0; feed the result back in to continue over more data.
 * The check value of "123456789" is 0xE3069283.
 */
uint32_t ag_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* AGENT_CRC_H */
