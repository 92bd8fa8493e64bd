"""DNS wire format (RFC 1035, EDNS0 from RFC 6891): just what an embedded resolver needs.

Pure functions over bytes: parse a query's header and question, build answers for
A/AAAA/PTR with name compression against the question, truncate for UDP, and parse
responses (used to check upstream replies, and by tests and the benchmark).
Hand-written rather than a dependency: queries are one question, answers are
fixed-shape records, and everything else is forwarded as opaque bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

__all__ = [
    "WireError",
    "Query",
    "Record",
    "Response",
    "A",
    "NS",
    "CNAME",
    "SOA",
    "PTR",
    "MX",
    "TXT",
    "AAAA",
    "SRV",
    "OPT",
    "ANY",
    "NOERROR",
    "FORMERR",
    "SERVFAIL",
    "NXDOMAIN",
    "NOTIMP",
    "REFUSED",
    "QTYPES",
    "parse_query",
    "build_answer",
    "build_error",
    "build_query",
    "parse_response",
    "rdata_for",
    "reverse_name",
    "ip_from_reverse",
]

A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, ANY = 1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
QTYPES = {"A": A, "NS": NS, "CNAME": CNAME, "SOA": SOA, "PTR": PTR, "MX": MX, "TXT": TXT,
          "AAAA": AAAA, "SRV": SRV, "ANY": ANY}
CLASS_IN = 1
UDP_PLAIN = 512  # max UDP payload without EDNS0
UDP_OURS = 1232  # EDNS0 payload size we advertise (DNS flag day 2020 value)
_HEADER = struct.Struct("!HHHHHH")
_QR, _AA, _TC, _RD, _RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080


class WireError(ValueError):
    """The bytes are not a DNS message this resolver can read."""


@dataclass(frozen=True, slots=True)
class Query:
    """One parsed query: the header fields we echo and the single question."""

    id: int
    flags: int
    opcode: int
    name: str  # as sent (case kept), no trailing dot; "" is the root
    qtype: int
    qclass: int
    question: bytes  # raw question section, echoed verbatim in the answer
    edns_size: int  # requestor's UDP payload size from OPT, 0 without EDNS0

    @property
    def udp_limit(self) -> int:
        """Largest UDP answer this client accepts."""
        return max(UDP_PLAIN, min(self.edns_size, 4096)) if self.edns_size else UDP_PLAIN


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record of a parsed response (value decoded for A/AAAA/PTR/CNAME)."""

    name: str
    rtype: int
    ttl: int
    value: str | bytes


@dataclass(frozen=True, slots=True)
class Response:
    """A parsed response: header flags of interest and the answer section."""

    id: int
    rcode: int
    truncated: bool
    authoritative: bool
    recursion_available: bool
    name: str
    qtype: int
    answers: tuple[Record, ...]


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    """Decode a possibly compressed name at ``pos``; return it and the offset after it."""
    labels: list[str] = []
    end = -1
    hops = 0
    total = 0
    while True:
        if pos >= len(data):
            raise WireError("name runs past the end of the message")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise WireError("truncated compression pointer")
            if end < 0:
                end = pos + 2
            hops += 1
            if hops > 32:
                raise WireError("compression pointer loop")
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            continue
        if n & 0xC0:
            raise WireError("unsupported label type")
        pos += 1
        if n == 0:
            break
        label = data[pos:pos + n]
        if len(label) != n:
            raise WireError("label runs past the end of the message")
        total += n + 1
        if total > 255:
            raise WireError("name longer than 255 bytes")
        labels.append(label.decode("latin-1"))
        pos += n
    return ".".join(labels), (end if end >= 0 else pos)


def _encode_name(name: str) -> bytes:
    """Encode a name uncompressed; raises WireError for over-long labels."""
    out = bytearray()
    for label in name.strip(".").split(".") if name.strip(".") else []:
        raw = label.encode("latin-1", errors="replace")
        if not 0 < len(raw) < 64:
            raise WireError(f"bad label in {name!r}")
        out += bytes([len(raw)]) + raw
    return bytes(out + b"\x00")


