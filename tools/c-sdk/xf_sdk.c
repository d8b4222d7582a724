#include "xf_sdk.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

static xf_status fail(xf_conn *conn, xf_status status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(conn->error, sizeof conn->error, format, args);
    va_end(args);
    return status;
}

xf_status xf_frame_encode(const Xunfang__Bus__V1__Frame *frame, uint8_t *out, size_t cap, size_t *written) {
    size_t size = xunfang__bus__v1__frame__get_packed_size(frame);
    if (size > UINT32_MAX || cap < XF_PREFIX_SIZE + size) return XF_ERR_BUFFER;
    out[0] = 0;
    out[1] = (uint8_t)(size >> 24);
    out[2] = (uint8_t)(size >> 16);
    out[3] = (uint8_t)(size >> 8);
    out[4] = (uint8_t)size;
    xunfang__bus__v1__frame__pack(frame, out + XF_PREFIX_SIZE);
    *written = XF_PREFIX_SIZE + size;
    return XF_OK;
}

xf_status xf_frame_decode(const uint8_t *buf, size_t len, size_t max_frame, uint8_t *scratch, size_t scratch_cap,
                          size_t *consumed, Xunfang__Bus__V1__Frame **frame) {
    if (len < 1) return XF_NEED_MORE;
    uint8_t flags = buf[0];
    if (flags & ~XF_FLAG_COMPRESSED) return XF_ERR_RESERVED_FLAGS;
    if (len < XF_PREFIX_SIZE) return XF_NEED_MORE;
    uint32_t length = ((uint32_t)buf[1] << 24) | ((uint32_t)buf[2] << 16) | ((uint32_t)buf[3] << 8) | buf[4];
    if (length > max_frame) return XF_ERR_TOO_LARGE;
    if (len < XF_PREFIX_SIZE + (size_t)length) return XF_NEED_MORE;
    const uint8_t *payload = buf + XF_PREFIX_SIZE;
    size_t payload_len = length;
    if (flags & XF_FLAG_COMPRESSED) {
        /* uncompress() refuses output past scratch_cap (Z_BUF_ERROR) and checks the
           Adler-32 trailer, so bombs and truncated streams both fail here. */
        uLongf inflated = (uLongf)scratch_cap;
        int rc = uncompress(scratch, &inflated, payload, length);
        if (rc == Z_BUF_ERROR && inflated == scratch_cap) return XF_ERR_TOO_LARGE;
        if (rc != Z_OK) return XF_ERR_CORRUPT;
        payload = scratch;
        payload_len = inflated;
    }
    Xunfang__Bus__V1__Frame *decoded = xunfang__bus__v1__frame__unpack(NULL, payload_len, payload);
    if (!decoded) return XF_ERR_CORRUPT;
    *consumed = XF_PREFIX_SIZE + length;
    *frame = decoded;
    return XF_OK;
}

void xf_conn_init(xf_conn *conn, uint8_t *rx, size_t rx_cap, uint8_t *tx, size_t tx_cap) {
    memset(conn, 0, sizeof *conn);
    conn->fd = -1;
    conn->rx = rx;
    conn->rx_cap = rx_cap;
    conn->tx = tx;
    conn->tx_cap = tx_cap;
    /* Until Welcome only a small frame is acceptable, and never more than rx holds. */
    conn->max_frame = rx_cap - XF_PREFIX_SIZE < 65536 ? rx_cap - XF_PREFIX_SIZE : 65536;
}

/* The supervisor's watchdog pipe (XUNFANG_SUPERVISOR_FD) reads end-of-file when the
 * supervisor is gone, even by kill -9: then this plugin stops (SIGTERM, default action
 * unless the plugin handles it), rather than live on as an orphan. */
static void *watch_supervisor(void *argument) {
    int fd = (int)(intptr_t)argument;
    char byte;
    for (;;) {
        ssize_t n = read(fd, &byte, 1);
        if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    fprintf(stderr, "xunfang: the supervisor is gone; stopping\n");
    kill(getpid(), SIGTERM);
    sleep(5);
    _exit(1);
    return NULL;
}

static void start_supervisor_watch(void) {
    static int started = 0;
    const char *text = getenv("XUNFANG_SUPERVISOR_FD");
    if (started || text == NULL) return;
    int fd = atoi(text);
    if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return;
    pthread_t thread;
    if (pthread_create(&thread, NULL, watch_supervisor, (void *)(intptr_t)fd) == 0) {
        pthread_detach(thread);
        started = 1;
    }
}

xf_status xf_connect_unix(xf_conn *conn, const char *path) {
    start_supervisor_watch();
    if (strncmp(path, "unix:", 5) == 0) path += 5;
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address.sun_path) return fail(conn, XF_ERR_IO, "socket path too long: %s", path);
    strcpy(address.sun_path, path);
    conn->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (conn->fd < 0) return fail(conn, XF_ERR_IO, "socket: %s", strerror(errno));
    if (connect(conn->fd, (struct sockaddr *)&address, sizeof address) != 0) {
        xf_status status = fail(conn, XF_ERR_IO, "cannot connect to %s: %s", path, strerror(errno));
        close(conn->fd);
        conn->fd = -1;
        return status;
    }
    return XF_OK;
}

