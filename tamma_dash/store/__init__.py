"""History: a bounded in-memory window, SQLite persistence and rollups, behind HistoryReader."""

from tamma_dash.store.base import HistoryReader, Latest, StoreStats
from tamma_dash.store.tiered import Store

__all__ = ["HistoryReader", "Latest", "Store", "StoreStats"]
