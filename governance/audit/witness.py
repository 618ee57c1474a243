"""A transparency log witness (c2sp.org/tlog-witness): what an accreditor runs on their own machine.

It knows a few logs by origin and verifier key, remembers for each the size and root of
the last checkpoint it cosigned (a JSON state file beside its key, replaced atomically),
and cosigns a new checkpoint only when a consistency proof shows it extends that one.
A log that rewrote or lost its history can no longer get a cosignature: it is refused
with 409 (its size is not the one the witness holds) or 422 (the proof fails).

A plain ASGI app (no framework: one route, and every byte of the protocol is spelled
out here); ``governance witness serve`` runs it under uvicorn.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import merkle, note, tree
from governance.audit.cosignature import Cosigner
from governance.core.crypto import read_or_create_secret

# A request is a size line, at most 63 proof lines and a checkpoint with its signatures:
# a few kilobytes. Anything much bigger is not a request.
MAX_BODY: Final = 64 * 1024
MAX_PROOF_LINES: Final = 63
SIZE_MEDIA_TYPE: Final = "text/x.tlog.size"
_OLD_RE: Final = re.compile(r"old (0|[1-9][0-9]{0,19})")
# The spec names no request media type; a client sends none or plain text. A form or JSON
# is someone else's request, refused before it is read.
_ACCEPTED_TYPES: Final = ("", "text/plain", "application/octet-stream")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class Refused(Exception):
    """An answer other than a cosignature: the HTTP status and the text said."""

    def __init__(self, status: int, message: str, media_type: str = "text/plain; charset=utf-8") -> None:
        super().__init__(message)
        self.status, self.message, self.media_type = status, message, media_type


@dataclass(frozen=True, slots=True)
class Request:
    """An add-checkpoint request body, parsed: the old size, the proof, the signed checkpoint."""

    old: int
    proof: list[bytes]
    checkpoint: str


def parse_request(body: bytes) -> Request:
    """Parse an add-checkpoint body strictly; Refused(400) for anything malformed."""
    if len(body) > MAX_BODY:
        raise Refused(413, f"a request is at most {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the request is not UTF-8") from None
    if "\x00" in text or "\r" in text:
        raise Refused(400, "the request holds control characters")
    head, blank, checkpoint = text.partition("\n\n")
    if not blank:
        raise Refused(400, "the request has no blank line before the checkpoint")
    old_line, *proof_lines = head.split("\n")
    matched = _OLD_RE.fullmatch(old_line)
    if not matched or int(matched[1]) > 2**64 - 1:
        raise Refused(400, "the first line must be `old <size>` in decimal without leading zeros")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise Refused(400, f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in proof_lines:
        try:
            value = base64.b64decode(line.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise Refused(400, "a consistency proof line is not base64") from None
        if len(value) != merkle.HASH_SIZE or base64.b64encode(value).decode() != line:
            raise Refused(400, "a consistency proof line is not the base64 of one hash")
        proof.append(value)
    return Request(old=int(matched[1]), proof=proof, checkpoint=checkpoint)


@dataclass(frozen=True, slots=True)
class Cosigned:
    """What the witness holds for a log: the last checkpoint it cosigned."""

    size: int
    root: bytes


class State:
    """The last cosigned size and root per log origin, in a JSON file replaced atomically.

    Check and update happen under one lock, and the file is on disk before the answer
    leaves: two racing requests can never roll a log back (tlog-witness §add-checkpoint).
    One process per state file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = asyncio.Lock()
        self.logs: dict[str, Cosigned] = {}
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
            for origin, held in stored.get("logs", {}).items():
                self.logs[origin] = Cosigned(int(held["size"]), base64.b64decode(held["root"]))

    def get(self, origin: str) -> Cosigned:
        return self.logs.get(origin, Cosigned(0, merkle.EMPTY_ROOT))

    def put(self, origin: str, cosigned: Cosigned, checkpoint: str) -> None:
        logs = {
            name: {"size": held.size, "root": base64.b64encode(held.root).decode()} for name, held in self.logs.items()
        }
        logs[origin] = {"size": cosigned.size, "root": base64.b64encode(cosigned.root).decode()}
        # The last cosigned checkpoint itself, so an auditor can verify the log against it.
        document = {"logs": logs, "latest": {**self._latest(), origin: checkpoint}}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise
        self.logs[origin] = cosigned

    def latest(self, origin: str) -> str | None:
        """The last checkpoint cosigned for ``origin``, with this witness's cosignature."""
        return self._latest().get(origin)

    def _latest(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        return dict(json.loads(self.path.read_text(encoding="utf-8")).get("latest", {}))


def state_path(key_file: Path) -> Path:
    """The state file beside the key: ``witness.pem`` keeps its state in ``witness.pem.state.json``."""
    return key_file.with_name(key_file.name + ".state.json")


def load_or_create_key(key_file: Path) -> Ed25519PrivateKey:
    """The witness's Ed25519 key (PKCS#8 PEM), created (mode 0600) when missing."""

    def generate() -> bytes:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    key = serialization.load_pem_private_key(read_or_create_secret(key_file, generate), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_file} is not an Ed25519 private key")
    return key


class Witness:
    """The add-checkpoint logic, apart from HTTP: ``add`` answers a cosignature line or raises Refused."""

    def __init__(
        self,
        cosigner: Cosigner,
        logs: Mapping[str, Sequence[note.VerifierKey]],
        state: State,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner, self.state, self.clock = cosigner, state, clock
        self.logs = {origin: list(keys) for origin, keys in logs.items()}

    async def add(self, request: Request) -> str:
        try:
            text, _ = note._split_note(request.checkpoint)
            checkpoint = note.parse_checkpoint(text)
        except note.NoteError as exc:
            raise Refused(400, f"not a checkpoint: {exc}") from None
        verifiers = self.logs.get(checkpoint.origin)
        if not verifiers:
            raise Refused(404, "unknown log origin")
        if not any(_signed_by(request.checkpoint, verifier) for verifier in verifiers):
            raise Refused(403, "no valid signature from the log's key")
        if request.old > checkpoint.size:
            raise Refused(400, "the old size is beyond the checkpoint's size")
        async with self.state.lock:
            held = self.state.get(checkpoint.origin)
            if request.old != held.size:
                raise Refused(409, f"{held.size}\n", SIZE_MEDIA_TYPE)
            if request.old == checkpoint.size:
                if request.proof:
                    raise Refused(422, "a proof between equal sizes must be empty")
                if checkpoint.root != held.root:
                    raise Refused(409, f"{held.size}\n", SIZE_MEDIA_TYPE)
            elif request.old == 0:
                if request.proof:
                    raise Refused(422, "the proof from size 0 must be empty")
            elif not tree.verify_consistency(request.old, checkpoint.size, held.root, checkpoint.root, request.proof):
                raise Refused(422, "the consistency proof does not verify")
            line = self.cosigner.cosign(text, int(self.clock()))
            self.state.put(checkpoint.origin, Cosigned(checkpoint.size, checkpoint.root), request.checkpoint + line)
        return line


def _signed_by(checkpoint: str, verifier: note.VerifierKey) -> bool:
    try:
        note.open_note(checkpoint, verifier)
    except note.NoteError:
        return False
    return True


def application(witness: Witness) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app: ``POST /add-checkpoint``, and ``GET /`` saying what this is."""

    async def respond(send: Send, status: int, text: str, media_type: str = "text/plain; charset=utf-8") -> None:
        body = text.encode()
        headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
        if status == 405:
            headers.append((b"allow", b"POST"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def read_body(scope: Scope, receive: Receive) -> bytes:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            raise Refused(413, f"a request is at most {MAX_BODY} bytes")
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                raise Refused(413, f"a request is at most {MAX_BODY} bytes")
            if not message.get("more_body"):
                return bytes(body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/" and method in {"GET", "HEAD"}:
            await respond(send, 200, f"tlog-witness {witness.cosigner.key.encode()}\n")
            return
        if path != "/add-checkpoint":
            await respond(send, 404, "not found\n")
            return
        if method != "POST":
            await respond(send, 405, "POST only\n")
            return
        try:
            content_type = dict(scope.get("headers") or []).get(b"content-type", b"").decode("latin-1")
            if content_type.split(";")[0].strip().lower() not in _ACCEPTED_TYPES:
                raise Refused(415, "send the request as text/plain\n")
            answer = await witness.add(parse_request(await read_body(scope, receive)))
        except Refused as refused:
            text = refused.message if refused.message.endswith("\n") else refused.message + "\n"
            await respond(send, refused.status, text, refused.media_type)
            return
        await respond(send, 200, answer)

    return app
