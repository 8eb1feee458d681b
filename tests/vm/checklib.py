"""What every VM run's judge shares (host-check.py, server-check.py): the check tally, the
guest's output protocol (tests/vm/guest/checklib.sh: CHECK, EXPECT, SUMMARY lines and the
init's P9TEST-END), the host checks every run makes (the secret, the work dir), and the
verdict with the --xfail list.

Verdict output: every failing check ("FAIL guest NAME: ..." / "FAIL host NAME: ..."), known
failures listed in --xfail as "XFAIL ...", and one closing line
  "LABEL: guest passed=N failed=M, host passed=N failed=M[, xfail=K]".
Exit status 0 only when every guest and host check passed (xfails excepted), the guest printed
its SUMMARY and the init its P9TEST-END line.
"""

import hashlib
import os
import re


class Checks:
    def __init__(self):
        self.results = []  # (name, ok, detail)

    def ok(self, name):
        self.results.append((name, True, ""))

    def fail(self, name, detail):
        self.results.append((name, False, detail))

    def eq(self, name, got, want):
        if got == want:
            self.ok(name)
        else:
            self.fail(name, f"got {got!r:.200} want {want!r:.200}")

    def true(self, name, cond, detail):
        if cond:
            self.ok(name)
        else:
            self.fail(name, detail)


def file_digest(path, algorithm="md5"):
    """The hex digest of a file's content, read in 1 MiB pieces."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def add_run_args(ap):
    """The options every judge takes."""
    ap.add_argument("--export", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--secret")
    ap.add_argument("--workdir")
    ap.add_argument("--workdir-allow", nargs="*", default=[])
    ap.add_argument("--xfail")
    ap.add_argument("--label", default="vm")


def read_guest(path):
    """The run's console text, and the guest's checks and EXPECT facts (KIND, PATH, VALUE;
    VALUE "" when the line has none) from it, the SUMMARY and P9TEST-END lines checked."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace").replace("\r", "")
    except OSError:
        text = ""
    guest = Checks()
    expects = []
    summary = None
    ended = False
    for ln in text.split("\n"):
        m = re.match(r"^CHECK (ok|FAIL) ([^:\s]+)(?::\s?(.*))?$", ln)
        if m:
            if m.group(1) == "ok":
                guest.ok(m.group(2))
            else:
                guest.fail(m.group(2), m.group(3) or "")
        elif ln.startswith("EXPECT "):
            parts = ln.split(" ", 3)
            if len(parts) >= 3:
                expects.append((parts[1], parts[2], parts[3] if len(parts) == 4 else ""))
        elif ln.startswith("SUMMARY "):
            summary = ln
        elif ln.startswith("P9TEST-END"):
            ended = True
    if summary is None:
        guest.fail("guest-summary", "the guest printed no SUMMARY line (crash or timeout?)")
    else:
        m = re.match(r"SUMMARY passed=(\d+) failed=(\d+)", summary)
        n_ok = sum(1 for r in guest.results if r[1])
        n_bad = sum(1 for r in guest.results if not r[1])
        if not m or (int(m.group(1)), int(m.group(2))) != (n_ok, n_bad):
            guest.fail("guest-summary", f"'{summary}' does not match the CHECK lines seen "
                       f"(ok={n_ok} fail={n_bad}): lost output?")
    if not ended:
        guest.fail("guest-end", "no P9TEST-END line: the guest did not finish")
    return text, guest, expects


def guest_mounted(guest):
    return any(n == "mount" and okk for n, okk, _ in guest.results)


def host_run_checks(host, args, text):
    """The host secret is unchanged and never shown to the guest; nothing unexpected was
    left next to the export."""
    if args.secret:
        try:
            with open(args.secret) as f:
                sec = f.read()
            host.true("secret-unchanged", sec.startswith("HOST-SECRET-"), "secret overwritten")
            host.true("secret-not-leaked", sec.strip() not in text,
                      "the host secret appears in the guest output")
        except OSError as e:
            host.fail("secret-unchanged", str(e))
    if args.workdir:
        extra = sorted(set(os.listdir(args.workdir)) - set(args.workdir_allow))
        host.true("workdir-clean", not extra, f"unexpected files next to the export: {extra}")


def verdict(args, guest, host):
    """Prints the failures and the closing line; the exit status."""
    xfail = set()
    if args.xfail:
        with open(args.xfail) as f:
            for ln in f:
                ln = ln.split("#", 1)[0].strip()
                if ln:
                    xfail.add(ln)  # "guest NAME" or "host NAME"

    bad = 0
    nx = 0
    for side, cs in (("guest", guest), ("host", host)):
        for name, okk, detail in cs.results:
            if okk:
                if f"{side} {name}" in xfail:
                    print(f"XPASS {side} {name} (listed in {args.xfail})")
                continue
            if f"{side} {name}" in xfail:
                nx += 1
                print(f"XFAIL {side} {name}: {detail}")
            else:
                bad += 1
                print(f"FAIL {side} {name}: {detail}")

    def counts(cs, side):
        okn = sum(1 for r in cs.results if r[1])
        badn = sum(1 for r in cs.results if not r[1] and f"{side} {r[0]}" not in xfail)
        return okn, badn

    g, h = counts(guest, "guest"), counts(host, "host")
    print(f"{args.label}: guest passed={g[0]} failed={g[1]}, host passed={h[0]} failed={h[1]}"
          + (f", xfail={nx}" if nx else ""))
    return 0 if bad == 0 else 1
