"""`--shard K/N`, the deterministic split of sample ids every stage uses: shard K takes the ids with id % N == K."""

from handmodel.errors import InputError


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N; InputError otherwise."""
    try:
        k, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise InputError(f"--shard {text}: expected K/N with integers, e.g. 0/4") from None
    if n < 1 or not 0 <= k < n:
        raise InputError(f"--shard {text}: need N >= 1 and 0 <= K < N")
    return k, n


def in_shard(sample_id: int, shard: tuple[int, int]) -> bool:
    """Whether shard (K, N) takes this sample id (or chunk number): id % N == K, the one rule of every stage."""
    k, n = shard
    return int(sample_id) % n == k
