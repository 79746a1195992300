"""control/obs_client.py against a real OBS 29 (headless): a wrong password is told by the protocol's
close code (4009 AuthenticationFailed), and the client uses obs-websocket-py's public API only."""
import ast
from pathlib import Path

import pytest
from obswebsocket import exceptions as obsexc
from obswebsocket import requests as obsreq

from bgblur_core.control import obs_client
from bgblur_core.settings import validate
from obs_harness import ObsInstance, free_port

pytestmark = pytest.mark.obs


def test_a_wrong_password_is_told_by_close_code_4009_and_the_right_one_connects(tmp_path):
    with ObsInstance(tmp_path, password="right-one") as obs:
        assert obs_client.identify("127.0.0.1", obs.port, "wrong") == obs_client.AUTHENTICATION_FAILED == 4009
        assert obs_client.identify("127.0.0.1", obs.port, "right-one") is None
        with pytest.raises(obs_client.AuthFailed):
            obs_client.connect(validate(obs_port=obs.port, obs_password="wrong"))
        client = obs_client.connect(validate(obs_port=obs.port, obs_password="right-one"))
        assert client.call(obsreq.GetVersion()).datain["obsVersion"].startswith("29.") and client.alive()
        client.close()
        assert not client.alive()
    with pytest.raises(obsexc.ConnectionFailure, match="refused"):
        obs_client.connect(validate(obs_port=free_port(), obs_password="x"))


def test_the_client_uses_no_private_member_of_obs_websocket_py():
    source = Path(obs_client.__file__).read_text()
    tree = ast.parse(source)
    private = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_")
               and not n.attr.startswith("__")]
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert private == [] and "obswebsocket.core" not in modules and "RecvThread" not in source
