/*
 * Xunfang C plugin SDK: framing and handshake helpers over caller buffers, on
 * libprotobuf-c. The protocol is docs/wire.md; generated types are in gen/.
 *
 *   uint8_t rx[1 << 16], tx[1 << 16];
 *   xf_conn conn;
 *   xf_conn_init(&conn, rx, sizeof rx, tx, sizeof tx);
 *   if (xf_connect_unix(&conn, "data/bus.sock") != XF_OK) ...
 *   xf_hello_opts hello = { .plugin = "c-example", .version = "0.1.0", .credential = secret };
 *   if (xf_handshake(&conn, &hello) != XF_OK) fprintf(stderr, "%s\n", conn.error);
 *   while (xf_next_frame(&conn, &frame) == XF_OK) { ...; xunfang__bus__v1__frame__free_unpacked(frame, NULL); }
 *
 * Every function returns an xf_status; on failure conn->error holds a readable reason.
 * Symbols are prefixed xf_. Not thread-safe: one connection, one thread.
 */
#ifndef XF_SDK_H
#define XF_SDK_H

#include <stddef.h>
#include <stdint.h>
#include "xunfang/bus/v1/bus.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XF_PROTOCOL_VERSION 1u
#define XF_PREFIX_SIZE 5u
#define XF_FLAG_COMPRESSED 0x01u

typedef enum {
    XF_OK = 0,
    XF_NEED_MORE = 1,        /* decoder: the buffer does not hold a whole frame yet */
    XF_ERR_RESERVED_FLAGS = -1,
    XF_ERR_TOO_LARGE = -2,   /* frame length or inflated size over the limit */
    XF_ERR_CORRUPT = -3,     /* bad zlib data or not a Frame */
    XF_ERR_BUFFER = -4,      /* the caller's buffer is too small for the frame */
    XF_ERR_IO = -5,
    XF_ERR_CLOSED = -6,
    XF_ERR_REJECTED = -7,    /* the bus refused the handshake; see conn->error */
    XF_ERR_PROTOCOL = -8
} xf_status;

/* --- Framing over caller buffers (no I/O) --- */

/* Writes `frame` with its 5-byte prefix into out[0..cap). *written gets the size. */
xf_status xf_frame_encode(const Xunfang__Bus__V1__Frame *frame, uint8_t *out, size_t cap, size_t *written);

/*
 * Decodes the first frame in buf[0..len). Returns XF_NEED_MORE until it is complete.
 * The length is checked against max_frame from the prefix alone. Compressed payloads
 * are inflated into scratch[0..scratch_cap) (which is the decompressed limit).
 * On XF_OK *consumed is the frame's size on the wire and *frame must be freed with
 * xunfang__bus__v1__frame__free_unpacked.
 */
xf_status xf_frame_decode(const uint8_t *buf, size_t len, size_t max_frame, uint8_t *scratch, size_t scratch_cap,
                          size_t *consumed, Xunfang__Bus__V1__Frame **frame);

/* --- A blocking connection --- */

typedef struct {
    int fd;
    uint8_t *rx;  size_t rx_cap;  size_t rx_len;
    uint8_t *tx;  size_t tx_cap;
    size_t max_frame;
    uint32_t ping_interval_ms;
    char session_id[64];
    char error[256];
    uint32_t reject_code;   /* the gRPC status of the last Reject, 0 if none */
} xf_conn;

typedef struct {
    const char *plugin;      /* name in the county config */
    const char *instance;    /* NULL = plugin */
    const char *version;     /* semver */
    const char *credential;
    const char **publishes;  size_t n_publishes;
    const char **subscribes; size_t n_subscribes;
    const char **serves;     size_t n_serves;
    const char **calls;      size_t n_calls;
} xf_hello_opts;

void xf_conn_init(xf_conn *conn, uint8_t *rx, size_t rx_cap, uint8_t *tx, size_t tx_cap);
/* path may be "unix:/path" or a plain path. */
xf_status xf_connect_unix(xf_conn *conn, const char *path);
xf_status xf_handshake(xf_conn *conn, const xf_hello_opts *opts);
/* Connect and handshake, retrying with back-off (50 ms doubling to 2 s, up to
 * max_attempts; 0 = 100) while the bus is unreachable, closes before its Welcome, or
 * still holds this instance's old session (ALREADY_EXISTS). A refusal returns at once
 * (XF_ERR_REJECTED): exit with 78 so the supervisor does not restart a misconfigured
 * plugin; giving up returns XF_ERR_IO: exit non-zero so it does. After a lost connection,
 * xf_close and join again, then subscribe again (durable consumers resume). */
xf_status xf_join(xf_conn *conn, const char *path, const xf_hello_opts *opts, int max_attempts);
xf_status xf_send(xf_conn *conn, const Xunfang__Bus__V1__Frame *frame);
/* Blocks until a frame arrives; answers Ping frames itself (and still returns them). */
xf_status xf_next_frame(xf_conn *conn, Xunfang__Bus__V1__Frame **frame);
void xf_close(xf_conn *conn);

/* --- Conveniences --- */
xf_status xf_subscribe(xf_conn *conn, uint64_t subscription_id, const char *pattern, const char *queue_group);
/* A durable consumer: its position survives this plugin's and the bus's restarts; ack every
 * delivery (xf_ack with Deliver.sequence) or it comes again. Only on the county's durable topics. */
xf_status xf_subscribe_durable(xf_conn *conn, uint64_t subscription_id, const char *pattern, const char *durable_name);
xf_status xf_publish(xf_conn *conn, const char *topic, const uint8_t *payload, size_t len);
xf_status xf_respond(xf_conn *conn, uint64_t call_id, uint32_t code, const char *message, const uint8_t *payload, size_t len);
xf_status xf_ack(xf_conn *conn, uint64_t subscription_id, uint64_t sequence);

#ifdef __cplusplus
}
#endif
#endif
