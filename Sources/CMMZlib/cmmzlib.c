// gzip wrappers over the system zlib (see include/cmmzlib.h).
#include "cmmzlib.h"
#include <stdlib.h>
#include <zlib.h>

void mmz_free(void *p) { free(p); }

int mmz_gunzip(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    size_t cap = in_len * 4 + 4096;
    if (cap > max_out) cap = max_out ? max_out : 1;
    uint8_t *buf = malloc(cap);
    if (!buf) return MMZ_MEMORY;
    z_stream s = {0};
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) { free(buf); return MMZ_MEMORY; }
    s.next_in = (Bytef *)in;
    size_t done = 0, consumed = 0;
    int rc = MMZ_OK;
    for (;;) {
        // zlib counts in uInt: feed and drain at most 1 GiB at a time.
        size_t avail_in = in_len - consumed;
        s.next_in = (Bytef *)in + consumed;
        s.avail_in = (uInt)(avail_in > (1u << 30) ? (1u << 30) : avail_in);
        if (done == cap) {
            if (cap >= max_out) { rc = MMZ_TOO_LARGE; break; }
            size_t ncap = cap * 2 > max_out ? max_out : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) { rc = MMZ_MEMORY; break; }
            buf = nb;
            cap = ncap;
        }
        size_t room = cap - done;
        s.next_out = buf + done;
        s.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
        uInt in_before = s.avail_in, out_before = s.avail_out;
        int z = inflate(&s, Z_NO_FLUSH);
        consumed += in_before - s.avail_in;
        done += out_before - s.avail_out;
        if (z == Z_STREAM_END) {
            if (consumed == in_len) break;
            // Another gzip member follows (concatenated files are valid gzip).
            if (inflateReset(&s) != Z_OK) { rc = MMZ_DATA; break; }
            continue;
        }
        if (z == Z_BUF_ERROR && consumed == in_len && done < cap) { rc = MMZ_DATA; break; }   // truncated
        if (z != Z_OK && z != Z_BUF_ERROR) { rc = z == Z_MEM_ERROR ? MMZ_MEMORY : MMZ_DATA; break; }
    }
    inflateEnd(&s);
    if (rc != MMZ_OK) { free(buf); return rc; }
    *out = buf;
    *out_len = done;
    return MMZ_OK;
}

int mmz_gunzip_into(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len) {
    *out_len = 0;
    z_stream s = {0};
    if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) return MMZ_MEMORY;
    size_t done = 0, consumed = 0;
    int rc = MMZ_OK;
    for (;;) {
        size_t avail_in = in_len - consumed;
        s.next_in = (Bytef *)in + consumed;
        s.avail_in = (uInt)(avail_in > (1u << 30) ? (1u << 30) : avail_in);
        size_t room = cap - done;
        if (room == 0) {
            // Full: the stream must end here (a zero-room inflate call tells).
            uint8_t probe;
            s.next_out = &probe;
            s.avail_out = 1;
            uInt in_before = s.avail_in;
            int z = inflate(&s, Z_NO_FLUSH);
            consumed += in_before - s.avail_in;
            if (s.avail_out == 0) { rc = MMZ_TOO_LARGE; break; }
            if (z == Z_STREAM_END && consumed == in_len) break;
            if (z == Z_STREAM_END) { if (inflateReset(&s) != Z_OK) { rc = MMZ_DATA; break; } continue; }
            if (z != Z_OK && z != Z_BUF_ERROR) { rc = MMZ_DATA; break; }
            if (consumed == in_len) { rc = MMZ_DATA; break; }
            continue;
        }
        s.next_out = out + done;
        s.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
        uInt in_before = s.avail_in, out_before = s.avail_out;
        int z = inflate(&s, Z_NO_FLUSH);
        consumed += in_before - s.avail_in;
        done += out_before - s.avail_out;
        if (z == Z_STREAM_END) {
            if (consumed == in_len) break;
            if (inflateReset(&s) != Z_OK) { rc = MMZ_DATA; break; }
            continue;
        }
        if (z == Z_BUF_ERROR && consumed == in_len && done < cap) { rc = MMZ_DATA; break; }
        if (z != Z_OK && z != Z_BUF_ERROR) { rc = z == Z_MEM_ERROR ? MMZ_MEMORY : MMZ_DATA; break; }
    }
    inflateEnd(&s);
    if (rc == MMZ_OK) *out_len = done;
    return rc;
}

/* Deflates `in` as one gzip member into buf[0..cap); MMZ_TOO_LARGE when it does not fit. */
static int gzip_into(z_stream *s, const uint8_t *in, size_t in_len, uint8_t *buf, size_t cap, size_t *out_len) {
    size_t consumed = 0, done = 0;
    int z;
    do {
        size_t avail_in = in_len - consumed;
        s->next_in = (Bytef *)in + consumed;
        s->avail_in = (uInt)(avail_in > (1u << 30) ? (1u << 30) : avail_in);
        size_t room = cap - done;
        s->next_out = buf + done;
        s->avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
        uInt in_before = s->avail_in, out_before = s->avail_out;
        int flush = (consumed + s->avail_in == in_len) ? Z_FINISH : Z_NO_FLUSH;
        z = deflate(s, flush);
        consumed += in_before - s->avail_in;
        done += out_before - s->avail_out;
        if (z == Z_STREAM_ERROR) return MMZ_MEMORY;
        if (z == Z_BUF_ERROR && done == cap) return MMZ_TOO_LARGE;
        if (z != Z_STREAM_END && done == cap) return MMZ_TOO_LARGE;
    } while (z != Z_STREAM_END);
    *out_len = done;
    return MMZ_OK;
}

int mmz_gzip(const uint8_t *in, size_t in_len, int level, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    z_stream s = {0};
    if (deflateInit2(&s, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return MMZ_MEMORY;
    size_t cap = deflateBound(&s, (uLong)in_len) + 64;
    uint8_t *buf = malloc(cap);
    if (!buf) { deflateEnd(&s); return MMZ_MEMORY; }
    int rc = gzip_into(&s, in, in_len, buf, cap, out_len);
    deflateEnd(&s);
    if (rc != MMZ_OK) { free(buf); *out_len = 0; return rc == MMZ_TOO_LARGE ? MMZ_MEMORY : rc; }
    *out = buf;
    return MMZ_OK;
}

int mmz_gzip_into(const uint8_t *in, size_t in_len, int level, uint8_t *out, size_t cap, size_t *out_len) {
    *out_len = 0;
    z_stream s = {0};
    if (deflateInit2(&s, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return MMZ_MEMORY;
    int rc = gzip_into(&s, in, in_len, out, cap, out_len);
    deflateEnd(&s);
    return rc;
}
