// gzip through the system zlib (Debian: zlib1g-dev), for snapshot files. Thin wrappers:
// zlib's inflateInit2/deflateInit2 are macros Swift cannot call.
#ifndef CMMZLIB_H
#define CMMZLIB_H
#include <stddef.h>
#include <stdint.h>

/// Result codes of the wrappers below.
enum {
    MMZ_OK = 0,
    MMZ_TOO_LARGE = -1,   ///< the output would exceed the caller's limit
    MMZ_DATA = -2,        ///< not gzip, corrupt, or truncated
    MMZ_MEMORY = -3,      ///< allocation failed
};

/// Decompresses a whole gzip stream (one or more members) of `in_len` bytes.
/// On MMZ_OK, `*out` is a malloc'd buffer of `*out_len` bytes (free it with mmz_free);
/// at most `max_out` bytes are ever produced.
int mmz_gunzip(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len);

/// Decompresses a whole gzip stream into the caller's buffer of `cap` bytes; on MMZ_OK
/// `*out_len` bytes were written. MMZ_TOO_LARGE when the output does not fit.
int mmz_gunzip_into(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);

/// Compresses `in_len` bytes as one gzip member at `level` (1-9).
/// On MMZ_OK, `*out` is a malloc'd buffer of `*out_len` bytes (free it with mmz_free).
int mmz_gzip(const uint8_t *in, size_t in_len, int level, uint8_t **out, size_t *out_len);

/// Compresses as mmz_gzip does into the caller's buffer of `cap` bytes (no allocation of
/// the output); MMZ_TOO_LARGE when it does not fit.
int mmz_gzip_into(const uint8_t *in, size_t in_len, int level, uint8_t *out, size_t cap, size_t *out_len);

void mmz_free(void *p);
#endif
