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
 *   p9t fsync PATH full|data      open O_WRONLY|O_APPEND, write one byte, fsync or fdatasync
 *   p9t unlinked PATH             open-unlink-fstat: open PATH O_RDWR, unlink it, then through
 *                                 the fd: fstat, pwrite, pread, ftruncate, fchmod, fstat;
 *                                 prints one line of key=value results
 *   p9t mkmany DIR PREFIX N       create files DIR/PREFIX000000..N-1 (O_CREAT|O_EXCL, close)
 *   p9t lsdir DIR BUFSIZE         getdents64 with a BUFSIZE-byte buffer; one name per line
 *                                 (without . and ..)
 *   p9t lsseek DIR K              read K entries, telldir, close; reopen, seekdir, read the
 *                                 rest: prints every name once per line (without . and ..)
 *   p9t rmall DIR                 unlink each entry as readdir returns it (like rm -r; the
 *                                 directory changes under the reader), repeat until a pass
 *                                 finds nothing; prints "passes=N removed=M"
 *   p9t lock PATH fcntl|flock try|wait|get|hold SECONDS|holdfile FILE
 *                                 try: non-blocking exclusive lock, prints OK or the errno;
 *                                 wait: blocking exclusive lock, prints OK;
 *                                 get (fcntl): F_GETLK for a write lock, prints UNLCK or
 *                                 "WRLCK"/"RDLCK";
 *                                 hold S: take the lock (blocking), print HELD, keep it S
 *                                 seconds (or until the file given by holdfile is gone)
 *
 * Errors: a failing syscall (outside "try") prints "p9t: OP PATH: ENAME (message)" on stderr
 * and exits 1; bad usage exits 2.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
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
                    "rmxattr|asuser|gen|try|fsync|unlinked|mkmany|lsdir|lsseek|rmall|lock ...\n");
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


static int do_fsync(const char *path, const char *how)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return fail("open", path);
    if (write(fd, "s", 1) != 1)
        return fail("write", path);
    int r = !strcmp(how, "data") ? fdatasync(fd) : fsync(fd);
    if (r < 0)
        return fail(!strcmp(how, "data") ? "fdatasync" : "fsync", path);
    if (close(fd) < 0)
        return fail("close", path);
    printf("OK\n");
    return 0;
}

/* open-unlink-fstat: every step through the fd of an unlinked file. */
static int do_unlinked(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return fail("open", path);
    if (pwrite(fd, "0123456789", 10, 0) != 10)
        return fail("pwrite", path);
    if (unlink(path) < 0)
        return fail("unlink", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        printf("fstat1=%s\n", ename(errno));
        return 0;
    }
    printf("size1=%lld nlink1=%lu", (long long)st.st_size, (unsigned long)st.st_nlink);
    int e_w = pwrite(fd, "abc", 3, 10) == 3 ? 0 : errno;
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    int e_r = n < 0 ? errno : 0;
    int e_t = ftruncate(fd, 5) < 0 ? errno : 0;
    int e_c = fchmod(fd, 0600) < 0 ? errno : 0;
    int e_s = fstat(fd, &st) < 0 ? errno : 0;
    printf(" pwrite=%s pread=%s data=%s ftruncate=%s fchmod=%s fstat2=%s",
           e_w ? ename(e_w) : "OK", e_r ? ename(e_r) : "OK", n > 0 ? buf : "-",
           e_t ? ename(e_t) : "OK", e_c ? ename(e_c) : "OK", e_s ? ename(e_s) : "OK");
    if (!e_s)
        printf(" size2=%lld mode2=%04o", (long long)st.st_size, (unsigned)(st.st_mode & 07777));
    printf("\n");
    close(fd);
    return 0;
}

static int do_mkmany(const char *dir, const char *prefix, long long n)
{
    char p[4096];
    for (long long i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s%06lld", dir, prefix, i);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            return fail("open", p);
        if (close(fd) < 0)
            return fail("close", p);
    }
    return 0;
}

static int is_dot(const char *n)
{
    return !strcmp(n, ".") || !strcmp(n, "..");
}

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int do_lsdir(const char *dir, long long bufsize)
{
    if (bufsize < 64 || bufsize > (1 << 24)) {
        fprintf(stderr, "p9t lsdir: bad buffer size\n");
        return 2;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fail("open", dir);
    char *buf = malloc((size_t)bufsize);
    if (!buf)
        return fail("malloc", dir);
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, (size_t)bufsize);
        if (n < 0)
            return fail("getdents64", dir);
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            if (!is_dot(d->d_name))
                printf("%s\n", d->d_name);
            off += d->d_reclen;
        }
    }
    free(buf);
    close(fd);
    return 0;
}

