/*
 * The bench's load generator: one thread, one epoll set, 127.0.0.1 only.
 *
 * It exists so that the bench measures the server and not itself: on a two-core machine a client
 * that spends more CPU per message than the server sets the figure for every server it drives.
 * This one writes everything a connection may send in one write() and takes everything the kernel
 * holds in one read(), so with many messages in flight a syscall carries many messages.
 *
 *   loadgen echo    --port P [--conns 100] [--depth 1] [--size 64] [--lines] [--unbatched] [--tls] [--seconds 5] [--warmup 0]
 *   loadgen connect --port P [--concurrency 50] [--size 64] [--seconds 5] [--warmup 0]
 *   loadgen hold    --port P [--conns 1000] [--concurrency 200] [--seconds 60] [--release-on-eof] [--tls]
 *
 * echo:    N connections, each keeping D messages of SIZE bytes in flight; every echoed byte is
 *          compared with the byte sent at that position of the stream. --lines makes each message
 *          a line of printable ASCII ending in '\n', for line servers. --unbatched writes each message
 *          with a write() of its own, as a client does that sends each message as it makes it. --tls speaks TLS
 *          (OpenSSL, TLS 1.3, the server's certificate not checked), each connection's handshake done before the
 *          clock starts; a write is then an SSL_write of as much, and a read an SSL_read.
 * connect: C clients, each connecting, sending SIZE bytes, awaiting their echo and closing, again.
 * hold:    opens N connections (C connecting at once), echoes one byte on each, prints
 *          {"held":N} and holds them idle for --seconds, or until standard input closes with
 *          --release-on-eof; then echoes one byte on each again. With --tls each connection's handshake
 *          and echo run one connection at a time, blocking (at most 10 s each).
 *
 * Each mode prints one line of JSON on standard output and exits with 0 when errors is 0, 1 when
 * not, 2 on bad arguments. Latencies are in microseconds: for echo, from the write() that carried
 * a message's first byte to the read() that completed its echo; for connect, from connect() to the
 * echo. Messages that complete within the first --warmup seconds count in messages_all only.
 *
 * Every loop ends: the runs at their deadline (--warmup plus --seconds, each at most 600 s) or after
 * 2^40 messages or connections; connecting (echo) and each round of hold's echoes give up after 10 s
 * (plus a second per thousand connections for hold, per hundred with --tls), counting what did not finish as errors.
 * echo reports idle_conns, the connections that completed nothing in the measured window: a server
 * that starves some connections shows there.
 *
 * What is sent: the stream of connection c is a cycle of CYCLE messages (a prime number of them),
 * starting at message c * 37 mod CYCLE, drawn once from a fixed xorshift generator. Consecutive
 * messages differ, so a reordered, lost, duplicated or misrouted message fails the comparison.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

enum { CYCLE = 257, IO_MAX = 256 * 1024, SIZE_MAX_BYTES = 64 * 1024, CONNS_MAX = 20000, DEPTH_MAX = 1024, EVENTS = 512 };
static const double SECONDS_MAX = 600;
static const uint64_t COUNT_MAX = 1ull << 40;
static const int64_t STALL_NS = 10 * 1000000000ll; /* connect and hold: an echo that takes longer fails */

/* ---- options ------------------------------------------------------------------------------ */

static struct {
    const char *mode;
    int port, conns, depth, size, concurrency, lines, unbatched, release_on_eof, tls;
    double seconds, warmup;
} opt = { .conns = -1, .depth = 1, .size = -1, .concurrency = -1, .seconds = -1, .warmup = 0 };

static void usage(void)
{
    fputs("usage: loadgen echo|connect|hold --port P [--conns N] [--depth D] [--size BYTES] [--lines] [--unbatched] [--tls]\n"
          "               [--concurrency C] [--seconds S] [--warmup W] [--release-on-eof]\n", stderr);
    exit(2);
}

