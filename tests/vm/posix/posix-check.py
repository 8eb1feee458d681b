#!/usr/bin/env python3
"""Judge one run of the POSIX suites (tests/vm/posix/posix-workload.sh) against an
expected-failure list.

usage: posix-check.py --results LOG [--xfail FILE] [--label TEXT]

The expected-failure file has one case per line, "FILE.t:CASE REASON..." for a pjdfstest case
(e.g. "chmod/12.t:3 ...") or "check NAME REASON..." for a workload check (fsx-direct,
fsstress, ...); '#' starts a comment line. Every line must carry a reason.
Prints one line per pjdfstest file run, "FAIL ..." for each failure not listed, "XPASS ..." for
each listed case that passed (remove it from the list), and the closing line
"LABEL: pjdfstest files=N cases=N passed=N failed=N (listed N, unlisted N, xpass N);
checks passed=N failed=N". Exit 0 only when nothing unlisted failed, no listed case passed,
and the guest ran to its end.
"""
import argparse
import re
import sys


def read_xfail(path):
    cases, checks, bad = {}, {}, []
    with open(path) as f:
        for n, ln in enumerate(f, 1):
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            parts = ln.split(None, 1)
            if parts[0] == "check":
                rest = parts[1].split(None, 1) if len(parts) > 1 else []
                if len(rest) < 2:
                    bad.append(f"{path}:{n}: 'check NAME REASON' without a reason")
                else:
                    checks[rest[0]] = rest[1]
            elif re.fullmatch(r"[\w./-]+\.t:\d+", parts[0]) and len(parts) == 2:
                cases[parts[0]] = parts[1]
            else:
                bad.append(f"{path}:{n}: want 'FILE.t:CASE REASON' or 'check NAME REASON'")
    return cases, checks, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--xfail")
    ap.add_argument("--label", default="posix")
    a = ap.parse_args()
    cases, checks, problems = ({}, {}, [])
    if a.xfail:
        cases, checks, problems = read_xfail(a.xfail)
    files = {}  # file -> (plan, ok, fail)
    fails = {}  # "file:case" -> detail
    chk = []  # (name, ok, detail)
    ended = summary = False
    with open(a.results, errors="replace") as f:
        for ln in f:
            ln = ln.rstrip("\r\n")
            m = re.match(r"PJD FILE (\S+) plan=(\d+) ok=(\d+) fail=(\d+) secs=(\d+)", ln)
            if m:
                files[m[1]] = tuple(int(x) for x in m.group(2, 3, 4, 5))
                continue
            m = re.match(r"PJD FAIL (\S+:\d+) ?(.*)", ln)
            if m:
                fails[m[1]] = m[2]
                continue
            m = re.match(r"CHECK (ok|FAIL) ([^:]+?)(?:: (.*))?$", ln)
            if m:
                chk.append((m[2], m[1] == "ok", m[3] or ""))
                continue
            if ln.startswith("SUMMARY "):
                summary = True
            elif ln.startswith("P9TEST-END"):
                ended = True
    lab = a.label
    bad = list(problems)
    listed = unlisted = xpass = ncases = npass = 0
    for name in sorted(files):
        plan, nok, nfail, secs = files[name]
        ncases += plan
        npass += nok
        mine = sorted((k for k in fails if k.split(":")[0] == name),
                      key=lambda k: int(k.split(":")[1]))
        exp = [k for k in mine if k in cases]
        line = f"[{lab}] {name}: {plan} cases, {nok} ok, {nfail} failed"
        if exp:
            line += f" ({len(exp)} listed)"
        print(line + f", {secs} s")
        for k in mine:
            if k in cases:
                listed += 1
            else:
                unlisted += 1
                bad.append(f"FAIL {k} {fails[k]}")
        missing = plan - nok - nfail
        if missing > 0:
            bad.append(f"FAIL {name}: {missing} of {plan} cases gave no result (script ended early)")
        for k, why in cases.items():
            f, c = k.rsplit(":", 1)
            if f == name and int(c) <= nok + nfail and k not in fails:
                xpass += 1
                bad.append(f"XPASS {k} passes now: remove it from {a.xfail} ({why})")
    npass_chk = nfail_chk = 0
    for name, okk, detail in chk:
        if okk:
            npass_chk += 1
            if name in checks:
                xpass += 1
                bad.append(f"XPASS check {name} passes now: remove it from {a.xfail}")
        else:
            nfail_chk += 1
            if name not in checks:
                bad.append(f"FAIL check {name}: {detail}")
    if not ended:
        bad.append("FAIL the guest did not reach P9TEST-END (crash or timeout)")
    elif not summary:
        bad.append("FAIL the workload printed no SUMMARY")
    for b in bad:
        print(f"[{lab}] {b}")
    print(f"{lab}: pjdfstest files={len(files)} cases={ncases} passed={npass} "
          f"failed={listed + unlisted} (listed {listed}, unlisted {unlisted}, xpass {xpass}); "
          f"checks passed={npass_chk} failed={nfail_chk}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
