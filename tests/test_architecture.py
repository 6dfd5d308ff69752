"""The house's structure (docs/architecture.md): which app may import which,
checked with import-linter against the contract in pyproject.toml."""

import copy
from functools import cache
from pathlib import Path

import grimp
import pytest
from importlinter import api
from importlinter.contracts.layers import LayersContract

from billing.services import SESSION_FINAL_STATUSES
from kyc.models import KycSession


@cache
def _contract() -> LayersContract:
    config = api.read_configuration(str(Path(__file__).resolve().parent.parent / "pyproject.toml"))
    (options,) = [c for c in config["contracts_options"] if c["type"] == "layers"]
    return LayersContract(name=options["name"], session_options=config["session_options"], contract_options=options)


@cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*_contract().session_options["root_packages"])


def test_every_import_follows_the_layers():
    check = _contract().check(_graph(), verbose=False)
    assert check.kept, check.metadata


# The imports that used to break the rule, and the kinds of import the rule exists for.
FORBIDDEN = [
    ("clients.admin", "billing.admin"),  # the Client page wiring billing in
    ("clients.services", "billing.services"),  # create_client --credits calling billing
    ("billing.services", "kyc.models"),  # the ledger check reading sessions
    ("billing.services", "webhooks.services"),
    ("webhooks.services", "kyc.models"),  # the webhook body built from a KycSession
    ("webhooks.services", "kyc.presenters"),
    ("truestack.errors", "clients.models"),  # shared ground reaching up
    ("truestack.urls", "portal.admin"),
    ("truestack.runner", "billing.models"),  # the demo seeding living in truestack
    ("kyc.services", "portal.admin"),
    ("sandbox.services", "portal.admin"),  # the two top apps stay apart
    ("portal.admin", "sandbox.services"),
]


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN)
def test_the_contract_fails_on_an_import_against_the_layers(importer, imported):
    graph = copy.deepcopy(_graph())
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    assert not _contract().check(graph, verbose=False).kept


def test_billing_knows_the_final_session_statuses_kyc_settles_holds_at():
    # billing stands below kyc and keeps its own copy of the statuses for the ledger check.
    assert set(SESSION_FINAL_STATUSES) == set(KycSession.FINAL_STATUSES)
