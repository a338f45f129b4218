"""exchange_static_ports: guide chapter 8 on the CAS servers, from the appliance's own variables.

No Windows host exists here. What is tested: the role's validation gives the
appliance's own verdicts and messages (it runs for real in ansible-playbook on the
controller and is compared with the plan's validators), the registry values and the
RTM config file edit it renders for given ports and versions, the version detection
from what Exchange setup records, and that its variables are the exchange role's.
What is not: the Windows modules against a real CAS (see docs/exchange-static-ports.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.exchange_lb.appliance.plugins.module_utils._port_rules import check_rpc_ports, listener
from ansible_collections.exchange_lb.appliance.plugins.module_utils._validate import PlanError

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "exchange_static_ports"
FILES = Path(__file__).resolve().parent / "files"
RPC = "RPC Services"
SHARED = (
    "exchange_rpc_access_point_port",
    "exchange_rpc_address_book_port",
    "exchange_rpc_endpoint_mapper_port",
    "exchange_rpc_ports_outside_range_reason",
)


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def plan_verdict(epm: t.Any, access_point: t.Any, address_book: t.Any, reason: str) -> str:
    """What the appliance's plan says about these ports: '' or the PlanError text."""
    try:
        listeners = [
            listener(f"{RPC} › {label}", "192.0.2.1", value)
            for label, value in (("Endpoint Mapper port", epm), ("Access Point port", access_point), ("Address Book port", address_book))
        ]
        check_rpc_ports(*listeners, outside_range_reason=reason)
    except PlanError as error:
        return str(error)
    return ""


CASES: list[dict[str, t.Any]] = [
    {"epm": 135, "access_point": 60000, "address_book": 60001, "reason": ""},
    {"epm": 135, "access_point": "59531", "address_book": "60554", "reason": ""},
    {"epm": 135, "access_point": 60000, "address_book": 60000, "reason": ""},
    {"epm": 135, "access_point": 135, "address_book": 60001, "reason": "legacy firewall"},
    {"epm": 135, "access_point": 60000, "address_book": 135, "reason": "legacy firewall"},
    {"epm": 135, "access_point": 6001, "address_book": 60001, "reason": ""},
    {"epm": 135, "access_point": 60000, "address_book": 60555, "reason": ""},
    {"epm": 135, "access_point": 6001, "address_book": 6002, "reason": "the firewall only opens 6001-6002"},
    {"epm": 135, "access_point": 0, "address_book": 60001, "reason": ""},
    {"epm": 135, "access_point": 60000, "address_book": 65536, "reason": "x"},
    {"epm": 135, "access_point": "abc", "address_book": 60001, "reason": ""},
    {"epm": 135, "access_point": 60000, "address_book": 60001.5, "reason": ""},
    {"epm": 135, "access_point": True, "address_book": 60001, "reason": ""},
    {"epm": 0, "access_point": 60000, "address_book": 60001, "reason": ""},
]

SETUP_RTM = {"exists": True, "properties": {"MsiProductMinor": {"type": "REG_DWORD", "value": 0, "raw_value": 0},
                                            "MsiInstallPath": {"type": "REG_SZ", "value": "D:\\Exchange\\V14\\"}}}
