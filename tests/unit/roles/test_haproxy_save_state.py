"""The haproxy role's exlb-haproxy-save-state: which saved server states the next haproxy process may load."""

from __future__ import annotations

from source_loader import load_source

save_state = load_source("roles/haproxy/files/exlb-haproxy-save-state")

CONFIG = """\
global
    server-state-file /var/lib/haproxy/server-state

backend bk_http_owa
    mode http
    server cas1 10.89.60.21:80 id 1 check cookie cas1
    server cas2 10.89.60.23:80 id 2 check cookie cas2

backend bk_imap
    server cas1 10.89.60.21:993 id 1 check ssl sni str(mail) verify none
"""

# `show servers state` as haproxy 2.6 prints it: cas1 drained (admin 8), cas2 at its old address, IMAP without TLS before
HEADER = ("# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
          "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state "
          "bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr "
          "srv_agent_addr srv_agent_port")
STATES = b"1\n" + HEADER.encode() + b"""
3 bk_http_owa 1 cas1 10.89.60.21 2 8 1 1 100 6 3 4 6 0 0 1 - 80 - 0 0 - - 0
3 bk_http_owa 2 cas2 10.89.60.22 2 0 1 1 100 6 3 4 6 0 0 1 - 80 - 0 0 - - 0
4 bk_imap 1 cas1 10.89.60.21 2 1 1 1 100 6 3 4 6 0 0 1 - 993 - 0 0 - - 0
5 bk_gone 1 cas1 10.89.60.21 2 1 1 1 100 6 3 4 6 0 0 1 - 993 - 0 0 - - 0

"""


def test_the_configured_servers_are_read_with_their_place_and_tls() -> None:
    assert save_state.configured_servers(CONFIG) == {
        ("bk_http_owa", "cas1"): ("10.89.60.21", "80", "0"),
        ("bk_http_owa", "cas2"): ("10.89.60.23", "80", "0"),
        ("bk_imap", "cas1"): ("10.89.60.21", "993", "1"),
    }


def test_a_drained_server_keeps_its_state_and_a_moved_one_starts_afresh() -> None:
    kept = save_state.still_placed(STATES, CONFIG).decode().splitlines()
    assert kept[0] == "1" and kept[1].startswith("# be_id")
    servers = [line.split()[1:4:2] for line in kept[2:] if line.strip()]
    # cas2 moved to .23, IMAP now speaks TLS to cas1, bk_gone left the configuration: none of them is restored
    assert servers == [["bk_http_owa", "cas1"]]
