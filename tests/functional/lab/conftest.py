"""The lab's own fixtures (pytest_plugins is only honoured in the rootdir conftest)."""
from tools.lab.fixtures import *  # noqa: F401,F403