static double number(const char *text, double low, double high, const char *name)
{
    char *end;
    double value = strtod(text, &end);
    if (*text == 0 || *end != 0 || !(value >= low && value <= high)) {
        fprintf(stderr, "loadgen: %s must be a number in [%g, %g], not %s\n", name, low, high, text);
        exit(2);
    }
    return value;
}

static void parse(int argc, char **argv)
{
    if (argc < 2) usage();
    opt.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *name = argv[i];
        if (!strcmp(name, "--lines")) { opt.lines = 1; continue; }
        if (!strcmp(name, "--unbatched")) { opt.unbatched = 1; continue; }
        if (!strcmp(name, "--tls")) { opt.tls = 1; continue; }
        if (!strcmp(name, "--release-on-eof")) { opt.release_on_eof = 1; continue; }
        if (i + 1 >= argc) usage();
        const char *value = argv[++i];
        if (!strcmp(name, "--port")) opt.port = (int)number(value, 1, 65535, name);
        else if (!strcmp(name, "--conns")) opt.conns = (int)number(value, 1, CONNS_MAX, name);
        else if (!strcmp(name, "--depth")) opt.depth = (int)number(value, 1, DEPTH_MAX, name);
        else if (!strcmp(name, "--size")) opt.size = (int)number(value, 1, SIZE_MAX_BYTES, name);
        else if (!strcmp(name, "--concurrency")) opt.concurrency = (int)number(value, 1, CONNS_MAX, name);
        else if (!strcmp(name, "--seconds")) opt.seconds = number(value, 0.01, SECONDS_MAX, name);
        else if (!strcmp(name, "--warmup")) opt.warmup = number(value, 0, SECONDS_MAX, name);
        else { fprintf(stderr, "loadgen: unknown option %s\n", name); usage(); }
    }
    if (opt.port == 0) { fputs("loadgen: --port is required\n", stderr); exit(2); }
}

/* ---- time, CPU and latency ---------------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static int64_t seconds_ns(double seconds) { return (int64_t)(seconds * 1e9); }

static double cpu_seconds(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/*
 * Latencies in nanoseconds, in buckets of 1/64 of a power of two (within 1.6% of the value):
 * below 64 one bucket per value, above it 64 buckets per octave, up to 2^47 ns.
 */
enum { SUB = 64, OCTAVES = 42, BUCKETS = SUB * (OCTAVES + 1) };
static uint64_t histogram[BUCKETS];
static uint64_t samples;
static int64_t slowest;

static void record(int64_t ns)
{
    uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
    int bucket;
    if (v < SUB) bucket = (int)v;
    else {
        int octave = 63 - __builtin_clzll(v);             /* 6 and up */
        bucket = (octave - 5) * SUB + (int)((v >> (octave - 6)) & (SUB - 1));
        if (bucket >= BUCKETS) bucket = BUCKETS - 1;
    }
    histogram[bucket]++;
    samples++;
    if ((int64_t)v > slowest) slowest = (int64_t)v;
}

/* The smallest bucket's middle value that p of the samples do not exceed, in microseconds. */
static double percentile_us(double p)
{
    if (samples == 0) return 0;
    uint64_t rank = (uint64_t)(p * (double)samples);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int bucket = 0; bucket < BUCKETS; bucket++) {
        seen += histogram[bucket];
        if (seen < rank) continue;
        if (bucket < SUB) return bucket / 1000.0;
        int octave = bucket / SUB + 5;
        double low = (double)((uint64_t)(SUB + bucket % SUB) << (octave - 6));
        return (low + (double)(1ull << (octave - 6)) / 2) / 1000.0;
    }
    return slowest / 1000.0;
}

/* ---- what is sent ----------------------------------------------------------------------- */

/* CYCLE messages, then the first IO_MAX bytes again, so that any slice of up to IO_MAX bytes that starts in the cycle is contiguous. */
static unsigned char *pattern;
static uint64_t period;

