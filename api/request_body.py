"""Reading a request body without ever holding more than a limit of it (webhooks, decisions on recommendations).

``request.body()`` would buffer a chunked body whole before its size is known (4 x 200 MB took the API to
1.1 GB); counting while reading keeps at most the limit (plus one chunk) in memory, whatever the body declares.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request


async def read_limited(request: Request, max_bytes: int, reject: Callable[[int, str], Exception]) -> bytes:
    """The raw body, abandoned with ``reject(413, ...)`` as soon as it passes ``max_bytes``; ``reject(400, ...)``
    for a Content-Length that is not a number or a client that left before the body was complete."""
    too_large = reject(413, f"The body is larger than {max_bytes} bytes.")
    declared = request.headers.get("content-length")
    if declared is not None:
        declared = declared.strip()
        if not (declared.isascii() and declared.isdigit()):
            raise reject(400, "Content-Length is not a number.")
        if len(declared) > 20 or int(declared) > max_bytes:  # length first: int() of 5,000 digits fails
            raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:  # nobody is left to read the answer; refuse rather than fail
        raise reject(400, "The client disconnected before the body was complete.") from None
    return b"".join(chunks)
