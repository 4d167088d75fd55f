"""Work every client needs each tick, computed once and shared by all clients and workers.

``make_cache`` builds a flask-caching ``Cache``: files under ``data_dir/cache`` by default (shared
by every worker on one machine), Redis when ``TAMMA_REDIS_URL`` is set (shared across machines).
``per_tick`` returns the value stored for ``(name, tick)`` or computes it once: the first worker
claims the key with an atomic ``add`` and the others wait briefly for its result. A cache that is
down or full is never an error: the caller just computes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import struct
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from flask import Flask
from flask_caching import Cache
from flask_caching.backends.filesystemcache import FileSystemCache

from tamma_dash.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
REDIS_ENV = "TAMMA_REDIS_URL"
WAIT_S = 2.0  # how long a worker waits for another's computation before computing itself
POLL_S = 0.005
_MISSING = object()
_warned: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def make_cache(server: Flask, settings: Settings,
               environ: Mapping[str, str] | None = None) -> Cache:
    """A Cache on ``server``: Redis when ``TAMMA_REDIS_URL`` is set, else files in data_dir."""
    env = os.environ if environ is None else environ
    url = env.get(REDIS_ENV, "").strip()
    ttl = tick_timeout(settings.interval_s)
    prefix = "tamma:" + hashlib.sha1(str(settings.data_dir.resolve()).encode()).hexdigest()[:10]
    config: dict[str, Any] = {"CACHE_DEFAULT_TIMEOUT": ttl, "CACHE_KEY_PREFIX": prefix + ":"}
    if url:
        config.update(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=url,
                      CACHE_OPTIONS={"socket_timeout": 1.0, "socket_connect_timeout": 1.0})
        where = f"Redis at {redact(url)}"
    else:
        path = settings.data_dir / "cache"
        config.update(CACHE_TYPE="tamma_dash.cache.AtomicFileSystemCache",
                      CACHE_DIR=str(path), CACHE_THRESHOLD=5000)
        where = f"files in {path}"
    cache = Cache(server, config=config)
    log.info("shared per-tick cache: %s", where)
    return cache


def tick_timeout(interval_s: float) -> int:
    """Seconds a per-tick value is kept: a few ticks, whole seconds (what Redis expiry takes)."""
    return max(2, math.ceil(3 * interval_s))


def backend_of(cache: Cache) -> Any:
    """The backend object, found without needing an application context."""
    return cache.app.extensions["cache"][cache]


def per_tick(cache: Cache | None, name: str, tick_id: object, compute: Callable[[], T],
             *, timeout: int | None = None, wait_s: float = WAIT_S) -> T:
    """The value of ``compute()`` for this tick, computed by one caller and shared by all."""
    if cache is None or tick_id is None:
        return compute()
    backend = backend_of(cache)
    key = f"{name}@{tick_id!r}"
    hit = _get(backend, key)
    if hit is not _MISSING:
        return hit  # type: ignore[no-any-return]
    ttl = timeout or int(backend.default_timeout) or 10
    if _claim(backend, key, ttl) or wait_s <= 0:
        return _compute_and_store(backend, key, compute, ttl)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
        hit = _get(backend, key)
        if hit is not _MISSING:
            return hit  # type: ignore[no-any-return]
    return _compute_and_store(backend, key, compute, ttl)


def _compute_and_store(backend: Any, key: str, compute: Callable[[], T], ttl: int) -> T:
    value = compute()
    _guard(backend, lambda: backend.set(key, (value,), timeout=ttl), "store")
    return value


def _get(backend: Any, key: str) -> Any:
    """The stored value, or ``_MISSING`` (values are kept in a 1-tuple so None is cacheable)."""
    hit = _guard(backend, lambda: backend.get(key), "read")
    return hit[0] if isinstance(hit, tuple) and len(hit) == 1 else _MISSING


def _claim(backend: Any, key: str, ttl: int) -> bool:
    """True for the one caller that should compute ``key`` (atomic add of a lock key)."""
    claimed = _guard(backend, lambda: backend.add(key + "#lock", 1, timeout=min(ttl, 10)),
                     "lock")
    return claimed is None or bool(claimed)  # a broken cache: everyone computes


def _guard(backend: Any, op: Callable[[], Any], what: str) -> Any:
    """Run a cache operation; a failing cache is logged once per kind of error, never raised."""
    try:
        return op()
    except Exception as exc:  # the backend may be Redis, files, anything: none may break a page
        kind, seen = f"{what}:{type(exc).__name__}", _warned.setdefault(backend, set())
        if kind not in seen:
            seen.add(kind)
            log.warning("shared cache %s failed (%s); computing without it. Check that Redis "
                        "(TAMMA_REDIS_URL) or the cache directory is reachable and writable",
                        what, type(exc).__name__)
        return None


class AtomicFileSystemCache(FileSystemCache):
    """FileSystemCache whose ``add`` is atomic across processes (hard link, not check-then-set)."""

    def add(self, key: str, value: Any, timeout: Any = None) -> bool:
        target = self._get_filename(key)
        if os.path.exists(target) and not self.has(key):
            with contextlib.suppress(OSError):
                os.remove(target)  # expired: free the name for a new claim
        fd, tmp = tempfile.mkstemp(suffix=self._fs_transaction_suffix, dir=self._path)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(struct.pack("I", self._normalize_timeout(timeout)))
                self.serializer.dump(value, f)
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError:
            log.debug("cache add failed for %s", target, exc_info=True)
            return False
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        return True
