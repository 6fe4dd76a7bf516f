"""Node keys: a document's place in the dedup graph as one bytes string whose byte order is its rank order.

A key record names its document by a node, ``(rank, uid)`` with ``rank = (0 published / 1 new,
priority or parent index, id, uid)``. Decoded, that is five Python objects (about 300 bytes); the
near-dedup steps hold a node once per band per document in their groups, so they ship the node
key instead: one bytes object of about 40 bytes (a flag byte, the integer in an order-preserving
variable-length form, the id with NUL escaped and a terminator, then the uid), which compares
exactly as the tuple does, so bucket ranking, pair orientation and clustering need no decoding.
``node_of`` turns a key back into the node where a removal names its kept document.
"""
from __future__ import annotations

Rank = tuple[int, int, str, str]  # (0 published / 1 new, priority or parent index, id, uid)
Node = tuple[Rank, str]
NodeKey = bytes

_TERMINATOR = b"\x00\x01"


def _int_key(n: int) -> bytes:
    """An integer as bytes that sort as the integers do: a length byte (above 0x80 for n >= 0, below
    for n < 0), then the magnitude big-endian (complemented for negatives)."""
    m = n if n >= 0 else -n - 1
    body = m.to_bytes((m.bit_length() + 7) // 8, "big")
    if len(body) > 127:
        raise ValueError(f"node key: integer {n} out of range")
    if n >= 0:
        return bytes((0x80 + len(body),)) + body
    return bytes((0x7F - len(body),)) + bytes(255 - b for b in body)


def _int_of(key: bytes, pos: int) -> tuple[int, int]:
    head = key[pos]
    if head >= 0x80:
        end = pos + 1 + head - 0x80
        return int.from_bytes(key[pos + 1:end], "big"), end
    end = pos + 1 + 0x7F - head
    return -int.from_bytes(bytes(255 - b for b in key[pos + 1:end]), "big") - 1, end


def _text(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")  # UTF-8 byte order is code point order, as str compares


def node_key(node: Node) -> NodeKey:
    """The node's key: ``node_key(a) < node_key(b)`` exactly when ``a < b``."""
    (flag, order, doc_id, uid), _ = node
    return bytes((flag,)) + _int_key(order) + _text(doc_id).replace(b"\x00", b"\x00\xff") + _TERMINATOR + _text(uid)


def node_of(key: NodeKey) -> Node:
    """The node a key was made from."""
    order, pos = _int_of(key, 1)
    end = key.index(_TERMINATOR, pos)  # an escaped NUL is never followed by 0x01
    doc_id = key[pos:end].replace(b"\x00\xff", b"\x00").decode("utf-8", "surrogatepass")
    uid = key[end + len(_TERMINATOR):].decode("utf-8", "surrogatepass")
    return (key[0], order, doc_id, uid), uid


def is_published(key: NodeKey) -> bool:
    """A document of a published version (rank flag 0): it ranks first and is never removed."""
    return key[0] == 0
