"""The app sessions most summary tests ingest: every status, quality class and window edge of API.md §7."""
from tests.rollups.support import Fleet, session


def ingest_scenario(fleet: Fleet) -> None:
    a1, a2, b1 = fleet.devices["a1"], fleet.devices["a2"], fleet.devices["b1"]
    ago = fleet.clock.ago
    records = [
        # a1: a mix over every window, one category written in capitals
        session(a1, ago(minutes=10), "Maps", "navigation", True, 100),
        session(a1, ago(minutes=20), "Maps", "navigation", True, 200.5),
        session(a1, ago(minutes=30), "Vault", "Security", False, 300),
        session(a1, ago(hours=3), "Mail", "communication", True, 80),
        session(a1, ago(days=2), "Maps", "navigation", True, 150),
        session(a1, ago(days=20), "Vault", "security", True, 90),
        session(a1, ago(days=80), "Mail", "communication", True, 60),
        # a2: attempts and none successful in the last hour (failed), a success a week ago
        session(a2, ago(minutes=5), "CRM", "productivity", False, 500),
        session(a2, ago(minutes=50), "CRM", "productivity", False, 400),
        session(a2, ago(days=6), "CRM", "productivity", True, 100),
    ]
    # b1: 50 attempts over the last day, one failed, 250 ms each: 98.0 % and 250.0 ms, "excellent" at its edge
    records += [session(b1, ago(minutes=25 * i + 1), "Maps" if i % 3 else "Fleet", "navigation", i != 7, 250)
                for i in range(50)]
    fleet.ingest("app_session", records)
    # a3 has no record at all: inactive everywhere, yet counted and listed.
