from tests.conftest import World, utc


def test_world_builds_and_a_draft_starts(world: World) -> None:
    assert world.draft("Jelgava", utc(2027, 3, 2)) > 0
