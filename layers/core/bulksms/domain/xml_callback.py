"""Clickatell's XML callbacks: one `<callback>` document (in the `data` parameter, or as the body) whose
child elements are the fields. Delivery reports and MO replies are sent this way alike (reference §5).

Parsed with defusedxml: a document from the internet may not expand entities or reach the network.
"""

from __future__ import annotations

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException


class MalformedXml(ValueError):
    """Not a `<callback>` document we can read; the message says why."""


def callback_fields(text: str | bytes) -> dict[str, str]:
    """The child elements of a `<callback>` document, names lower-cased, text as sent (a reply's text may
    begin with spaces). Bytes are read in the encoding the document declares (UTF-8 if none)."""
    try:
        root = SafeElementTree.fromstring(text)
    except (SafeElementTree.ParseError, DefusedXmlException) as error:
        raise MalformedXml("data is not a well-formed XML document") from error
    if root.tag.lower() != "callback":
        raise MalformedXml("XML document's root must be <callback>")
    return {child.tag.lower(): child.text or "" for child in root}