static void make_pattern(int size, int lines)
{
    period = (uint64_t)CYCLE * (uint64_t)size;
    pattern = malloc(period + IO_MAX);
    if (!pattern) { fputs("loadgen: out of memory\n", stderr); exit(2); }
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < period; i++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        pattern[i] = lines ? (unsigned char)('!' + (state >> 32) % 94) : (unsigned char)(state >> 32);
        if (lines && i % (uint64_t)size == (uint64_t)size - 1) pattern[i] = '\n';
    }
    for (uint64_t i = 0; i < IO_MAX; i++) pattern[period + i] = pattern[i % period];
}

/* Where the stream of client c starts in the pattern. */
static uint64_t stream_start(int c, int size) { return (uint64_t)((c * 37) % CYCLE) * (uint64_t)size; }

static unsigned char scratch[IO_MAX];

/* ---- sockets ------------------------------------------------------------------------------ */

static struct sockaddr_in target;
static int epoll_fd;

static void raise_fd_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/* A non-blocking socket connecting to 127.0.0.1:port, or -1. */
static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) { close(fd); return -1; }
    return fd;
}

static void watch(int fd, uint32_t events, uint64_t slot, int op)
{
    struct epoll_event event = { .events = events, .data.u64 = slot };
    epoll_ctl(epoll_fd, op, fd, &event);
}

static int connect_error(int fd)
{
    int error = 0;
    socklen_t length = sizeof error;
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0 ? errno : error;
}

static void print_cpu(double cpu, uint64_t count)
{
    printf("\"cpu_s\":%.3f,\"cpu_us_per_msg\":%.3f", cpu, count ? cpu * 1e6 / (double)count : 0.0);
}

/* ---- echo ---------------------------------------------------------------------------------- */

struct stream {
    int fd;
    SSL *ssl;                   /* with --tls */
    int connected;
    int writable_wait;          /* EPOLLOUT is on: the last write was cut short */
    uint64_t start;             /* where this stream starts in the pattern */
    uint64_t written, verified; /* bytes */
    uint64_t completed;         /* messages completed in the measured window */
    int64_t *sent_at;           /* depth entries: when message k's first byte left, at k % depth */
};

static struct stream *streams;
static uint64_t mismatches, closed_early, connect_failures;

static void fail_stream(struct stream *s, uint64_t *counter)
{
    (*counter)++;
    if (s->ssl) { SSL_free(s->ssl); s->ssl = NULL; }
    if (s->fd >= 0) { close(s->fd); s->fd = -1; }
}

/* --tls: one write or read, as write() and read() behave: a count, or -1 with errno EAGAIN when TLS must wait for the socket. */
static ssize_t tls_io(SSL *ssl, void *buffer, size_t length, int writing)
{
    int n = writing ? SSL_write(ssl, buffer, (int)length) : SSL_read(ssl, buffer, (int)length);
    if (n > 0) return n;
    int error = SSL_get_error(ssl, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) { errno = EAGAIN; return -1; }
    ERR_clear_error();
    return 0; /* closed, or failed: the caller counts it */
}

static SSL_CTX *tls_context;

/* --tls: waits at most 100 ms for fd to be readable (or writable), as OpenSSL asked. */
static void wait_for(int fd, int reading)
{
    struct epoll_event ignored, event = { .events = reading ? EPOLLIN : EPOLLOUT };
    int one = epoll_create1(EPOLL_CLOEXEC);
    epoll_ctl(one, EPOLL_CTL_ADD, fd, &event);
    epoll_wait(one, &ignored, 1, 100);
    close(one);
}

