// The least work a destination does to apply a change set, for comparing with what a tool
// takes: every file written to a temporary name (content read from the source, its mode and
// times set) and renamed over its final name, every rename done, every delete done, on one
// thread, with no sync and no directory metadata. No tool that keeps partial files from
// final names does less; its time bounds how fast any of them can converge.
//
//   apply_floor SOURCE DESTINATION < PLAN      PLAN lines: "W path", "R from to", "D path"
//   prints the milliseconds the plan took.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double NowMs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void Die(const char* what, const char* path) {
  fprintf(stderr, "apply_floor: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

enum { kMaxOps = 10000, kMaxPath = 4096 };
// out = a + sep + b, or exit if it does not fit.
static void Join(char* out, const char* a, const char* sep, const char* b) {
  const int n = snprintf(out, kMaxPath, "%s%s%s", a, sep, b);
  if (n < 0 || n >= kMaxPath) {
    fprintf(stderr, "apply_floor: path too long: %s%s%s\n", a, sep, b);
    exit(1);
  }
}

static char ops[kMaxOps];
static char a[kMaxOps][256], b[kMaxOps][256];

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: apply_floor SOURCE DESTINATION < PLAN\n");
    return 2;
  }
  const char* src = argv[1];
  const char* dst = argv[2];
  int n = 0;
  char line[600];
  while (n < kMaxOps && fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%c %255s %255s", &ops[n], a[n], b[n]) >= 2) ++n;
  }
  static char buf[1 << 20];
  char from[kMaxPath], to[kMaxPath], tmp[kMaxPath];
  const double start = NowMs();
  for (int i = 0; i < n; ++i) {
    Join(to, dst, "/", a[i]);
    if (ops[i] == 'W') {
      Join(from, src, "/", a[i]);
      Join(tmp, to, "", ".floor-tmp");
      int in = open(from, O_RDONLY);
      if (in < 0) Die("cannot open", from);
      struct stat st;
      if (fstat(in, &st) != 0) Die("cannot stat", from);
      int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (out < 0) Die("cannot create", tmp);
      for (;;) {
        ssize_t got = read(in, buf, sizeof buf);
        if (got < 0) Die("cannot read", from);
        if (got == 0) break;
        if (write(out, buf, (size_t)got) != got) Die("cannot write", tmp);
      }
      const struct timespec times[2] = {st.st_atim, st.st_mtim};
      if (fchmod(out, st.st_mode & 07777) != 0 || futimens(out, times) != 0)
        Die("cannot set metadata of", tmp);
      close(in);
      if (close(out) != 0) Die("cannot close", tmp);
      if (rename(tmp, to) != 0) Die("cannot rename over", to);
    } else if (ops[i] == 'R') {
      Join(tmp, dst, "/", b[i]);
      if (rename(to, tmp) != 0) Die("cannot rename", to);
    } else if (ops[i] == 'D') {
      if (unlink(to) != 0) Die("cannot delete", to);
    }
  }
  printf("%.0f\n", NowMs() - start);
  return 0;
}
