from tools.lab.fixtures import *  # noqa: F401,F403