/* --tls: the handshake on a connected socket, blocking for at most STALL_NS; the session, or NULL. */
static SSL *tls_connect(int fd)
{
    if (!tls_context) {
        tls_context = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(tls_context, TLS1_3_VERSION);
        SSL_CTX_set_mode(tls_context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    SSL *ssl = SSL_new(tls_context);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    for (int64_t give_up = now_ns() + STALL_NS; now_ns() < give_up;) {
        int n = SSL_connect(ssl);
        if (n == 1) return ssl;
        int error = SSL_get_error(ssl, n);
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) break;
        wait_for(fd, error == SSL_ERROR_WANT_READ);
    }
    ERR_clear_error();
    SSL_free(ssl);
    return NULL;
}

/* --tls, hold: writes one byte and reads it back, blocking for at most STALL_NS; 0 when it came back. */
static int tls_echo_byte(SSL *ssl, int fd, unsigned char byte)
{
    unsigned char back;
    int wrote = 0;
    for (int64_t give_up = now_ns() + STALL_NS; now_ns() < give_up;) {
        int n = wrote ? SSL_read(ssl, &back, 1) : SSL_write(ssl, &byte, 1);
        if (n == 1 && wrote) return back == byte ? 0 : -1;
        if (n == 1) { wrote = 1; continue; }
        int error = SSL_get_error(ssl, n);
        if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) break;
        wait_for(fd, error == SSL_ERROR_WANT_READ);
    }
    ERR_clear_error();
    return -1;
}

/* Writes what the window allows, in as few write()s as the kernel takes: every message up to `depth` ahead of the last one echoed. */
static void pump(struct stream *s)
{
    uint64_t size = (uint64_t)opt.size;
    uint64_t limit = (s->verified / size + (uint64_t)opt.depth) * size;
    while (s->fd >= 0 && s->written < limit) {
        uint64_t length = limit - s->written;
        if (length > IO_MAX) length = IO_MAX;
        if (opt.unbatched && length > size - s->written % size) length = size - s->written % size;
        const unsigned char *from = pattern + (s->start + s->written) % period;
        ssize_t n = s->ssl ? tls_io(s->ssl, (void *)from, length, 1) : write(s->fd, from, length);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) { fail_stream(s, &closed_early); return; }
        int64_t now = now_ns();
        for (uint64_t k = (s->written + size - 1) / size; k * size < s->written + (uint64_t)n; k++) s->sent_at[k % (uint64_t)opt.depth] = now;
        s->written += (uint64_t)n;
        if ((uint64_t)n < length) break;
    }
    int want = s->fd >= 0 && s->written < limit;
    if (want != s->writable_wait && s->fd >= 0) {
        watch(s->fd, EPOLLIN | (want ? EPOLLOUT : 0), (uint64_t)(s - streams), EPOLL_CTL_MOD);
        s->writable_wait = want;
    }
}

static uint64_t drain_once(struct stream *s, int64_t measure_from, int64_t measure_to);

/* Reads what has arrived, compares it with what was sent, and records the messages it completes. */
static uint64_t drain(struct stream *s, int64_t measure_from, int64_t measure_to)
{
    uint64_t done = 0;
    do done += drain_once(s, measure_from, measure_to);
    while (s->ssl && SSL_pending(s->ssl) > 0); /* decrypted bytes the socket will not announce again */
    return done;
}

static uint64_t drain_once(struct stream *s, int64_t measure_from, int64_t measure_to)
{
    ssize_t n = s->ssl ? tls_io(s->ssl, scratch, IO_MAX, 0) : read(s->fd, scratch, IO_MAX);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n <= 0) { fail_stream(s, &closed_early); return 0; }
    if (s->verified + (uint64_t)n > s->written || memcmp(scratch, pattern + (s->start + s->verified) % period, (size_t)n) != 0) {
        fail_stream(s, &mismatches);
        return 0;
    }
    uint64_t size = (uint64_t)opt.size, done = 0;
    int64_t now = now_ns();
    for (uint64_t k = s->verified / size; (k + 1) * size <= s->verified + (uint64_t)n; k++) {
        done++;
        if (now >= measure_from && now < measure_to) {
            record(now - s->sent_at[k % (uint64_t)opt.depth]);
            s->completed++;
        }
    }
    s->verified += (uint64_t)n;
    return done;
}

