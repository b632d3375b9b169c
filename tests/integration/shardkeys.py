"""Which shard of a dfly-server a key lives on, so tests can pick keys that span shards.

dfly puts a key on shard `slot(key) % threads`, where slot is Redis Cluster's CRC16 slot
(XMODEM CRC16 of the key, or of its non-empty {hash tag}, modulo 16384).
"""

CLUSTER_SLOTS = 16384
CRC16_POLY = 0x1021


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), as Redis Cluster computes it."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC16_POLY) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key) -> int:
    """Redis Cluster slot of key (str or bytes), honouring a non-empty {hash tag}."""
    if isinstance(key, str):
        key = key.encode()
    open_ = key.find(b"{")
    if open_ >= 0:
        close = key.find(b"}", open_ + 1)
        if close > open_ + 1:
            key = key[open_ + 1 : close]
    return crc16(key) % CLUSTER_SLOTS


def key_shard(key, nshards: int) -> int:
    """The shard of key on a dfly-server started with --threads nshards."""
    return key_slot(key) % nshards


def keys_per_shard(prefix: str, nshards: int, per_shard: int = 1):
    """A list of per_shard * nshards distinct keys "prefix:N", per_shard on each shard,
    ordered so that consecutive keys are on different shards (round robin)."""
    buckets = [[] for _ in range(nshards)]
    i = 0
    while any(len(b) < per_shard for b in buckets):
        key = f"{prefix}:{i}"
        b = buckets[key_shard(key, nshards)]
        if len(b) < per_shard:
            b.append(key)
        i += 1
    return [buckets[s][j] for j in range(per_shard) for s in range(nshards)]


def key_on_shard(prefix: str, shard: int, nshards: int, skip: int = 0) -> str:
    """A key "prefix:N" on the given shard (the skip+1-th such key)."""
    i = 0
    while True:
        key = f"{prefix}:{i}"
        if key_shard(key, nshards) == shard:
            if skip == 0:
                return key
            skip -= 1
        i += 1
