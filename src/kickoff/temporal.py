"""Connecting to Temporal and preparing its namespace: one place for the API, the worker and tests.

The client always carries Kickoff's data converter and, for a cluster behind TLS or
Temporal Cloud, the TLS files and API key the settings name (``connect_args``); a freshly
started server is waited for until its frontend is healthy; search attributes and the
namespace's retention are set up idempotently, so a fresh production cluster needs no
manual step.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import TypedDict

import structlog
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from kickoff import search_attributes as sa
from kickoff.converter import encrypted
from kickoff.crypto import DataKeys, master_keys
from kickoff.db import Database
from kickoff.settings import Settings, get_settings

log = structlog.get_logger(__name__)

WORKFLOW_TYPE = "Onboarding"
"""The onboarding workflow's type name, as visibility queries name it."""


def deployment_scope(task_queue: str) -> str:
    """The visibility clause for this deployment's runs (its workflow type and task queue)."""
    return f"WorkflowType = '{WORKFLOW_TYPE}' AND TaskQueue = '{task_queue}'"


_INDEXED_TYPE = {
    SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SearchAttributeIndexedValueType.INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    SearchAttributeIndexedValueType.BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


class ConnectArgs(TypedDict):
    """What the settings decide about a connection: ``Client.connect``'s keyword arguments."""

    namespace: str
    tls: bool | TLSConfig
    api_key: str | None


def connect_args(settings: Settings) -> ConnectArgs:
    """Namespace, TLS and API key for ``Client.connect``, from KICKOFF_TEMPORAL_*.

    No TLS setting and no API key: plaintext (the dev server, a cluster on a private
    network). A client certificate and key: mTLS, verified against KICKOFF_TEMPORAL_TLS_CA
    or the system's roots. A CA alone: TLS that verifies the server only. An API key
    (Temporal Cloud): always TLS, with the system's roots unless a CA is named.
    """
    ca = _pem(settings.temporal_tls_ca, "KICKOFF_TEMPORAL_TLS_CA")
    cert = _pem(settings.temporal_tls_cert, "KICKOFF_TEMPORAL_TLS_CERT")
    key = _pem(settings.temporal_tls_key, "KICKOFF_TEMPORAL_TLS_KEY")
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    tls: bool | TLSConfig
    if ca is None and cert is None:
        tls = api_key is not None
    else:
        tls = TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key)
    return ConnectArgs(namespace=settings.temporal_namespace, tls=tls, api_key=api_key)


def _pem(path: Path | None, setting: str) -> bytes | None:
    """The file a TLS setting names, read now so a wrong path says which setting it was."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{setting}: cannot read {path}: {err.strerror or err}") from None
    if b"-----BEGIN " not in data:
        raise ValueError(f"{setting}: {path} is not a PEM file (no -----BEGIN line)")
    return data


async def connect(
    target_host: str | None = None,
    *,
    runtime: Runtime | None = None,
    data_converter: DataConverter | None = None,
) -> Client:
    """A client with the project's pydantic data converter (default: KICKOFF_TEMPORAL_ADDRESS),
    over TLS and with an API key when the settings say so (``connect_args``).

    ``runtime`` (default: Temporal's process-wide one, without metrics) is what a
    worker built on this client reports its metrics through.
    """
    settings = get_settings()
    return await Client.connect(
        target_host or settings.temporal_address,
        **connect_args(settings),
        data_converter=data_converter or settings_converter(settings),
        runtime=runtime,
    )


def settings_converter(settings: Settings) -> DataConverter:
    """The encrypting data converter on the configured keys and Kickoff's database."""
    keys = master_keys(settings.encryption_keys.get_secret_value(), settings.data_dir)
    return encrypted(DataKeys(Database(settings.database_url), keys))


async def connect_when_ready(
    target_host: str, within: float = 60.0, *, data_converter: DataConverter | None = None
) -> Client:
    """``connect()`` to a server just started: its port opens before its frontend reports
    healthy, and on a busy machine that gap lasts seconds. Retried until ``within`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await connect(target_host, data_converter=data_converter)
        except RuntimeError as err:
            if "not healthy" not in str(err) or loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_search_attributes(client: Client) -> None:
    """Register Kickoff's custom search attributes; does nothing for those already there."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:
        # The time-skipping test server has no ListSearchAttributes: add them all.
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {key.name: _INDEXED_TYPE[key.indexed_value_type] for key in sa.ALL if key.name not in existing}
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    log.info("search_attributes.registered", names=sorted(missing))


RETENTION = timedelta(days=3650)
"""How long Temporal keeps a closed run. Closed onboardings are read back
(GET, restart after a no-show weeks later, duplicate-contract detection), so
the namespace default of a day or three would lose them."""


async def ensure_retention(client: Client, minimum: timedelta = RETENTION) -> None:
    """Raise the namespace's retention of closed runs to at least ``minimum``."""
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    if described.config.workflow_execution_retention_ttl.ToTimedelta() >= minimum:
        return
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=client.namespace,
            config=NamespaceConfig(
                workflow_execution_retention_ttl=Duration(seconds=int(minimum.total_seconds()))
            ),
        )
    )
    log.info("namespace.retention_raised", days=minimum.days)
