"""Many clients writing at once (API.md §1, "Concurrency of writers"): concurrent creates in one organization
all succeed with an exact count; concurrent PATCHes without If-Match all succeed, the last write winning and
every change in the audit trail; with If-Match, a real version mismatch is still 412."""
from tests.factories import device_body

DEVICES = "/inventory_device/"


def test_48_concurrent_creates_in_one_organization_are_all_201_with_an_exact_count(api, clients):
    organization, device_type = api.organization(), api.device_type()
    bodies = [device_body(organization, device_type, status="Up" if i % 3 else "Down") for i in range(48)]

    answers = clients.at_once([lambda body=body: clients.send("POST", DEVICES, body) for body in bodies])

    assert [answer.status_code for answer in answers] == [201] * 48, [a.body for a in answers if a.status_code != 201]
    ids = [answer.json_body["id"] for answer in answers]
    assert len(set(ids)) == 48
    listed = api.get(f"{DEVICES}?organization={organization}&limit=100").json_body
    assert listed["count"] == 48
    assert [device["id"] for device in listed["results"]] == sorted(ids)
    assert api.get(f"{DEVICES}?limit=1").json_body["count"] == 48
    up = api.get(f"{DEVICES}?organization={organization}&type={device_type}&status=1&limit=1").json_body
    assert up["count"] == sum(1 for body in bodies if body["status"] == "Up")
    audit = api.get("/audit_log/?action=create&limit=200").json_body
    assert audit["count"] == 48 and {entry["device_id"] for entry in audit["results"]} == set(ids)


def test_32_concurrent_patches_without_if_match_are_all_200_and_all_in_the_audit_trail(api, clients):
    device = api.device(api.organization(), api.device_type(), description="first")
    path = f"{DEVICES}{device['id']}/"
    descriptions = [f"change-{i:02d}" for i in range(32)]

    answers = clients.at_once([lambda text=text: clients.send("PATCH", path, {"description": text})
                               for text in descriptions])

    assert [answer.status_code for answer in answers] == [200] * 32, [a.body for a in answers if a.status_code != 200]
    trail = api.get(f"/audit_log/?device_id={device['id']}&action=update&limit=200").json_body["results"]
    changes = [entry["changes"]["description"] for entry in reversed(trail)]   # oldest first
    assert sorted(change["new"] for change in changes) == descriptions
    # One after the other, as if serial: each change starts from the value the previous one left.
    assert [change["old"] for change in changes] == ["first"] + [change["new"] for change in changes[:-1]]
    stored = api.get(path)
    assert stored.json_body["description"] == changes[-1]["new"]      # the last write won
    assert stored.headers["ETag"] != device and len(trail) == 32


def test_concurrent_patches_with_the_same_if_match_let_one_through_and_412_the_others(api, clients, refused):
    device = api.device(api.organization(), api.device_type())
    path = f"{DEVICES}{device['id']}/"
    etag = api.get(path).headers["ETag"]

    answers = clients.at_once([lambda i=i: clients.send("PATCH", path, {"description": f"d{i}"},
                                                         headers={"if-match": etag}) for i in range(8)])

    assert sorted(answer.status_code for answer in answers) == [200] + [412] * 7
    for answer in answers:
        if answer.status_code == 412:
            refused(answer, 412, "ETAG_MISMATCH")
    trail = api.get(f"/audit_log/?device_id={device['id']}&action=update").json_body
    assert trail["count"] == 1


def test_concurrent_status_changes_keep_every_count_exact(api, clients):
    organization, device_type = api.organization(), api.device_type()
    devices = [api.device(organization, device_type, status="Down") for _ in range(8)]

    answers = clients.at_once([lambda d=d, s=s: clients.send("PATCH", f"{DEVICES}{d['id']}/", {"status": s})
                               for d in devices for s in ("Up", "Down")])

    assert {answer.status_code for answer in answers} == {200}
    final = {d["id"]: api.get(f"{DEVICES}{d['id']}/").json_body["status"] for d in devices}
    for status, flag in (("Up", 1), ("Down", 0)):
        listed = api.get(f"{DEVICES}?organization={organization}&status={flag}&limit=1").json_body
        assert listed["count"] == sum(1 for value in final.values() if value == status)
    assert api.get(f"{DEVICES}?organization={organization}&limit=1").json_body["count"] == 8


def test_16_concurrent_puts_without_if_match_are_all_200_and_all_in_the_audit_trail(api, clients):
    organization, device_type = api.organization(), api.device_type()
    device = api.device(organization, device_type, name="first")
    path = f"{DEVICES}{device['id']}/"
    names = [f"put-{i:02d}" for i in range(16)]

    answers = clients.at_once([lambda name=name: clients.send("PUT", path, {
        "name": name, "serial_number": device["serial_number"], "type": device_type, "organization_id": organization})
        for name in names])

    assert [answer.status_code for answer in answers] == [200] * 16, [a.body for a in answers if a.status_code != 200]
    trail = api.get(f"/audit_log/?device_id={device['id']}&action=update&limit=200").json_body["results"]
    assert sorted(entry["changes"]["name"]["new"] for entry in trail) == names
