/* CRC-32C of the delta format (internal to agent/delta). */
#ifndef AGENT_DELTA_CRC_H
#define AGENT_DELTA_CRC_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C (Castagnoli, reflected), 16-entry table. Start with crc = 0 and
 * feed the result back to continue; "123456789" gives 0xE3069283.
 */
uint32_t ag__delta_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* AGENT_DELTA_CRC_H */
