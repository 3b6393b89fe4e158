"""The OpenAPI 3.1 document of `/api/v1`, generated from the pydantic models that validate the
requests and shape the answers (api/schemas.py). OpenAPI 3.1 takes JSON Schema 2020-12 as is,
which is what pydantic writes, so the models' schemas go into `components` unchanged; only the
paths (which model each operation takes and answers) are written here."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from api import schemas
from api.signing import CLIENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from plumbing.db import INTEGER_MAX

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


def _errors(*codes: int) -> dict[str, Any]:
    descriptions = {
        400: "The request is not valid; `errors` lists the fields at fault",
        401: "Unsigned, badly signed, outside the time window, or an unknown or revoked client",
        403: "The client's scope does not allow this",
        404: "No such dossier (or recording)",
        405: "Method not allowed",
        409: "The lifecycle does not allow this change now (`allowed` lists what it allows),"
        " or it needs a supervisor's override in /admin",
        413: "The body is larger than `[api] max_body_kib`",
        422: "This event id was already used with another body",
        429: "Too many requests from this client; see Retry-After",
    }
    return {str(code): _problem(descriptions[code]) for code in codes}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "Our dossier code",
    "schema": {"type": "string", "maxLength": 40, "pattern": schemas.CODE_PATTERN},
}
SIGNED = [{"client": [], "timestamp": [], "signature": []}]
READ_ERRORS = (400, 401, 403, 404, 405, 413, 429)


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters a model validates, each with the model's schema of it."""
    properties = model.model_json_schema(ref_template=REF)["properties"]
    parameters = []
    for name, schema in properties.items():
        schema = {k: v for k, v in schema.items() if k not in ("title", "default", "description")}
        parameters.append(
            {
                "name": name,
                "in": "query",
                "description": model.model_fields[name].description or "",
                "schema": schema,
            }
        )
    return parameters


def _components() -> dict[str, Any]:
    _, defs = models_json_schema(
        [
            (schemas.Dossier, "serialization"),
            (schemas.DossierPage, "serialization"),
            (schemas.Problem, "serialization"),
            (schemas.StatusEvent, "validation"),
            (schemas.NewDueDateEvent, "validation"),
            (schemas.DispatchEvent, "validation"),
        ],
        ref_template=REF,
    )
    components = dict(defs["$defs"])
    event = TypeAdapter(schemas.Event).json_schema(ref_template=REF)
    event.pop("$defs", None)
    components["Event"] = {"title": "Event", **event}
    return components


@functools.cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tổng đài: API for the systems that process the dossiers",
            "version": "1",
            "description": (
                "Status changes in, dossiers out. Every request except this document carries"
                f" `{CLIENT_HEADER}`, `{TIMESTAMP_HEADER}` (Unix seconds) and `{SIGNATURE_HEADER}:"
                " v1=<hex HMAC-SHA256 with the client's secret over \"<timestamp>.<METHOD>."
                '<path with query>.<body>">`. Errors are RFC 9457 problem details.'
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "client": {"type": "apiKey", "in": "header", "name": CLIENT_HEADER},
                "timestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP_HEADER},
                "signature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER},
            },
        },
        "security": SIGNED,
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }  # fmt: skip
            },
            "/api/v1/dossiers": {
                "get": {
                    "operationId": "listDossiers",
                    "summary": "Dossiers by the time they last changed (keyset pages), or by"
                    " the province system's code",
                    "parameters": _query(schemas.DossierQuery),
                    "responses": {
                        "200": _json("DossierPage", "A page of dossiers"),
                        **_errors(*READ_ERRORS),
                    },
                }
            },
            "/api/v1/dossiers/{code}": {
                "get": {
                    "operationId": "getDossier",
                    "summary": "One dossier with its applicant, vessel, answers, due date,"
                    " status history and recordings",
                    "parameters": [CODE],
                    "responses": {"200": _json("Dossier", "The dossier"), **_errors(*READ_ERRORS)},
                }
            },
            "/api/v1/dossiers/{code}/events": {
                "post": {
                    "operationId": "postEvent",
                    "summary": "A status change, a new due date or a dispatch by post",
                    "parameters": [CODE],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("Event")}},
                    },
                    "responses": {
                        "200": _json("Dossier", "The dossier as it now stands"),
                        **_errors(*READ_ERRORS, 409, 422),
                    },
                }
            },
            "/api/v1/dossiers/{code}/recordings/{recording_id}": {
                "get": {
                    "operationId": "getRecording",
                    "summary": "The audio of one of the dossier's recordings",
                    "parameters": [
                        CODE,
                        {
                            "name": "recording_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": INTEGER_MAX},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The audio",
                            "content": {
                                "audio/*": {
                                    "schema": {"type": "string", "contentMediaType": "audio/*"}
                                }
                            },
                        },  # fmt: skip
                        **_errors(*READ_ERRORS),
                    },
                }
            },
        },
    }
