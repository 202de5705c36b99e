"""POST/GET /admin/firmware_images/ (API.md §9)."""
IMAGES = "/admin/firmware_images/"
CHECKSUM = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _body(*type_ids, **overrides) -> dict:
    return {"version": "2.1.0", "url": "https://dl.example.com/fw/2.1.0.bin", "checksum": CHECKSUM,
            "device_types": list(type_ids)} | overrides


def test_create_is_201_with_id_and_its_device_types(api):
    first, second = api.device_type(), api.device_type()
    response = api.post(IMAGES, _body(second, first))
    assert response.status_code == 201
    body = response.json_body
    assert isinstance(body["id"], int)
    assert {k: body[k] for k in ("version", "url", "checksum")} == {
        "version": "2.1.0", "url": "https://dl.example.com/fw/2.1.0.bin", "checksum": CHECKSUM}
    assert sorted(body["device_types"]) == [first, second]
    assert body["created"].endswith("Z")


def test_checksum_may_carry_its_algorithm_and_any_case(api):
    body = api.post(IMAGES, _body(api.device_type(), checksum="sha256:" + CHECKSUM.upper())).json_body
    assert body["checksum"] == "sha256:" + CHECKSUM


def test_list_gives_every_image(api):
    dtype = api.device_type()
    created = [api.post(IMAGES, _body(dtype, version=v)).json_body for v in ("1.0", "1.1")]
    body = api.get(IMAGES).json_body
    assert body["count"] == 2
    assert body["results"] == created


def test_unknown_device_types_are_422_named_at_their_position_and_create_nothing(api, refused, stored):
    known = api.device_type()
    before = stored()
    error = refused(api.post(IMAGES, _body(999, known)), 422, "VALIDATION_FAILED")
    assert error["details"] == [{"field": "device_types.0", "problem": "no device type 999"}]
    error = refused(api.post(IMAGES, _body(known, 998, 997, 998)), 422, "VALIDATION_FAILED")
    assert error["details"] == [{"field": "device_types.1", "problem": "no device type 998"},
                                {"field": "device_types.2", "problem": "no device type 997"},
                                {"field": "device_types.3", "problem": "no device type 998"}]
    assert stored() == before


def test_bad_field_is_422_naming_it_and_creates_nothing(api, refused, stored):
    dtype = api.device_type()
    before = stored()
    for field, value in (("checksum", "abc"), ("checksum", "g" * 64), ("checksum", "md5:" + "a" * 32),
                         ("url", "not a url"), ("url", "ftp://dl.example.com/fw.bin"), ("url", ""),
                         ("url", "https://" + "x" * 2050 + ".example"), ("version", ""), ("device_types", []),
                         ("device_types", [0]), ("device_types", "1"), ("device_types", None)):
        error = refused(api.post(IMAGES, _body(dtype) | {field: value}), 422, "VALIDATION_FAILED")
        assert {d["field"].split(".")[0] for d in error["details"]} == {field}, (field, value)
    assert stored() == before


def test_organization_admin_cannot_create_images_but_can_list_them(api, refused, stored):
    dtype = api.device_type()
    api.post(IMAGES, _body(dtype))
    admin = api.token(api.organization(), permissions=("admin",))
    before = stored()
    refused(api.post(IMAGES, _body(dtype, version="9"), token=admin), 403, "PLATFORM_ONLY")
    assert stored() == before
    assert api.get(IMAGES, token=admin).json_body["count"] == 1
