"""The OpenAPI document as the API really answers: every error a problem+json (RFC 9457)
under the status codes a route can give, typed by one ``Problem`` schema, instead of
FastAPI's default 422 body, which this API never sends (docs/api.md, "Errors")."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from quantrac.api_common import PROBLEM_JSON

PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "about:blank, or an NGSI-LD error type"},
        "title": {"type": "string", "description": "the status's phrase"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what went wrong, for a person"},
        "errors": {
            "type": "array",
            "items": {"type": "object"},
            "description": "a 422's fields, one entry each",
        },
    },
}
# Status → what it means, on every route that reads with a key.
KEYED = {
    "401": "no key, or a wrong or revoked key",
    "403": "the key's role is too low",
    "429": "too many wrong keys from this address: wait Retry-After seconds",
}
EVERY = {
    "422": "a parameter or body that cannot be",
    "503": "the store does not answer: try again after Retry-After seconds",
}


def problem_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the Problem component and each operation's error responses."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = PROBLEM
    body = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            errors = dict(EVERY)
            if operation.get("security"):
                errors.update(KEYED)
            if path == "/health":  # its 503 is the health document itself
                errors.pop("503")
            for code, text in errors.items():
                responses[code] = {"description": text, "content": body}
            for code, response in responses.items():
                if code.startswith(("4", "5")) and PROBLEM_JSON in response.get("content", {}):
                    response["content"] = body
    return schema


def install(app: FastAPI) -> None:
    """Makes ``app.openapi()`` give the document with the problem responses."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            plain = get_openapi(
                title=app.title, version=app.version, summary=app.summary,
                description=app.description, routes=app.routes,
            )  # fmt: skip
            app.openapi_schema = problem_responses(plain)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
