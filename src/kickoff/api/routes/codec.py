"""The codec server the Temporal UI calls to show payloads (Temporal's remote-codec protocol).

``POST …/decode`` and ``POST …/encode`` take and give ``{"payloads": [...]}`` in protobuf JSON.
Only staff get plaintext: a signed-in board session (the UI's "include cross-origin
credentials" sends its cookie, so the UI is pointed at ``/board/codec``, where the cookie
reaches) or ``Authorization: Bearer <API key>`` (``/codec``, for tools). Anyone else gets 401
and the UI keeps showing ciphertext. Cross-origin calls are answered only for the origins in
KICKOFF_CODEC_CORS_ORIGINS (the Temporal UI's). A payload whose onboarding was erased decodes
to a note saying when, never to an error page.
"""

from __future__ import annotations

import json

import structlog
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from kickoff.api.deps import service_key_id
from kickoff.board.auth import read_session
from kickoff.context import Context
from kickoff.crypto import EnvelopeCodec, ErasedError, UnknownKeyError
from kickoff.crypto.codec import KEY_ID

log = structlog.get_logger(__name__)
router = APIRouter(tags=["codec"], include_in_schema=False)
MAX_PAYLOADS = 1000
ALLOWED_HEADERS = "Content-Type, X-Namespace, Authorization"


def _origin_allowed(request: Request, context: Context) -> str | None:
    """The request's Origin when configured (None: a same-origin call, or a refused one)."""
    origin = request.headers.get("origin")
    if origin is None:
        return None
    return origin if origin in context.settings.codec_cors_origins else None


def _cors(response: Response, origin: str | None) -> Response:
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


def _refusal(code: int, reason: str, origin: str | None) -> Response:
    return _cors(JSONResponse({"detail": reason}, status_code=code), origin)


async def _is_staff(request: Request, context: Context) -> bool:
    """A signed-in board session (the Temporal UI's codec calls carry its cookie), or a service
    key (the CLI's --codec-auth)."""
    if await read_session(request, context) is not None:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, offered = header.partition(" ")
    return (
        scheme.lower() == "bearer" and bool(offered) and service_key_id(context.settings, offered) is not None
    )


async def preflight(request: Request, context: Context) -> Response:
    """The browser's CORS preflight before the UI's POST."""
    origin = _origin_allowed(request, context)
    if origin is None:
        return _refusal(status.HTTP_403_FORBIDDEN, "this origin is not in KICKOFF_CODEC_CORS_ORIGINS", None)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(response, origin)


async def _payloads(request: Request) -> Payloads:
    body = await request.body()
    try:
        if not isinstance(json.loads(body), dict):
            raise json_format.ParseError("not an object")
        parsed = json_format.Parse(body.decode(), Payloads())
    except (UnicodeDecodeError, ValueError, json_format.ParseError):
        raise ValueError('the body must be {"payloads": [...]} in protobuf JSON') from None
    if len(parsed.payloads) > MAX_PAYLOADS:
        raise ValueError(f"at most {MAX_PAYLOADS} payloads per call")
    return parsed


async def _answer(request: Request, context: Context, decode: bool) -> Response:
    origin = _origin_allowed(request, context)
    if "origin" in request.headers and origin is None:
        return _refusal(status.HTTP_403_FORBIDDEN, "this origin is not in KICKOFF_CODEC_CORS_ORIGINS", None)
    if not await _is_staff(request, context):
        return _refusal(
            status.HTTP_401_UNAUTHORIZED,
            "sign in to the board (or send Authorization: Bearer <API key>) to see payloads",
            origin,
        )
    codec = context.client.data_converter.payload_codec if context.client else None
    if not isinstance(codec, EnvelopeCodec):
        return _refusal(status.HTTP_503_SERVICE_UNAVAILABLE, "not connected to Temporal yet", origin)
    try:
        payloads = await _payloads(request)
    except ValueError as err:
        return _refusal(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err), origin)
    if decode:
        answer = [await _decode_one(codec, payload) for payload in payloads.payloads]
    else:
        answer = await codec.encode(list(payloads.payloads))
    text = json_format.MessageToJson(Payloads(payloads=answer))
    return _cors(Response(text, media_type="application/json"), origin)


async def _decode_one(codec: EnvelopeCodec, payload: Payload) -> Payload:
    try:
        [decoded] = await codec.decode([payload])
    except ErasedError as erased:
        return _note({"erased": f"personal data erased at {erased.erased_at.isoformat()}"})
    except UnknownKeyError as err:
        log.warning("codec.unknown_key", key=payload.metadata.get(KEY_ID, b"").decode(errors="replace"))
        return _note({"undecodable": str(err)})
    return decoded


def _note(value: dict[str, str]) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


for prefix in ("/codec", "/board/codec"):
    router.add_api_route(f"{prefix}/decode", preflight, methods=["OPTIONS"])
    router.add_api_route(f"{prefix}/encode", preflight, methods=["OPTIONS"])


@router.post("/codec/decode")
@router.post("/board/codec/decode")
async def decode(request: Request, context: Context) -> Response:
    return await _answer(request, context, decode=True)


@router.post("/codec/encode")
@router.post("/board/codec/encode")
async def encode(request: Request, context: Context) -> Response:
    return await _answer(request, context, decode=False)