static int run_echo(void)
{
    if (opt.conns < 0) opt.conns = 100;
    if (opt.size < 0) opt.size = 64;
    if (opt.seconds < 0) opt.seconds = 5;
    if ((uint64_t)opt.conns * (uint64_t)opt.depth > 4000000) { fputs("loadgen: conns x depth must be at most 4,000,000\n", stderr); return 2; }
    make_pattern(opt.size, opt.lines);
    streams = calloc((size_t)opt.conns, sizeof *streams);
    int64_t *stamps = calloc((size_t)opt.conns * (size_t)opt.depth, sizeof *stamps);
    if (!streams || !stamps) { fputs("loadgen: out of memory\n", stderr); return 2; }

    /* Connect everything before the clock starts: a connection that has not been accepted within 10 s fails. */
    int pending = 0;
    for (int c = 0; c < opt.conns; c++) {
        struct stream *s = &streams[c];
        s->start = stream_start(c, opt.size);
        s->sent_at = stamps + (size_t)c * (size_t)opt.depth;
        s->fd = dial();
        if (s->fd < 0) { connect_failures++; continue; }
        watch(s->fd, EPOLLOUT, (uint64_t)c, EPOLL_CTL_ADD);
        pending++;
    }
    struct epoll_event events[EVENTS];
    for (int64_t give_up = now_ns() + STALL_NS; pending > 0 && now_ns() < give_up;) {
        int n = epoll_wait(epoll_fd, events, EVENTS, 100);
        for (int i = 0; i < n; i++) {
            struct stream *s = &streams[events[i].data.u64];
            if (s->fd < 0 || s->connected) continue;
            pending--;
            if (connect_error(s->fd)) { fail_stream(s, &connect_failures); continue; }
            if (opt.tls && !(s->ssl = tls_connect(s->fd))) { fail_stream(s, &connect_failures); continue; }
            s->connected = s->writable_wait = 1; /* pump() sets the interest it needs */
            watch(s->fd, EPOLLIN | EPOLLOUT, events[i].data.u64, EPOLL_CTL_MOD);
        }
    }
    for (int c = 0; c < opt.conns; c++)
        if (streams[c].fd >= 0 && !streams[c].connected) fail_stream(&streams[c], &connect_failures);

    double cpu_before = cpu_seconds();
    int64_t begin = now_ns(), measure_from = begin + seconds_ns(opt.warmup), end = measure_from + seconds_ns(opt.seconds);
    uint64_t all = 0;
    for (int c = 0; c < opt.conns; c++) pump(&streams[c]);
    for (int64_t now = begin; now < end && all < COUNT_MAX; now = now_ns()) {
        int timeout = (int)((end - now) / 1000000) + 1;
        int n = epoll_wait(epoll_fd, events, EVENTS, timeout > 100 ? 100 : timeout);
        for (int i = 0; i < n; i++) {
            struct stream *s = &streams[events[i].data.u64];
            if (s->fd < 0) continue;
            if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) all += drain(s, measure_from, end);
            if (s->fd >= 0) pump(s);
        }
    }
    double cpu = cpu_seconds() - cpu_before;
    uint64_t measured = 0, idle = 0;
    for (int c = 0; c < opt.conns; c++) {
        measured += streams[c].completed;
        if (streams[c].completed == 0) idle++;
        if (streams[c].ssl) SSL_free(streams[c].ssl);
        if (streams[c].fd >= 0) close(streams[c].fd);
    }
    double window = opt.seconds;
    uint64_t errors = mismatches + closed_early + connect_failures + (all == 0);
    printf("{\"mode\":\"echo\",\"conns\":%d,\"depth\":%d,\"size\":%d,\"lines\":%s,\"unbatched\":%s,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
           "\"messages\":%llu,\"messages_all\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"errors\":%llu,\"mismatches\":%llu,\"closed_early\":%llu,\"connect_failures\":%llu,\"idle_conns\":%llu,",
           opt.conns, opt.depth, opt.size, opt.lines ? "true" : "false", opt.unbatched ? "true" : "false", window, measured / window, measured * (double)opt.size / window / 1e6,
           (unsigned long long)measured, (unsigned long long)all, percentile_us(0.50), percentile_us(0.99), percentile_us(0.999), slowest / 1000.0,
           (unsigned long long)errors, (unsigned long long)mismatches, (unsigned long long)closed_early, (unsigned long long)connect_failures,
           (unsigned long long)idle);
    print_cpu(cpu, all);
    puts("}");
    return errors ? 1 : 0;
}

