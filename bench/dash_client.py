"""What dash-renderer sends for a page: its layout's ids, the callbacks a tick fires, bodies.

Built from /_dash-layout, /_dash-dependencies and the page-routing callback, so the load bench
follows the UI as it changes instead of replaying recorded requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import requests

TICK = ("tick", "data")
Store = dict[str, dict[str, Any]]  # id key -> {"id": id, "props": {...}}


def id_key(cid: Any) -> str:
    return json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every component (a dict with type and props) in a layout tree."""
    if isinstance(node, list):
        for item in node:
            yield from walk(item)
    elif isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
            for value in node["props"].values():
                yield from walk(value)
        else:
            for value in node.values():
                yield from walk(value)


def add_components(store: Store, tree: Any) -> None:
    for comp in walk(tree):
        cid = comp["props"].get("id")
        if cid is not None:
            store[id_key(cid)] = {"id": cid, "props": dict(comp["props"])}


def matches(pattern: dict[str, Any], cid: Any) -> bool:
    if not isinstance(cid, dict) or set(cid) != set(pattern):
        return False
    return all(v == ["ALL"] or v == cid[k] for k, v in pattern.items())


def entries(store: Store, spec_id: str, prop: str, value: bool) -> Any:
    """One entry, or a list of them for an ALL wildcard, as the renderer builds them."""
    def entry(item: dict[str, Any]) -> dict[str, Any]:
        out = {"id": item["id"], "property": prop}
        if value and prop in item["props"]:
            out["value"] = item["props"][prop]
        elif value and prop == "id":
            out["value"] = item["id"]
        return out
    if spec_id.startswith("{"):
        pattern = json.loads(spec_id)
        return [entry(item) for item in store.values() if matches(pattern, item["id"])]
    return entry(store[spec_id])


def output_specs(output: str) -> list[tuple[str, str]]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    specs = []
    for part in parts:
        cid, _, prop = part.rpartition(".")
        specs.append((cid, prop.split("@")[0]))
    return specs


def present(store: Store, spec_id: str) -> bool:
    return spec_id.startswith("{") or spec_id in store


def body(dep: dict[str, Any], store: Store, changed: list[str]) -> dict[str, Any]:
    outs = [entries(store, cid, prop, False) for cid, prop in output_specs(dep["output"])]
    return {
        "output": dep["output"],
        "outputs": outs if dep["output"].startswith("..") else outs[0],
        "inputs": [entries(store, i["id"], i["property"], True) for i in dep["inputs"]],
        "changedPropIds": changed, "parsedChangedPropsIds": changed,
        "state": [entries(store, s["id"], s["property"], True) for s in dep["state"]],
    }


def tick_callbacks(deps: list[dict[str, Any]], store: Store) -> list[dict[str, Any]]:
    """Server callbacks a tick fires on this page: tick.data in, every fixed id rendered."""
    found = []
    for dep in deps:
        ins = [(i["id"], i["property"]) for i in dep["inputs"]]
        ids = [cid for cid, _ in output_specs(dep["output"])] + [i for i, _ in ins]
        ids += [s["id"] for s in dep["state"]]
        if TICK in ins and not dep.get("clientside_function") and all(
                present(store, i) for i in ids):
            found.append(dep)
    return found


def kind_of(dep: dict[str, Any]) -> str:
    """A short name for a callback: its first output's id (a pattern's type)."""
    cid = output_specs(dep["output"])[0][0]
    return str(json.loads(cid).get("type", "pattern")) if cid.startswith("{") else cid


def apply(store: Store, answer: dict[str, Any]) -> None:
    """Feed outputs back into the page, as the renderer does (patches are not needed)."""
    for key, props in answer.get("response", {}).items():
        if key in store:
            store[key]["props"].update({p: v for p, v in props.items() if not is_patch(v)})


def is_patch(value: Any) -> bool:
    return isinstance(value, dict) and "__dash_patch_update" in value


def load_page(session: requests.Session, url: str, path: str = "/") -> tuple[Store, list[Any]]:
    """GET the shell, layout and dependencies, then route to ``path`` like the browser."""
    session.get(url + path, timeout=30).raise_for_status()
    store: Store = {}
    add_components(store, session.get(url + "/_dash-layout", timeout=30).json())
    deps = session.get(url + "/_dash-dependencies", timeout=30).json()
    store["_pages_location"]["props"].update(pathname=path, search="")
    route = next(d for d in deps if "_pages_content.children" in d["output"])
    changed = ["_pages_location.pathname", "_pages_location.search"]
    r = session.post(url + "/_dash-update-component", json=body(route, store, changed), timeout=30)
    r.raise_for_status()
    add_components(store, r.json()["response"])
    return store, deps
