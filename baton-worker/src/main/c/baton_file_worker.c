/*
 * A cooperating Baton worker in C: receives client connections that a Baton server agent passes
 * over a Unix SOCK_SEQPACKET socket (SCM_RIGHTS) and serves HTTP/1.1 on them, one thread each.
 * The same protocol and behaviour as io.baton.worker.example.FileWorker:
 *
 *   agent  -> worker   "BATON-PASS 1"                          once, first
 *   agent  -> worker   "CONN id client-ip:port vip-ip:port"    + the connected TCP socket
 *   worker -> agent    "CLOSED id bytes-in bytes-out"          after closing that socket
 *
 *   GET /PATH           the file under ROOT, with X-Worker: NAME
 *   PUT /upload/NAME    stores the body (Content-Length) as ROOT/uploads/NAME, answers 201
 *
 * Build: cc -O2 -Wall -Wextra -pthread -o baton_file_worker baton_file_worker.c
 * Run:   ./baton_file_worker SOCKET ROOT NAME
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_MESSAGE 256
#define MAX_HEAD 16384

static const char *root;
static const char *name;

struct link {
    int fd;
    pthread_mutex_t lock;
};

struct conn {
    struct link *link;
    unsigned long long id;
    int fd;
    unsigned long long in, out;
    char buf[65536];
    size_t have, used; /* bytes read ahead of the parser */
};

static int write_all(struct conn *c, const void *p, size_t n) {
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        b += w;
        n -= (size_t) w;
        c->out += (unsigned long long) w;
    }
    return 0;
}

/* Reads more into the buffer; 0 at the end of the stream, -1 on error. */
static ssize_t fill(struct conn *c) {
    if (c->used > 0) {
        memmove(c->buf, c->buf + c->used, c->have - c->used);
        c->have -= c->used;
        c->used = 0;
    }
    if (c->have == sizeof c->buf) return -1;
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) {
            c->have += (size_t) r;
            c->in += (unsigned long long) r;
        }
        return r;
    }
}

static int status(struct conn *c, int code, const char *why) {
    char out[512];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nX-Worker: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                     code, why, name, strlen(why) + 1, why);
    write_all(c, out, (size_t) n);
    return 0;
}

static int safe_name(const char *p) {
    return *p && *p != '/' && !strstr(p, "..");
}

/* Answers one request whose head is c->buf[c->used, end); returns 1 to keep the connection. */
static int answer(struct conn *c, char *head) {
    char method[16], path[1024], version[16];
    if (sscanf(head, "%15s %1023s %15s", method, path, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0)
        return status(c, 400, "bad request line");
    int keep = strcmp(version, "HTTP/1.1") == 0;
    unsigned long long length = 0;
    int expect = 0;
    for (char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, "Content-Length:", 15) == 0) length = strtoull(line + 15, NULL, 10);
        else if (strncasecmp(line, "Connection:", 11) == 0) {
            const char *v = line + 11;
            while (*v == ' ') v++;
            if (strncasecmp(v, "close", 5) == 0) keep = 0;
            else if (strncasecmp(v, "keep-alive", 10) == 0) keep = 1;
        } else if (strncasecmp(line, "Expect:", 7) == 0 && strcasestr(line, "100-continue")) expect = 1;
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) return status(c, 411, "send a Content-Length");
    }
    char file[PATH_MAX];
    char out[512];
    if (strcmp(method, "PUT") == 0 && strncmp(path, "/upload/", 8) == 0) {
        if (!safe_name(path + 8)) return status(c, 400, "bad upload name");
        snprintf(file, sizeof file, "%s/uploads", root);
        mkdir(file, 0755);
        snprintf(file, sizeof file, "%s/uploads/%s", root, path + 8);
        int f = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f < 0) return status(c, 500, "cannot create the file");
        if (expect) write_all(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        unsigned long long left = length;
        while (left > 0) {
            if (c->used == c->have) {
                c->used = c->have = 0;
                if (fill(c) <= 0) {
                    close(f);
                    return 0;
                }
            }
            size_t n = c->have - c->used;
            if (n > left) n = (size_t) left;
            if (write(f, c->buf + c->used, n) != (ssize_t) n) {
                close(f);
                return status(c, 500, "cannot write the file");
            }
            c->used += n;
            left -= n;
        }
        close(f);
        char body[64];
        int b = snprintf(body, sizeof body, "stored %llu bytes\n", length);
        int n = snprintf(out, sizeof out, "HTTP/1.1 201 Created\r\nX-Worker: %s\r\nContent-Length: %d\r\n%s\r\n%s", name,
                         b, keep ? "" : "Connection: close\r\n", body);
        return write_all(c, out, (size_t) n) == 0 && keep;
    }
    if (length > 0) return status(c, 413, "no body expected");
    if (strcmp(method, "GET") != 0) return status(c, 405, "GET or PUT /upload/NAME");
    if (!safe_name(path + 1)) return status(c, 404, "no such file");
    snprintf(file, sizeof file, "%s/%s", root, path + 1);
    int f = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (f < 0 || fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f >= 0) close(f);
        return status(c, 404, "no such file");
    }
    int n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nX-Worker: %s\r\nContent-Length: %lld\r\n%s\r\n", name,
                     (long long) st.st_size, keep ? "" : "Connection: close\r\n");
    if (write_all(c, out, (size_t) n) != 0) {
        close(f);
        return 0;
    }
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t s = sendfile(c->fd, f, &off, (size_t) (st.st_size - off));
        if (s < 0 && errno == EINTR) continue;
        if (s <= 0) {
            close(f);
            return 0;
        }
        c->out += (unsigned long long) s;
    }
    close(f);
    return keep;
}

