"""shoal's nftables ruleset: rendered from state (pure), applied with one ``nft -f -``.

Why the ``nft`` CLI and not pyroute2's nftables module: the CLI takes the whole
table as one atomic transaction in the readable syntax the research validated
(numgen maps, fib, ct status), while pyroute2's module only offers raw netlink
expressions. One exec costs ~10 ms, and rules change only on create/publish.
Everything of one state root lives in its own table ``inet shoal_<8 hex>``
(``table_name(root)``), so daemons with different roots never overwrite or
delete each other's rules; rules live in the kernel, so published ports keep
working while the daemon is gone.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
from dataclasses import dataclass

from engine.network.errors import NetworkError
from engine.network.types import Network, Publication

__all__ = ["TABLE", "table_name", "root_tag", "Ruleset", "render", "apply", "delete_table", "table_exists",
           "ensure_forward_accept", "remove_forward_accept", "flush_udp_conntrack"]

TABLE = "shoal"  # the prefix of every shoal table (and the name older versions used)


def root_tag(root: str) -> str:
    """8 hex naming one state root in kernel objects (sha256 of its absolute path)."""
    return hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:8]


def table_name(root: str) -> str:
    """The nft table of the state root ``root``: ``shoal_<root_tag>``."""
    return f"{TABLE}_{root_tag(root)}"


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Everything the ruleset depends on."""

    networks: tuple[Network, ...]
    publications: tuple[Publication, ...]
    preserve_client_ip: bool = True  # br_netfilter on: only the self-hairpin is masqueraded
    table: str = TABLE  # table_name(root) of the state root the ruleset belongs to


def render(rs: Ruleset) -> str:
    """The nft script replacing the root's table atomically."""
    t = rs.table
    lines = [f"table inet {t}", f"delete table inet {t}", f"table inet {t} {{"]
    lines += _chain("raw_pre", "type filter hook prerouting priority raw; policy accept;",
                    _raw_rules(rs))
    lines += _chain("nat_pre", "type nat hook prerouting priority dstnat; policy accept;",
                    ["fib daddr type local jump published"])
    lines += _chain("nat_out", "type nat hook output priority -100; policy accept;",
                    ["fib daddr type local jump published"])
    lines += _chain("published", "", [r for p in rs.publications for r in _dnat_rules(p)])
    lines += _chain("nat_post", "type nat hook postrouting priority srcnat; policy accept;",
                    _post_rules(rs))
    lines += _chain("forward", "type filter hook forward priority filter; policy accept;",
                    _forward_rules(rs))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _chain(name: str, hook: str, rules: list[str]) -> list[str]:
    """One chain block."""
    body = ([f"    {hook}"] if hook else []) + [f"    {r}" for r in rules]
    return [f"  chain {name} {{", *body, "  }"]


def _raw_rules(rs: Ruleset) -> list[str]:
    """Drop packets for loopback-published ports arriving from outside (moby#45610)."""
    out = []
    for p in rs.publications:
        if p.host_ip in ("", "0.0.0.0") or p.host_ip.startswith("127."):
            out.append(f'iifname != "lo" ip daddr 127.0.0.0/8 {p.protocol} dport {p.host_port} drop')
    return out


def _dnat_rules(p: Publication) -> list[str]:
    """DNAT of one published port to its active backends (numgen round robin when several)."""
    ips = [ip for cid, ip in p.backends if cid in p.active]
    if not ips:
        return []
    match = f"ip daddr {p.host_ip} " if p.host_ip not in ("", "0.0.0.0") else ""
    match += f"{p.protocol} dport {p.host_port}"
    if len(ips) == 1:
        return [f"{match} dnat ip to {ips[0]}:{p.container_port}"]
    entries = ", ".join(f"{i} : {ip}" for i, ip in enumerate(ips))
    return [f"{match} dnat ip to numgen inc mod {len(ips)} map {{ {entries} }}:{p.container_port}"]


def _post_rules(rs: Ruleset) -> list[str]:
    """Masquerade loopback clients, hairpin traffic and outbound traffic of non-internal networks."""
    out = []
    for n in rs.networks:
        br = n.bridge
        out.append(f'oifname "{br}" ip saddr 127.0.0.0/8 masquerade')
        if not rs.preserve_client_ip:
            out.append(f'oifname "{br}" ip saddr {n.subnet} ct status dnat masquerade')
        if not n.internal:
            out.append(f'ip saddr {n.subnet} oifname != "{br}" masquerade')
            if n.subnet6:
                out.append(f'ip6 saddr {n.subnet6} oifname != "{br}" masquerade')
    if rs.preserve_client_ip:
        for p in rs.publications:
            for _, ip in p.backends:
                out.append(f"ip saddr {ip} ip daddr {ip} ct status dnat masquerade")
    return sorted(set(out), key=out.index)


