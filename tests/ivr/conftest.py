from __future__ import annotations

import pytest

from tests.contract.fixtures import contract_http, prism_url  # noqa: F401
from tests.ivr.twilio_caller import TOKEN, TwilioCaller
from tongdai.app import create_app


@pytest.fixture
def voice_runtime(runtime, tmp_path):
    runtime.settings = runtime.settings.model_copy(
        update={"twilio_auth_token": TOKEN, "data_dir": tmp_path}
    )
    return runtime


@pytest.fixture
def voice_app(voice_runtime):
    return create_app(voice_runtime)


@pytest.fixture
def new_caller(voice_app):
    client = voice_app.test_client()

    def make(caller: str = "+84912345678", base: str = "http://localhost") -> TwilioCaller:
        return TwilioCaller(client, caller, base)

    return make
