#!/usr/bin/env python3
"""The system calls a sandboxed worker made, from `strace -ff -o DIR/t` output files.

Usage: worker-syscalls.py DIR [EXECUTABLE_NAME]

Finds every process whose trace execs EXECUTABLE_NAME (default latchkey-platform-worker), keeps
what that process did after its last seccomp(SECCOMP_SET_MODE_FILTER, ...) call (the sandbox is
on from there) and everything its threads did (they start after the sandbox), and prints each
system call with its count, then the arguments the worker's seccomp profile filters on (socket's
family and type, ioctl's command, clone's flags, prctl's option, ...), and every process that was
killed by a signal (a SIGSYS is a system call outside the allow-list).
"""

import collections
import os
import re
import sys

CALL = re.compile(r"^(?:\d+\s+)?([a-z_0-9]+)\((.*)$")
CLONE_RESULT = re.compile(r"=\s+(\d+)\s*$")
# The arguments the profile looks at: call -> index of the argument.
ARGUMENTS = {
    "socket": (0, 1),
    "ioctl": (1,),
    "clone": (0,),
    "prctl": (0,),
    "fcntl": (1,),
    "madvise": (2,),
    "mprotect": (2,),
    "mmap": (2, 3),
    "futex": (1,),
    "getrandom": (2,),
    "rt_sigprocmask": (0,),
    "openat": (2,),
    "kill": (1,),
    "tgkill": (2,),
    "seccomp": (0,),
    "sched_getaffinity": (),
}


def split_args(text):
    """Top-level comma-separated arguments of an strace call line (up to the closing paren)."""
    args, depth, cur, in_str = [], 0, "", False
    i = 0
    while i < len(text):
        c = text[i]
        if in_str:
            cur += c
            if c == "\\":
                cur += text[i + 1] if i + 1 < len(text) else ""
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str, cur = True, cur + c
        elif c in "[{(":
            depth, cur = depth + 1, cur + c
        elif c in "]})":
            if depth == 0:
                args.append(cur.strip())
                return args
            depth, cur = depth - 1, cur + c
        elif c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    args.append(cur.strip())
    return args


def lines_of(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def main():
    trace_dir = sys.argv[1]
    exe = sys.argv[2] if len(sys.argv) > 2 else "latchkey-platform-worker"
    files = {}
    for name in os.listdir(trace_dir):
        tid = name.rsplit(".", 1)[-1]
        if tid.isdigit():
            files[int(tid)] = os.path.join(trace_dir, name)
    calls = collections.Counter()
    args = collections.defaultdict(collections.Counter)
    killed = []
    processes = 0

    def take(lines, tid):
        pending = []
        for line in lines:
            if line.startswith("+++ killed by"):
                killed.append((tid, line))
            m = CALL.match(line)
            if not m:
                continue
            name, rest = m.group(1), m.group(2)
            calls[name] += 1
            parts = split_args(rest)
            for i in ARGUMENTS.get(name, ()):
                if i < len(parts):
                    args[name, i][parts[i]] += 1
            if name in ("clone", "clone3") and "CLONE_THREAD" in rest:
                r = CLONE_RESULT.search(line)
                if r:
                    pending.append(int(r.group(1)))
        return pending

    for tid, path in sorted(files.items()):
        lines = lines_of(path)
        execs = [
            i
            for i, l in enumerate(lines)
            if l.startswith("execve(") and f'/{exe}"' in l.split(",", 1)[0] and l.endswith("= 0")
        ]
        if not execs:
            continue
        after_exec = lines[execs[-1] :]
        filters = [i for i, l in enumerate(after_exec) if l.startswith("seccomp(SECCOMP_SET_MODE_FILTER")]
        if not filters:
            continue
        processes += 1
        todo = take(after_exec[filters[-1] + 1 :], tid)
        while todo:
            t = todo.pop()
            if t in files:
                todo.extend(take(lines_of(files[t]), t))

    print(f"# {processes} sandboxed {exe} processes")
    for name, n in sorted(calls.items()):
        print(f"{name} {n}")
    print("# arguments")
    for (name, i), seen in sorted(args.items()):
        print(f"{name} arg{i}: " + "; ".join(f"{v} ({n})" for v, n in seen.most_common()))
    if killed:
        print("# killed")
        for tid, line in killed:
            print(f"{tid} {line}")


if __name__ == "__main__":
    main()
