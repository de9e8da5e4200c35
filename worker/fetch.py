"""Download an artifacts folder from S3 and verify it against its manifest (the init container
of a worker pod runs this before the worker starts)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.manifest import MANIFEST_NAME, load_manifest, verify_files
from worker.aws import describe_failure
from worker.errors import AwsError


def parse_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix.strip("/")


def _relative(key: str, prefix: str) -> PurePosixPath:
    rel = PurePosixPath(key[len(prefix):].lstrip("/") if prefix else key)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise AwsError(f"refusing to download {key!r}: it would land outside the target folder")
    return rel


def fetch_artifacts(s3: Any, url: str, target: Path) -> list[str]:
    """Download every object under s3://bucket/prefix into `target`, then verify the hashes.
    Raises AwsError (download) or RuntimeArtifactError (the files do not match the manifest)."""
    bucket, prefix = parse_s3_url(url)
    listing_prefix = f"{prefix}/" if prefix else ""
    try:
        keys = [obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=listing_prefix)
                for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(describe_failure(f"listing {url}", exc)) from exc
    if not any(_relative(k, prefix).as_posix() == MANIFEST_NAME for k in keys):
        raise AwsError(f"no {MANIFEST_NAME} under {url}: upload the whole artifacts folder that `make export` wrote")
    target.mkdir(parents=True, exist_ok=True)
    for key in keys:
        destination = target.joinpath(*_relative(key, prefix).parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            s3.download_file(bucket, key, str(destination))
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(describe_failure(f"downloading s3://{bucket}/{key}", exc)) from exc
    manifest = load_manifest(target)
    verify_files(target, manifest.all_files())
    return keys
