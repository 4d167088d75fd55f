"""The built-in demo Tamma fleet: real loopback HTTP services driven by a deterministic model."""

from tamma_dash.demo.backfill import backfill, expected_keys, incidents
from tamma_dash.demo.faults import APPLICABLE, FAULT_KINDS, Fault, FaultBook
from tamma_dash.demo.model import FleetModel
from tamma_dash.demo.servers import DemoFleet
from tamma_dash.demo.topology import SERVICE_NAMES, SERVICES, ServiceSpec

__all__ = [
    "APPLICABLE", "FAULT_KINDS", "SERVICES", "SERVICE_NAMES", "DemoFleet", "Fault", "FaultBook",
    "FleetModel", "ServiceSpec", "backfill", "expected_keys", "incidents",
]
