"""Uploads a JSON-lines file of events with Microsoft's Python SDK (azure-monitor-ingestion), for the send benchmark.

The SDK's LogsIngestionClient.upload sends its 1 MB gzip chunks one after another, so equal concurrency is N
threads, each with its own client, each uploading one N-th of the events.

Usage: sdk_upload.py '<json args>'; prints {"events": N, "seconds": S} (upload time only, loading excluded).
"""
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from azure.identity import ClientSecretCredential
from azure.monitor.ingestion import LogsIngestionClient

args = json.loads(sys.argv[1])
with open(args["secret_file"]) as f:
    secret = f.read().strip()
credential = ClientSecretCredential(
    args["tenant"], args["client_id"], secret, authority=args["authority"], disable_instance_discovery=True
)
n = max(1, int(args["concurrency"]))
clients = [
    LogsIngestionClient(endpoint=args["endpoint"], credential=credential, credential_scopes=[args["scope"]])
    for _ in range(n)
]
with open(args["file"]) as f:
    logs = [json.loads(line) for line in f]
slices = [logs[i::n] for i in range(n)]


def upload(i):
    clients[i].upload(rule_id=args["rule_id"], stream_name=args["stream"], logs=slices[i])


start = time.perf_counter()
with ThreadPoolExecutor(max_workers=n) as pool:
    list(pool.map(upload, range(n)))
print(json.dumps({"events": len(logs), "seconds": time.perf_counter() - start}))
