"""The demo fleet's cast: three operators, their sites, the device types they run and firmware for them.

Plain data, so that local/demo.py reads as the loading procedure and this file as the story: a fibre
ISP, a mobile operator with LTE routers, and a smart-buildings company with LoRaWAN sensors.
"""
from dataclasses import dataclass

# Devices loaded by default. Each costs 0.1 to 0.16 s through moto on a busy two-core machine, so 200
# keeps make run within API.md's 60 s with room to spare; DEMO_DEVICES overrides it.
DEFAULT_DEVICES = 200


@dataclass(frozen=True)
class DeviceTypeProfile:
    short_name: str
    name: str
    category: str
    manufacturer: str
    product_class: str
    diagnostic_helper: str
    oui: str | None              # MAC vendor prefix; None for radios without a MAC (LoRaWAN sensors)
    network: str                 # "lan", "cellular" (IMEI, ICCID, IMSI, MSISDN) or "lorawan" (EUI)
    serial_format: str           # str.format() with {n} (a running number) and {h} (8 hex digits)
    hardware_versions: tuple[str, ...]
    older_versions: tuple[str, ...]  # what devices not on a catalogue image report
    tr069: bool = False          # CWMP devices have an OUI-ProductClass-Serial unique identifier


@dataclass(frozen=True)
class Site:
    location_id: int
    name: str
    short_name: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class OrganizationProfile:
    name: str
    share: float                 # of the fleet's devices
    device_types: tuple[str, ...]
    sites: tuple[Site, ...]
    customer_prefix: str | None  # ISPs bill a subscriber per device
    mobile_network: tuple[str, str] = ("", "")  # (MCC+MNC for IMSIs, country calling code for MSISDNs/ICCIDs)


DEVICE_TYPES = (
    DeviceTypeProfile("HG8245H", "Huawei EchoLife HG8245H GPON ONT", "ont", "Huawei", "HG8245H", "cwmp_basic",
                      "00:E0:FC", "lan", "HWTC{h}", ("V3", "V5"), ("V5R019C00S100",), tr069=True),
    DeviceTypeProfile("RT-AX3000", "Zequenze RT-AX3000 Wi-Fi 6 Router", "router", "Zequenze Systems", "RTAX3000",
                      "cwmp_basic", "02:5A:51", "lan", "ZQ24{n:07d}", ("1.0", "1.1"), ("2.3.9",), tr069=True),
    DeviceTypeProfile("UAP-AC-LR", "Ubiquiti UniFi AC Long-Range Access Point", "access_point", "Ubiquiti",
                      "UAP-AC-LR", "generic", "24:5A:4C", "lan", "UB{h}", ("rev B",), ("6.5.28",)),
    DeviceTypeProfile("RUT950", "Teltonika RUT950 LTE Router", "router", "Teltonika", "RUT950", "lte_modem",
                      "00:1E:42", "cellular", "11{n:08d}", ("0230", "0240"), ("RUT9_R_00.07.04.5",)),
    DeviceTypeProfile("TRB140", "Teltonika TRB140 LTE IoT Gateway", "gateway", "Teltonika", "TRB140", "lte_modem",
                      "00:1E:42", "cellular", "61{n:08d}", ("0100",), ("TRB1_R_00.07.04.5",)),
    DeviceTypeProfile("UG65", "Milesight UG65 LoRaWAN Gateway", "gateway", "Milesight", "UG65", "lorawan",
                      "24:E1:24", "lan", "6223{n:08d}", ("V1.2",), ("60.0.0.41",)),
    DeviceTypeProfile("EM300-TH", "Milesight EM300-TH Temperature and Humidity Sensor", "sensor", "Milesight",
                      "EM300-TH", "lorawan", None, "lorawan", "6136{n:08d}", ("V2.0",), ("V1.2",)),
    DeviceTypeProfile("AM103", "Milesight AM103 Indoor Air Quality Sensor", "sensor", "Milesight", "AM103",
                      "lorawan", None, "lorawan", "6722{n:08d}", ("V1.0",), ("V1.0",)),
)

# (version, device type short names): each image is built for the types listed.
FIRMWARE_IMAGES = (
    ("V5R020C10S115", ("HG8245H",)),
    ("2.4.1", ("RT-AX3000",)),
    ("2.5.0", ("RT-AX3000",)),
    ("6.6.55", ("UAP-AC-LR",)),
    ("RUT9_R_00.07.06.10", ("RUT950",)),
    ("TRB1_R_00.07.06.10", ("TRB140",)),
    ("60.0.0.44", ("UG65",)),
    ("V1.3", ("EM300-TH", "AM103")),
)

ORGANIZATIONS = (
    OrganizationProfile(
        "Northwind Fiber", 0.45, ("HG8245H", "RT-AX3000", "UAP-AC-LR"),
        (Site(101, "Dorchester Central Office", "DOR", 42.3016, -71.0676),
         Site(102, "Cambridge POP", "CAM", 42.3736, -71.1097),
         Site(103, "Quincy Exchange", "QCY", 42.2529, -71.0023),
         Site(104, "Somerville Cabinet 7", "SOM", 42.3876, -71.0995)),
        customer_prefix="NWF"),
    OrganizationProfile(
        "Cordillera Mobile", 0.30, ("RUT950", "TRB140"),
        (Site(201, "Bogota Chapinero", "CHP", 4.6486, -74.0628),
         Site(202, "Medellin El Poblado", "POB", 6.2086, -75.5659),
         Site(203, "Cali Granada", "CLO", 3.4600, -76.5318)),
        customer_prefix="CM", mobile_network=("732101", "57")),
    OrganizationProfile(
        "Harbor Smart Buildings", 0.25, ("UG65", "EM300-TH", "AM103", "TRB140"),
        (Site(301, "Lisbon Amoreiras Tower", "AMO", 38.7236, -9.1620),
         Site(302, "Porto Boavista Offices", "BVT", 41.1579, -8.6291),
         Site(303, "Lisbon Parque das Nacoes", "PNA", 38.7683, -9.0942)),
        customer_prefix=None, mobile_network=("26801", "351")),
)

# Short words for device names: dor-ont-007, amo-sensor-012.
NAME_WORDS = {"ont": "ont", "router": "rtr", "access_point": "ap", "gateway": "gw", "sensor": "sensor"}
