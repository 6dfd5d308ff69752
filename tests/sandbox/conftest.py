from tests.innovatif.helpers import recorder, sandbox_env  # noqa: F401