static int do_lsseek(const char *dir, long long k)
{
    DIR *d = opendir(dir);
    if (!d)
        return fail("opendir", dir);
    struct dirent *e;
    long long seen = 0;
    long pos = 0;
    while (seen < k) {
        errno = 0;
        e = readdir(d);
        if (!e) {
            if (errno)
                return fail("readdir", dir);
            break;
        }
        if (!is_dot(e->d_name)) {
            printf("%s\n", e->d_name);
            seen++;
        }
    }
    pos = telldir(d);
    if (pos < 0)
        return fail("telldir", dir);
    closedir(d);
    d = opendir(dir);
    if (!d)
        return fail("opendir", dir);
    seekdir(d, pos);
    for (;;) {
        errno = 0;
        e = readdir(d);
        if (!e) {
            if (errno)
                return fail("readdir", dir);
            break;
        }
        if (!is_dot(e->d_name))
            printf("%s\n", e->d_name);
    }
    closedir(d);
    return 0;
}

static int do_rmall(const char *dir)
{
    char p[4096];
    long long removed = 0;
    int passes = 0;
    for (;;) {
        DIR *d = opendir(dir);
        if (!d)
            return fail("opendir", dir);
        long long this_pass = 0;
        struct dirent *e;
        passes++;
        for (;;) {
            errno = 0;
            e = readdir(d);
            if (!e) {
                if (errno)
                    return fail("readdir", dir);
                break;
            }
            if (is_dot(e->d_name))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) < 0)
                return fail("unlink", p);
            this_pass++;
        }
        closedir(d);
        removed += this_pass;
        if (this_pass == 0 || passes >= 100)
            break;
    }
    printf("passes=%d removed=%lld\n", passes, removed);
    return 0;
}

static int do_lock(int n, char **a)
{
    const char *path = a[0], *kind = a[1], *op = a[2];
    int is_flock = !strcmp(kind, "flock");
    if (!is_flock && strcmp(kind, "fcntl")) {
        fprintf(stderr, "p9t lock: kind must be fcntl or flock\n");
        return 2;
    }
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return fail("open", path);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    if (!strcmp(op, "try") || !strcmp(op, "wait")) {
        int block = !strcmp(op, "wait");
        int r = is_flock ? flock(fd, LOCK_EX | (block ? 0 : LOCK_NB))
                         : fcntl(fd, block ? F_SETLKW : F_SETLK, &fl);
        printf("%s\n", r < 0 ? ename(errno) : "OK");
        return 0;
    }
    if (!strcmp(op, "get") && !is_flock) {
        if (fcntl(fd, F_GETLK, &fl) < 0)
            return fail("F_GETLK", path);
        printf("%s\n", fl.l_type == F_UNLCK ? "UNLCK" : fl.l_type == F_WRLCK ? "WRLCK" : "RDLCK");
        return 0;
    }
    if ((!strcmp(op, "hold") || !strcmp(op, "holdfile")) && n == 4) {
        int r = is_flock ? flock(fd, LOCK_EX) : fcntl(fd, F_SETLKW, &fl);
        if (r < 0)
            return fail("lock", path);
        printf("HELD\n");
        fflush(stdout);
        if (!strcmp(op, "hold")) {
            sleep((unsigned)num(a[3]));
        } else {
            struct stat st;
            for (int i = 0; i < 600 && lstat(a[3], &st) == 0; i++)
                usleep(100000);
        }
        return 0; /* exit releases the lock */
    }
    fprintf(stderr, "p9t lock: bad operation\n");
    return 2;
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
    if (!strcmp(cmd, "fsync") && n == 2)
        return do_fsync(a[0], a[1]);
    if (!strcmp(cmd, "unlinked") && n == 1)
        return do_unlinked(a[0]);
    if (!strcmp(cmd, "mkmany") && n == 3)
        return do_mkmany(a[0], a[1], num(a[2]));
    if (!strcmp(cmd, "lsdir") && n == 2)
        return do_lsdir(a[0], num(a[1]));
    if (!strcmp(cmd, "lsseek") && n == 2)
        return do_lsseek(a[0], num(a[1]));
    if (!strcmp(cmd, "rmall") && n == 1)
        return do_rmall(a[0]);
    if (!strcmp(cmd, "lock") && (n == 3 || n == 4))
        return do_lock(n, a);
    if (!strcmp(cmd, "try") && n >= 1) {
        int e = try_op(n, a);
        printf("%s\n", e ? ename(e) : "OK");
        return 0;
    }
    return usage();
}
