#!/usr/bin/env python3
"""The SSH data remote's round trips, measured against a real sshd on loopback.

    bench/bench_ssh_remote.py            # 2,000 x 4 KiB and one 256 MiB object
    bench/bench_ssh_remote.py -n 500 --big 64

Starts /usr/sbin/sshd on a free loopback port with generated keys (as root,
like tests/test_remote_ssh.py), then times, through the real `ssh`:
has_many of N hashes (one command), sending N small objects in batches of
1 (one connection per object: what a naive remote would do), 16 and 256
objects per connection (8 connections at once, as `git exp push` does),
fetching them back the same way, and one large object each way. Figures
only. A run on this round's 2-core machine under a load average of 13:

    | operation (2,000 x 4 KiB unless said)                     | seconds |
    | send, 1 object per connection (first 200; x10 for all)    | 55.5    |
    | receive, 1 object per connection (first 200; x10 for all) | 41.0    |
    | send, 16 objects per connection                           | 24.7    |
    | receive, 16 objects per connection                        | 28.1    |
    | send, 256 objects per connection (SSHRemote.batch_size)   | 5.6     |
    | receive, 256 objects per connection                       | 3.7     |
    | has_many of 4,000 hashes (one command)                    | 0.8     |
    | send one 256 MiB object                                   | 4.1     |
    | receive one 256 MiB object                                | 4.8     |

A connection costs about a quarter second here (key exchange and
authentication, 8 at once on 2 busy cores), so everything rests on moving
many objects per connection. ControlMaster multiplexing would save the
handshakes of the 8 connections a push opens, about a second, at the price
of managing control sockets beside the user's own ssh configuration: not
done.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH))

from tests.remote_common import free_port, stop, wait_for_port  # noqa: E402


def start_sshd(folder: str):
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(folder, name)],
                       check=True)
    port = free_port()
    config = os.path.join(folder, "sshd_config")
    with open(config, "w") as fh:
        fh.write(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder}/host\n"
                 f"AuthorizedKeysFile {folder}/client.pub\nPidFile {folder}/pid\n"
                 "StrictModes no\nUsePAM no\nPasswordAuthentication no\nMaxSessions 64\n"
                 "MaxStartups 64\n")
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc)
    os.environ["GIT_SSH_COMMAND"] = (f"ssh -F /dev/null -i {folder}/client -o BatchMode=yes "
                                     "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                     "-o LogLevel=ERROR")
    return proc, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="small objects (default 2,000)")
    parser.add_argument("--big", type=int, default=256, help="MiB of the large object (default 256)")
    args = parser.parse_args()
    from git_exp.data.cache import Cache
    from git_exp.remotes import transfer
    from git_exp.remotes.ssh import SSHRemote

    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_sshd(tmp)
        try:
            cache = Cache(os.path.join(tmp, "exp"))
            hashes = []
            for i in range(args.n):
                data = hashlib.shake_256(b"%d" % i).digest(4096)
                h = hashlib.sha256(data).hexdigest()
                path = cache.object_path(h)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as fh:
                    fh.write(data)
                hashes.append(h)
            url = f"ssh://root@127.0.0.1:{port}{tmp}/remote"
            print(f"| operation ({args.n:,} x 4 KiB unless said) | seconds |")
            print("| --- | --- |")
            for batch in (1, 16, 256):
                remote = SSHRemote(url + str(batch))
                remote.batch_size = batch
                count = args.n if batch > 1 else min(args.n, 200)
                t = time.perf_counter()
                transfer.send(cache, remote, hashes[:count], jobs=8)
                put = time.perf_counter() - t
                other = Cache(os.path.join(tmp, f"other{batch}"))
                t = time.perf_counter()
                transfer.download(other, remote, hashes[:count], jobs=8)
                get = time.perf_counter() - t
                scale = "" if count == args.n else f" (first {count}; x{args.n / count:.0f} for all)"
                print(f"| send, {batch} object(s) per connection{scale} | {put:.2f} |")
                print(f"| receive, {batch} object(s) per connection{scale} | {get:.2f} |")
            t = time.perf_counter()
            assert len(remote.has_many(hashes + [h[::-1] for h in hashes])) == args.n
            print(f"| has_many of {2 * args.n:,} hashes (one command) | {time.perf_counter() - t:.2f} |")
            if args.big:
                data_path = os.path.join(tmp, "big")
                with open(data_path, "wb") as fh:
                    for i in range(args.big):
                        fh.write(hashlib.shake_256(b"big %d" % i).digest(1 << 20))
                with open(data_path, "rb") as fh:
                    h = hashlib.file_digest(fh, "sha256").hexdigest() if hasattr(hashlib, "file_digest") \
                        else hashlib.sha256(fh.read()).hexdigest()
                os.replace(data_path, cache.object_path(h)) if os.makedirs(
                    os.path.dirname(cache.object_path(h)), exist_ok=True) is None else None
                remote = SSHRemote(url + "big")
                t = time.perf_counter()
                transfer.send(cache, remote, [h], jobs=8)
                print(f"| send one {args.big} MiB object | {time.perf_counter() - t:.2f} |")
                other = Cache(os.path.join(tmp, "otherbig"))
                t = time.perf_counter()
                transfer.download(other, remote, [h], jobs=8)
                print(f"| receive one {args.big} MiB object | {time.perf_counter() - t:.2f} |")
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
