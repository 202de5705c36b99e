def test_create_then_get_device_round_trips(api):
    org = api.organization()
    dtype = api.device_type()
    created = api.device(org, dtype, password="s3cret-pass", latitude="42.3601", longitude=-71.0589)
    response = api.get(f"/inventory_device/{created['id']}/")
    assert response.status_code == 200
    assert response.json_body == created
    assert "password" not in response.json_body
    assert response.json_body["type_short_name"].startswith("type_")
    assert response.headers["ETag"]
    listing = api.get("/inventory_device/")
    assert listing.status_code == 200
    assert listing.json_body["count"] == 1
