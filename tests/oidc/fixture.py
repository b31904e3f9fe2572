"""A real OpenID provider for the single sign-on tests: the npm package ``oidc-provider`` on
Node, installed from the committed lock file on first use and started on a free port.

``make test`` installs Debian's ``nodejs`` and ``npm``; the package goes into
tests/oidc/node_modules (ignored by git) with ``npm ci`` once, and stays there for later runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

HERE = Path(__file__).parent
INSTALLED = HERE / "node_modules" / "oidc-provider" / "package.json"
CLIENT_ID = "kickoff-board"
# Long enough for HS256 with it as the key (the tests sign such tokens to see them refused).
CLIENT_SECRET = "kickoff-test-client-secret-0123456789abcdef"
START_DEADLINE = 30.0

USERS: dict[str, dict[str, Any]] = {
    # In the group mapped to staff.
    "alice": {"email": "alice@assist.example", "name": "Alice Andersson", "groups": ["kickoff-staff"]},
    # In no group: signs in only to an account an admin made.
    "bob": {"email": "bob@elsewhere.example", "name": "Bob Berg", "groups": []},
    "dora": {"email": "dora@elsewhere.example", "name": "Dora Dahl"},
    # Mapped to staff, but an admin disabled the account (the test does).
    "carl": {"email": "carl@assist.example", "name": "Carl Ek", "groups": ["kickoff-staff"]},
    # Their ID tokens are wrong (provider.mjs): expired, payload changed, signed by another key.
    "erin": {
        "email": "erin@assist.example",
        "name": "Erin",
        "groups": ["kickoff-staff"],
        "id_token": "expired",
    },
    "mallory": {"email": "mallory@assist.example", "groups": ["kickoff-staff"], "id_token": "tampered"},
    "frank": {"email": "frank@assist.example", "groups": ["kickoff-staff"], "id_token": "foreign-key"},
    # The provider says it has not verified this address.
    "uma": {"email": "uma@assist.example", "email_verified": False, "groups": ["kickoff-staff"]},
}


def install() -> None:
    """``npm ci`` into tests/oidc/node_modules unless it is there already."""
    if INSTALLED.exists():
        return
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.fail(
            "the single sign-on tests need Node and npm: `make test` installs Debian's nodejs and npm"
        )
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not INSTALLED.exists():
        pytest.fail(
            f"npm ci in tests/oidc failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


@pytest.fixture(scope="session")
def oidc_installed() -> None:
    """The provider's npm packages, installed once (about 15 s the first time, nothing after)."""
    install()


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str
    signing_key: RSAKey
    """The provider's private signing key, so tests can mint the tokens it would issue."""

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


@asynccontextmanager
async def running_provider(
    port: int, redirect_uri: str, users: dict[str, dict[str, Any]] = USERS
) -> AsyncIterator[OidcProvider]:
    """``node provider.mjs`` on 127.0.0.1:``port`` with one client (Kickoff, ``redirect_uri``
    registered) until the block ends; ready when its discovery document answers."""
    install()
    key = RSAKey.generate_key(2048, parameters={"kid": "kickoff-test-1"})
    provider = OidcProvider(f"http://127.0.0.1:{port}", CLIENT_ID, CLIENT_SECRET, key)
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URI": redirect_uri,
        "OIDC_USERS": json.dumps(users),
        "OIDC_SIGNING_JWK": json.dumps(key.as_dict(private=True)),
    }
    node = shutil.which("node")
    assert node is not None
    # Its output goes to a file (a pipe nobody reads could fill and stop it), shown if it fails.
    with tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            node, "provider.mjs", cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            await _until_ready(provider, process, log)
            yield provider
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _until_ready(provider: OidcProvider, process: asyncio.subprocess.Process, log: Any) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_DEADLINE
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if process.returncode is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")
                pytest.fail(f"provider.mjs exited with {process.returncode}:\n{output}")
            try:
                if (await http.get(provider.discovery_url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if loop.time() > deadline:
                pytest.fail(
                    f"provider.mjs did not answer {provider.discovery_url} within {START_DEADLINE:.0f} s"
                )
            await asyncio.sleep(0.05)
