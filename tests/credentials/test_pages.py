"""The public verification page: paste or upload, each check with its result, errors beside the field."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from ..complaints.conftest import Api, new_id
from .test_credentials import _attest, _credential

CSRF_VALUE = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def _token(client: httpx.AsyncClient) -> str:
    page = await client.get("/credentials/verify")
    assert page.status_code == 200
    found = CSRF_VALUE.search(page.text)
    assert found
    return found.group(1)


async def _post(client: httpx.AsyncClient, data: dict[str, Any], files: Any = None) -> httpx.Response:
    return await client.post(
        "/credentials/verify",
        data={"_csrf_token": await _token(client), **data},
        files=files or {"file": ("", b"", "application/octet-stream")},
    )


async def test_the_page_is_public_and_accessible_in_words(client: httpx.AsyncClient) -> None:
    page = await client.get("/credentials/verify")
    assert page.status_code == 200
    assert "<h1>Verify an attestation credential</h1>" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    french = await client.get("/credentials/verify", headers={"Accept-Language": "fr"})
    assert french.status_code == 200 and '<html lang="fr"' in french.text


async def test_a_pasted_credential_is_verified_check_by_check(api: Api, client: httpx.AsyncClient) -> None:
    credential = await _credential(api, (await _attest(api, new_id(), "cand-" + new_id()))["id"])
    answer = await _post(client, {"credential": json.dumps(credential)})
    assert answer.status_code == 200, answer.text
    assert "Verified: authentic, in force" in answer.text
    assert "<caption>Each check and its result</caption>" in answer.text
    assert answer.text.count('<th scope="row">') == 7


async def test_an_uploaded_credential_is_verified(api: Api, client: httpx.AsyncClient) -> None:
    credential = await _credential(api, (await _attest(api, new_id(), "cand-" + new_id()))["id"])
    tampered = {**credential, "name": "Something else"}
    files = {"file": ("credential.json", json.dumps(tampered).encode(), "application/json")}
    answer = await _post(client, {}, files=files)
    assert answer.status_code == 200, answer.text
    assert "Not verified" in answer.text and "the signature does not match the credential" in answer.text


async def test_bad_input_comes_back_beside_the_field(client: httpx.AsyncClient) -> None:
    for data, message in (
        ({}, "Paste a credential or choose its file."),
        ({"credential": "not json"}, "This is not a credential"),
        ({"credential": "[1]"}, "This is not a credential"),
        ({"credential": '{"a": "\\u0000"}'}, "This is not a credential"),
        ({"credential": "x" * 200_001}, 'id="field-credential-error"'),
        ({"credential": '{"credentialSubject": ' + "[" * 5000 + "]" * 5000 + "}"}, "This is not a credential"),
        ({"credential": '{"@context": [], "@context": "https://attacker.example/ctx"}'}, "This is not a credential"),
    ):
        answer = await _post(client, data)
        assert answer.status_code == 422, (data, answer.status_code)
        assert message in answer.text
    big = {"file": ("big.json", b"{" + b" " * 200_001 + b"}", "application/json")}
    answer = await _post(client, {}, files=big)
    assert answer.status_code == 422 and "too large" in answer.text


async def test_a_forged_form_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/credentials/verify")
    forged = await client.post("/credentials/verify", data={"_csrf_token": "0" * 64, "credential": "{}"})
    assert forged.status_code == 403