xf_status xf_send(xf_conn *conn, const Xunfang__Bus__V1__Frame *frame) {
    size_t size = 0;
    if (xf_frame_encode(frame, conn->tx, conn->tx_cap, &size) != XF_OK)
        return fail(conn, XF_ERR_BUFFER, "frame of %zu bytes does not fit the send buffer",
                    xunfang__bus__v1__frame__get_packed_size(frame));
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = write(conn->fd, conn->tx + sent, size - sent);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail(conn, XF_ERR_IO, "write: %s", strerror(errno));
        sent += (size_t)n;
    }
    return XF_OK;
}

xf_status xf_next_frame(xf_conn *conn, Xunfang__Bus__V1__Frame **frame) {
    static uint8_t scratch[1 << 20];  /* inflate target; caps a compressed frame at 1 MiB */
    for (;;) {
        size_t consumed = 0;
        xf_status status = xf_frame_decode(conn->rx, conn->rx_len, conn->max_frame, scratch, sizeof scratch, &consumed, frame);
        if (status == XF_OK) {
            memmove(conn->rx, conn->rx + consumed, conn->rx_len - consumed);
            conn->rx_len -= consumed;
            if ((*frame)->kind_case == XUNFANG__BUS__V1__FRAME__KIND_PING) {
                Xunfang__Bus__V1__Frame reply = XUNFANG__BUS__V1__FRAME__INIT;
                Xunfang__Bus__V1__Pong pong = XUNFANG__BUS__V1__PONG__INIT;
                pong.nonce = (*frame)->ping->nonce;
                reply.kind_case = XUNFANG__BUS__V1__FRAME__KIND_PONG;
                reply.pong = &pong;
                xf_send(conn, &reply);
            }
            return XF_OK;
        }
        if (status != XF_NEED_MORE) return fail(conn, status, "bad frame from the bus (status %d)", status);
        if (conn->rx_len == conn->rx_cap) return fail(conn, XF_ERR_BUFFER, "receive buffer full");
        ssize_t n = read(conn->fd, conn->rx + conn->rx_len, conn->rx_cap - conn->rx_len);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return fail(conn, XF_ERR_CLOSED, "the bus closed the connection");
        if (n < 0) return fail(conn, XF_ERR_IO, "read: %s", strerror(errno));
        conn->rx_len += (size_t)n;
    }
}

xf_status xf_handshake(xf_conn *conn, const xf_hello_opts *opts) {
    Xunfang__Bus__V1__Frame frame = XUNFANG__BUS__V1__FRAME__INIT;
    Xunfang__Bus__V1__Hello hello = XUNFANG__BUS__V1__HELLO__INIT;
    hello.min_protocol = XF_PROTOCOL_VERSION;
    hello.max_protocol = XF_PROTOCOL_VERSION;
    hello.plugin = (char *)opts->plugin;
    hello.instance = (char *)(opts->instance ? opts->instance : "");
    hello.version = (char *)opts->version;
    hello.credential = (char *)opts->credential;
    hello.publishes = (char **)opts->publishes;   hello.n_publishes = opts->n_publishes;
    hello.subscribes = (char **)opts->subscribes; hello.n_subscribes = opts->n_subscribes;
    hello.serves = (char **)opts->serves;         hello.n_serves = opts->n_serves;
    hello.calls = (char **)opts->calls;           hello.n_calls = opts->n_calls;
    hello.max_frame_bytes = (uint32_t)(conn->rx_cap - XF_PREFIX_SIZE);
    frame.kind_case = XUNFANG__BUS__V1__FRAME__KIND_HELLO;
    frame.hello = &hello;
    xf_status status = xf_send(conn, &frame);
    if (status != XF_OK) return status;
    Xunfang__Bus__V1__Frame *answer = NULL;
    status = xf_next_frame(conn, &answer);
    if (status != XF_OK) return status;
    if (answer->kind_case == XUNFANG__BUS__V1__FRAME__KIND_REJECT) {
        conn->reject_code = answer->reject->code;
        status = fail(conn, XF_ERR_REJECTED, "rejected (code %u): %s", answer->reject->code, answer->reject->reason);
    } else if (answer->kind_case != XUNFANG__BUS__V1__FRAME__KIND_WELCOME) {
        status = fail(conn, XF_ERR_PROTOCOL, "expected Welcome, got frame kind %d", answer->kind_case);
    } else {
        size_t negotiated = answer->welcome->max_frame_bytes;
        conn->max_frame = negotiated < conn->rx_cap - XF_PREFIX_SIZE ? negotiated : conn->rx_cap - XF_PREFIX_SIZE;
        conn->ping_interval_ms = answer->welcome->ping_interval_ms;
        snprintf(conn->session_id, sizeof conn->session_id, "%s", answer->welcome->session_id);
    }
    xunfang__bus__v1__frame__free_unpacked(answer, NULL);
    return status;
}

