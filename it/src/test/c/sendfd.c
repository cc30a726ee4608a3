/*
 * A plain descriptor sender in the textbook sendmsg style (InteropIT): it accepts COUNT TCP
 * connections on 127.0.0.1 (an ephemeral port, printed on stdout) and passes each one over the
 * unix stream socket SOCKET as one sendmsg: one byte of data and one SCM_RIGHTS control message
 * built with CMSG_SPACE, CMSG_FIRSTHDR, CMSG_LEN and CMSG_DATA. Textbook examples often send an
 * empty iovec on a datagram socket; on a stream socket the kernel delivers ancillary data only
 * with at least one byte, so this sends one. Its copy of each connection is closed right after
 * sendmsg (a sender that kept it would keep the connection open after the receiver closes it).
 * It reads nothing back.
 *
 *   sendfd SOCKET COUNT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: sendfd SOCKET COUNT\n");
    return 2;
  }
  int count = atoi(argv[2]);

  int mfd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (mfd < 0) die("socket(AF_UNIX)");
  struct sockaddr_un ad;
  memset(&ad, 0, sizeof(ad));
  ad.sun_family = AF_UNIX;
  strncpy(ad.sun_path, argv[1], sizeof(ad.sun_path) - 1);
  if (connect(mfd, (struct sockaddr *)&ad, sizeof(ad)) < 0) die("connect(SOCKET)");

  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) die("socket(AF_INET)");
  struct sockaddr_in in;
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in.sin_port = 0;
  if (bind(lfd, (struct sockaddr *)&in, sizeof(in)) < 0) die("bind");
  if (listen(lfd, 16) < 0) die("listen");
  socklen_t len = sizeof(in);
  if (getsockname(lfd, (struct sockaddr *)&in, &len) < 0) die("getsockname");
  printf("listening on port %d\n", ntohs(in.sin_port));
  fflush(stdout);

  for (int i = 0; i < count; i++) {
    int cfd = accept(lfd, NULL, NULL);
    if (cfd < 0) die("accept");

    char byte = 'x';
    struct iovec e = {&byte, 1};
    char cmsg[CMSG_SPACE(sizeof(int))];
    memset(cmsg, 0, sizeof(cmsg));
    struct msghdr m = {NULL, 0, &e, 1, cmsg, sizeof(cmsg), 0};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &cfd, sizeof(int));
    if (sendmsg(mfd, &m, 0) < 0) die("sendmsg");
    close(cfd);
    printf("sent connection %d\n", i + 1);
    fflush(stdout);
  }
  close(lfd);
  close(mfd);
  return 0;
}
