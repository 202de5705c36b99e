"""POST/GET /admin/device_types/ (API.md §9)."""
TYPES = "/admin/device_types/"
FULL = {"short_name": "RT5500", "name": "Router 5500", "category": "router", "manufacturer": "Zequenze Systems",
        "product_class": "RT5500", "diagnostic_helper": "cwmp_basic"}


def test_create_is_201_with_id_and_every_field(api):
    response = api.post(TYPES, FULL)
    assert response.status_code == 201
    body = response.json_body
    assert isinstance(body["id"], int)
    assert body["created"].endswith("Z")
    assert {k: body[k] for k in FULL} == FULL
    assert set(body) == set(FULL) | {"id", "created"}


def test_optional_fields_default_and_words_are_stored_lowercase(api):
    body = api.post(TYPES, {"short_name": "gw", "name": "Gateway", "category": " Gateway "}).json_body
    assert body["manufacturer"] is None and body["product_class"] is None
    assert body["diagnostic_helper"] == "generic"
    assert body["category"] == "gateway"


def test_list_gives_every_device_type(api):
    created = [api.post(TYPES, FULL | {"short_name": name}).json_body for name in ("a", "b")]
    body = api.get(TYPES).json_body
    assert body["count"] == 2
    assert body["results"] == created


def test_duplicate_short_name_in_any_case_is_409_and_creates_nothing(api, refused, stored):
    api.post(TYPES, FULL)
    before = stored()
    for duplicate in ("RT5500", "rt5500"):
        error = refused(api.post(TYPES, FULL | {"short_name": duplicate, "name": "Other"}), 409,
                        "DUPLICATE_SHORT_NAME")
        assert error["details"] == [{"field": "short_name", "problem": "already used"}]
    assert stored() == before


def test_bad_field_is_422_naming_it_and_creates_nothing(api, refused, stored):
    before = stored()
    for field, value in (("category", "not a word"), ("category", ""), ("category", 7), ("category", None),
                         ("short_name", "has space"), ("short_name", ""), ("short_name", "x" * 65),
                         ("diagnostic_helper", "x" * 40), ("name", None), ("manufacturer", "m" * 101)):
        error = refused(api.post(TYPES, FULL | {field: value}), 422, "VALIDATION_FAILED")
        assert [d["field"] for d in error["details"]] == [field], (field, value)
    assert stored() == before


def test_organization_admin_cannot_create_device_types_but_can_list_them(api, refused, stored):
    api.post(TYPES, FULL)
    admin = api.token(api.organization(), permissions=("admin",))
    before = stored()
    refused(api.post(TYPES, FULL | {"short_name": "mine"}, token=admin), 403, "PLATFORM_ONLY")
    assert stored() == before
    listing = api.get(TYPES, token=admin)
    assert listing.status_code == 200
    assert [t["short_name"] for t in listing.json_body["results"]] == ["RT5500"]