/* ---- connect ------------------------------------------------------------------------------- */

struct client {
    int fd;
    int connected;       /* connect() has finished and the message is being written */
    int reading;         /* the message is written in full; its echo is awaited */
    uint64_t round;      /* how many connections this client has made */
    uint64_t sent, got;  /* bytes of this round's message */
    int64_t began;
};

static struct client *clients;
static uint64_t dials, dial_failures;

/* Client k's round r sends message (k * 37 + r) mod CYCLE, so consecutive connections differ. */
static const unsigned char *message_of(int k)
{
    return pattern + ((uint64_t)k * 37 + clients[k].round) % CYCLE * (uint64_t)opt.size;
}

/* Closes client k's connection and, before `end`, opens its next one. */
static void redial(int k, int64_t end)
{
    struct client *c = &clients[k];
    if (c->fd >= 0) close(c->fd);
    *c = (struct client){ .fd = -1, .round = c->round + 1 };
    if (now_ns() >= end || dials >= COUNT_MAX) return;
    dials++;
    c->began = now_ns();
    c->fd = dial();
    if (c->fd < 0) { dial_failures++; return; }
    watch(c->fd, EPOLLOUT, (uint64_t)k, EPOLL_CTL_ADD);
}

static int run_connect(void)
{
    if (opt.concurrency < 0) opt.concurrency = 50;
    if (opt.size < 0) opt.size = 64;
    if (opt.seconds < 0) opt.seconds = 5;
    make_pattern(opt.size, opt.lines);
    clients = calloc((size_t)opt.concurrency, sizeof *clients);
    if (!clients) { fputs("loadgen: out of memory\n", stderr); return 2; }
    uint64_t size = (uint64_t)opt.size, measured = 0, all = 0, broken = 0, timeouts = 0, wrong = 0;
    int64_t begin = now_ns(), measure_from = begin + seconds_ns(opt.warmup), end = measure_from + seconds_ns(opt.seconds);
    double cpu_before = cpu_seconds();
    for (int k = 0; k < opt.concurrency; k++) { clients[k].fd = -1; redial(k, end); }

    struct epoll_event events[EVENTS];
    int64_t next_sweep = begin + 100000000;
    for (int64_t now = begin; now < end; now = now_ns()) {
        int timeout = (int)((end - now) / 1000000) + 1;
        int n = epoll_wait(epoll_fd, events, EVENTS, timeout > 100 ? 100 : timeout);
        for (int i = 0; i < n; i++) {
            int k = (int)events[i].data.u64;
            struct client *c = &clients[k];
            if (c->fd < 0) continue;
            if (!c->reading) {
                if (!c->connected && connect_error(c->fd)) { broken++; redial(k, end); continue; }
                c->connected = 1;
                ssize_t w = write(c->fd, message_of(k) + c->sent, size - c->sent);
                if (w < 0 && errno == EAGAIN) continue;
                if (w <= 0) { broken++; redial(k, end); continue; }
                c->sent += (uint64_t)w;
                if (c->sent == size) { c->reading = 1; watch(c->fd, EPOLLIN, (uint64_t)k, EPOLL_CTL_MOD); }
                continue;
            }
            ssize_t r = read(c->fd, scratch, size - c->got);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) { broken++; redial(k, end); continue; }
            if (memcmp(scratch, message_of(k) + c->got, (size_t)r) != 0) { wrong++; redial(k, end); continue; }
            c->got += (uint64_t)r;
            if (c->got < size) continue;
            int64_t done = now_ns();
            all++;
            if (done >= measure_from && done < end) { measured++; record(done - c->began); }
            redial(k, end);
        }
        if (now >= next_sweep) {
            next_sweep = now + 100000000;
            for (int k = 0; k < opt.concurrency; k++)
                if (clients[k].fd >= 0 && now - clients[k].began > STALL_NS) { timeouts++; redial(k, end); }
        }
    }
    double cpu = cpu_seconds() - cpu_before;
    for (int k = 0; k < opt.concurrency; k++) if (clients[k].fd >= 0) close(clients[k].fd);
    uint64_t errors = dial_failures + broken + timeouts + wrong + (all == 0);
    printf("{\"mode\":\"connect\",\"concurrency\":%d,\"size\":%d,\"seconds\":%.3f,\"conns_per_s\":%.1f,\"messages\":%llu,\"messages_all\":%llu,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"errors\":%llu,\"connect_failures\":%llu,\"broken\":%llu,"
           "\"timeouts\":%llu,\"mismatches\":%llu,",
           opt.concurrency, opt.size, opt.seconds, measured / opt.seconds, (unsigned long long)measured, (unsigned long long)all,
           percentile_us(0.50), percentile_us(0.99), percentile_us(0.999), slowest / 1000.0,
           (unsigned long long)errors, (unsigned long long)dial_failures, (unsigned long long)broken, (unsigned long long)timeouts,
           (unsigned long long)wrong);
    print_cpu(cpu, all);
    puts("}");
    return errors ? 1 : 0;
}

