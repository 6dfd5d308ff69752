"""Both libraries' types follow docs/openapi.yaml: every property of the session,
create, refresh, list, error and webhook schemas is in the TypeScript interface and the
Python TypedDict of the same name, required where the schema requires it."""

import re

import pytest
import yaml
from truestack_sdk import types as py_types

from .conftest import REPO

SCHEMAS = [
    "SessionBilling",
    "SessionCreateRequest",
    "SessionCreated",
    "SessionDetail",
    "SessionSummary",
    "SessionRefresh",
    "SessionList",
    "OcrResult",
    "DocumentLinks",
    "ExtractedDocument",
    "Verification",
    "Error",
    "InsufficientCreditsError",
    "WebhookEvent",
    "WebhookEventData",
    "WebhookOcrData",
    "WebhookRedactedEvent",
]
TS_NAMES = {"Error": "ErrorEnvelope"}


def openapi_schemas() -> dict:
    return yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())["components"]["schemas"]


def typescript_interfaces() -> dict[str, dict[str, bool]]:
    """interface name -> {property: required}"""
    source = (REPO / "sdk" / "node" / "src" / "types.ts").read_text()
    interfaces = {}
    for name, body in re.findall(r"export interface (\w+) \{\n(.*?)\n\}", source, re.S):
        props = {}
        for prop, optional in re.findall(r"^  (\w+)(\??):", body, re.M):
            props[prop] = optional != "?"
        interfaces[name] = props
    return interfaces


def test_every_listed_schema_exists():
    assert set(SCHEMAS) <= set(openapi_schemas())
    # Every session/webhook schema of the document is covered.
    documented = {name for name in openapi_schemas() if name.startswith(("Session", "Webhook"))}
    assert documented <= set(SCHEMAS)


@pytest.mark.parametrize("schema_name", SCHEMAS)
def test_typescript_interface_matches(schema_name):
    schema = openapi_schemas()[schema_name]
    interface = typescript_interfaces()[TS_NAMES.get(schema_name, schema_name)]
    properties = set(schema["properties"])
    assert properties - set(interface) == set(), "missing in sdk/node/src/types.ts"
    for required in schema.get("required", []):
        assert interface[required], f"{required} must not be optional"
    for prop in properties - set(schema.get("required", [])):
        assert not interface[prop], f"{prop} is optional in the schema"


@pytest.mark.parametrize("schema_name", SCHEMAS)
def test_python_typeddict_matches(schema_name):
    schema = openapi_schemas()[schema_name]
    typed = getattr(py_types, schema_name)
    keys = typed.__required_keys__ | typed.__optional_keys__
    assert set(schema["properties"]) - keys == set(), "missing in truestack_sdk/types.py"
    assert set(schema.get("required", [])) <= typed.__required_keys__
    assert (set(schema["properties"]) - set(schema.get("required", []))) & typed.__required_keys__ == set()
