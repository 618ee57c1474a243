"""Bundles in S3 (moto's server, over real HTTP): checksummed, encrypted, locked in
COMPLIANCE mode, downloaded through presigned links; an outage fails the bundle with its
reason and a retry succeeds."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import httpx
import msgspec
import pytest
from botocore.exceptions import ClientError

from governance import bootstrap
from governance.app import application
from governance.core.clock import ManualClock
from governance.core.storage import S3ObjectStore
from governance.settings import Settings

from ..conftest import AuthHeaders
from .conftest import Bundles, sha256


def s3_client(settings: Settings) -> Any:
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)


async def test_a_ready_bundle_is_checksummed_encrypted_and_locked(
    bundles_in_s3: Bundles, locked_bucket: Settings
) -> None:
    bundles = bundles_in_s3
    ready = await bundles.ready(sections=["summary", "audit"])
    assert ready["object_lock"] is True
    s3 = s3_client(locked_bucket)
    key = f"evidence/{ready['id']}/bundle.pdf"
    head = s3.head_object(Bucket=locked_bucket.s3_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(ready["pdf_sha256"])).decode()
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retained = head["ObjectLockRetainUntilDate"]
    assert retained >= bundles.clock.now() + timedelta(days=6 * 365)
    assert ready["retain_until"] is not None
    manifest_head = s3.head_object(
        Bucket=locked_bucket.s3_bucket, Key=f"evidence/{ready['id']}/manifest.json", ChecksumMode="ENABLED"
    )
    assert manifest_head["ObjectLockMode"] == "COMPLIANCE"
    # Nobody deletes a locked version, not even with the bucket's own credentials.
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=locked_bucket.s3_bucket, Key=key, VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.head_object(Bucket=locked_bucket.s3_bucket, Key=key)["ContentLength"] == ready["pdf_size"]

    # The download is a short-lived presigned link to exactly that version; it is audited.
    response = await bundles.download(ready["id"])
    assert response.status_code == 303
    link = response.headers["location"]
    assert "X-Amz-Expires=300" in link and f"versionId={head['VersionId']}" in link
    async with httpx.AsyncClient() as outside:
        fetched = await outside.get(link)
    assert fetched.status_code == 200 and sha256(fetched.content) == ready["pdf_sha256"]
    entries = await bundles.audit(resource_id=ready["id"])
    downloaded = [e for e in entries if e["action"].endswith("downloaded")]
    assert downloaded[0]["details"]["via"] == "presigned_url"
    # The log names the locked version, so an auditor can fetch exactly what was vouched for.
    made_ready = next(e for e in entries if e["action"] == "evidence.bundle.ready")
    assert made_ready["details"]["pdf_version"] == head["VersionId"]
    assert made_ready["details"]["manifest_version"] == manifest_head["VersionId"]


@pytest.fixture
def outage(locked_bucket: Settings) -> Iterator[tuple[Settings, Any]]:
    """A moto server of its own (state is shared per process), to stop and start again."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    servers = [server]

    def restart() -> None:
        again = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        again.start()
        servers.append(again)

    yield msgspec.structs.replace(locked_bucket, s3_endpoint_url=f"http://{host}:{port}"), (server, restart)
    for each in servers:
        each.stop()


async def test_s3_stopping_mid_way_fails_the_bundle_and_a_retry_succeeds(
    database: Settings, outage: tuple[Settings, Any], clock: ManualClock, auth: AuthHeaders, quiet_queue: None
) -> None:
    settings, (server, restart) = outage
    services = bootstrap.build(settings, clock=clock)
    transport = httpx.ASGITransport(app=application(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        in_s3 = Bundles(client, auth, clock, services.evidence)
        store = in_s3.evidence.store
        assert isinstance(store, S3ObjectStore)
        real_put = store.put_file

        async def dies_before_the_manifest(key: str, *args: Any, **kwargs: Any) -> Any:
            if key.endswith("manifest.json"):
                server.stop()
            return await real_put(key, *args, **kwargs)

        store.put_file = dies_before_the_manifest  # type: ignore[method-assign]
        queued = await in_s3.queued(sections=["audit"])
        assert await in_s3.work()
        failed = await in_s3.get(queued["id"])
        assert failed["state"] == "failed"
        assert failed["failure_reason"].startswith(
            f"storing failed: upload of evidence/{queued['id']}/manifest.json to s3://{settings.s3_bucket} failed"
        )
        assert "Could not connect to the endpoint URL" in failed["failure_reason"]
        assert failed["pdf_sha256"] is None and (await in_s3.download(queued["id"])).status_code == 409

        restart()
        retried = await client.post(
            f"/api/v1/evidence/bundles/{queued['id']}/retry", headers=auth("compliance_officer", sub="officer-r")
        )
        assert retried.status_code == 202 and retried.json()["state"] == "queued"
        assert await in_s3.work()
        ready = await in_s3.get(queued["id"])
        assert ready["state"] == "ready" and ready["failure_reason"] is None and ready["attempts"] == 1
        entries = await in_s3.audit(resource_id=queued["id"])
        actions = [e["action"] for e in entries]
        assert actions == [
            "evidence.bundle.requested",
            "evidence.bundle.rendering",
            "evidence.bundle.sealed",
            "evidence.bundle.uploading",
            "evidence.bundle.failed",
            "evidence.bundle.retried",
            "evidence.bundle.rendering",
            "evidence.bundle.sealed",
            "evidence.bundle.uploading",
            "evidence.bundle.ready",
        ]
        # Each attempt sealed what it rendered; the ready entry names the seal its files carry.
        assert entries[-1]["details"]["sealed_seq"] == entries[7]["seq"] != entries[2]["seq"]
