"""The bench's supporters are distinct people to the per-IP limit, however many a run needs."""

from bench.supporters import client_address
from campaign.services.abuse import limit_key


def test_each_supporter_is_its_own_address_to_the_limit_past_the_ipv4_block():
    # The end-to-end surge's supporters come after 133,500 others: past the IPv4 block.
    numbers = [0, 1, 131_069, 131_070, 131_071, 133_501, 133_502, 173_501, 10_000_000]
    keys = [limit_key(client_address(i)) for i in numbers]
    assert len(set(keys)) == len(numbers)
    assert keys[0] == "198.18.0.1" and keys[3].endswith("/64")