SETUP_SP2 = {"exists": True, "properties": {"MsiProductMinor": {"type": "REG_DWORD", "value": 2, "raw_value": 2}}}
RENDERS: list[dict[str, t.Any]] = [
    {"version": "rtm", "access_point": 60000, "address_book": 60001},
    {"version": "sp1", "access_point": 59600, "address_book": "59601"},
    {"version": "auto", "access_point": 60000, "address_book": 60001, "setup": SETUP_RTM},
    {"version": "auto", "access_point": 60000, "address_book": 60001, "setup": SETUP_SP2},
    {"version": "rtm", "access_point": 60000, "address_book": 60001, "install_path": "E:\\Ex2010\\"},
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    tmp = tmp_path_factory.mktemp("static_ports")
    out = tmp / "out.json"
    extra = tmp / "extra.json"
    extra.write_text(json.dumps({"cases": CASES, "renders": RENDERS, "out": str(out)}), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", f"-e@{extra}", str(FILES / "static_ports_render.yml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def test_validation_gives_the_appliance_verdicts_and_messages(rendered: dict[str, t.Any]) -> None:
    assert len(rendered["checked"]) == len(CASES)
    for case, message in zip(CASES, rendered["checked"]):
        expected = plan_verdict(case["epm"], case["access_point"], case["address_book"], case["reason"])
        assert message == expected, case
    # the cases do cover both verdicts and every rule
    assert rendered["checked"][0] == "" and rendered["checked"][7] == ""
    assert "the two static ports must differ" in rendered["checked"][2]
    assert "endpoint mapper's port" in rendered["checked"][3]
    assert "the range Microsoft recommends" in rendered["checked"][5]
    assert "out of range (1-65535)" in rendered["checked"][8]
    assert "is not a TCP port number" in rendered["checked"][10]


def test_rtm_edits_the_rpc_registry_value_and_the_address_book_config_file(rendered: dict[str, t.Any]) -> None:
    rtm = rendered["rendered"][0]
    assert rtm["registry"] == [{
        "guide": "8.1", "service": "MSExchangeRPC", "type": "dword", "data": 60000, "name": "TCP/IP Port",
        "path": "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeRPC\\ParametersSystem",
    }]
    assert rtm["xml"] == [{
        "guide": "8.2.1", "service": "MSExchangeAB", "attribute": "value", "data": "60001",
        "path": "C:\\Program Files\\Microsoft\\Exchange Server\\V14\\Bin\\microsoft.exchange.addressbook.service.exe.config",
        "xpath": "/configuration/appSettings/add[@key='RpcTcpPort']",
    }]


def test_sp1_sets_both_ports_in_the_registry_and_no_file(rendered: dict[str, t.Any]) -> None:
    sp1 = rendered["rendered"][1]
    assert sp1["xml"] == []
    assert sp1["registry"] == [
        {"guide": "8.1", "service": "MSExchangeRPC", "type": "dword", "data": 59600, "name": "TCP/IP Port",
         "path": "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeRPC\\ParametersSystem"},
        # REG_SZ, as the guide says: the port as a string
        {"guide": "8.2.2", "service": "MSExchangeAB", "type": "string", "data": "59601", "name": "RpcTcpPort",
         "path": "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchangeAB\\Parameters"},
    ]


def test_the_version_setup_recorded_picks_the_procedure(rendered: dict[str, t.Any]) -> None:
    detected_rtm, detected_sp2 = rendered["rendered"][2], rendered["rendered"][3]
    assert [e["guide"] for e in detected_rtm["registry"] + detected_rtm["xml"]] == ["8.1", "8.2.1"]
    # the install path setup recorded, trailing backslash and all
    assert detected_rtm["xml"][0]["path"] == "D:\\Exchange\\V14\\Bin\\microsoft.exchange.addressbook.service.exe.config"
    assert [e["guide"] for e in detected_sp2["registry"] + detected_sp2["xml"]] == ["8.1", "8.2.2"]
    given_path = rendered["rendered"][4]
    assert given_path["xml"][0]["path"] == "E:\\Ex2010\\Bin\\microsoft.exchange.addressbook.service.exe.config"


def test_the_ports_are_the_exchange_roles_variables() -> None:
    exchange_spec = load(ROOT / "roles" / "exchange" / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    exchange_defaults = load(ROOT / "roles" / "exchange" / "defaults" / "main.yml")
    spec = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load(ROLE / "defaults" / "main.yml")
    assert set(spec) == set(defaults)
    for name in SHARED:
        assert spec[name]["type"] == exchange_spec[name]["type"], name
        assert spec[name]["default"] == exchange_spec[name]["default"] == defaults[name] == exchange_defaults[name], name
    for name, option in spec.items():
        assert option.get("default") == defaults[name], name


def test_every_change_restarts_the_service_that_reads_it() -> None:
    handlers = {h["name"]: h for h in load(ROLE / "handlers" / "main.yml")}
    tasks = load(ROLE / "tasks" / "main.yml")
    changing = [task for task in tasks if "ansible.windows.win_regedit" in task or "community.windows.win_xml" in task]
    assert len(changing) == 2
    for task in changing:
        assert task["notify"] == "Restart {{ item.service }}"
    assert set(handlers) == {"Restart MSExchangeRPC", "Restart MSExchangeAB"}
    for name, handler in handlers.items():
        assert handler["ansible.windows.win_service"] == {"name": name.split()[-1], "state": "restarted"}
