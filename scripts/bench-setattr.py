#!/usr/bin/env python3
"""chmod (Tsetattr mode) and mkdir+unlinkat rates against p9proxy serve --backend proxy,
old and new binaries alternating. Usage: fdreq-setattr-bench.py OLD_P9PROXY NEW_P9PROXY"""
import os, socket, struct, subprocess, sys, tempfile, time

def s(b): return struct.pack("<H", len(b)) + b

class C:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port)); self.tag = 0
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def rpc(self, ty, body):
        self.tag = (self.tag + 1) % 0xFFFF
        self.sock.sendall(struct.pack("<IBH", 7 + len(body), ty, self.tag) + body)
        size, rty, _ = struct.unpack("<IBH", self.recv(7)); data = self.recv(size - 7)
        if rty == 7: raise OSError(struct.unpack("<I", data[:4])[0], "Rlerror %d" % ty)
        return data
    def recv(self, n):
        out = b""
        while len(out) < n:
            c = self.sock.recv(n - len(out))
            if not c: raise EOFError
            out += c
        return out

def run(binary, export, secs):
    port = 20000 + os.getpid() % 10000 + int(time.time() * 10) % 1000
    p = subprocess.Popen([binary, "serve", export, "--listen", "tcp:127.0.0.1:%d" % port,
                          "--backend", "proxy"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try: c = C(port); break
            except OSError: time.sleep(0.05)
        c.rpc(100, struct.pack("<I", 1 << 20) + s(b"9P2000.L"))
        c.rpc(104, struct.pack("<II", 0, 0xFFFFFFFF) + s(b"root") + s(export.encode()) + struct.pack("<I", 0))
        c.rpc(110, struct.pack("<IIH", 0, 1, 0))
        try: c.rpc(76, struct.pack("<I", 0) + s(b"f") + struct.pack("<I", 0))
        except OSError: pass
        c.rpc(14, struct.pack("<I", 1) + s(b"f") + struct.pack("<III", 2, 0o644, 0))
        out = []
        n, t0 = 0, time.time()
        while time.time() - t0 < secs:
            mode = 0o100600 if n % 2 else 0o100644
            c.rpc(26, struct.pack("<IIIIIQQQQQ", 1, 1, mode, 0, 0, 0, 0, 0, 0, 0)); n += 1
        out.append(n / (time.time() - t0))
        n, t0 = 0, time.time()
        while time.time() - t0 < secs:
            c.rpc(72, struct.pack("<I", 0) + s(b"d") + struct.pack("<II", 0o755, 0))
            c.rpc(76, struct.pack("<I", 0) + s(b"d") + struct.pack("<I", 0x200)); n += 1
        out.append(n / (time.time() - t0))
        return out
    finally:
        p.terminate(); p.wait()

old, new = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(); os.chmod(tmp, 0o755); export = os.path.join(tmp, "export"); os.mkdir(export)
res = {"old": [], "new": []}
for r in range(3):
    for name, b in (("old", old), ("new", new)) if r % 2 == 0 else (("new", new), ("old", old)):
        res[name].append(run(b, export, 2.0))
for name in ("old", "new"):
    print(name, "chmod/s", ["%.0f" % x[0] for x in res[name]], "mkdir+rmdir/s", ["%.0f" % x[1] for x in res[name]])
