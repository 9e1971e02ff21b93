/* A librdkafka load client for benches/kafka/run.sh: produce to or consume partitions.
 *
 *   load produce BOOTSTRAP TOPIC PARTITIONS MESSAGES SIZE [key=value ...]
 *   load consume BOOTSTRAP TOPIC PARTITIONS MESSAGES [key=value ...]
 *
 * PARTITIONS is one partition (`3`) or a range (`0-7`). Produce sends MESSAGES values of
 * SIZE bytes, spread round-robin over the partitions, and waits for every delivery report;
 * any failed delivery exits 1. Consume reads the partitions from the beginning until
 * MESSAGES messages arrived in all (exit 1 after 120 s without progress). key=value pairs
 * are librdkafka settings. Prints nothing on success.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long failed = 0;

/* Parse `N` or `A-B` into [*first, *last]; exits on anything else. */
static void partitions(const char *arg, int *first, int *last) {
    char *end;
    *first = (int)strtol(arg, &end, 10);
    *last = *end == '-' ? (int)strtol(end + 1, &end, 10) : *first;
    if (*end || *first < 0 || *last < *first) {
        fprintf(stderr, "bad partitions: %s\n", arg);
        exit(2);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ == 0) fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

static rd_kafka_conf_t *config(const char *bootstrap, int argc, char **argv) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "expected key=value: %s\n", argv[i]);
            exit(2);
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            exit(2);
        }
    }
    return conf;
}

static int produce(const char *bootstrap, const char *topic, const char *range, long n,
                   size_t size, int argc, char **argv) {
    int first, last;
    partitions(range, &first, &last);
    char err[512];
    rd_kafka_conf_t *conf = config(bootstrap, argc, argv);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    char *payload = malloc(size);
    memset(payload, 'x', size);
    for (long i = 0; i < n;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(first + (int)(i % (last - first + 1))),
            RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 5);
            continue;
        }
        if (e) {
            fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
            return 1;
        }
        i++;
        if (i % 1024 == 0) rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0) rd_kafka_poll(rk, 50);
    rd_kafka_destroy(rk);
    free(payload);
    return failed ? 1 : 0;
}

static int consume(const char *bootstrap, const char *topic, const char *range, long n,
                   int argc, char **argv) {
    int first, last;
    partitions(range, &first, &last);
    char err[512];
    rd_kafka_conf_t *conf = config(bootstrap, argc, argv);
    rd_kafka_conf_set(conf, "group.id", "bench-load", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(last - first + 1);
    for (int p = first; p <= last; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    long got = 0;
    time_t progress = time(NULL);
    while (got < n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (time(NULL) - progress > 120) break;
            continue;
        }
        if (!m->err) {
            got++;
            progress = time(NULL);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got != n) {
        fprintf(stderr, "consumed %ld of %ld\n", got, n);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && !strcmp(argv[1], "produce"))
        return produce(argv[2], argv[3], argv[4], atol(argv[5]), (size_t)atol(argv[6]), argc - 7,
                       argv + 7);
    if (argc >= 6 && !strcmp(argv[1], "consume"))
        return consume(argv[2], argv[3], argv[4], atol(argv[5]), argc - 6, argv + 6);
    fprintf(stderr,
            "usage: load produce BOOTSTRAP TOPIC PARTITIONS MESSAGES SIZE [key=value ...]\n"
            "       load consume BOOTSTRAP TOPIC PARTITIONS MESSAGES [key=value ...]\n");
    return 2;
}
