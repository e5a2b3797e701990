"""Reading and writing SUMO XML: the adapter's error type and attribute helpers.

Every malformed attribute becomes a :class:`SumoError` naming the element and the attribute
(the CLI turns it into exit code 2), never a ``TypeError`` or ``ValueError`` from deep inside.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path


class SumoError(ValueError):
    """A SUMO file cannot be written, read or converted (the CLI turns it into exit code 2)."""


def attr_str(el: ET.Element, name: str, default: str | None = None) -> str:
    """Attribute ``name`` of a SUMO XML element; SumoError naming the element if it is missing."""
    v = el.get(name, default)
    if v is None:
        raise SumoError(f"<{el.tag} id='{el.get('id', '?')}'>: no '{name}' attribute")
    return v


def attr_float(el: ET.Element, name: str, default: str | None = None) -> float:
    """Attribute ``name`` as a number; SumoError naming the element if missing or not one."""
    v = attr_str(el, name, default)
    try:
        return float(v)
    except ValueError:
        raise SumoError(
            f"<{el.tag} id='{el.get('id', '?')}'>: {name}='{v}' is not a number"
        ) from None


def parse_xy(text: str) -> tuple[float, float]:
    """``"x,y[,z]"`` → (x, y); SumoError if it is not two numbers."""
    try:
        x, y = (float(v) for v in text.split(",")[:2])
    except ValueError:
        raise SumoError(f"'{text}' is not a position 'x,y'") from None
    return x, y


def attr_int(el: ET.Element, name: str, default: str | None = None) -> int:
    """Attribute ``name`` as an integer; SumoError naming the element if missing or not one."""
    v = attr_str(el, name, default)
    try:
        return int(v)
    except ValueError:
        raise SumoError(
            f"<{el.tag} id='{el.get('id', '?')}'>: {name}='{v}' is not an integer"
        ) from None


def num_text(x: float, nd: int = 3) -> str:
    """Compact decimal text: ``62.0`` → ``"62"``, ``16.666666`` → ``"16.667"`` (nd decimals)."""
    text = f"{float(x):.{nd}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def write_xml(root: ET.Element, path: Path) -> None:
    ET.indent(root, space="    ")
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def xsd_root(root_tag: str, xsd: str) -> ET.Element:
    return ET.Element(
        root_tag,
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:noNamespaceSchemaLocation": f"http://sumo.dlr.de/xsd/{xsd}",
        },
    )


def parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except OSError as exc:
        raise SumoError(f"{path}: cannot read file: {exc.strerror}") from None
    except ET.ParseError as exc:
        raise SumoError(f"{path}: invalid XML: {exc}") from None


def r3(x: float) -> float:
    return round(float(x), 3)
