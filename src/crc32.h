/*
 * crc32.h — CRC-32 (IEEE 802.3 / zlib: reflected polynomial 0xEDB88320,
 * init and final xor 0xFFFFFFFF; NOT CRC-32C), the hash every .rvf segment
 * header carries (docs/format.md §2) and the checksum of the writer lock (§7).
 *
 * Check value: vl_crc32(0, "123456789", 9) == 0xCBF43926.
 * Incremental use: c = vl_crc32(0, a, na); c = vl_crc32(c, b, nb) equals the
 * CRC of a‖b (the running value is the finished CRC of the bytes so far).
 */
#ifndef VL_CRC32_H
#define VL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32 of len bytes continuing from crc (0 to start). */
uint32_t vl_crc32(uint32_t crc, const void *data, size_t len);

#endif /* VL_CRC32_H */
