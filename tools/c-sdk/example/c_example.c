/*
 * xunfang-plugin-c-example: a plugin written in C against the Xunfang C SDK.
 * It serves /xunfang.example.v1.CExample/Echo (xunfang.template.v1.EchoRequest ->
 * EchoResponse), counts the messages it hears on "example.note", and works through jobs
 * on the durable topic "example.job" as the durable consumer "c-example-jobs": each job
 * is answered on "example.done" with the same payload, then acknowledged, so a job
 * published while this plugin is down is done when it is back.
 *
 * Environment: XUNFANG_BUS (socket path), XUNFANG_CREDENTIAL, XUNFANG_INSTANCE.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xf_sdk.h"
#include "xunfang/template/v1/template.pb-c.h"

#define ECHO_METHOD "/xunfang.example.v1.CExample/Echo"
#define NOTE_TOPIC "example.note"
#define JOB_TOPIC "example.job"
#define DONE_TOPIC "example.done"
#define NOTES 1
#define JOBS 2

static uint8_t rx[1 << 20], tx[1 << 20], reply_buffer[1 << 16];

static void answer(xf_conn *conn, const char *instance, uint64_t notes, const Xunfang__Bus__V1__Request *request) {
    Xunfang__Template__V1__EchoRequest *echo = xunfang__template__v1__echo_request__unpack(NULL, request->payload.len, request->payload.data);
    if (!echo) {
        xf_respond(conn, request->call_id, 3, "request is not a xunfang.template.v1.EchoRequest", NULL, 0);
        return;
    }
    Xunfang__Template__V1__EchoResponse reply = XUNFANG__TEMPLATE__V1__ECHO_RESPONSE__INIT;
    reply.text = echo->text;
    reply.served_by = (char *)instance;
    reply.notes_seen = notes;
    size_t size = xunfang__template__v1__echo_response__get_packed_size(&reply);
    if (size > sizeof reply_buffer) {
        xf_respond(conn, request->call_id, 8, "reply too large", NULL, 0);
    } else {
        xunfang__template__v1__echo_response__pack(&reply, reply_buffer);
        xf_respond(conn, request->call_id, 0, NULL, reply_buffer, size);
    }
    xunfang__template__v1__echo_request__free_unpacked(echo, NULL);
}

static void serve(xf_conn *conn, const char *instance, uint64_t *notes);

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--manifest") == 0) {
        printf("{\"name\":\"c-example\",\"version\":\"0.1.0\",\"executable\":\"xunfang-plugin-c-example\","
               "\"publishes\":[\"" DONE_TOPIC "\"],\"subscribes\":[\"" NOTE_TOPIC "\",\"" JOB_TOPIC "\"],\"serves\":[\"" ECHO_METHOD "\"],\"calls\":[]}\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *bus = getenv("XUNFANG_BUS") ? getenv("XUNFANG_BUS") : "data/bus.sock";
    const char *credential = getenv("XUNFANG_CREDENTIAL");
    const char *instance = getenv("XUNFANG_INSTANCE") ? getenv("XUNFANG_INSTANCE") : "c-example";
    if (!credential) {
        fprintf(stderr, "c-example: XUNFANG_CREDENTIAL is not set\n");
        return 78;
    }
    xf_conn conn;
    xf_conn_init(&conn, rx, sizeof rx, tx, sizeof tx);
    const char *subscribes[] = {NOTE_TOPIC, JOB_TOPIC};
    const char *publishes[] = {DONE_TOPIC};
    const char *serves[] = {ECHO_METHOD};
    xf_hello_opts hello = {.plugin = "c-example", .instance = instance, .version = "0.1.0", .credential = credential,
                           .publishes = publishes, .n_publishes = 1, .subscribes = subscribes, .n_subscribes = 2,
                           .serves = serves, .n_serves = 1};
    uint64_t notes = 0;
    /* Join, serve until the connection is lost, join again: the bus may restart. */
    for (;;) {
        xf_status joined = xf_join(&conn, bus, &hello, 0);
        if (joined != XF_OK) {
            fprintf(stderr, "c-example: %s\n", conn.error);
            return joined == XF_ERR_REJECTED ? 78 : 1;
        }
        if (xf_subscribe(&conn, NOTES, NOTE_TOPIC, NULL) != XF_OK || xf_subscribe_durable(&conn, JOBS, JOB_TOPIC, "c-example-jobs") != XF_OK) {
            fprintf(stderr, "c-example: %s\n", conn.error);
            return 1;
        }
        fprintf(stderr, "c-example: joined the bus as %s (session %s)\n", instance, conn.session_id);
        serve(&conn, instance, &notes);
        fprintf(stderr, "c-example: lost the bus (%s); joining again\n", conn.error);
        close(conn.fd);
        conn.fd = -1;
    }
}

/* Handles frames until the connection fails. */
static void serve(xf_conn *conn, const char *instance, uint64_t *notes) {
    Xunfang__Bus__V1__Frame *frame = NULL;
    while (xf_next_frame(conn, &frame) == XF_OK) {
        switch (frame->kind_case) {
        case XUNFANG__BUS__V1__FRAME__KIND_DELIVER:
            if (frame->deliver->subscription_id == JOBS) {
                /* Done first, then acked: a crash in between does the job again, never loses it. */
                Xunfang__Bus__V1__Deliver *job = frame->deliver;
                if (xf_publish(conn, DONE_TOPIC, job->payload.data, job->payload.len) == XF_OK) xf_ack(conn, JOBS, job->sequence);
            } else {
                (*notes)++;
            }
            break;
        case XUNFANG__BUS__V1__FRAME__KIND_REQUEST:
            answer(conn, instance, *notes, frame->request);
            break;
        case XUNFANG__BUS__V1__FRAME__KIND_RECEIPT:
            if (frame->receipt->code != 0) fprintf(stderr, "c-example: refused: %s\n", frame->receipt->message);
            break;
        case XUNFANG__BUS__V1__FRAME__KIND_ERROR:
            fprintf(stderr, "c-example: bus error %u: %s\n", frame->error->code, frame->error->message);
            break;
        default:
            break;
        }
        xunfang__bus__v1__frame__free_unpacked(frame, NULL);
    }
}