static void *serve(void *arg) {
    struct conn *c = arg;
    for (;;) {
        char *end;
        while (!(end = memmem(c->buf + c->used, c->have - c->used, "\r\n\r\n", 4))) {
            if (c->have - c->used > MAX_HEAD) goto done;
            ssize_t r = fill(c);
            if (r <= 0) goto done;
        }
        end[2] = '\0'; /* keeps the last header's CRLF for the line scan */
        char *head = c->buf + c->used;
        c->used = (size_t) (end + 4 - c->buf);
        if (!answer(c, head)) break;
    }
done:
    close(c->fd);
    char msg[MAX_MESSAGE];
    int n = snprintf(msg, sizeof msg, "CLOSED %llu %llu %llu", c->id, c->in, c->out);
    pthread_mutex_lock(&c->link->lock);
    if (c->link->fd >= 0) send(c->link->fd, msg, (size_t) n, MSG_NOSIGNAL);
    pthread_mutex_unlock(&c->link->lock);
    free(c);
    return NULL;
}

/* Reads one agent's messages; each CONN brings a socket, served on its own thread. */
static void *read_link(void *arg) {
    struct link *link = arg;
    int greeted = 0;
    for (;;) {
        char data[MAX_MESSAGE + 1];
        union {
            struct cmsghdr align;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov = {data, MAX_MESSAGE};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                             .msg_controllen = sizeof control.space};
        ssize_t r = recvmsg(link->fd, &msg, MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EINTR) continue;
        int fd = -1;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof fd);
        if (r <= 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            if (fd >= 0) close(fd);
            break;
        }
        data[r] = '\0';
        if (!greeted) {
            if (strcmp(data, "BATON-PASS 1") != 0) {
                fprintf(stderr, "not a Baton agent: %s\n", data);
                break;
            }
            greeted = 1;
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c || fd < 0 || sscanf(data, "CONN %llu ", &c->id) != 1) {
            fprintf(stderr, "bad message from the agent: %s\n", data);
            if (fd >= 0) close(fd);
            free(c);
            break;
        }
        c->link = link;
        c->fd = fd;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, serve, c) != 0) {
            close(fd);
            free(c);
        }
        pthread_attr_destroy(&attr);
    }
    /* The link's memory stays: connections still being served may report to it (and find it closed). */
    pthread_mutex_lock(&link->lock);
    close(link->fd);
    link->fd = -1;
    pthread_mutex_unlock(&link->lock);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET ROOT NAME\n", argv[0]);
        return 2;
    }
    root = argv[2];
    name = argv[3];
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof sa.sun_path) {
        fprintf(stderr, "socket path too long: %s\n", argv[1]);
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    unlink(argv[1]);
    int listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *) &sa, sizeof sa) != 0 || listen(listener, 16) != 0) {
        perror(argv[1]);
        return 1;
    }
    printf("worker %s listening on %s\n", name, argv[1]);
    fflush(stdout);
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            return 1;
        }
        struct link *link = calloc(1, sizeof *link);
        link->fd = fd;
        pthread_mutex_init(&link->lock, NULL);
        pthread_t t;
        if (pthread_create(&t, NULL, read_link, link) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