/* ---- hold ---------------------------------------------------------------------------------- */

enum { UNOPENED, SENDING, AWAITING, HELD, FAILED };

static int *held_fds;
static SSL **held_ssl;          /* with --tls */
static unsigned char *held_state;
static uint64_t hold_failures;

static void give_up_on(int k)
{
    if (held_ssl[k]) SSL_free(held_ssl[k]);
    held_ssl[k] = NULL;
    if (held_fds[k] >= 0) close(held_fds[k]);
    held_fds[k] = -1;
    held_state[k] = FAILED;
    hold_failures++;
}

/*
 * Echoes one byte on every connection in state `from` (UNOPENED ones are opened first), at most
 * `--concurrency` at a time, and leaves those echoed HELD; one not echoed within STALL_NS fails.
 */
static void ping_all(unsigned char from)
{
    int next = 0, busy = 0;
    int64_t *began = calloc((size_t)opt.conns, sizeof *began);
    if (!began) { fputs("loadgen: out of memory\n", stderr); exit(2); }
    struct epoll_event events[EVENTS];
    int64_t give_up = now_ns() + STALL_NS + seconds_ns(opt.conns / (opt.tls ? 100.0 : 1000.0)), next_sweep = 0;
    while ((next < opt.conns || busy > 0) && now_ns() < give_up) {
        for (; next < opt.conns && busy < opt.concurrency; next++) {
            if (held_state[next] != from) continue;
            began[next] = now_ns();
            if (from == UNOPENED && (held_fds[next] = dial()) < 0) { give_up_on(next); continue; }
            watch(held_fds[next], EPOLLOUT, (uint64_t)next, from == UNOPENED ? EPOLL_CTL_ADD : EPOLL_CTL_MOD);
            held_state[next] = SENDING;
            busy++;
        }
        int n = epoll_wait(epoll_fd, events, EVENTS, 100);
        for (int i = 0; i < n; i++) {
            int k = (int)events[i].data.u64;
            unsigned char byte = pattern[k % CYCLE], back;
            if (held_state[k] == SENDING && opt.tls) {
                /* The handshake (first time) and the echo block, at most STALL_NS each: one connection at a time. */
                if (connect_error(held_fds[k]) == 0 && (held_ssl[k] || (held_ssl[k] = tls_connect(held_fds[k])))
                    && tls_echo_byte(held_ssl[k], held_fds[k], byte) == 0) {
                    held_state[k] = HELD;
                    watch(held_fds[k], 0, (uint64_t)k, EPOLL_CTL_MOD);
                    busy--;
                    continue;
                }
            } else if (held_state[k] == SENDING) {
                if (connect_error(held_fds[k]) == 0 && write(held_fds[k], &byte, 1) == 1) {
                    held_state[k] = AWAITING;
                    watch(held_fds[k], EPOLLIN, (uint64_t)k, EPOLL_CTL_MOD);
                    continue;
                }
            } else if (held_state[k] == AWAITING) {
                ssize_t r = read(held_fds[k], &back, 1);
                if (r < 0 && errno == EAGAIN) continue;
                if (r == 1 && back == byte) {
                    held_state[k] = HELD;
                    watch(held_fds[k], 0, (uint64_t)k, EPOLL_CTL_MOD);
                    busy--;
                    continue;
                }
            } else {
                if (held_state[k] == HELD) give_up_on(k); /* closed by the server while held */
                continue;
            }
            give_up_on(k);
            busy--;
        }
        int64_t now = now_ns();
        if (now < next_sweep) continue;
        next_sweep = now + 100000000;
        for (int k = 0; k < next; k++)
            if ((held_state[k] == SENDING || held_state[k] == AWAITING) && now - began[k] > STALL_NS) { give_up_on(k); busy--; }
    }
    for (int k = 0; k < opt.conns; k++)
        if (held_state[k] == SENDING || held_state[k] == AWAITING || (k >= next && held_state[k] == from)) give_up_on(k);
    free(began);
}

