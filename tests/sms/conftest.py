from tests.contract.fixtures import contract_http, prism_url  # noqa: F401
