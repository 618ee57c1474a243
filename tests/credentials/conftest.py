"""The credential tests reuse the complaints and vetting callers."""

from __future__ import annotations

import httpx
import pytest

from ..complaints.conftest import Api
from ..conftest import AuthHeaders
from ..vetting.conftest import Vetting


@pytest.fixture
def api(client: httpx.AsyncClient, auth: AuthHeaders) -> Api:
    return Api(client, auth)


@pytest.fixture
def vetting(client: httpx.AsyncClient, auth: AuthHeaders) -> Vetting:
    return Vetting(client, auth)
