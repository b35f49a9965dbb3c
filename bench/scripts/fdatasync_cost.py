#!/usr/bin/env python3
"""What one durable write costs the kernel on this disk: CPU (user + system) and wall
time per `pwrite` + `fdatasync` of 400 bytes, on a preallocated file and on a file that
grows: the floor under a durable write at concurrency 1 (BENCHMARKS.md).

Usage: python3 bench/scripts/fdatasync_cost.py [directory, default: a temporary one]
"""
import os
import resource
import sys
import tempfile
import time

N = 2000
RECORD = b"x" * 400


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(label, fd, write):
    cpu, wall = cpu_seconds(), time.monotonic()
    for i in range(N):
        write(fd, i)
        os.fdatasync(fd)
    cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
    print(f"{label}: {cpu / N * 1e6:.1f} us CPU, {wall / N * 1e6:.1f} us wall per write + fdatasync")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, "preallocated")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        os.ftruncate(fd, N * len(RECORD))
        os.fsync(fd)
        measure("preallocated", fd, lambda fd, i: os.pwrite(fd, RECORD, i * len(RECORD)))
        os.close(fd)
        fd = os.open(os.path.join(tmp, "appended"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        measure("appended", fd, lambda fd, i: os.write(fd, RECORD))
        os.close(fd)


if __name__ == "__main__":
    main()