static int count_held(void)
{
    int held = 0;
    for (int k = 0; k < opt.conns; k++) held += held_state[k] == HELD;
    return held;
}

static int run_hold(void)
{
    if (opt.conns < 0) opt.conns = 1000;
    if (opt.concurrency < 0) opt.concurrency = 200;
    if (opt.seconds < 0) opt.seconds = 60;
    make_pattern(1, 0);
    held_fds = malloc((size_t)opt.conns * sizeof *held_fds);
    held_state = calloc((size_t)opt.conns, 1);
    held_ssl = calloc((size_t)opt.conns, sizeof *held_ssl);
    if (!held_fds || !held_state || !held_ssl) { fputs("loadgen: out of memory\n", stderr); return 2; }
    for (int k = 0; k < opt.conns; k++) held_fds[k] = -1;
    double cpu_before = cpu_seconds();
    int64_t begin = now_ns();
    ping_all(UNOPENED);
    double setup = (double)(now_ns() - begin) / 1e9;
    int held = count_held();
    printf("{\"held\":%d}\n", held);
    fflush(stdout);

    /* Nothing is sent or read until the time is up or, with --release-on-eof, standard input closes. */
    if (opt.release_on_eof) watch(0, EPOLLIN, UINT64_MAX, EPOLL_CTL_ADD);
    struct epoll_event events[EVENTS];
    int released = 0;
    for (int64_t now = now_ns(), until = now + seconds_ns(opt.seconds); now < until && !released; now = now_ns()) {
        int n = epoll_wait(epoll_fd, events, EVENTS, 100);
        for (int i = 0; i < n; i++) {
            char ignored[256];
            if (events[i].data.u64 == UINT64_MAX) released |= read(0, ignored, sizeof ignored) <= 0;
            else if (held_state[events[i].data.u64] == HELD) give_up_on((int)events[i].data.u64); /* closed by the server */
        }
    }
    if (opt.release_on_eof) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, 0, NULL);
    ping_all(HELD);
    double cpu = cpu_seconds() - cpu_before;
    int still = count_held();
    for (int k = 0; k < opt.conns; k++) {
        if (held_ssl[k]) SSL_free(held_ssl[k]);
        if (held_fds[k] >= 0) close(held_fds[k]);
    }
    printf("{\"mode\":\"hold\",\"conns\":%d,\"held\":%d,\"held_to_the_end\":%d,\"setup_s\":%.3f,\"errors\":%llu,\"cpu_s\":%.3f}\n",
           opt.conns, held, still, setup, (unsigned long long)hold_failures, cpu);
    return hold_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)opt.port);
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) { perror("loadgen: epoll_create1"); return 2; }
    if (!strcmp(opt.mode, "echo")) return run_echo();
    if (!strcmp(opt.mode, "connect")) return run_connect();
    if (!strcmp(opt.mode, "hold")) return run_hold();
    usage();
}
