#!/usr/bin/env python3
"""Which S3 client library git-exp[s3] uses: boto3 against obstore and minio, measured.

    bench/bench_s3_clients.py            # into bench/work/s3clients-venv (made once)
    bench/bench_s3_clients.py -n 2000    # fewer objects

For each client: the time to import it (best of 7, minus a bare interpreter),
its installed size with its dependencies (pip install --target), and the
time to PUT then GET N objects of 4 KiB (16 threads, one client shared, the
way transfer.py drives a remote) against moto's S3 server on loopback.
Figures only. A run on the 2-core machine of this round, shared with
other jobs (load average above 10), so read the ratios, not the absolutes;
moto's single-process server is part of every figure:

    | client         | import | installed | PUT 10,000 x 4 KiB | GET 10,000 x 4 KiB |
    | boto3 1.44.8   | 431 ms | 26 MiB    | 43.7 s (229/s)     | 48.5 s (206/s)     |
    | obstore 0.12.1 | 129 ms | 16 MiB    | 25.4 s (393/s)     | 23.6 s (424/s)     |
    | minio 7.2.20   | 266 ms | 19 MiB    | 74.8 s (134/s)     | 75.6 s (132/s)     |

(An earlier run of 1,000 objects gave the same order: boto3 137/s PUT,
obstore 305/s, minio 236/s.)

Chosen: boto3. obstore is faster, lighter and quicker to import, but it
reads credentials and settings from environment variables only: no AWS
profiles, no ~/.aws/config or ~/.aws/credentials, no SSO or
credential_process, which issue 16 requires and which we would otherwise
write by hand (its documented way to get them is boto3 itself). The
import cost is paid only by commands that open an s3 remote. A later
switch would touch only git_exp/remotes/s3.py.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

BENCH = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(BENCH, "work", "s3clients-venv")
CLIENTS = ("boto3", "obstore", "minio")
BUCKET = "bench-clients"


def ensure_venv() -> None:
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", *CLIENTS, "moto[server]"], check=True)
    os.execv(python, [python, *sys.argv])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("moto did not start")


def import_ms(module: str) -> float:
    def best(code: str) -> float:
        times = []
        for _ in range(7):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - t)
        return min(times)
    return (best(f"import {module}") - best("pass")) * 1000


def installed_mib(package: str) -> float:
    with tempfile.TemporaryDirectory() as target:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", target, package],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        total = 0
        for folder, _, files in os.walk(target):
            for name in files:
                total += os.path.getsize(os.path.join(folder, name))
        return total / 2**20


def boto3_ops(endpoint: str):
    import boto3
    from botocore.config import Config
    client = boto3.session.Session().client("s3", endpoint_url=endpoint,
                                            config=Config(max_pool_connections=32))
    return (lambda key, data: client.put_object(Bucket=BUCKET, Key=key, Body=data),
            lambda key: client.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def obstore_ops(endpoint: str):
    import obstore
    from obstore.store import S3Store
    store = S3Store(BUCKET, endpoint=endpoint, region="us-east-1",
                    client_options={"allow_http": True})
    return (lambda key, data: obstore.put(store, key, data),
            lambda key: bytes(obstore.get(store, key).bytes()))


def minio_ops(endpoint: str):
    from minio import Minio
    import io
    client = Minio(endpoint.split("://")[1], access_key="testing", secret_key="testing", secure=False,
                   region="us-east-1")
    return (lambda key, data: client.put_object(BUCKET, key, io.BytesIO(data), len(data)),
            lambda key: client.get_object(BUCKET, key).read())


def throughput(name: str, endpoint: str, n: int) -> tuple[float, float]:
    put, get = globals()[f"{name}_ops"](endpoint)
    keys = [f"{name}/files/{i:02x}/{i:08d}" for i in range(n)]
    data = os.urandom(4096)
    with ThreadPoolExecutor(16) as pool:
        t = time.perf_counter()
        list(pool.map(lambda k: put(k, data), keys))
        put_s = time.perf_counter() - t
        t = time.perf_counter()
        got = list(pool.map(get, keys))
        get_s = time.perf_counter() - t
    assert all(g == data for g in got)
    return put_s, get_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10000, help="objects of 4 KiB (default 10,000)")
    parser.add_argument("--no-sizes", action="store_true", help="skip the pip install --target sizes")
    args = parser.parse_args()
    ensure_venv()
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ[key] = value
    proc, endpoint = start_moto()
    try:
        import boto3
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        print(f"| client | import | installed | PUT {args.n:,} x 4 KiB | GET {args.n:,} x 4 KiB |")
        print("| --- | --- | --- | --- | --- |")
        for name in CLIENTS:
            version = subprocess.run([sys.executable, "-c", f"import importlib.metadata as m; "
                                      f"print(m.version('{name}'))"], capture_output=True,
                                     text=True).stdout.strip()
            imp = import_ms(name)
            size = "-" if args.no_sizes else f"{installed_mib(name):.0f} MiB"
            put_s, get_s = throughput(name, endpoint, args.n)
            print(f"| {name} {version} | {imp:.0f} ms | {size} | {put_s:.1f} s "
                  f"({args.n / put_s:.0f}/s) | {get_s:.1f} s ({args.n / get_s:.0f}/s) |", flush=True)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