xf_status xf_join(xf_conn *conn, const char *path, const xf_hello_opts *opts, int max_attempts) {
    enum { ALREADY_EXISTS = 6 };
    if (max_attempts <= 0) max_attempts = 100;
    useconds_t delay = 50 * 1000;
    for (int attempt = 1;; attempt++) {
        conn->reject_code = 0;
        conn->rx_len = 0;
        xf_status status = xf_connect_unix(conn, path);
        if (status == XF_OK) {
            status = xf_handshake(conn, opts);
            if (status == XF_OK) return XF_OK;
            close(conn->fd);
            conn->fd = -1;
            if (status == XF_ERR_REJECTED && conn->reject_code != ALREADY_EXISTS) return status;
        }
        if (attempt >= max_attempts) return fail(conn, XF_ERR_IO, "gave up joining the bus after %d attempts: %s", attempt, conn->error);
        usleep(delay);
        if (delay < 2000 * 1000) delay *= 2;
    }
}

void xf_close(xf_conn *conn) {
    if (conn->fd < 0) return;
    Xunfang__Bus__V1__Frame frame = XUNFANG__BUS__V1__FRAME__INIT;
    Xunfang__Bus__V1__Goodbye goodbye = XUNFANG__BUS__V1__GOODBYE__INIT;
    goodbye.reason = "closing";
    frame.kind_case = XUNFANG__BUS__V1__FRAME__KIND_GOODBYE;
    frame.goodbye = &goodbye;
    xf_send(conn, &frame);
    close(conn->fd);
    conn->fd = -1;
}

xf_status xf_subscribe(xf_conn *conn, uint64_t subscription_id, const char *pattern, const char *queue_group) {
    Xunfang__Bus__V1__Frame frame = XUNFANG__BUS__V1__FRAME__INIT;
    Xunfang__Bus__V1__Subscribe subscribe = XUNFANG__BUS__V1__SUBSCRIBE__INIT;
    subscribe.subscription_id = subscription_id;
    subscribe.pattern = (char *)pattern;
    subscribe.queue_group = (char *)(queue_group ? queue_group : "");
    subscribe.receipt_ref = subscription_id;
    frame.kind_case = XUNFANG__BUS__V1__FRAME__KIND_SUBSCRIBE;
    frame.subscribe = &subscribe;
    return xf_send(conn, &frame);
}

xf_status xf_subscribe_durable(xf_conn *conn, uint64_t subscription_id, const char *pattern, const char *durable_name) {
    Xunfang__Bus__V1__Frame frame = XUNFANG__BUS__V1__FRAME__INIT;
    Xunfang__Bus__V1__Subscribe subscribe = XUNFANG__BUS__V1__SUBSCRIBE__INIT;
    subscribe.subscription_id = subscription_id;
    subscribe.pattern = (char *)pattern;
    subscribe.durable_name = (char *)durable_name;
    subscribe.receipt_ref = subscription_id;
    frame.kind_case = XUNFANG__BUS__V1__FRAME__KIND_SUBSCRIBE;
    frame.subscribe = &subscribe;
    return xf_send(conn, &frame);
}

xf_status xf_publish(xf_conn *conn, const char *topic, const uint8_t *payload, size_t len) {
    Xunfang__Bus__V1__Frame frame = XUNFANG__BUS__V1__FRAME__INIT;
    Xunfang__Bus__V1__Publish publish = XUNFANG__BUS__V1__PUBLISH__INIT;
    publish.topic = (char *)topic;
    publish.payload.data = (uint8_t *)payload;
    publish.payload.len = len;
    frame.kind_case = XUNFANG__BUS__V1__FRAME__KIND_PUBLISH;
    frame.publish = &publish;
    return xf_send(conn, &frame);
}

xf_status xf_respond(xf_conn *conn, uint64_t call_id, uint32_t code, const char *message, const uint8_t *payload, size_t len) {
    Xunfang__Bus__V1__Frame frame = XUNFANG__BUS__V1__FRAME__INIT;
    Xunfang__Bus__V1__Response response = XUNFANG__BUS__V1__RESPONSE__INIT;
    response.call_id = call_id;
    response.code = code;
    response.message = (char *)(message ? message : "");
    response.payload.data = (uint8_t *)payload;
    response.payload.len = len;
    frame.kind_case = XUNFANG__BUS__V1__FRAME__KIND_RESPONSE;
    frame.response = &response;
    return xf_send(conn, &frame);
}

xf_status xf_ack(xf_conn *conn, uint64_t subscription_id, uint64_t sequence) {
    Xunfang__Bus__V1__Frame frame = XUNFANG__BUS__V1__FRAME__INIT;
    Xunfang__Bus__V1__Ack ack = XUNFANG__BUS__V1__ACK__INIT;
    ack.subscription_id = subscription_id;
    ack.sequences = &sequence;
    ack.n_sequences = 1;
    frame.kind_case = XUNFANG__BUS__V1__FRAME__KIND_ACK;
    frame.ack = &ack;
    return xf_send(conn, &frame);
}
