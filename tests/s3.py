"""An S3-compatible server on loopback for the storage tests: moto's stand-alone server, which speaks the S3
protocol over real HTTP (nothing of boto3 is mocked in this process; a real MinIO binary is on no registry here).
Each test gets a server on a free port and a bucket of its own."""
from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass

import pytest

# what STORAGE_URL's store is given; the secret must never show in a log line, a message or a repr
ACCESS = {"AWS_ACCESS_KEY_ID": "gatewaytest", "AWS_SECRET_ACCESS_KEY": "s3SecretDoNotLog0123456789",
          "AWS_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3:
    endpoint: str
    bucket: str
    prefix: str = "gateway"

    def env(self, **extra) -> dict:
        """The settings that point the gateway at this bucket."""
        return {"STORAGE_URL": f"s3://{self.bucket}/{self.prefix}", "S3_ENDPOINT_URL": self.endpoint, **ACCESS,
                **extra}

    def client(self):
        """The test's own look at the server, as an operator's would be."""
        import boto3  # here, as moto below: only the tests that use S3 pay for importing them

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=ACCESS["AWS_REGION"],
                            aws_access_key_id=ACCESS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=ACCESS["AWS_SECRET_ACCESS_KEY"])

    def keys(self, under: str = "") -> list[str]:
        """Every object's key in the bucket under the prefix (and `under` within it), without the prefix."""
        start = f"{self.prefix}/{under}"
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        return sorted(o["Key"][len(self.prefix) + 1:] for page in pages for o in page.get("Contents", []))


@pytest.fixture
def s3():
    """moto's S3 server on a free loopback port, with an empty bucket."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    bucket = S3(f"http://127.0.0.1:{port}", f"gw-{secrets.token_hex(4)}")
    bucket.client().create_bucket(Bucket=bucket.bucket)
    yield bucket
    server.stop()
