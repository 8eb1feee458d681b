/*
 * p9t: a tiny static guest tool for the VM end-to-end tests.
 *
 * busybox lacks xattr tools, a utimensat with explicit nanoseconds, a machine-readable stat,
 * a setuid/setgid exec helper and a way to see the exact errno of a failing syscall.
 * Built with `gcc -static -O2` by tests/vm/build-initramfs.sh.
 *
 * Usage (all paths are used as given; nothing follows symlinks unless said):
 *   p9t stat PATH                 lstat: one line of key=value pairs (see print_stat)
 *   p9t statfs PATH               statfs: one line of key=value pairs
 *   p9t utimens PATH AS ANS MS MNS  utimensat(AT_FDCWD, PATH, {atime, mtime}, AT_SYMLINK_NOFOLLOW)
 *                                 in ONE call; ANS/MNS may be "now" or "omit"
 *   p9t getxattr PATH NAME        lgetxattr; prints the value bytes exactly (no newline)
 *   p9t xattrlen PATH NAME        lgetxattr with size 0; prints the length
 *   p9t setxattr PATH NAME VALUE [create|replace]   lsetxattr
 *   p9t listxattr PATH            llistxattr; one name per line
 *   p9t rmxattr PATH NAME         lremovexattr
 *   p9t asuser UID GID CMD [ARG...]  setgroups(0), setgid, setuid, execvp
 *   p9t gen SIZE SEED             write SIZE pseudo-random bytes (xorshift64*, little endian
 *                                 words) to stdout: /dev/urandom is slow under TCG
 *   p9t try OP ARGS...            run one syscall and print "OK" or its errno name (e.g.
 *                                 "ENOENT"); exits 0 either way. OPs: mkdir P MODE, rmdir P,
 *                                 unlink P, open P, creat_excl P, rename A B, link A B,
 *                                 symlink TARGET P, mkfifo P, getxattr P N, rmxattr P N,
 *                                 setxattr_create P N V, setxattr_replace P N V, chown P U G,
 *                                 chmod P MODE, truncate P LEN, readlink P, opendir P
 *
 * Errors: a failing syscall (outside "try") prints "p9t: OP PATH: ENAME (message)" on stderr
 * and exits 1; bad usage exits 2.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static int fail(const char *op, const char *path)
{
    int e = errno;
    fprintf(stderr, "p9t: %s %s: %s (%s)\n", op, path, ename(e), strerror(e));
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: p9t stat|statfs|utimens|getxattr|xattrlen|setxattr|listxattr|"
                    "rmxattr|asuser|try ...\n");
    return 2;
}

static long long num(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno || *end || end == s) {
        fprintf(stderr, "p9t: bad number '%s'\n", s);
        exit(2);
    }
    return v;
}

static long nsec_arg(const char *s)
{
    if (!strcmp(s, "now"))
        return UTIME_NOW;
    if (!strcmp(s, "omit"))
        return UTIME_OMIT;
    return (long)num(s);
}

static const char *ftype(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    default: return "unknown";
    }
}

static int print_stat(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return fail("lstat", path);
    printf("type=%s mode=%04o uid=%u gid=%u rdev=%u:%u nlink=%lu size=%lld "
           "atime=%lld.%09ld mtime=%lld.%09ld ctime=%lld.%09ld ino=%llu blocks=%lld\n",
           ftype(st.st_mode), (unsigned)(st.st_mode & 07777), st.st_uid, st.st_gid,
           major(st.st_rdev), minor(st.st_rdev), (unsigned long)st.st_nlink,
           (long long)st.st_size, (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
           st.st_ctim.tv_nsec, (unsigned long long)st.st_ino, (long long)st.st_blocks);
    return 0;
}

static int print_statfs(const char *path)
{
    struct statfs s;
    if (statfs(path, &s) < 0)
        return fail("statfs", path);
    printf("type=0x%llx bsize=%lld blocks=%llu bfree=%llu bavail=%llu files=%llu ffree=%llu "
           "namelen=%lld frsize=%lld\n",
           (unsigned long long)s.f_type, (long long)s.f_bsize, (unsigned long long)s.f_blocks,
           (unsigned long long)s.f_bfree, (unsigned long long)s.f_bavail,
           (unsigned long long)s.f_files, (unsigned long long)s.f_ffree,
           (long long)s.f_namelen, (long long)s.f_frsize);
    return 0;
}

static int xflags(const char *s)
{
    if (!s)
        return 0;
    if (!strcmp(s, "create"))
        return XATTR_CREATE;
    if (!strcmp(s, "replace"))
        return XATTR_REPLACE;
    fprintf(stderr, "p9t: bad xattr flag '%s'\n", s);
    exit(2);
}

/* Runs one syscall; returns 0 on success or errno. */
static int try_op(int argc, char **argv)
{
    const char *op = argv[0];
    char buf[4096];
#define NEED(n) do { if (argc != (n) + 1) { fprintf(stderr, "p9t try %s: want %d args\n", op, n); exit(2); } } while (0)
#define R(expr) return (expr) < 0 ? errno : 0
    if (!strcmp(op, "mkdir")) { NEED(2); R(mkdir(argv[1], (mode_t)num(argv[2]))); }
    if (!strcmp(op, "rmdir")) { NEED(1); R(rmdir(argv[1])); }
    if (!strcmp(op, "unlink")) { NEED(1); R(unlink(argv[1])); }
    if (!strcmp(op, "rename")) { NEED(2); R(rename(argv[1], argv[2])); }
    if (!strcmp(op, "link")) { NEED(2); R(link(argv[1], argv[2])); }
    if (!strcmp(op, "symlink")) { NEED(2); R(symlink(argv[1], argv[2])); }
    if (!strcmp(op, "mkfifo")) { NEED(1); R(mkfifo(argv[1], 0644)); }
    if (!strcmp(op, "chown")) { NEED(3); R(lchown(argv[1], (uid_t)num(argv[2]), (gid_t)num(argv[3]))); }
    if (!strcmp(op, "chmod")) { NEED(2); R(chmod(argv[1], (mode_t)num(argv[2]))); }
    if (!strcmp(op, "truncate")) { NEED(2); R(truncate(argv[1], (off_t)num(argv[2]))); }
    if (!strcmp(op, "readlink")) { NEED(1); R(readlink(argv[1], buf, sizeof buf)); }
    if (!strcmp(op, "getxattr")) { NEED(2); R(lgetxattr(argv[1], argv[2], buf, sizeof buf)); }
    if (!strcmp(op, "rmxattr")) { NEED(2); R(lremovexattr(argv[1], argv[2])); }
    if (!strcmp(op, "setxattr_create")) { NEED(3); R(lsetxattr(argv[1], argv[2], argv[3], strlen(argv[3]), XATTR_CREATE)); }
    if (!strcmp(op, "setxattr_replace")) { NEED(3); R(lsetxattr(argv[1], argv[2], argv[3], strlen(argv[3]), XATTR_REPLACE)); }
    if (!strcmp(op, "open") || !strcmp(op, "creat_excl")) {
        NEED(1);
        int fd = !strcmp(op, "open") ? open(argv[1], O_RDONLY)
                                     : open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            return errno;
        close(fd);
        return 0;
    }
    if (!strcmp(op, "opendir")) {
        NEED(1);
        DIR *d = opendir(argv[1]);
        if (!d)
            return errno;
        closedir(d);
        return 0;
    }
#undef R
#undef NEED
    fprintf(stderr, "p9t try: unknown op '%s'\n", op);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    char **a = argv + 2;
    int n = argc - 2;

    if (!strcmp(cmd, "stat") && n == 1)
        return print_stat(a[0]);
    if (!strcmp(cmd, "statfs") && n == 1)
        return print_statfs(a[0]);
    if (!strcmp(cmd, "utimens") && n == 5) {
        struct timespec ts[2] = {
            { .tv_sec = (time_t)num(a[1]), .tv_nsec = nsec_arg(a[2]) },
            { .tv_sec = (time_t)num(a[3]), .tv_nsec = nsec_arg(a[4]) },
        };
        if (utimensat(AT_FDCWD, a[0], ts, AT_SYMLINK_NOFOLLOW) < 0)
            return fail("utimensat", a[0]);
        return 0;
    }
    if (!strcmp(cmd, "getxattr") && n == 2) {
        ssize_t len = lgetxattr(a[0], a[1], NULL, 0);
        if (len < 0)
            return fail("lgetxattr", a[0]);
        char *buf = malloc(len + 1);
        len = lgetxattr(a[0], a[1], buf, len);
        if (len < 0)
            return fail("lgetxattr", a[0]);
        fwrite(buf, 1, len, stdout);
        return 0;
    }
    if (!strcmp(cmd, "xattrlen") && n == 2) {
        ssize_t len = lgetxattr(a[0], a[1], NULL, 0);
        if (len < 0)
            return fail("lgetxattr", a[0]);
        printf("%zd\n", len);
        return 0;
    }
    if (!strcmp(cmd, "setxattr") && (n == 3 || n == 4)) {
        if (lsetxattr(a[0], a[1], a[2], strlen(a[2]), xflags(n == 4 ? a[3] : NULL)) < 0)
            return fail("lsetxattr", a[0]);
        return 0;
    }
    if (!strcmp(cmd, "listxattr") && n == 1) {
        ssize_t len = llistxattr(a[0], NULL, 0);
        if (len < 0)
            return fail("llistxattr", a[0]);
        char *buf = malloc(len + 1);
        len = llistxattr(a[0], buf, len);
        if (len < 0)
            return fail("llistxattr", a[0]);
        for (ssize_t i = 0; i < len; i += strlen(buf + i) + 1)
            printf("%s\n", buf + i);
        return 0;
    }
    if (!strcmp(cmd, "rmxattr") && n == 2) {
        if (lremovexattr(a[0], a[1]) < 0)
            return fail("lremovexattr", a[0]);
        return 0;
    }
    if (!strcmp(cmd, "asuser") && n >= 3) {
        uid_t uid = (uid_t)num(a[0]);
        gid_t gid = (gid_t)num(a[1]);
        if (setgroups(0, NULL) < 0)
            return fail("setgroups", "-");
        if (setgid(gid) < 0)
            return fail("setgid", a[1]);
        if (setuid(uid) < 0)
            return fail("setuid", a[0]);
        execvp(a[2], a + 2);
        return fail("execvp", a[2]);
    }
    if (!strcmp(cmd, "gen") && n == 2) {
        long long size = num(a[0]);
        unsigned long long x = (unsigned long long)num(a[1]) | 1;
        static unsigned char buf[1 << 16];
        while (size > 0) {
            size_t chunk = size < (long long)sizeof buf ? (size_t)size : sizeof buf;
            for (size_t i = 0; i < chunk; i += 8) {
                x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
                unsigned long long v = x * 0x2545F4914F6CDD1DULL;
                for (int k = 0; k < 8; k++)
                    buf[i + k] = (unsigned char)(v >> (8 * k));
            }
            if (fwrite(buf, 1, chunk, stdout) != chunk)
                return fail("write", "stdout");
            size -= (long long)chunk;
        }
        return fflush(stdout) ? fail("write", "stdout") : 0;
    }
    if (!strcmp(cmd, "try") && n >= 1) {
        int e = try_op(n, a);
        printf("%s\n", e ? ename(e) : "OK");
        return 0;
    }
    return usage();
}