def _forward_rules(rs: Ruleset) -> list[str]:
    """Allow intra-network, published and outbound traffic; drop cross-network and internal exits.

    Every rule about traffic *into* a bridge comes before any rule about traffic *out of* one,
    so one network's outbound accept can never let a packet into another network.
    """
    into, out_of = [], []
    for n in rs.networks:
        br = n.bridge
        into.append(f'iifname "{br}" oifname "{br}" accept')
        into.append(f'oifname "{br}" ct state established,related accept')
        into.append(f'oifname "{br}" ct status dnat accept')
        into.append(f'oifname "{br}" drop')
        out_of.append(f'iifname "{br}" ' + ("drop" if n.internal else 'oifname != "shl-*" accept'))
        if not n.internal:
            out_of.append(f'iifname "{br}" drop')
    return into + out_of


def _nft(script: str, check: bool = False) -> None:
    """Run one nft transaction from stdin."""
    argv = ["nft", "-c", "-f", "-"] if check else ["nft", "-f", "-"]
    proc = subprocess.run(argv, input=script, capture_output=True, text=True)
    if proc.returncode != 0:
        raise NetworkError(f"nft rejected shoal's ruleset: {proc.stderr.strip()}")


def apply(rs: Ruleset) -> None:
    """Replace the ruleset's table with the rendered ruleset, atomically."""
    _nft(render(rs))


def table_exists(table: str = TABLE) -> bool:
    """True when table ``inet <table>`` is loaded."""
    proc = subprocess.run(["nft", "list", "table", "inet", table], capture_output=True)
    return proc.returncode == 0


def delete_table(table: str = TABLE) -> None:
    """Remove table ``inet <table>`` if present (only that one: other roots keep theirs)."""
    _nft(f"table inet {table}\ndelete table inet {table}\n")


# -- coexistence with a FORWARD policy DROP (Docker) -----------------------------------------
# An nft accept ends only its own base chain; a drop in another table's FORWARD still kills
# the packet. So where an iptables FORWARD chain drops by policy, shoal inserts its own
# accepts (marked with a per-root comment ``shoal:<root_tag>``) into DOCKER-USER when it exists, else FORWARD, through the
# same iptables flavour, so Docker's own tooling keeps parsing its tables.

def _iptables(flavour: str, *args: str) -> subprocess.CompletedProcess:
    """Run iptables-nft or iptables-legacy, quietly."""
    return subprocess.run([f"iptables-{flavour}", "-w", *args], capture_output=True, text=True)


def _accept_specs(tag_: str) -> list[list[str]]:
    """The rules one root needs in a dropping FORWARD chain, marked with its comment."""
    tag = ["-m", "comment", "--comment", f"{TABLE}:{tag_}", "-j", "ACCEPT"]
    return [["-i", "shl-+", *tag],
            ["-o", "shl-+", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED,DNAT", *tag]]


def _flavours() -> list[str]:
    """iptables flavours in use here; legacy only when its filter table exists (no module loads)."""
    try:
        with open("/proc/thread-self/net/ip_tables_names") as f:
            legacy = "filter" in f.read().split()
    except OSError:
        legacy = False
    return ["nft", "legacy"] if legacy else ["nft"]


def _dropping_chains() -> list[tuple[str, str]]:
    """(flavour, chain) pairs where shoal's accepts are needed."""
    found = []
    for flavour in _flavours():
        try:
            proc = _iptables(flavour, "-S", "FORWARD")
        except FileNotFoundError:
            continue
        if proc.returncode != 0 or "-P FORWARD DROP" not in proc.stdout:
            continue
        user = _iptables(flavour, "-S", "DOCKER-USER").returncode == 0
        found.append((flavour, "DOCKER-USER" if user else "FORWARD"))
    return found


def ensure_forward_accept(tag: str) -> list[tuple[str, str]]:
    """Insert root ``tag``'s accepts where a FORWARD policy DROP would eat its traffic; idempotent."""
    chains = _dropping_chains()
    for flavour, chain in chains:
        for spec in _accept_specs(tag):
            if _iptables(flavour, "-C", chain, *spec).returncode != 0:
                _iptables(flavour, "-I", chain, "1", *spec)
    return chains


def remove_forward_accept(tag: str) -> None:
    """Delete the accept rules root ``tag`` inserted (found by its comment); other roots keep theirs."""
    for flavour in _flavours():
        for chain in ("DOCKER-USER", "FORWARD"):
            for spec in _accept_specs(tag):
                try:
                    while _iptables(flavour, "-D", chain, *spec).returncode == 0:
                        pass
                except FileNotFoundError:
                    break


def flush_udp_conntrack(ports: list[int]) -> int:
    """Delete UDP conntrack entries to these host ports, so new DNAT rules apply (moby#8795).

    Matches the *host* port of the original tuple (the bug moby#53384 still has). Returns
    how many entries were deleted.
    """
    if not ports:
        return 0
    from pyroute2 import Conntrack
    from pyroute2.conntrack import NFCTAttrTuple
    wanted, n = set(ports), 0
    with Conntrack() as ct:
        for entry in list(ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=socket.IPPROTO_UDP))):
            if entry.tuple_orig.dport in wanted:
                try:
                    ct.delete(entry)
                    n += 1
                except Exception:  # already expired
                    pass
    return n
