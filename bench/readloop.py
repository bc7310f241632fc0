#!/usr/bin/env python3
"""Read every file listed on stdin with open/read/close in one process.
Prints: files bytes seconds MB/s files/s cpu-seconds (user+system of this
process: on a shared machine less disturbed by other jobs than wall time;
with the page cache warm all the work is done in this process).  (A Python loop, not coreutils cat:
with thousands of small files cat's own start-up would dominate.)"""
import os, sys, time
paths = [l.rstrip("\n") for l in sys.stdin if l.strip()]
t = time.perf_counter()
c = time.process_time()
n = 0
for p in paths:
    fd = os.open(p, os.O_RDONLY)
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        n += len(b)
    os.close(fd)
dt = time.perf_counter() - t
dc = time.process_time() - c
print(f"{len(paths)} {n} {dt:.3f} {n / dt / 1e6:.1f} {len(paths) / dt:.0f} {dc:.3f}")