def _skip_rr(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """Skip one resource record; return (type, class, ttl, offset after it)."""
    _, pos = _read_name(data, pos)
    if pos + 10 > len(data):
        raise WireError("record header runs past the end")
    rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
    pos += 10 + rdlen
    if pos > len(data):
        raise WireError("record data runs past the end")
    return rtype, rclass, ttl, pos


def parse_query(data: bytes) -> Query:
    """Parse a query with exactly one question; raise WireError for anything else."""
    if len(data) < _HEADER.size:
        raise WireError("shorter than a DNS header")
    qid, flags, qd, an, ns, ar = _HEADER.unpack_from(data)
    if flags & _QR:
        raise WireError("a response, not a query")
    if qd != 1:
        raise WireError(f"{qd} questions (exactly 1 supported)")
    name, pos = _read_name(data, _HEADER.size)
    if pos + 4 > len(data):
        raise WireError("question runs past the end")
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    question = data[_HEADER.size:pos + 4]
    pos += 4
    edns = 0
    for _ in range(an + ns):
        pos = _skip_rr(data, pos)[3]
    for _ in range(ar):
        rtype, rclass, _ttl, pos = _skip_rr(data, pos)
        if rtype == OPT:
            edns = rclass
    return Query(qid, flags, (flags >> 11) & 0xF, name, qtype, qclass, question, edns)


def _opt_record() -> bytes:
    """Our OPT pseudo-record: root name, type OPT, class = UDP payload size, no options."""
    return b"\x00" + struct.pack("!HHIH", OPT, UDP_OURS, 0, 0)


def _header(q: Query, rcode: int, ancount: int, arcount: int, *, aa: bool, tc: bool) -> bytes:
    flags = _QR | (q.opcode << 11) | (q.flags & _RD) | _RA | (rcode & 0xF)
    flags |= (_AA if aa else 0) | (_TC if tc else 0)
    return _HEADER.pack(q.id, flags, 1 if q.question else 0, ancount, 0, arcount)


def build_answer(q: Query, rtype: int, rdatas: list[bytes], ttl: int, limit: int | None) -> bytes:
    """An authoritative answer to ``q``; TC set and answers dropped if it exceeds ``limit`` bytes."""
    opt = _opt_record() if q.edns_size else b""
    rrs = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(r)) + r for r in rdatas)
    arcount = 1 if opt else 0
    msg = _header(q, NOERROR, len(rdatas), arcount, aa=True, tc=False) + q.question + rrs + opt
    if limit is not None and len(msg) > limit:
        return _header(q, NOERROR, 0, arcount, aa=True, tc=True) + q.question + opt
    return msg


def build_error(q: Query, rcode: int, *, authoritative: bool = False) -> bytes:
    """An answer with no records and ``rcode`` (NXDOMAIN, SERVFAIL, NOTIMP, ...)."""
    opt = _opt_record() if q.edns_size else b""
    return _header(q, rcode, 0, 1 if opt else 0, aa=authoritative, tc=False) + q.question + opt


def build_query(name: str, qtype: int = A, qid: int = 0x1234, *, edns_size: int = 0) -> bytes:
    """A recursive query for ``name`` (tests, benchmark, probing)."""
    arcount = 1 if edns_size else 0
    msg = _HEADER.pack(qid, _RD, 1, 0, 0, arcount) + _encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)
    if edns_size:
        msg += b"\x00" + struct.pack("!HHIH", OPT, edns_size, 0, 0)
    return msg


def _decode_rdata(data: bytes, rtype: int, start: int, rdlen: int) -> str | bytes:
    raw = data[start:start + rdlen]
    if rtype == A and rdlen == 4:
        return str(ipaddress.IPv4Address(raw))
    if rtype == AAAA and rdlen == 16:
        return str(ipaddress.IPv6Address(raw))
    if rtype in (PTR, CNAME, NS):
        return _read_name(data, start)[0]
    return raw


def parse_response(data: bytes) -> Response:
    """Parse a response's header, question and answer section."""
    if len(data) < _HEADER.size:
        raise WireError("shorter than a DNS header")
    qid, flags, qd, an, _ns, _ar = _HEADER.unpack_from(data)
    if not flags & _QR:
        raise WireError("a query, not a response")
    pos, name, qtype = _HEADER.size, "", 0
    for _ in range(qd):
        name, pos = _read_name(data, pos)
        if pos + 4 > len(data):
            raise WireError("question runs past the end")
        qtype = struct.unpack_from("!H", data, pos)[0]
        pos += 4
    answers = []
    for _ in range(an):
        rname, npos = _read_name(data, pos)
        rtype, _rclass, ttl, end = _skip_rr(data, pos)
        rdlen = end - (npos + 10)
        answers.append(Record(rname, rtype, ttl, _decode_rdata(data, rtype, npos + 10, rdlen)))
        pos = end
    return Response(qid, flags & 0xF, bool(flags & _TC), bool(flags & _AA), bool(flags & _RA),
                    name, qtype, tuple(answers))


def rdata_for(rtype: int, value: str) -> bytes:
    """Record data for an A/AAAA address or a PTR target name."""
    if rtype == A:
        return ipaddress.IPv4Address(value).packed
    if rtype == AAAA:
        return ipaddress.IPv6Address(value).packed
    if rtype == PTR:
        return _encode_name(value)
    raise WireError(f"no encoder for record type {rtype}")


def reverse_name(ip: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address."""
    return ipaddress.ip_address(ip).reverse_pointer


def ip_from_reverse(name: str) -> str | None:
    """The address a PTR query name stands for, or None if it is not a full reverse name."""
    labels = name.lower().rstrip(".").split(".")
    try:
        if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
            return str(ipaddress.IPv4Address(".".join(reversed(labels[:4]))))
        if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
            nibbles = "".join(reversed(labels[:32]))
            return str(ipaddress.IPv6Address(int(nibbles, 16)))
    except ValueError:
        return None
    return None
